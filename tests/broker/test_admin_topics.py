"""CreateTopics, DeleteTopics, CreatePartitions and DescribeCluster."""
import os

import pytest

from pykbroker.errors import ErrorCode
from tests.broker.rawapi import (CREATE_PARTITIONS, CREATE_TOPICS, DELETE_TOPICS, DESCRIBE_CLUSTER, METADATA, batch,
                                 create_topic, fetched_values, produce, produce_ok)

DYNAMIC_TOPIC_CONFIG = 1
ZERO_ID = bytes(16)


def new_topic(name, partitions, replication, configs=None, assignments=()):
    return {"name": name, "num_partitions": partitions, "replication_factor": replication,
            "configs": [{"name": k, "value": v} for k, v in (configs or {}).items()],
            "assignments": [{"partition_index": i, "broker_ids": ids} for i, ids in assignments]}


def create_topics(client, topics, version=7, validate_only=False, timeout_ms=5000):
    """CreateTopics of (name, partitions, replication[, configs[, assignments]]) tuples."""
    body = {"topics": [new_topic(*t) for t in topics], "timeout_ms": timeout_ms, "validate_only": validate_only}
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


@pytest.mark.parametrize("version", [5, 6, 7])
def test_validate_only_describes_the_topic_as_a_creation_does(raw, version):
    client = raw()
    [checked] = create_topics(client, [("dry", 2, 1, {"retention.ms": "1000"})], version, validate_only=True)
    assert topic_names(client) == []
    [created] = create_topics(client, [("dry", 2, 1, {"retention.ms": "1000"})], version)
    assert (checked["num_partitions"], checked["replication_factor"]) == (2, 1)
    assert checked["configs"] == created["configs"]
    assert {c["name"]: c["value"] for c in checked["configs"]}["retention.ms"] == "1000"
    # A refused topic is described by an empty config list, not a null one.
    [exists] = create_topics(client, [("dry", 2, 1)], version, validate_only=True)
    assert (exists["error_code"], exists["configs"]) == (ErrorCode.TOPIC_ALREADY_EXISTS, [])


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


@pytest.mark.parametrize("name, problem", [
    ("", "the empty string is not allowed"),
    (".", "'.' is not allowed"),
    ("..", "'..' is not allowed"),
    ("a b", "'a b' contains one or more characters other than ASCII alphanumerics, '.', '_' and '-'"),
    ("x" * 250, f"the length of '{'x' * 250}' is longer than the max allowed length 249"),
])
def test_invalid_topic_names_in_kafkas_words(raw, name, problem):
    [result] = create_topics(raw(), [(name, 1, 1)])
    assert (result["error_code"], result["error_message"]) == \
        (ErrorCode.INVALID_TOPIC_EXCEPTION, f"Topic name is invalid: {problem}")


def test_names_that_collide_in_metrics_collide_only_with_existing_topics(raw):
    """As Kafka: one request may create both "c.d" and "c_d", but "e_f" is refused beside an existing "e.f"."""
    client = raw()
    assert [r["error_code"] for r in create_topics(client, [("c.d", 1, 1), ("c_d", 1, 1)])] == [0, 0]
    create_topic(client, "e.f")
    [later] = create_topics(client, [("e_f", 1, 1)])
    assert (later["error_code"], later["error_message"]) == \
        (ErrorCode.INVALID_TOPIC_EXCEPTION, "Topic 'e_f' collides with existing topic: e.f")
    assert topic_names(client) == ["c.d", "c_d", "e.f"]


MANUAL = "The manual partition assignment includes"


