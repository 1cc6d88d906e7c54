"""``__consumer_offsets``: the group coordinator's state in Kafka's record
formats, rebuilt on restart and on leadership; transactional offsets."""
import uuid

import pytest

from pykbroker.coordinator.group_coordinator import GroupCoordinator
from pykbroker.coordinator.runtime import java_abs, java_string_hash
from pykbroker.errors import ErrorCode
from pykbroker.testing import EmbeddedBroker
from tests.broker.groupapi import (CONSUMER_GROUP_DESCRIBE, DELETE_GROUPS, DESCRIBE_GROUPS, GROUP_PROPERTIES,
                                   JOIN_GROUP, Target, assigned, commit, consumer_heartbeat, decode_assignment,
                                   fetch_offsets, find_coordinator, heartbeat, join, join_consumer_group,
                                   stable_group, topic_id)
from tests.broker.rawapi import DESCRIBE_CONFIGS, create_topic, decode_all, fetch, wait_for
from wire import codec

PROPERTIES = {**GROUP_PROPERTIES, "offsets.topic.num.partitions": "50"}


@pytest.fixture
def embedded(tmp_path):
    """A broker that the test may restart on the same data."""
    brokers = []

    def start():
        broker = EmbeddedBroker(str(tmp_path / "data"), properties=PROPERTIES).start()
        brokers.append(broker)
        return broker, Target("pykbroker", "127.0.0.1", broker.port)
    yield start
    for broker in brokers:
        broker.stop()


def records_of(client, group: str) -> list[tuple[int, dict, int | None, dict | None]]:
    """The records in the ``__consumer_offsets`` partition of ``group``:
    (key version, key, value version, value), decoded with Kafka's schemas."""
    partition = java_abs(java_string_hash(group)) % 50
    names = {0: "OffsetCommit", 1: "OffsetCommit", 2: "GroupMetadata", 3: "ConsumerGroupMetadata",
             4: "ConsumerGroupPartitionMetadata", 5: "ConsumerGroupMemberMetadata",
             6: "ConsumerGroupTargetAssignmentMetadata", 7: "ConsumerGroupTargetAssignmentMember",
             8: "ConsumerGroupCurrentMemberAssignment"}
    result, offset = [], 0
    while batch := [r for r in decode_all(fetch(client, "__consumer_offsets", partition, offset)["records"])
                    if r.offset >= offset]:
        for r in batch:
            key_version = int.from_bytes(r.key[:2], "big")
            key = codec.decode_message(names[key_version] + "Key", key_version, r.key[2:])
            if r.value is None:
                result.append((key_version, key, None, None))
            else:
                value_version = int.from_bytes(r.value[:2], "big")
                result.append((key_version, key, value_version,
                               codec.decode_message(names[key_version] + "Value", value_version, r.value[2:])))
        offset = batch[-1].offset + 1
    return [r for r in result if r[1].get("group", r[1].get("group_id")) == group]


def test_groups_map_to_partitions_as_java_hashes_them():
    assert java_string_hash("hello") == 99162322
    assert java_string_hash("polygenelubricants") == -2**31  # Integer.MIN_VALUE: Utils.abs makes it 0
    assert java_abs(java_string_hash("polygenelubricants")) % 50 == 0
    assert java_string_hash("grüße-😀") == 347391577  # (from Java) UTF-16 code units, surrogates included


def test_the_internal_topic_is_compacted_with_kafkas_configs(embedded):
    _, target = embedded()
    client = target.connect()
    find_coordinator(client, "g")
    response = client.request(DESCRIBE_CONFIGS, 4, {"resources": [
        {"resource_type": 2, "resource_name": "__consumer_offsets", "configuration_keys": None}],
        "include_synonyms": False, "include_documentation": False})
    configs = {c["name"]: c["value"] for c in response["results"][0]["configs"]}
    assert (configs["cleanup.policy"], configs["segment.bytes"], configs["compression.type"]) == \
        ("compact", "104857600", "producer")


