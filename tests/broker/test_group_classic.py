"""The classic group protocol over the raw protocol: FindCoordinator,
JoinGroup, SyncGroup, Heartbeat, LeaveGroup, DescribeGroups and ListGroups,
checked on pykbroker and on Apache Kafka alike."""
import time

import pytest

from pykbroker.errors import ErrorCode
from tests.broker.groupapi import (DESCRIBE_GROUPS, FIND_COORDINATOR, GROUP_OPERATIONS, GROUP_PROPERTIES, JOIN_GROUP,
                                   LEAVE_GROUP, LIST_GROUPS, SYNC_GROUP, assignment, decode_assignment,
                                   find_coordinator, heartbeat, join, join_request, operations, stable_group,
                                   subscription, sync, targets_fixture, wait_for_heartbeat_error)
from tests.broker.rawapi import METADATA, wait_for

target = targets_fixture(GROUP_PROPERTIES)


@pytest.fixture
def client(target):
    yield target.connect()
    target.close_clients()


def unique(prefix: str) -> str:
    return f"{prefix}-{time.monotonic_ns()}"


def test_find_coordinator_creates_the_internal_topic_and_names_its_leader(target, client):
    group = unique("g")
    for version in range(0 if target.name == "pykbroker" else 1, 7):  # Kafka 4 dropped v0 (KIP-896)
        result = find_coordinator(client, group, version)
        assert result["error_code"] == ErrorCode.NONE
        assert (result["node_id"], result["host"], result["port"]) == (1, target.host, target.port)
    for version in (4, 6):
        response = client.request(FIND_COORDINATOR, version, {"key_type": 0,
                                                              "coordinator_keys": [group, "other"]})
        assert [c["key"] for c in response["coordinators"]] == [group, "other"]
        assert all(c["error_code"] == ErrorCode.NONE and c["port"] == target.port
                   for c in response["coordinators"])
    topic = client.request(METADATA, 12, {"topics": [{"name": "__consumer_offsets", "topic_id": bytes(16)}],
                                          "allow_auto_topic_creation": False,
                                          "include_topic_authorized_operations": False})["topics"][0]
    assert topic["error_code"] == ErrorCode.NONE and topic["is_internal"]
    assert len(topic["partitions"]) == int(GROUP_PROPERTIES["offsets.topic.num.partitions"])


# Errors.INVALID_REQUEST.message(), which Kafka sends when it refuses a request as a whole.
INVALID_REQUEST_MESSAGE = ("This most likely occurs because of a request being malformed by the client library or "
                           "the message was sent to an incompatible broker. See the broker logs for more details.")


def test_find_coordinator_refuses_an_unknown_key_type(client):
    response = client.request(FIND_COORDINATOR, 4, {"key_type": 5, "coordinator_keys": ["g", "h"]})
    assert [(c["key"], c["error_code"], c["error_message"]) for c in response["coordinators"]] == [
        ("g", ErrorCode.INVALID_REQUEST, INVALID_REQUEST_MESSAGE), ("h", ErrorCode.INVALID_REQUEST,
                                                                   INVALID_REQUEST_MESSAGE)]
    old = client.request(FIND_COORDINATOR, 3, {"key": "g", "key_type": 5})
    assert (old["error_code"], old["error_message"]) == (ErrorCode.INVALID_REQUEST, INVALID_REQUEST_MESSAGE)


def test_find_coordinator_messages_on_success(client):
    group = unique("g")
    find_coordinator(client, group)
    # v1-v3 carry the error's message, "NONE" on success; v4+ an empty message per key.
    for version in (1, 2, 3):
        response = client.request(FIND_COORDINATOR, version, {"key": group, "key_type": 0})
        assert (response["error_code"], response["error_message"]) == (ErrorCode.NONE, "NONE")
    for version in (4, 5, 6):
        response = client.request(FIND_COORDINATOR, version, {"key_type": 0, "coordinator_keys": [group, ""]})
        assert [(c["key"], c["error_code"], c["error_message"]) for c in response["coordinators"]] == [
            (group, ErrorCode.NONE, ""), ("", ErrorCode.NONE, "")]