@pytest.mark.parametrize("partitions, replication, assignments, code, message", [
    (0, 0, (), ErrorCode.INVALID_REPLICATION_FACTOR,
     "Replication factor must be larger than 0, or -1 to use the default value."),
    (0, 1, (), ErrorCode.INVALID_PARTITIONS, "Number of partitions was set to an invalid non-positive value."),
    (1, 2, (), ErrorCode.INVALID_REPLICATION_FACTOR,
     "Unable to replicate the partition 2 time(s): The target replication factor of 2 cannot be reached because "
     "only 1 broker(s) are registered or some brokers have all their log directories cordoned."),
    (2, -1, [(0, [1])], ErrorCode.INVALID_REQUEST,
     "A manual partition assignment was specified, but numPartitions was not set to -1."),
    (-1, 1, [(0, [1])], ErrorCode.INVALID_REQUEST,
     "A manual partition assignment was specified, but replication factor was not set to -1."),
    (-1, -1, [(0, [1]), (0, [1])], ErrorCode.INVALID_REPLICA_ASSIGNMENT,
     "Found multiple manual partition assignments for partition 0"),
    (-1, -1, [(0, [1, 1])], ErrorCode.INVALID_REPLICA_ASSIGNMENT, f"{MANUAL} the broker 1 more than once."),
    (-1, -1, [(0, [1]), (1, [])], ErrorCode.INVALID_REPLICA_ASSIGNMENT, f"{MANUAL} an empty replica list."),
    (-1, -1, [(0, [7])], ErrorCode.INVALID_REPLICA_ASSIGNMENT,
     f"{MANUAL} broker 7, but no such broker is registered."),
    (-1, -1, [(0, [1]), (2, [1])], ErrorCode.INVALID_REPLICA_ASSIGNMENT,
     "partitions should be a consecutive 0-based integer sequence"),
])
def test_partition_and_replica_errors_in_kafkas_words(raw, partitions, replication, assignments, code, message):
    client = raw()
    [result] = create_topics(client, [("t", partitions, replication, {}, assignments)])
    assert (result["error_code"], result["error_message"]) == (code, message)
    assert topic_names(client) == []


def test_requests_for_too_many_partitions_are_refused_whole(raw):
    """Kafka's controller refuses, for every topic of it, a request over 10000
    partitions or over 10000 metadata records (per topic one, one per config
    override and one per partition)."""
    client = raw()
    for validate_only in (True, False):
        results = create_topics(client, [("a", 5000, 1), ("b", 5000, 1), ("c", 1, 1)], validate_only=validate_only)
        assert [(r["name"], r["error_code"], r["error_message"]) for r in results] == [
            (name, ErrorCode.POLICY_VIOLATION, "Excessively large number of partitions per request.")
            for name in "abc"]
    [records] = create_topics(client, [("d", 9998, 1, {"retention.ms": "1", "segment.ms": "1"})], validate_only=True)
    assert (records["error_code"], records["error_message"]) == \
        (ErrorCode.POLICY_VIOLATION, "Unable to perform excessively large batch operation.")
    assert create_topics(client, [("e", 9999, 1)], validate_only=True)[0]["error_code"] == ErrorCode.NONE
    assert topic_names(client) == []
    create_topic(client, "grown")
    refused = create_partitions(client, "grown", 10002)
    assert (refused["error_code"], refused["error_message"]) == \
        (ErrorCode.POLICY_VIOLATION, "Excessively large number of additional partitions per request.")
    assert create_partitions(client, "grown", 10001, validate_only=True)["error_code"] == ErrorCode.NONE
    assert partition_count(client, "grown") == 1


@pytest.mark.parametrize("timeout_ms", [0, -1])
def test_a_timeout_of_zero_or_less_does_nothing(raw, timeout_ms):
    """Kafka's controller finds such a deadline passed at once: REQUEST_TIMED_OUT,
    without a message, for every topic of the request."""
    client = raw()
    create_topic(client, "kept")
    created = create_topics(client, [("new", 1, 1)], timeout_ms=timeout_ms)
    deleted = client.request(DELETE_TOPICS, 6, {"topics": [{"name": "kept"}], "timeout_ms": timeout_ms})
    grown = client.request(CREATE_PARTITIONS, 3, {"topics": [{"name": "kept", "count": 2, "assignments": None}],
                                                  "timeout_ms": timeout_ms})
    for results in (created, deleted["responses"], grown["results"]):
        assert [(r["error_code"], r["error_message"]) for r in results] == [(ErrorCode.REQUEST_TIMED_OUT, None)]
    assert topic_names(client) == ["kept"]
    assert partition_count(client, "kept") == 1


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


