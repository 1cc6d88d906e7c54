"""CreateTopics, DeleteTopics, CreatePartitions and DescribeCluster."""
import os

import pytest

from pykbroker.errors import ErrorCode
from tests.broker.rawapi import (CREATE_PARTITIONS, CREATE_TOPICS, DELETE_TOPICS, DESCRIBE_CLUSTER, METADATA, batch,
                                 create_topic, fetched_values, produce, produce_ok)

DYNAMIC_TOPIC_CONFIG = 1


def create_topics(client, topics, version=7, validate_only=False):
    body = {"topics": [{"name": t[0], "num_partitions": t[1], "replication_factor": t[2],
                        "configs": [{"name": k, "value": v} for k, v in (t[3] if len(t) > 3 else {}).items()]}
                       for t in topics], "timeout_ms": 5000, "validate_only": validate_only}
    return client.request(CREATE_TOPICS, version, body)["topics"]


def topic_names(client):
    return sorted(t["name"] for t in client.request(METADATA, 12, {"topics": None})["topics"])


def partition_count(client, name):
    [topic] = client.request(METADATA, 12, {"topics": [{"name": name}], "allow_auto_topic_creation": False})["topics"]
    return len(topic["partitions"])


# --- CreateTopics --------------------------------------------------------------------------
@pytest.mark.parametrize("version", range(0, 8))
def test_create_topic_with_configs(raw, version):
    client = raw()
    [result] = create_topics(client, [("made", 3, 1, {"retention.ms": "12345", "cleanup.policy": "compact"})],
                             version)
    assert result["error_code"] == ErrorCode.NONE
    assert partition_count(client, "made") == 3
    if version >= 5:
        assert (result["num_partitions"], result["replication_factor"]) == (3, 1)
        configs = {c["name"]: c for c in result["configs"]}
        assert (configs["retention.ms"]["value"], configs["retention.ms"]["config_source"]) == \
            ("12345", DYNAMIC_TOPIC_CONFIG)
        assert configs["cleanup.policy"]["value"] == "compact"
        assert configs["segment.bytes"]["value"] == str(1 << 30)
    if version >= 7:
        [topic] = client.request(METADATA, 12, {"topics": [{"name": "made"}]})["topics"]
        assert result["topic_id"] == topic["topic_id"] != bytes(16)


def test_broker_defaults_with_minus_one(tmp_path):
    from pykbroker.testing import EmbeddedBroker
    from tests.support.rawclient import RawClient
    with EmbeddedBroker(str(tmp_path / "d"), num_partitions=4) as broker, RawClient("127.0.0.1", broker.port) as c:
        [result] = create_topics(c, [("defaults", -1, -1)])
        assert (result["error_code"], result["num_partitions"], result["replication_factor"]) == (ErrorCode.NONE, 4, 1)


def test_validate_only_creates_nothing(raw):
    client = raw()
    [result] = create_topics(client, [("dry", 5, 1, {"retention.ms": "1000"})], validate_only=True)
    assert (result["error_code"], result["num_partitions"], result["replication_factor"]) == (ErrorCode.NONE, 5, 1)
    assert topic_names(client) == []
    [invalid] = create_topics(client, [("dry", 5, 7)], validate_only=True)
    assert invalid["error_code"] == ErrorCode.INVALID_REPLICATION_FACTOR


def test_create_topic_errors(raw):
    client = raw()
    create_topic(client, "exists")
    create_topic(client, "dot.ted")
    results = create_topics(client, [
        ("exists", 1, 1),
        ("too-many-replicas", 1, 3),
        ("zero-replicas", 1, 0),
        ("zero-partitions", 0, 1),
        ("unknown-config", 1, 1, {"no.such.config": "1"}),
        ("bad-config-value", 1, 1, {"retention.ms": "soon"}),
        ("bad-enum-value", 1, 1, {"cleanup.policy": "shred"}),
        ("bad name", 1, 1),
        ("dot_ted", 1, 1),
        ("fine", 1, 1),
    ])
    assert {r["name"]: r["error_code"] for r in results} == {
        "exists": ErrorCode.TOPIC_ALREADY_EXISTS,
        "too-many-replicas": ErrorCode.INVALID_REPLICATION_FACTOR,
        "zero-replicas": ErrorCode.INVALID_REPLICATION_FACTOR,
        "zero-partitions": ErrorCode.INVALID_PARTITIONS,
        "unknown-config": ErrorCode.INVALID_CONFIG,
        "bad-config-value": ErrorCode.INVALID_CONFIG,
        "bad-enum-value": ErrorCode.INVALID_CONFIG,
        "bad name": ErrorCode.INVALID_TOPIC_EXCEPTION,
        "dot_ted": ErrorCode.INVALID_TOPIC_EXCEPTION,    # collides with dot.ted in metric names
        "fine": ErrorCode.NONE,
    }
    for r in results:
        if r["error_code"]:
            assert r["error_message"], r
    assert topic_names(client) == ["dot.ted", "exists", "fine"]


