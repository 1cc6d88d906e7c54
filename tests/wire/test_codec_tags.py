"""Tagged fields: written only when not default, in tag order; unknown tags kept."""
from __future__ import annotations

import struct

import pytest

from wire.codec import DecodeError, decode_message, encode_message

API_VERSIONS_RESPONSE_V3_EMPTY = b"\x00\x00" + b"\x01" + b"\x00\x00\x00\x00"  # error, no api keys, throttle


def test_default_tagged_fields_are_not_written():
    assert encode_message("ApiVersionsResponse", 3, {}) == API_VERSIONS_RESPONSE_V3_EMPTY + b"\x00"
    explicit_defaults = {"supported_features": [], "finalized_features_epoch": -1,
                         "finalized_features": [], "zk_migration_ready": False}
    assert encode_message("ApiVersionsResponse", 3, explicit_defaults) == API_VERSIONS_RESPONSE_V3_EMPTY + b"\x00"


def test_non_default_tagged_fields_are_written_in_tag_order():
    value = {"zk_migration_ready": True, "finalized_features_epoch": 5,
             "supported_features": [{"name": "metadata.version", "min_version": 1, "max_version": 20}]}
    feature = b"\x11metadata.version" + struct.pack(">hh", 1, 20) + b"\x00"
    tag0 = b"\x00" + bytes([1 + len(feature)]) + b"\x02" + feature
    tag1 = b"\x01\x08" + struct.pack(">q", 5)
    tag3 = b"\x03\x01\x01"
    encoded = encode_message("ApiVersionsResponse", 3, value)
    assert encoded == API_VERSIONS_RESPONSE_V3_EMPTY + b"\x03" + tag0 + tag1 + tag3
    decoded = decode_message("ApiVersionsResponse", 3, encoded)
    assert decoded["supported_features"] == value["supported_features"]
    assert (decoded["finalized_features_epoch"], decoded["zk_migration_ready"]) == (5, True)
    assert decoded["finalized_features"] == []


def test_tagged_fields_are_absent_in_non_flexible_versions():
    encoded = encode_message("ApiVersionsResponse", 2, {"zk_migration_ready": True})
    assert encoded == API_VERSIONS_RESPONSE_V3_EMPTY[:2] + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"


def test_nullable_tagged_string_with_null_default():
    # FetchRequest.ClusterId (tag 0, v12+) defaults to null: "" is not the default.
    absent = encode_message("FetchRequest", 12, {"cluster_id": None})
    empty = encode_message("FetchRequest", 12, {"cluster_id": ""})
    assert empty == absent[:-1] + b"\x01" + b"\x00\x01" + b"\x01"
    assert decode_message("FetchRequest", 12, absent)["cluster_id"] is None
    assert decode_message("FetchRequest", 12, empty)["cluster_id"] == ""


def test_tagged_struct_absent_decodes_as_kafka_default_struct():
    response = {"responses": [{"topic": "t", "partitions": [{"partition_index": 0}]}]}
    decoded = decode_message("FetchResponse", 12, encode_message("FetchResponse", 12, response))
    partition = decoded["responses"][0]["partitions"][0]
    assert partition["current_leader"] == {"leader_id": -1, "leader_epoch": -1}
    assert partition["diverging_epoch"] == {"epoch": -1, "end_offset": -1}
    partition["current_leader"]["leader_id"] = 3  # a fresh dict, not a shared default
    again = decode_message("FetchResponse", 12, encode_message("FetchResponse", 12, response))
    assert again["responses"][0]["partitions"][0]["current_leader"]["leader_id"] == -1


def test_unknown_tags_survive_a_round_trip():
    body = b"\x02a\x021"  # ApiVersionsRequest v3: client software name "a", version "1"
    tags = b"\x02" + b"\x04\x00" + b"\x09\x02hi"
    decoded = decode_message("ApiVersionsRequest", 3, body + tags)
    assert decoded == {"client_software_name": "a", "client_software_version": "1",
                       "_unknown_tags": {4: b"", 9: b"hi"}}
    assert encode_message("ApiVersionsRequest", 3, decoded) == body + tags


def test_unknown_tags_merge_with_known_ones_in_nested_structs():
    value = {"api_keys": [{"api_key": 3, "min_version": 0, "max_version": 12, "_unknown_tags": {7: b"\x01"}}],
             "finalized_features_epoch": 2, "_unknown_tags": {0x80: b"xyz", 2000: b""}}
    encoded = encode_message("ApiVersionsResponse", 3, value)
    # tag 0x80 needs a two-byte varint; tags 1 (known), 128 and 2000 in order
    assert encoded.endswith(b"\x03" + b"\x01\x08" + struct.pack(">q", 2) + b"\x80\x01\x03xyz" + b"\xd0\x0f\x00")
    decoded = decode_message("ApiVersionsResponse", 3, encoded)
    assert decoded["_unknown_tags"] == {0x80: b"xyz", 2000: b""}
    assert decoded["api_keys"][0]["_unknown_tags"] == {7: b"\x01"}
    assert encode_message("ApiVersionsResponse", 3, decoded) == encoded


def test_known_tag_before_its_tagged_versions_is_rejected():
    # FetchRequest.ReplicaState is tag 1 from v15 on; Kafka refuses it earlier.
    replica_state = b"\x01\x01\x0d" + struct.pack(">iq", 1, 2) + b"\x00"
    v15 = encode_message("FetchRequest", 15, {})[:-1] + replica_state
    assert decode_message("FetchRequest", 15, v15)["replica_state"] == {"replica_id": 1, "replica_epoch": 2}
    v12 = encode_message("FetchRequest", 12, {})[:-1] + replica_state
    with pytest.raises(DecodeError, match="tag 1 is not valid"):
        decode_message("FetchRequest", 12, v12)


@pytest.mark.parametrize("size", [12, 14])
def test_tagged_field_with_a_wrong_size_is_rejected(size):
    bad = encode_message("FetchRequest", 15, {})[:-1] + b"\x01\x01" + bytes([size]) + struct.pack(">iq", 1, 2) + b"\x00\x00"
    with pytest.raises(DecodeError):
        decode_message("FetchRequest", 15, bad)
