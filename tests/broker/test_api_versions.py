"""ApiVersions at every version, and a well-formed answer from every API at
every version the broker advertises."""
import struct

import pytest

from pykbroker.errors import ErrorCode
from pykbroker.handlers import HANDLERS
from wire import codec

from tests.broker.rawapi import (API_VERSIONS, CREATE_PARTITIONS, CREATE_TOPICS, DELETE_TOPICS, FETCH, METADATA,
                                 TOPIC_RESOURCE, batch, create_topic, legacy_message_set, produce_ok, receive_frame,
                                 walk_error_codes)

SOFTWARE = {"client_software_name": "rawclient", "client_software_version": "1.0"}


def advertised(response):
    return {k["api_key"]: (k["min_version"], k["max_version"]) for k in response["api_keys"]}


@pytest.mark.parametrize("version", range(HANDLERS[API_VERSIONS].VERSIONS[1] + 1))
def test_api_versions_at_every_version(raw, version):
    response = raw().request(API_VERSIONS, version, SOFTWARE)
    assert response["error_code"] == ErrorCode.NONE
    assert advertised(response) == {key: module.VERSIONS for key, module in HANDLERS.items()}
    for key, (low, high) in advertised(response).items():
        spec_low, spec_high = codec.supported_versions(key)
        assert spec_low <= low <= high <= spec_high


def test_unsupported_api_versions_version_is_answered_at_v0(raw):
    """Kafka answers an ApiVersions version it does not know with a v0 body
    and header v0: UNSUPPORTED_VERSION and its own ApiVersions range only."""
    client = raw()
    low, high = HANDLERS[API_VERSIONS].VERSIONS
    client_id = b"newer-client"
    # Header v2 (as a flexible version would have it) and a body we cannot know.
    header = struct.pack(">hhih", API_VERSIONS, high + 1, 77, len(client_id)) + client_id + b"\x00"
    body = b"\x07future\x041.0\x00"
    client.sock.sendall(struct.pack(">i", len(header + body)) + header + body)
    frame = receive_frame(client)
    assert frame == struct.pack(">ihihhh", 77, ErrorCode.UNSUPPORTED_VERSION, 1, API_VERSIONS, low, high)
    # The client can go on at a version it now knows.
    assert client.request(API_VERSIONS, high, SOFTWARE)["error_code"] == ErrorCode.NONE


def test_invalid_client_software_name_is_invalid_request(raw):
    response = raw().request(API_VERSIONS, 3, {"client_software_name": "bad name!",
                                               "client_software_version": "1.0"})
    assert response["error_code"] == ErrorCode.INVALID_REQUEST
    assert response["api_keys"] == []


# --- every API at every version -----------------------------------------------------------
class Cluster:
    """A topic with data, and names for the requests that create or delete."""

    def __init__(self, client):
        self.client = client
        created = create_topic(client, "t", partitions=2)
        self.topic_id = created["topic_id"]
        produce_ok(client, "t", 0, batch([b"a", b"b", b"c"]))


def _request(cluster, api_key, version):
    """A request a client would sensibly send, and the errors it may answer
    (None: every error code in the response must be NONE)."""
    if api_key == 0:
        if version < 3:
            data = legacy_message_set(0 if version < 2 else 1, [b"legacy"])
        else:
            data = batch([b"x"])
        return {"acks": 1, "timeout_ms": 5000,
                "topic_data": [{"name": "t", "partition_data": [{"index": 0, "records": data}]}]}
    if api_key == FETCH:
        topic = {"topic": "t", "topic_id": cluster.topic_id,
                 "partitions": [{"partition": 0, "fetch_offset": 0, "partition_max_bytes": 1 << 20}]}
        return {"max_wait_ms": 0, "min_bytes": 1, "max_bytes": 1 << 20, "topics": [topic]}
    if api_key == 2:
        return {"replica_id": -1, "topics": [{"name": "t", "partitions": [{"partition_index": 0, "timestamp": -1}]}]}
    if api_key == METADATA:
        return {"topics": [{"name": "t"}], "allow_auto_topic_creation": False}
    if api_key == API_VERSIONS:
        return SOFTWARE
    if api_key == CREATE_TOPICS:
        return {"topics": [{"name": f"created-v{version}", "num_partitions": 1, "replication_factor": 1}],
                "timeout_ms": 5000}
    if api_key == DELETE_TOPICS:
        name = f"doomed-v{version}"
        topic_id = create_topic(cluster.client, name)["topic_id"]
        return {"topic_names": [name], "topics": [{"name": None, "topic_id": topic_id}], "timeout_ms": 5000}
    if api_key == 21:
        return {"topics": [{"name": "t", "partitions": [{"partition_index": 1, "offset": 0}]}], "timeout_ms": 5000}
    if api_key == 22:
        return {"transactional_id": None, "transaction_timeout_ms": 60000, "producer_id": -1, "producer_epoch": -1}
    if api_key == 23:
        return {"replica_id": -1, "topics": [{"topic": "t", "partitions": [{"partition": 0, "leader_epoch": 0}]}]}
    if api_key == 32:
        return {"resources": [{"resource_type": TOPIC_RESOURCE, "resource_name": "t", "configuration_keys": None}],
                "include_synonyms": True}
    if api_key == 33:
        return {"resources": [{"resource_type": TOPIC_RESOURCE, "resource_name": "t",
                               "configs": [{"name": "retention.ms", "value": "86400000"}]}]}
    if api_key == 35:
        return {"topics": None}
    if api_key == CREATE_PARTITIONS:
        name = f"growing-v{version}"
        create_topic(cluster.client, name)
        return {"topics": [{"name": name, "count": 2, "assignments": None}], "timeout_ms": 5000}
    if api_key == 44:
        return {"resources": [{"resource_type": TOPIC_RESOURCE, "resource_name": "t",
                               "configs": [{"name": "retention.ms", "config_operation": 0, "value": "3600000"}]}]}
    if api_key in (16, 60, 66):     # ListGroups, DescribeCluster, ListTransactions: all defaults
        return {}
    if api_key == 61:
        return {"topics": [{"name": "t", "partition_indexes": [0, 1]}]}
    if api_key == 75:
        return {"topics": [{"name": "t"}], "response_partition_limit": 100, "cursor": None}
    return None


@pytest.mark.parametrize("api_key", sorted(HANDLERS), ids=lambda k: codec.API_KEYS[k][0])
def test_every_version_of_every_api_answers_well_formed(raw, api_key):
    """Each advertised version gets a response that decodes at that version,
    re-encodes to the very same bytes, and (for the requests we know to be
    sensible) reports no error; the connection stays usable throughout."""
    client = raw()
    cluster = Cluster(client)
    low, high = HANDLERS[api_key].VERSIONS
    for version in range(low, high + 1):
        body = _request(cluster, api_key, version)
        known = body is not None
        correlation_id = client.send(api_key, version, body or {})
        frame = receive_frame(client)
        received, response = codec.decode_response(api_key, version, frame)
        assert received == correlation_id
        reencoded = codec.encode_response(api_key, version, received, response)
        assert reencoded[4:] == frame, f"v{version} response is not canonical"
        if known:
            errors = [code for code in walk_error_codes(response) if code != ErrorCode.NONE]
            assert errors == [], f"v{version}: {response}"
    assert client.request(API_VERSIONS, 0, {})["error_code"] == ErrorCode.NONE