def test_duplicate_topic_names_are_refused_once(raw):
    """As Kafka's controller: one INVALID_REQUEST result per duplicated name,
    and the other topics of the request are created."""
    client = raw()
    results = create_topics(client, [("twice", 1, 1), ("once", 1, 1), ("twice", 2, 1)])
    assert sorted((r["name"], r["error_code"]) for r in results) == [
        ("once", ErrorCode.NONE), ("twice", ErrorCode.INVALID_REQUEST)]
    assert topic_names(client) == ["once"]


# --- DeleteTopics --------------------------------------------------------------------------
@pytest.mark.parametrize("version", range(0, 7))
def test_delete_topics(broker, raw, version):
    client = raw()
    topic_id = create_topic(client, "doomed", partitions=2)["topic_id"]
    produce_ok(client, "doomed", 0, batch([b"gone soon"]))
    create_topic(client, "kept")
    log_dir = os.path.join(broker.log_dir, "doomed-0")
    assert os.path.isdir(log_dir)
    if version >= 6:
        body = {"topics": [{"name": None, "topic_id": topic_id}], "timeout_ms": 5000}
    else:
        body = {"topic_names": ["doomed"], "timeout_ms": 5000}
    [result] = client.request(DELETE_TOPICS, version, body)["responses"]
    assert (result["name"], result["error_code"]) == ("doomed", ErrorCode.NONE)
    if version >= 6:
        assert result["topic_id"] == topic_id
    assert topic_names(client) == ["kept"]
    assert not os.path.exists(log_dir)
    assert produce(client, "doomed", 0, batch([b"x"]))["error_code"] == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
    # A topic created again under the name is a new, empty topic.
    assert create_topic(client, "doomed")["topic_id"] != topic_id
    assert fetched_values(client, "doomed", 0) == []


def test_delete_unknown_topics(raw):
    client = raw()
    named = client.request(DELETE_TOPICS, 5, {"topic_names": ["ghost"], "timeout_ms": 5000})["responses"]
    assert named[0]["error_code"] == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
    by_id = client.request(DELETE_TOPICS, 6, {"topics": [{"name": None, "topic_id": bytes(range(16))}],
                                              "timeout_ms": 5000})["responses"]
    assert by_id[0]["error_code"] == ErrorCode.UNKNOWN_TOPIC_ID


# --- CreatePartitions ----------------------------------------------------------------------
def create_partitions(client, name, count, version=3, validate_only=False):
    response = client.request(CREATE_PARTITIONS, version, {
        "topics": [{"name": name, "count": count, "assignments": None}], "timeout_ms": 5000,
        "validate_only": validate_only})
    return response["results"][0]


@pytest.mark.parametrize("version", range(0, 4))
def test_grow_a_topic(raw, version):
    client = raw()
    create_topic(client, "growing", partitions=1)
    assert create_partitions(client, "growing", 3, version)["error_code"] == ErrorCode.NONE
    assert partition_count(client, "growing") == 3
    produce_ok(client, "growing", 2, batch([b"new partition"]))
    assert fetched_values(client, "growing", 2) == [b"new partition"]


def test_shrinking_or_same_count_is_invalid(raw):
    client = raw()
    create_topic(client, "t", partitions=3)
    shrink = create_partitions(client, "t", 2)
    same = create_partitions(client, "t", 3)
    assert (shrink["error_code"], same["error_code"]) == (ErrorCode.INVALID_PARTITIONS, ErrorCode.INVALID_PARTITIONS)
    assert shrink["error_message"] and same["error_message"]
    assert create_partitions(client, "nope", 3)["error_code"] == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
    assert create_partitions(client, "t", 6, validate_only=True)["error_code"] == ErrorCode.NONE
    assert partition_count(client, "t") == 3


# --- DescribeCluster ----------------------------------------------------------------------
@pytest.mark.parametrize("version", [0, 1])
def test_describe_cluster(broker, raw, version):
    client = raw()
    response = client.request(DESCRIBE_CLUSTER, version, {"include_cluster_authorized_operations": True})
    assert response["error_code"] == ErrorCode.NONE
    assert (response["cluster_id"], response["controller_id"]) == (broker.broker.cluster_id, 1)
    assert [(b["broker_id"], b["host"], b["port"]) for b in response["brokers"]] == [(1, "127.0.0.1", broker.port)]
    assert response["cluster_authorized_operations"] > 0


def test_describe_cluster_refuses_controller_endpoints(raw):
    response = raw().request(DESCRIBE_CLUSTER, 1, {"endpoint_type": 2})
    assert response["error_code"] == ErrorCode.UNSUPPORTED_ENDPOINT_TYPE



def test_duplicate_names_in_create_partitions_are_refused_once(raw):
    client = raw()
    create_topic(client, "t")
    results = client.request(CREATE_PARTITIONS, 3, {"topics": [{"name": "t", "count": 2, "assignments": None}] * 2,
                                                    "timeout_ms": 5000})["results"]
    assert [(r["name"], r["error_code"]) for r in results] == [("t", ErrorCode.INVALID_REQUEST)]
    assert partition_count(client, "t") == 1
