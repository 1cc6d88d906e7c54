"""Hostile bytes: decoding fails only with DecodeError and never allocates more
than the frame could hold."""
from __future__ import annotations

import struct
import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wire.codec import (
    API_KEYS, DecodeError, decode_message, encode_message, decode_request, decode_request_header, decode_response,
    supported_versions,
)

API_VERSION_PAIRS = [(k, v) for k in API_KEYS for v in range(supported_versions(k)[0], supported_versions(k)[1] + 1)]
HOSTILE = settings(max_examples=400, deadline=None, database=None,
                   suppress_health_check=[HealthCheck.too_slow])


def decodes_or_rejects(decode, *args) -> None:
    try:
        decode(*args)
    except DecodeError:
        pass


@HOSTILE
@given(pair=st.sampled_from(API_VERSION_PAIRS), frame=st.binary(max_size=200))
def test_random_bytes_raise_only_decode_error(pair, frame):
    api_key, version = pair
    decodes_or_rejects(decode_request, api_key, version, frame)
    decodes_or_rejects(decode_response, api_key, version, frame)
    decodes_or_rejects(decode_request_header, frame)


@HOSTILE
@given(pair=st.sampled_from(API_VERSION_PAIRS), body=st.binary(max_size=200))
def test_random_bodies_behind_a_valid_header(pair, body):
    api_key, version = pair
    frame = struct.pack(">hhih", api_key, version, 1, 1) + b"c" + (b"\x00" if version >= 3 else b"") + body
    try:
        header = decode_request_header(frame)
    except DecodeError:
        return
    decodes_or_rejects(decode_request, api_key, version, frame, header.body_offset)


# (message, version, body): each claims far more elements or bytes than it has.
OVERSIZED = [
    ("ProduceRequest", 3, b"\xff\xff" + struct.pack(">hii", 1, 1000, 0x7FFFFFFF)),  # topics: 2^31-1
    ("ProduceRequest", 9, b"\x00" + struct.pack(">hi", 1, 1000) + b"\xff\xff\xff\xff\x0f"),  # compact 2^32-2
    ("MetadataRequest", 1, struct.pack(">ih", 1, 0x7FFF) + b"abc"),  # a 32767-byte name in 3 bytes
    ("SaslAuthenticateRequest", 1, struct.pack(">i", 0x7FFFFFFF)),  # 2 GiB of auth bytes
    ("FetchRequest", 4, struct.pack(">iiiib", -1, 0, 1, 1 << 30, 0) + struct.pack(">i", 0x7FFFFFFF)),
    ("BrokerRegistrationRequest", 2,  # log_dirs: []uuid of 2^32-2
     struct.pack(">i", 1) + b"\x01" + bytes(16) + b"\x01\x01\x00\x00" + b"\xff\xff\xff\xff\x0f"),
    ("ConsumerProtocolAssignment", 1, struct.pack(">i", 0x10000000)),  # [] of topics
]


@pytest.mark.parametrize(("name", "version", "body"), OVERSIZED, ids=[f"{n}-v{v}" for n, v, _ in OVERSIZED])
def test_oversized_lengths_are_rejected_before_allocating(name, version, body):
    decode_message(name, version, encode_message(name, version, {}))  # compile outside the trace
    tracemalloc.start()
    try:
        with pytest.raises(DecodeError):
            decode_message(name, version, body)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024


def test_varint_longer_than_five_bytes_is_rejected():
    with pytest.raises(DecodeError, match="varint"):
        decode_message("ApiVersionsRequest", 3, b"\x80\x80\x80\x80\x80\x01")


def test_null_in_a_non_nullable_field_is_rejected():
    with pytest.raises(DecodeError, match="non-nullable"):
        decode_message("MetadataRequest", 1, struct.pack(">ih", 1, -1))


def test_string_longer_than_kafka_allows_is_rejected():
    body = b"\x82\x80\x02" + b"x" * 0x8001  # compact length 0x8001 (+1)
    with pytest.raises(DecodeError, match="longer than 32767"):
        decode_message("ApiVersionsRequest", 3, body)


def test_malformed_utf8_decodes_with_replacement_like_java():
    body = struct.pack(">ih", 1, 3) + b"a\xffb"
    assert decode_message("MetadataRequest", 1, body)["topics"][0]["name"] == "a\ufffdb"


@pytest.mark.parametrize("buffer_type", [bytes, bytearray, memoryview])
def test_any_bytes_like_buffer_decodes(buffer_type):
    body = struct.pack(">ih", 1, 3) + b"abc"
    assert decode_message("MetadataRequest", 1, buffer_type(body))["topics"] == [{"name": "abc", "topic_id": bytes(16)}]