def test_a_new_member_needs_a_member_id_then_leads_the_first_generation(client):
    group = unique("g")
    find_coordinator(client, group)
    first = join(client, group, "")
    assert first["error_code"] == ErrorCode.MEMBER_ID_REQUIRED
    member_id = first["member_id"]
    assert member_id.startswith("rawclient-")
    response = join(client, group, member_id)
    assert response["error_code"] == ErrorCode.NONE
    assert (response["generation_id"], response["leader"], response["member_id"]) == (1, member_id, member_id)
    assert (response["protocol_type"], response["protocol_name"]) == ("consumer", "range")
    assert [(m["member_id"], m["metadata"]) for m in response["members"]] == [(member_id, subscription(["t"]))]
    synced = sync(client, group, 1, member_id, {member_id: assignment({"t": [0, 1]})})
    assert synced["error_code"] == ErrorCode.NONE
    assert decode_assignment(synced["assignment"]) == {"t": [0, 1]}
    assert heartbeat(client, group, 1, member_id) == ErrorCode.NONE


def test_join_before_version_4_gets_a_member_id_at_once(client):
    group = unique("g")
    find_coordinator(client, group)
    response = join(client, group, "", version=3)
    assert response["error_code"] == ErrorCode.NONE
    assert response["member_id"] and response["generation_id"] == 1


def test_requests_from_outside_the_generation_are_refused(target, client):
    group = unique("g")
    [(leader, member_id)], generation = stable_group(target, group, "t")
    assert heartbeat(leader, group, generation + 1, member_id) == ErrorCode.ILLEGAL_GENERATION
    assert heartbeat(leader, group, generation, "someone-else") == ErrorCode.UNKNOWN_MEMBER_ID
    assert heartbeat(leader, unique("missing"), 1, member_id) == ErrorCode.UNKNOWN_MEMBER_ID
    assert sync(leader, group, generation + 1, member_id)["error_code"] == ErrorCode.ILLEGAL_GENERATION
    assert sync(leader, group, generation, member_id, protocol_name="roundrobin")["error_code"] == \
        ErrorCode.INCONSISTENT_GROUP_PROTOCOL
    other = join(client, group, "", protocols=[("range", subscription(["t"]))], protocol_type="connect")
    assert other["error_code"] == ErrorCode.INCONSISTENT_GROUP_PROTOCOL


def test_sync_group_from_version_5_requires_the_protocol_type_and_name(target):
    group = unique("g")
    [(leader, member_id)], generation = stable_group(target, group, "t")
    for missing in ({"protocol_type": None}, {"protocol_name": None}, {"protocol_type": None, "protocol_name": None}):
        refused = sync(leader, group, generation, member_id, **missing)
        assert (refused["error_code"], bytes(refused["assignment"])) == \
            (ErrorCode.INCONSISTENT_GROUP_PROTOCOL, b""), missing
    # Before v5 the request has no such fields: the member gets its assignment.
    synced = sync(leader, group, generation, member_id, version=4, protocol_type=None, protocol_name=None)
    assert synced["error_code"] == ErrorCode.NONE
    assert decode_assignment(synced["assignment"]) == {"t": [0]}
    assert heartbeat(leader, group, generation, member_id) == ErrorCode.NONE


def test_a_new_member_starts_a_rebalance_that_every_member_joins(target):
    group = unique("g")
    [(first, first_id)], generation = stable_group(target, group, "t")
    second = target.connect("second")
    second_id = join(second, group, "")["member_id"]
    second.send(JOIN_GROUP, 9, join_request(group, second_id))
    # The stable member learns of the rebalance from its heartbeat and rejoins.
    wait_for_heartbeat_error(first, group, generation, first_id, ErrorCode.REBALANCE_IN_PROGRESS)
    rejoined = join(first, group, first_id)
    joined = second.receive(JOIN_GROUP, 9)[1]
    assert rejoined["generation_id"] == joined["generation_id"] == generation + 1
    assert rejoined["leader"] == joined["leader"] == first_id
    assert sorted(m["member_id"] for m in rejoined["members"]) == sorted([first_id, second_id])
    assert joined["members"] == []  # only the leader gets the members' metadata
    # The follower's SyncGroup waits for the leader's assignment.
    second.send(SYNC_GROUP, 5, {"group_id": group, "generation_id": generation + 1, "member_id": second_id,
                                "group_instance_id": None, "protocol_type": "consumer",
                                "protocol_name": "range", "assignments": []})
    plan = {first_id: assignment({"t": [0]}), second_id: assignment({"t": [1]})}
    assert decode_assignment(sync(first, group, generation + 1, first_id, plan)["assignment"]) == {"t": [0]}
    follower = second.receive(SYNC_GROUP, 5)[1]
    assert follower["error_code"] == ErrorCode.NONE
    assert decode_assignment(follower["assignment"]) == {"t": [1]}


