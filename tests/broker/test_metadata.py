"""Metadata at every version: brokers, topics, topic ids, auto-creation,
invalid names, topics asked for by id; DescribeTopicPartitions."""
import pytest

from pykbroker.errors import ErrorCode
from pykbroker.handlers import HANDLERS
from pykbroker.testing import EmbeddedBroker
from tests.broker.rawapi import DESCRIBE_CONFIGS, METADATA, TOPIC_RESOURCE, create_topic
from tests.support.rawclient import RawClient

VERSIONS = range(HANDLERS[METADATA].VERSIONS[0], HANDLERS[METADATA].VERSIONS[1] + 1)
ZERO_UUID = bytes(16)


def metadata(client, version, names, allow_auto=True):
    topics = None if names is None else [{"name": n} for n in names]
    return client.request(METADATA, version, {"topics": topics, "allow_auto_topic_creation": allow_auto})


@pytest.mark.parametrize("version", VERSIONS)
def test_metadata_describes_broker_and_topic(broker, raw, version):
    client = raw()
    topic_id = create_topic(client, "orders", partitions=3)["topic_id"]
    response = metadata(client, version, ["orders"])
    assert [(b["node_id"], b["host"], b["port"]) for b in response["brokers"]] == [(1, "127.0.0.1", broker.port)]
    if version >= 1:
        assert response["controller_id"] == 1
    if version >= 2:
        assert response["cluster_id"] == broker.broker.cluster_id
    [topic] = response["topics"]
    assert (topic["error_code"], topic["name"], topic["is_internal"]) == (ErrorCode.NONE, "orders", False)
    assert topic["topic_id"] == (topic_id if version >= 10 else ZERO_UUID)
    partitions = sorted(topic["partitions"], key=lambda p: p["partition_index"])
    assert [p["partition_index"] for p in partitions] == [0, 1, 2]
    for p in partitions:
        assert (p["error_code"], p["leader_id"], p["replica_nodes"], p["isr_nodes"]) == (ErrorCode.NONE, 1, [1], [1])
        if version >= 7:
            assert p["leader_epoch"] == 0
        if version >= 5:
            assert p["offline_replicas"] == []


@pytest.mark.parametrize("version", VERSIONS)
def test_all_topics_and_no_topics(raw, version):
    client = raw()
    for name in ("a", "b"):
        create_topic(client, name)
    if version == 0:
        # v0 has no null array: an empty list means every topic.
        assert sorted(t["name"] for t in metadata(client, 0, [])["topics"]) == ["a", "b"]
        return
    assert sorted(t["name"] for t in metadata(client, version, None)["topics"]) == ["a", "b"]
    assert metadata(client, version, [])["topics"] == []


def test_topic_ids_are_stable_across_restarts(broker, raw):
    ids = {name: create_topic(raw(), name)["topic_id"] for name in ("x", "y")}
    assert len(set(ids.values())) == 2 and ZERO_UUID not in ids.values()
    broker.stop()
    broker.start()
    response = metadata(raw(), 12, None)
    assert {t["name"]: t["topic_id"] for t in response["topics"]} == ids


@pytest.mark.parametrize("version", [1, 3, 4, 12])
def test_auto_creation_follows_the_request_flag(tmp_path, version):
    with EmbeddedBroker(str(tmp_path / "data"), num_partitions=3) as broker, \
            RawClient("127.0.0.1", broker.port) as client:
        [creating] = metadata(client, version, ["auto"], allow_auto=True)["topics"]
        # Kafka 4.4 answers UNKNOWN_TOPIC_OR_PARTITION while the creation is under way.
        assert (creating["name"], creating["error_code"], creating["partitions"]) == \
            ("auto", ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, [])
        [created] = metadata(client, version, ["auto"], allow_auto=True)["topics"]
        assert (created["error_code"], len(created["partitions"])) == (ErrorCode.NONE, 3)
        if version >= 4:
            # Clients that only look (AdminClient, consumers) send False.
            [missing] = metadata(client, version, ["not-created"], allow_auto=False)["topics"]
            assert missing["error_code"] == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
            assert missing["partitions"] == []
        names = sorted(t["name"] for t in metadata(client, version, None)["topics"])
        assert names == ["auto"]


@pytest.mark.parametrize("name, partitions_config", [("__consumer_offsets", "offsets.topic.num.partitions"),
                                                    ("__transaction_state", "transaction.state.log.num.partitions")])