def test_offsets_and_groups_are_written_in_kafkas_formats(embedded):
    _, target = embedded()
    client = target.connect()
    create_topic(client, "t", 2)
    [(leader, member_id)], generation = stable_group(target, "formats", "t")
    commit(leader, "formats", {("t", 1): 17}, generation=generation, member_id=member_id, metadata="meta")
    commit(leader, "formats", {("t", 0): 3}, generation=generation, member_id=member_id, version=2,
           retention_ms=60_000)
    records = records_of(client, "formats")
    groups = [r for r in records if r[0] == 2]
    assert [(g[2], g[3]["generation"], len(g[3]["members"])) for g in groups] == [(3, 0, 0), (3, 1, 1)]
    stored = groups[-1][3]
    assert (stored["protocol_type"], stored["protocol"], stored["leader"]) == ("consumer", "range", member_id)
    [member] = stored["members"]
    assert (member["member_id"], member["client_id"], member["client_host"]) == (member_id, "member-0", "/127.0.0.1")
    assert decode_assignment(member["assignment"]) == {"t": [0]}
    offsets = [r for r in records if r[0] == 1]
    assert [(o[1]["topic"], o[1]["partition"], o[2], o[3]["offset"], o[3]["metadata"]) for o in offsets] == \
        [("t", 1, 3, 17, "meta"), ("t", 0, 1, 3, "")]
    assert offsets[1][3]["expire_timestamp"] - offsets[1][3]["commit_timestamp"] == 60_000
    # Deleting the group (once empty) leaves tombstones that compaction removes.
    client.request(13, 5, {"group_id": "formats", "members": [
        {"member_id": member_id, "group_instance_id": None, "reason": None}]})
    wait_for(lambda: client.request(DELETE_GROUPS, 2, {"groups_names": ["formats"]})["results"][0][
        "error_code"] == ErrorCode.NONE, message="the group's deletion")
    tombstones = [(r[0], r[1].get("topic"), r[1].get("partition")) for r in records_of(client, "formats")
                  if r[3] is None]
    assert tombstones == [(1, "t", 0), (1, "t", 1), (2, None, None)]


def test_consumer_groups_are_written_in_kafkas_formats(embedded):
    _, target = embedded()
    client = target.connect()
    create_topic(client, "t", 2)
    find_coordinator(client, "modern")
    member_id = str(uuid.uuid4())
    response = join_consumer_group(client, "modern", member_id, ["t"])
    assert response["error_code"] == ErrorCode.NONE
    kinds = [(r[0], r[2]) for r in records_of(client, "modern")]
    assert kinds == [(5, 0), (4, 0), (3, 0), (7, 0), (6, 0), (8, 0)]
    by_kind = {r[0]: r[3] for r in records_of(client, "modern")}
    assert by_kind[5]["subscribed_topic_names"] == ["t"] and by_kind[5]["client_id"] == "rawclient"
    assert [(t["topic_name"], t["num_partitions"]) for t in by_kind[4]["topics"]] == [("t", 2)]
    assert by_kind[3]["epoch"] == by_kind[6]["assignment_epoch"] == by_kind[8]["member_epoch"] == 1
    assert by_kind[7]["topic_partitions"] == [{"topic_id": topic_id(client, "t"), "partitions": [0, 1]}]


def test_groups_and_offsets_survive_a_restart(embedded):
    broker, target = embedded()
    client = target.connect()
    create_topic(client, "t", 2)
    [(_, member_id)], generation = stable_group(target, "classic", "t")
    commit(client, "simple", {("t", 0): 5}, metadata="kept")
    find_coordinator(client, "modern")
    modern_id = str(uuid.uuid4())
    joined = join_consumer_group(client, "modern", modern_id, ["t"])
    epoch, owned = joined["member_epoch"], assigned(joined)
    target.close_clients()
    broker.stop()

    broker, target = embedded()
    client = target.connect()
    find_coordinator(client, "classic")
    # The classic member keeps its generation: no rebalance after the restart.
    assert heartbeat(client, "classic", generation, member_id) == ErrorCode.NONE
    described = client.request(DESCRIBE_GROUPS, 5, {"groups": ["classic"],
                                                    "include_authorized_operations": False})["groups"][0]
    assert (described["group_state"], [m["member_id"] for m in described["members"]]) == ("Stable", [member_id])
    error, offsets = fetch_offsets(client, "simple", [("t", 0)])
    assert (offsets[("t", 0)]["committed_offset"], offsets[("t", 0)]["metadata"]) == (5, "kept")
    # So does the consumer protocol member, with its epoch and assignment.
    again = consumer_heartbeat(client, "modern", modern_id, epoch, owned=owned)
    assert (again["error_code"], again["member_epoch"]) == (ErrorCode.NONE, epoch)
    modern = client.request(CONSUMER_GROUP_DESCRIBE, 0, {"group_ids": ["modern"],
                                                         "include_authorized_operations": False})["groups"][0]
    assert modern["group_state"] == "Stable" and modern["members"][0]["member_epoch"] == epoch