def test_a_member_that_does_not_rejoin_in_time_is_dropped(target):
    group = unique("g")
    members, generation = stable_group(target, group, "t", members=2, rebalance_ms=1000)
    (leader, leader_id), (_, silent_id) = members
    newcomer = target.connect("newcomer")
    newcomer_id = join(newcomer, group, "", rebalance_ms=1000)["member_id"]
    newcomer.send(JOIN_GROUP, 9, join_request(group, newcomer_id, rebalance_ms=1000))
    wait_for_heartbeat_error(leader, group, generation, leader_id, ErrorCode.REBALANCE_IN_PROGRESS)
    started = time.monotonic()
    rejoined = join(leader, group, leader_id, rebalance_ms=1000)
    # The silent member still had 10 s of session: the 1 s rebalance timeout ends the wait.
    assert time.monotonic() - started < 5
    assert sorted(m["member_id"] for m in rejoined["members"]) == sorted([leader_id, newcomer_id])
    assert newcomer.receive(JOIN_GROUP, 9)[1]["generation_id"] == rejoined["generation_id"]
    assert heartbeat(target.connect(), group, rejoined["generation_id"], silent_id) == ErrorCode.UNKNOWN_MEMBER_ID


def test_a_silent_member_is_evicted_when_its_session_expires(target):
    group = unique("g")
    members, generation = stable_group(target, group, "t", members=2, session_ms=1000)
    (leader, leader_id), (_, silent_id) = members
    waited = wait_for_heartbeat_error(leader, group, generation, leader_id, ErrorCode.REBALANCE_IN_PROGRESS)
    assert waited < 5
    rejoined = join(leader, group, leader_id, session_ms=1000)
    assert rejoined["generation_id"] == generation + 1
    assert [m["member_id"] for m in rejoined["members"]] == [leader_id]
    assert heartbeat(leader, group, generation, silent_id) == ErrorCode.UNKNOWN_MEMBER_ID


def test_a_static_member_comes_back_without_a_rebalance(target, client):
    group = unique("g")
    find_coordinator(client, group)
    first = join(client, group, "", instance_id="instance-1")
    assert first["error_code"] == ErrorCode.NONE  # static members need no MEMBER_ID_REQUIRED round trip
    old_id = first["member_id"]
    assert old_id.startswith("instance-1-")
    sync(client, group, first["generation_id"], old_id, {old_id: assignment({"t": [0]})}, instance_id="instance-1")
    # The same instance restarts: a new member id, same generation, and as the
    # leader it is told to keep the current assignment.
    restarted = target.connect("restarted")
    again = join(restarted, group, "", instance_id="instance-1")
    assert again["error_code"] == ErrorCode.NONE
    assert again["member_id"] != old_id and again["generation_id"] == first["generation_id"]
    assert again["skip_assignment"] and again["leader"] == again["member_id"]
    synced = sync(restarted, group, again["generation_id"], again["member_id"], instance_id="instance-1")
    assert decode_assignment(synced["assignment"]) == {"t": [0]}
    # The previous incarnation is fenced.
    assert heartbeat(client, group, first["generation_id"], old_id, instance_id="instance-1") == \
        ErrorCode.FENCED_INSTANCE_ID
    assert heartbeat(restarted, group, again["generation_id"], again["member_id"],
                     instance_id="instance-1") == ErrorCode.NONE


def test_leave_group_removes_members_in_a_batch(target, client):
    group = unique("g")
    members, generation = stable_group(target, group, "t", members=2)
    (leader, leader_id), (_, other_id) = members
    response = client.request(LEAVE_GROUP, 5, {"group_id": group, "members": [
        {"member_id": other_id, "group_instance_id": None, "reason": "test"},
        {"member_id": "nobody", "group_instance_id": None, "reason": None},
        {"member_id": "", "group_instance_id": "no-such-instance", "reason": None}]})
    assert response["error_code"] == ErrorCode.NONE
    assert [(m["member_id"], m["error_code"]) for m in response["members"]] == [
        (other_id, ErrorCode.NONE), ("nobody", ErrorCode.UNKNOWN_MEMBER_ID), ("", ErrorCode.UNKNOWN_MEMBER_ID)]
    wait_for_heartbeat_error(leader, group, generation, leader_id, ErrorCode.REBALANCE_IN_PROGRESS)
    # Before v3 one member leaves, and its error is the top-level one.
    old = client.request(LEAVE_GROUP, 2, {"group_id": group, "member_id": "nobody"})
    assert old["error_code"] == ErrorCode.UNKNOWN_MEMBER_ID
    assert client.request(LEAVE_GROUP, 2, {"group_id": group, "member_id": leader_id})["error_code"] == \
        ErrorCode.NONE


