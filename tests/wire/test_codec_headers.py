"""Request/response headers and whole frames."""
from __future__ import annotations

import struct

import pytest

from wire.codec import (
    API_KEYS, DecodeError, RequestHeader, UnsupportedVersionError, decode_request,
    decode_request_header, decode_response, encode_request, encode_response,
    request_header_version, response_header_version, supported_versions,
)

PRODUCE, FETCH, METADATA, CONTROLLED_SHUTDOWN, API_VERSIONS = 0, 1, 3, 7, 18


@pytest.mark.parametrize(("api_key", "version", "request_header", "response_header"), [
    (PRODUCE, 8, 1, 0),
    (PRODUCE, 9, 2, 1),
    (FETCH, 11, 1, 0),
    (FETCH, 12, 2, 1),
    (METADATA, 8, 1, 0),
    (METADATA, 9, 2, 1),
    (CONTROLLED_SHUTDOWN, 0, 0, 0),
    (CONTROLLED_SHUTDOWN, 1, 1, 0),
    (CONTROLLED_SHUTDOWN, 3, 2, 1),
    (API_VERSIONS, 2, 1, 0),
    (API_VERSIONS, 3, 2, 0),  # ApiVersions responses always use header v0
    (API_VERSIONS, 4, 2, 0),
])
def test_header_versions(api_key, version, request_header, response_header):
    assert request_header_version(api_key, version) == request_header
    assert response_header_version(api_key, version) == response_header


def test_api_table():
    assert API_KEYS[PRODUCE] == ("Produce", "ProduceRequest", "ProduceResponse")
    assert API_KEYS[API_VERSIONS] == ("ApiVersions", "ApiVersionsRequest", "ApiVersionsResponse")
    assert supported_versions(FETCH) == (0, 17)
    with pytest.raises(DecodeError):
        supported_versions(999)


@pytest.mark.parametrize("client_id", ["my-client", "", None])
def test_request_frame_round_trip(client_id):
    body = {"topics": [{"name": "orders", "topic_id": bytes(16)}], "allow_auto_topic_creation": True,
            "include_topic_authorized_operations": False}
    frame = encode_request(METADATA, 12, 42, client_id, body)
    assert struct.unpack(">i", frame[:4])[0] == len(frame) - 4
    header = decode_request_header(frame[4:])
    assert header == RequestHeader(METADATA, 12, 42, client_id, header.body_offset)
    # v12 lacks include_cluster_authorized_operations (v8-v10): it decodes as its default
    assert decode_request(METADATA, 12, frame[4:], header.body_offset) == {
        **body, "include_cluster_authorized_operations": False}


def test_header_v1_bytes():
    frame = encode_request(PRODUCE, 3, 7, "ab", {"acks": 1, "timeout_ms": 1000, "topic_data": []})
    # size | api key, version, correlation id | client id "ab" | body
    assert frame[4:16] == struct.pack(">hhih", PRODUCE, 3, 7, 2) + b"ab"


def test_header_v2_keeps_client_id_as_classic_string():
    frame = encode_request(API_VERSIONS, 3, 1, "ab", {"client_software_name": "x", "client_software_version": "1"})
    # Even in header v2 the client id has an int16 length, then the empty tag section.
    assert frame[4:17] == struct.pack(">hhih", API_VERSIONS, 3, 1, 2) + b"ab" + b"\x00"


def test_controlled_shutdown_v0_header_has_no_client_id():
    frame = encode_request(CONTROLLED_SHUTDOWN, 0, 5, "ignored", {"broker_id": 3})
    assert frame[4:] == struct.pack(">hhii", CONTROLLED_SHUTDOWN, 0, 5, 3)
    header = decode_request_header(frame[4:])
    assert (header.correlation_id, header.body_offset) == (5, 8)


def test_unsupported_api_versions_request_header_still_parses():
    # A client newer than us sends ApiVersions v99: Kafka reads the header
    # (v2: flexible) so that it can answer UNSUPPORTED_VERSION with v0.
    frame = struct.pack(">hhih", API_VERSIONS, 99, 1234, 3) + b"cli" + b"\x00" + b"\x02x\x021\x00"
    header = decode_request_header(frame)
    assert header == RequestHeader(API_VERSIONS, 99, 1234, "cli", 14)
    with pytest.raises(UnsupportedVersionError):
        decode_request(API_VERSIONS, 99, frame, header.body_offset)


def test_unknown_api_key_carries_correlation_id():
    with pytest.raises(DecodeError) as info:
        decode_request_header(struct.pack(">hhih", 999, 0, 77, 0))
    assert info.value.correlation_id == 77
    assert not isinstance(info.value, UnsupportedVersionError)
    with pytest.raises(DecodeError):
        decode_request(999, 0, b"")


def test_truncated_header():
    with pytest.raises(DecodeError) as info:
        decode_request_header(b"\x00\x03\x00")
    assert info.value.correlation_id is None
    with pytest.raises(DecodeError) as info:
        decode_request_header(struct.pack(">hhih", METADATA, 1, 9, 10) + b"short")
    assert info.value.correlation_id == 9


def test_trailing_bytes_after_request_body_are_ignored_like_kafka():
    frame = encode_request(METADATA, 1, 1, "c", {"topics": [{"name": "t"}]})[4:] + b"\x00garbage"
    header = decode_request_header(frame)
    assert decode_request(METADATA, 1, frame, header.body_offset)["topics"] == [
        {"name": "t", "topic_id": bytes(16)}]


def test_api_versions_response_uses_header_v0():
    body = {"error_code": 0, "api_keys": [{"api_key": 0, "min_version": 0, "max_version": 11}],
            "throttle_time_ms": 0}
    frame = encode_response(API_VERSIONS, 3, 9, body)
    expected_body = (b"\x00\x00" + b"\x02" + struct.pack(">hhh", 0, 0, 11) + b"\x00"
                     + struct.pack(">i", 0) + b"\x00")
    assert frame == struct.pack(">ii", 4 + len(expected_body), 9) + expected_body
    correlation_id, decoded = decode_response(API_VERSIONS, 3, frame[4:])
    assert correlation_id == 9
    assert decoded["api_keys"] == body["api_keys"]
    assert decoded["supported_features"] == [] and decoded["finalized_features_epoch"] == -1


def test_flexible_response_has_header_tag_section():
    frame = encode_response(METADATA, 12, 3, {})
    assert frame[4:9] == struct.pack(">i", 3) + b"\x00"
    assert decode_response(METADATA, 12, frame[4:])[0] == 3


def test_records_chunks_are_written_back_to_back():
    def fetch_response(records):
        return {"responses": [{"topic": "t", "partitions": [{"partition_index": 0, "records": records}]}]}

    for version in (4, 12):
        joined = encode_response(FETCH, version, 1, fetch_response(b"abcdef"))
        assert encode_response(FETCH, version, 1, fetch_response([b"ab", memoryview(b"cd"), bytearray(b"ef")])) == joined
        decoded = decode_response(FETCH, version, joined[4:])[1]
        assert decoded["responses"][0]["partitions"][0]["records"] == b"abcdef"


def test_encode_rejects_unsupported_version_and_out_of_range_values():
    with pytest.raises(UnsupportedVersionError):
        encode_request(PRODUCE, 13, 1, "c", {})
    with pytest.raises(ValueError):
        encode_response(PRODUCE, 9, 1, {"throttle_time_ms": 1 << 40})
    with pytest.raises(ValueError):
        encode_request(METADATA, 1, 1, "c", {"topics": [{"name": "x" * 0x8000}]})