def test_delete_topics_refuses_duplicated_and_ambiguous_entries(raw):
    """As Kafka, and nothing is deleted."""
    client = raw()
    ids = {name: create_topic(client, name)["topic_id"] for name in ("a", "b", "c")}

    def delete(topics):
        response = client.request(DELETE_TOPICS, 6, {"topics": topics, "timeout_ms": 5000})
        return [(r["name"], r["topic_id"], r["error_code"], r["error_message"]) for r in response["responses"]]

    assert delete([{"name": "a"}, {"name": "a"}]) == \
        [("a", ZERO_ID, ErrorCode.INVALID_REQUEST, "Duplicate topic name.")]
    assert delete([{"name": None, "topic_id": ids["a"]}] * 2) == \
        [(None, ids["a"], ErrorCode.INVALID_REQUEST, "Duplicate topic id.")]
    assert delete([{"name": "b", "topic_id": ids["b"]}]) == \
        [("b", ids["b"], ErrorCode.INVALID_REQUEST, "You may not specify both topic name and topic id.")]
    assert delete([{"name": None, "topic_id": ZERO_ID}]) == \
        [(None, ZERO_ID, ErrorCode.INVALID_REQUEST, "Neither topic name nor id were specified.")]
    # Named and given by id: the name is refused, and the id left without an answer.
    assert delete([{"name": None, "topic_id": ids["c"]}, {"name": "c"}]) == \
        [("c", ids["c"], ErrorCode.INVALID_REQUEST, "The provided topic name maps to an ID that was already supplied.")]
    [old] = client.request(DELETE_TOPICS, 4, {"topic_names": ["a", "a"], "timeout_ms": 5000})["responses"]
    assert (old["name"], old["error_code"]) == ("a", ErrorCode.INVALID_REQUEST)
    assert topic_names(client) == ["a", "b", "c"]


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


def test_create_partitions_errors_in_kafkas_words(raw):
    client = raw()
    create_topic(client, "t")

    def grow(name, assignments):
        response = client.request(CREATE_PARTITIONS, 3, {"topics": [{"name": name, "count": 2, "assignments": [
            {"broker_ids": ids} for ids in assignments]}], "timeout_ms": 5000})
        [result] = response["results"]
        return result["error_code"], result["error_message"]

    assert grow("nope", [[1]]) == (ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, None)
    assert grow("t", [[1, 1]]) == (ErrorCode.INVALID_REPLICA_ASSIGNMENT, f"{MANUAL} the broker 1 more than once.")
    assert grow("t", [[]]) == (ErrorCode.INVALID_REPLICA_ASSIGNMENT, f"{MANUAL} an empty replica list.")
    assert grow("t", [[7]]) == (ErrorCode.INVALID_REPLICA_ASSIGNMENT,
                                f"{MANUAL} broker 7, but no such broker is registered.")
    assert partition_count(client, "t") == 1


# --- DescribeCluster ----------------------------------------------------------------------
@pytest.mark.parametrize("version", [0, 1])
def test_describe_cluster(broker, raw, version):
    client = raw()
    response = client.request(DESCRIBE_CLUSTER, version, {"include_cluster_authorized_operations": True})
    assert response["error_code"] == ErrorCode.NONE
    assert (response["cluster_id"], response["controller_id"]) == (broker.broker.cluster_id, 1)
    assert [(b["broker_id"], b["host"], b["port"]) for b in response["brokers"]] == [(1, "127.0.0.1", broker.port)]
    # Every operation Kafka knows on a cluster: CREATE, ALTER, DESCRIBE, CLUSTER_ACTION,
    # DESCRIBE_CONFIGS, ALTER_CONFIGS and IDEMPOTENT_WRITE (not the token ones).
    operations = response["cluster_authorized_operations"]
    assert {op for op in range(32) if operations >> op & 1} == {5, 7, 8, 9, 10, 11, 12}


@pytest.mark.parametrize("endpoint_type, code, message", [
    (2, ErrorCode.MISMATCHED_ENDPOINT_TYPE,
     "The request was sent to an endpoint of type BROKER, but we wanted an endpoint of type CONTROLLER"),
    (9, ErrorCode.UNSUPPORTED_ENDPOINT_TYPE, "Unsupported endpoint type 9"),
])
def test_describe_cluster_describes_brokers_only(raw, endpoint_type, code, message):
    response = raw().request(DESCRIBE_CLUSTER, 1, {"endpoint_type": endpoint_type})
    assert (response["error_code"], response["error_message"]) == (code, message)
    assert (response["endpoint_type"], response["brokers"]) == (1, [])



def test_duplicate_names_in_create_partitions_are_refused_once(raw):
    client = raw()
    create_topic(client, "t")
    results = client.request(CREATE_PARTITIONS, 3, {"topics": [{"name": "t", "count": 2, "assignments": None}] * 2,
                                                    "timeout_ms": 5000})["results"]
    assert [(r["name"], r["error_code"]) for r in results] == [("t", ErrorCode.INVALID_REQUEST)]
    assert partition_count(client, "t") == 1