def test_auto_creation_of_an_internal_topic_is_its_coordinators(tmp_path, name, partitions_config):
    """As Kafka: with the coordinator's partition count and configs, not the
    broker defaults, and described as internal from the first answer."""
    with EmbeddedBroker(str(tmp_path / "data"), properties={"num.partitions": "2", partitions_config: "4"}) as broker, \
            RawClient("127.0.0.1", broker.port) as client:
        [creating] = metadata(client, 12, [name])["topics"]
        assert (creating["error_code"], creating["is_internal"]) == (ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, True)
        [created] = metadata(client, 12, [name], allow_auto=False)["topics"]
        assert (created["error_code"], created["is_internal"], len(created["partitions"])) == (ErrorCode.NONE, True, 4)
        [described] = client.request(DESCRIBE_CONFIGS, 4, {"resources": [
            {"resource_type": TOPIC_RESOURCE, "resource_name": name, "configuration_keys": ["cleanup.policy"]}]})[
            "results"]
        assert [(c["name"], c["value"]) for c in described["configs"]] == [("cleanup.policy", "compact")]


def test_auto_creation_disabled_on_the_broker(tmp_path):
    with EmbeddedBroker(str(tmp_path / "data"), auto_create_topics_enable="false") as broker, \
            RawClient("127.0.0.1", broker.port) as client:
        for version in (1, 12):
            [topic] = metadata(client, version, ["nope"], allow_auto=True)["topics"]
            assert topic["error_code"] == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
        assert metadata(client, 12, None)["topics"] == []


@pytest.mark.parametrize("name", ["bad name", "a/b", ".", "..", "x" * 250])
@pytest.mark.parametrize("allow_auto", [True, False])
def test_invalid_topic_names(raw, name, allow_auto):
    client = raw()
    [topic] = metadata(client, 12, [name], allow_auto=allow_auto)["topics"]
    assert (topic["name"], topic["error_code"]) == (name, ErrorCode.INVALID_TOPIC_EXCEPTION)
    assert metadata(client, 12, None)["topics"] == []


def test_metadata_by_topic_id(raw):
    client = raw()
    topic_id = create_topic(client, "by-id", partitions=2)["topic_id"]
    unknown = bytes(range(1, 17))
    response = client.request(METADATA, 12, {"topics": [{"name": None, "topic_id": topic_id},
                                                         {"name": None, "topic_id": unknown}],
                                             "allow_auto_topic_creation": False})
    by_id = {t["topic_id"]: t for t in response["topics"]}
    assert (by_id[topic_id]["error_code"], by_id[topic_id]["name"]) == (ErrorCode.NONE, "by-id")
    assert len(by_id[topic_id]["partitions"]) == 2
    assert (by_id[unknown]["error_code"], by_id[unknown]["name"]) == (ErrorCode.UNKNOWN_TOPIC_ID, None)


def test_topics_by_id_and_by_name_in_one_request(raw):
    """As Kafka: once a topic id is given the names are not looked at; a
    topic with neither name nor id fails the whole request."""
    client = raw()
    topic_id = create_topic(client, "by-id")["topic_id"]
    create_topic(client, "by-name")
    response = client.request(METADATA, 12, {"topics": [{"name": "by-name"}, {"name": None, "topic_id": topic_id}],
                                             "allow_auto_topic_creation": False})
    assert [(t["error_code"], t["name"]) for t in response["topics"]] == [(ErrorCode.NONE, "by-id")]
    response = client.request(METADATA, 12, {"topics": [{"name": None, "topic_id": ZERO_UUID}, {"name": "by-name"}],
                                             "allow_auto_topic_creation": False})
    assert (response["brokers"], response["controller_id"]) == ([], -1)
    assert [(t["error_code"], t["name"], t["partitions"]) for t in response["topics"]] == \
        [(ErrorCode.UNKNOWN_SERVER_ERROR, "", []), (ErrorCode.UNKNOWN_SERVER_ERROR, "by-name", [])]


@pytest.mark.parametrize("version", [1, 12])
def test_a_topic_named_twice_is_described_once(raw, version):
    client = raw()
    create_topic(client, "a")
    response = metadata(client, version, ["a", "nope", "a", "nope"], allow_auto=False)   # v1 auto-creates "nope"
    assert [(t["name"], t["error_code"]) for t in response["topics"]] == \
        [("a", ErrorCode.NONE), ("nope", ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)]