def test_leave_group_for_an_unknown_group_answers_each_member(client):
    group = unique("missing")
    find_coordinator(client, group)
    members = [{"member_id": "nobody", "group_instance_id": None, "reason": None},
               {"member_id": "", "group_instance_id": "ghost", "reason": None}]
    for version in (3, 4, 5):
        response = client.request(LEAVE_GROUP, version, {"group_id": group, "members": members})
        assert response["error_code"] == ErrorCode.NONE, version
        assert [(m["member_id"], m["group_instance_id"], m["error_code"]) for m in response["members"]] == [
            ("nobody", None, ErrorCode.UNKNOWN_MEMBER_ID), ("", "ghost", ErrorCode.UNKNOWN_MEMBER_ID)], version
    # Before v3 the member's error is the top-level one.
    for version in (0, 1, 2):
        response = client.request(LEAVE_GROUP, version, {"group_id": group, "member_id": "nobody"})
        assert response["error_code"] == ErrorCode.UNKNOWN_MEMBER_ID, version
    assert client.request(LEAVE_GROUP, 5, {"group_id": "", "members": members})["error_code"] == \
        ErrorCode.INVALID_GROUP_ID


def test_join_validates_the_group_and_the_session_timeout(client):
    assert join(client, "", "")["error_code"] == ErrorCode.INVALID_GROUP_ID
    group = unique("g")
    find_coordinator(client, group)
    assert join(client, group, "", session_ms=100)["error_code"] == ErrorCode.INVALID_SESSION_TIMEOUT
    assert join(client, group, "unknown-member")["error_code"] == ErrorCode.UNKNOWN_MEMBER_ID


def test_describe_and_list_groups(target, client):
    group = unique("g")
    [(leader, member_id)], generation = stable_group(target, group, "t")
    # Apache Kafka describes what its log has committed, a moment after SyncGroup.
    described = wait_for(lambda: (d := client.request(DESCRIBE_GROUPS, 5, {
        "groups": [group, unique("missing")], "include_authorized_operations": True})["groups"])[0][
        "group_state"] == "Stable" and d, message="a stable group")
    assert [operations(g["authorized_operations"]) for g in described] == [GROUP_OPERATIONS, GROUP_OPERATIONS]
    assert described[0]["error_code"] == ErrorCode.NONE
    assert (described[0]["group_state"], described[0]["protocol_type"], described[0]["protocol_data"]) == \
        ("Stable", "consumer", "range")
    [member] = described[0]["members"]
    assert (member["member_id"], member["client_id"], member["client_host"]) == \
        (member_id, "member-0", "/127.0.0.1")
    assert member["member_metadata"] == subscription(["t"])
    assert decode_assignment(member["member_assignment"]) == {"t": [0]}
    assert (described[1]["error_code"], described[1]["group_state"]) == (ErrorCode.NONE, "Dead")

    def listed(**filters):
        response = client.request(LIST_GROUPS, 5, {"states_filter": filters.get("states", []),
                                                   "types_filter": filters.get("types", [])})
        assert response["error_code"] == ErrorCode.NONE
        return {g["group_id"]: g for g in response["groups"]}

    everything = listed()
    assert (everything[group]["protocol_type"], everything[group]["group_state"],
            everything[group]["group_type"]) == ("consumer", "Stable", "classic")
    assert group in listed(states=["stable"]) and group in listed(types=["Classic"])
    assert group not in listed(states=["Empty"]) and group not in listed(types=["consumer"])
    v0 = client.request(LIST_GROUPS, 0, {})
    assert {"group_id": group, "protocol_type": "consumer"} in [
        {"group_id": g["group_id"], "protocol_type": g["protocol_type"]} for g in v0["groups"]]