def test_a_partition_that_is_no_longer_led_answers_not_coordinator(embedded):
    broker, target = embedded()
    client = target.connect()
    find_coordinator(client, "moving")
    response = join(client, "moving", "", version=9)
    member_id = response["member_id"]
    parked = target.connect("parked")
    parked.send(JOIN_GROUP, 9, {"group_id": "moving", "session_timeout_ms": 10_000, "rebalance_timeout_ms": 10_000,
                                "member_id": member_id, "group_instance_id": None, "protocol_type": "consumer",
                                "protocol_name": None, "protocols": [{"name": "range", "metadata": b"\0\0\0\0\0\0"}],
                                "reason": None})
    # Give up the partition (as when another broker takes its leadership): the
    # parked join learns it has to find the coordinator again.
    runtime = broker.broker.group_coordinator.runtime
    partition = runtime.partition_for("moving")
    wait_for(lambda: broker.call(lambda: runtime.shards[partition].classic_group("moving").members), message="join")
    broker.call(runtime._unload, partition)
    assert parked.receive(JOIN_GROUP, 9)[1]["error_code"] == ErrorCode.NOT_COORDINATOR
    assert heartbeat(client, "moving", 1, member_id) == ErrorCode.NOT_COORDINATOR
    # Leading it again replays it: the group is back (written when it was created).
    broker.call(runtime.sync_leadership)
    wait_for(lambda: fetch_offsets(client, "moving", [])[0] == ErrorCode.NONE, message="the reload")
    described = client.request(DESCRIBE_GROUPS, 5, {"groups": ["moving"], "include_authorized_operations": False})
    assert described["groups"][0]["group_state"] == "Empty"


def test_transactional_offsets_wait_for_the_transaction_marker(embedded):
    broker, target = embedded()
    client = target.connect()
    create_topic(client, "t", 1)
    find_coordinator(client, "txn")
    coordinator = broker.broker.group_coordinator
    commit(client, "txn", {("t", 0): 1})
    topics = [{"name": "t", "partitions": [{"partition_index": 0, "committed_offset": 10,
                                            "committed_leader_epoch": -1, "committed_metadata": "in txn"}]}]
    assert broker.call(coordinator.commit_transactional_offsets, "txn", 4000, 0, "", -1, None, topics, 3) == \
        {("t", 0): ErrorCode.NONE}

    def offset(require_stable):
        return fetch_offsets(client, "txn", [("t", 0)], require_stable=require_stable)[1][("t", 0)]
    assert offset(False)["committed_offset"] == 1
    assert offset(True)["error_code"] == ErrorCode.UNSTABLE_OFFSET_COMMIT
    partition = coordinator.runtime.partition_for("txn")
    assert broker.call(coordinator.complete_transaction, partition, 4000, 0, 0, True) == ErrorCode.NONE
    assert (offset(True)["committed_offset"], offset(True)["metadata"]) == (10, "in txn")
    # An aborted transaction's offsets are dropped, before and after a restart.
    topics[0]["partitions"][0]["committed_offset"] = 20
    broker.call(coordinator.commit_transactional_offsets, "txn", 4001, 0, "", -1, None, topics, 3)
    assert broker.call(coordinator.complete_transaction, partition, 4001, 0, 0, False) == ErrorCode.NONE
    assert offset(True)["committed_offset"] == 10
    target.close_clients()
    broker.stop()
    broker, target = embedded()
    client = target.connect()
    find_coordinator(client, "txn")
    assert fetch_offsets(client, "txn", [("t", 0)], require_stable=True)[1][("t", 0)]["committed_offset"] == 10


def test_offsets_of_an_empty_group_expire_after_the_retention(embedded, monkeypatch):
    broker, target = embedded()
    client = target.connect()
    create_topic(client, "t", 1)
    create_topic(client, "u", 1)
    [(leader, member_id)], generation = stable_group(target, "busy", "t")
    commit(leader, "busy", {("t", 0): 1, ("u", 0): 2}, generation=generation, member_id=member_id)
    find_coordinator(client, "idle")
    commit(client, "idle", {("t", 0): 3})
    coordinator = broker.broker.group_coordinator
    later = GroupCoordinator.now_ms() + 7 * 24 * 3600 * 1000 + 1000  # offsets.retention.minutes: 7 days
    monkeypatch.setattr(GroupCoordinator, "now_ms", staticmethod(lambda: later))
    for group in ("busy", "idle"):
        broker.call(coordinator.expire_offsets, coordinator.runtime.shard_for(group))
    # The stable group keeps the offsets of the topic it consumes; the idle one is gone.
    busy = fetch_offsets(client, "busy", None)[1]
    assert {tp: p["committed_offset"] for tp, p in busy.items()} == {("t", 0): 1}
    assert fetch_offsets(client, "idle", None)[1] == {}
    described = client.request(DESCRIBE_GROUPS, 5, {"groups": ["idle"], "include_authorized_operations": False})
    assert described["groups"][0]["group_state"] == "Dead"