@pytest.mark.parametrize("version", [10, 11])
def test_topic_ids_in_requests_before_v12_are_invalid(raw, version):
    """Kafka (KafkaApis.handleTopicMetadataRequest) refuses topic ids and
    null names below v12 with INVALID_REQUEST on every requested topic."""
    client = raw()
    topic_id = create_topic(client, "by-id")["topic_id"]
    response = client.request(METADATA, version, {"topics": [{"name": None, "topic_id": topic_id}],
                                                  "allow_auto_topic_creation": False})
    [topic] = response["topics"]
    assert (topic["error_code"], topic["name"], topic["partitions"]) == (ErrorCode.INVALID_REQUEST, "", [])


def test_authorized_operations_on_request(raw):
    client = raw()
    create_topic(client, "ops")
    asked = client.request(METADATA, 10, {"topics": [{"name": "ops"}], "allow_auto_topic_creation": False,
                                          "include_topic_authorized_operations": True,
                                          "include_cluster_authorized_operations": True})
    not_asked = metadata(client, 10, ["ops"], allow_auto=False)
    assert asked["topics"][0]["topic_authorized_operations"] > 0
    assert asked["cluster_authorized_operations"] > 0
    assert not_asked["topics"][0]["topic_authorized_operations"] == -(2**31)
    assert not_asked["cluster_authorized_operations"] == -(2**31)


# --- DescribeTopicPartitions ------------------------------------------------------------
DESCRIBE_TOPIC_PARTITIONS = 75
TOPIC_OPERATIONS = 3576   # what Kafka reports without an authorizer


def describe_topic_partitions(client, names, limit=2000, cursor=None):
    return client.request(DESCRIBE_TOPIC_PARTITIONS, 0, {
        "topics": [{"name": n} for n in names], "response_partition_limit": limit,
        "cursor": None if cursor is None else {"topic_name": cursor[0], "partition_index": cursor[1]}})


def test_describe_topic_partitions_pages_by_partition_count(raw):
    client = raw()
    create_topic(client, "a", partitions=2)
    create_topic(client, "c", partitions=2)
    names = ["c", "b-missing", "a", "bad name"]
    first = describe_topic_partitions(client, names, limit=3)
    assert [(t["name"], t["error_code"], t["is_internal"], [p["partition_index"] for p in t["partitions"]],
             t["topic_authorized_operations"]) for t in first["topics"]] == [
        ("a", ErrorCode.NONE, False, [0, 1], TOPIC_OPERATIONS),
        # As Kafka: topics that do not exist are answered with their operations too.
        ("b-missing", ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, False, [], TOPIC_OPERATIONS),
        ("bad name", ErrorCode.INVALID_TOPIC_EXCEPTION, False, [], TOPIC_OPERATIONS),
        ("c", ErrorCode.NONE, False, [0], TOPIC_OPERATIONS)]
    assert first["next_cursor"] == {"topic_name": "c", "partition_index": 1}
    rest = describe_topic_partitions(client, names, limit=3, cursor=("c", 1))
    assert [(t["name"], [p["partition_index"] for p in t["partitions"]]) for t in rest["topics"]] == [("c", [1])]
    assert rest["next_cursor"] is None
    # The cursor of a full page may name a topic that does not exist.
    assert describe_topic_partitions(client, ["a", "b-missing"], limit=2)["next_cursor"] == \
        {"topic_name": "b-missing", "partition_index": 0}
    [internal] = describe_topic_partitions(client, ["__consumer_offsets"])["topics"]
    assert (internal["error_code"], internal["is_internal"]) == (ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, True)


@pytest.mark.parametrize("cursor", [("zz", 0), ("a", 0), ("c", -1)])
def test_describe_topic_partitions_refuses_a_cursor_outside_the_request(raw, cursor):
    """As Kafka: the cursor must name a requested topic and a partition;
    else every requested topic is answered INVALID_REQUEST."""
    client = raw()
    create_topic(client, "c", partitions=2)
    response = describe_topic_partitions(client, ["c", "b"], cursor=cursor)
    assert [(t["name"], t["error_code"], t["partitions"], t["topic_id"]) for t in response["topics"]] == \
        [("c", ErrorCode.INVALID_REQUEST, [], ZERO_UUID), ("b", ErrorCode.INVALID_REQUEST, [], ZERO_UUID)]
    assert response["next_cursor"] is None
