"""The consumer group protocol of KIP-848 over the raw protocol:
ConsumerGroupHeartbeat with the assignment computed by the coordinator,
fencing, static members, ConsumerGroupDescribe and offsets committed with
member epochs; on pykbroker and on Apache Kafka."""
import time
import uuid

import pytest

from pykbroker.errors import ErrorCode
from tests.broker.groupapi import (CONSUMER_GROUP_DESCRIBE, DESCRIBE_GROUPS, GROUP_OPERATIONS, GROUP_PROPERTIES,
                                   LEAVE_GROUP, LIST_GROUPS, OFFSET_FETCH, assigned, commit, consumer_heartbeat,
                                   create_ready_topic, find_coordinator, join_consumer_group, operations,
                                   stable_group, targets_fixture, topic_id)
from tests.broker.rawapi import CREATE_PARTITIONS, wait_for

target = targets_fixture(GROUP_PROPERTIES)


def unique(prefix: str) -> str:
    return f"{prefix}-{time.monotonic_ns()}"


class Member:
    """A consumer that gives up revoked partitions at once, as a client does
    between two heartbeats; tracks its epoch and what it owns."""

    def __init__(self, target, group: str, topics, **join_options):
        self.client = target.connect(f"client-{len(target.clients)}")
        self.group = group
        self.member_id = str(uuid.uuid4())
        find_coordinator(self.client, group)
        response = join_consumer_group(self.client, group, self.member_id, topics, **join_options)
        assert response["error_code"] == ErrorCode.NONE, response
        self.instance_id = join_options.get("instance_id")
        self.epoch = response["member_epoch"]
        self.owned = assigned(response)

    def beat(self, owned=None) -> dict:
        response = consumer_heartbeat(self.client, self.group, self.member_id, self.epoch,
                                      owned=self.owned if owned is None else owned, instance_id=self.instance_id)
        if response["error_code"] == ErrorCode.NONE:
            self.epoch = response["member_epoch"]
            if response["assignment"] is not None:
                self.owned = assigned(response)
        return response

    def partitions(self) -> set[int]:
        return {p for partitions in self.owned.values() for p in partitions}

    def beat_until(self, condition, *others, message: str) -> None:
        """Heartbeat (with ``others`` too) until ``condition()`` holds."""
        def step():
            for member in (self, *others):
                assert member.beat()["error_code"] == ErrorCode.NONE
            return condition()
        wait_for(step, timeout=30, interval=0.05, message=message)


@pytest.fixture
def topic(target):
    name = unique("topic")
    create_ready_topic(target.connect(), name, partitions=6)
    yield name
    target.close_clients()


def test_a_new_member_waits_for_partitions_until_their_owner_revokes_them(target, topic):
    group = unique("g")
    first = Member(target, group, [topic])
    first.beat_until(lambda: first.partitions() == set(range(6)), message="all partitions to the first member")
    first_epoch = first.epoch
    second = Member(target, group, [topic])
    assert second.partitions() == set()  # everything is still owned by first

    # first is asked to revoke half of its partitions, keeping its epoch...
    def revocation():
        response = first.beat()
        return response["assignment"] is not None and response
    response = wait_for(revocation, interval=0.05, message="the revocation")
    assert response["member_epoch"] == first_epoch and len(first.partitions()) == 3
    # ...and gets the new epoch once it no longer owns them; then second gets them.
    assert first.beat()["member_epoch"] > first_epoch
    second.beat_until(lambda: len(second.partitions()) == 3, message="second member's partitions")
    assert first.partitions() | second.partitions() == set(range(6))
    assert first.partitions().isdisjoint(second.partitions())


def test_the_partitions_of_a_leaving_member_go_to_the_others(target, topic):
    group = unique("g")
    first = Member(target, group, [topic])
    second = Member(target, group, [topic])
    first.beat_until(lambda: len(first.partitions()) == len(second.partitions()) == 3, second,
                     message="a balanced group")
    epoch = first.epoch
    left = consumer_heartbeat(second.client, group, second.member_id, -1)
    assert (left["error_code"], left["member_epoch"]) == (ErrorCode.NONE, -1)
    first.beat_until(lambda: first.partitions() == set(range(6)), message="all partitions to the remaining member")
    assert first.epoch > epoch


def test_a_member_whose_session_expires_is_fenced(target, topic):
    group = unique("g")
    first = Member(target, group, [topic])
    silent = Member(target, group, [topic])
    first.beat_until(lambda: len(first.partitions()) == len(silent.partitions()) == 3, silent,
                     message="a balanced group")
    started = time.monotonic()
    first.beat_until(lambda: first.partitions() == set(range(6)), message="the silent member's partitions")
    # group.consumer.session.timeout.ms is 3 s here.
    assert 2 <= time.monotonic() - started < 8
    assert silent.beat()["error_code"] == ErrorCode.UNKNOWN_MEMBER_ID


def test_a_member_that_keeps_revoked_partitions_past_its_rebalance_timeout_is_fenced(target, topic):
    group = unique("g")
    stubborn = Member(target, group, [topic], rebalance_ms=1000)
    stubborn.beat_until(lambda: stubborn.partitions() == set(range(6)), message="all partitions to the first member")
    everything = dict(stubborn.owned)
    newcomer = Member(target, group, [topic])

    def revoked():
        assert newcomer.beat()["error_code"] == ErrorCode.NONE  # (its session must not expire meanwhile)
        return stubborn.beat(owned=everything)["assignment"] is not None
    wait_for(revoked, interval=0.1, message="the revocation")
    assert len(stubborn.partitions()) == 3

    def fenced():
        assert newcomer.beat()["error_code"] == ErrorCode.NONE
        response = consumer_heartbeat(stubborn.client, group, stubborn.member_id, stubborn.epoch, owned=everything)
        return response["error_code"] != ErrorCode.NONE and response
    response = wait_for(fenced, interval=0.1, message="the stubborn member's fencing")
    assert response["error_code"] == ErrorCode.UNKNOWN_MEMBER_ID
    newcomer.beat_until(lambda: newcomer.partitions() == set(range(6)), message="all partitions to the newcomer")


def test_heartbeats_are_validated(target, topic):
    group = unique("g")
    member = Member(target, group, [topic])
    client = member.client
    stale = consumer_heartbeat(client, group, member.member_id, member.epoch + 5)
    assert stale["error_code"] == ErrorCode.FENCED_MEMBER_EPOCH
    assert consumer_heartbeat(client, group, "nobody", 3)["error_code"] == ErrorCode.UNKNOWN_MEMBER_ID
    for problem in [dict(member_id=str(uuid.uuid4()), epoch=0, topics=None, owned={}, rebalance_ms=5000),
                    dict(member_id=str(uuid.uuid4()), epoch=0, topics=[topic], owned=None, rebalance_ms=5000),
                    dict(member_id="", epoch=0, topics=[topic], owned={}, rebalance_ms=5000),
                    dict(member_id=member.member_id, epoch=-3)]:
        response = consumer_heartbeat(client, group, problem.pop("member_id"), problem.pop("epoch"), **problem)
        assert response["error_code"] == ErrorCode.INVALID_REQUEST, problem
    unsupported = join_consumer_group(client, group, str(uuid.uuid4()), [topic], assignor="no-such-assignor")
    assert unsupported["error_code"] == ErrorCode.UNSUPPORTED_ASSIGNOR


def test_heartbeat_errors_carry_kafkas_codes_and_messages(target, topic):
    client = target.connect()
    group = unique("g")
    find_coordinator(client, group)
    member_id = str(uuid.uuid4())

    def error(response):
        return response["error_code"], response["error_message"]
    assert error(join_consumer_group(client, group, member_id, None, regex="[")) == (
        ErrorCode.INVALID_REGULAR_EXPRESSION, "SubscribedTopicRegex `[` is not a valid regular expression: "
                                              "missing closing ].")
    assert error(consumer_heartbeat(client, group, member_id, 0, owned={}, rebalance_ms=5000)) == (
        ErrorCode.INVALID_REQUEST, "Either SubscribedTopicNames or SubscribedTopicRegex must be non-null when "
                                   "(re-)joining.")
    assert error(join_consumer_group(client, group, member_id, [topic], assignor="no-such-assignor")) == (
        ErrorCode.UNSUPPORTED_ASSIGNOR, "ServerAssignor no-such-assignor is not supported. "
                                        "Supported assignors: uniform, range.")
    # None of these created the group: a heartbeat from inside it, or a leave, finds none.
    assert error(consumer_heartbeat(client, group, member_id, 5)) == \
        (ErrorCode.GROUP_ID_NOT_FOUND, f"Consumer group {group} not found.")
    assert error(consumer_heartbeat(client, group, member_id, -1)) == \
        (ErrorCode.GROUP_ID_NOT_FOUND, f"Group {group} not found.")
    assert error(consumer_heartbeat(client, group, member_id, -2, instance_id="instance-a")) == \
        (ErrorCode.GROUP_ID_NOT_FOUND, f"Group {group} not found.")
    # An empty subscription is one: the member joins, with nothing to consume.
    joined = join_consumer_group(client, group, member_id, [])
    assert (joined["error_code"], assigned(joined)) == (ErrorCode.NONE, {})
    target.close_clients()


def test_the_classic_leave_group_removes_members_of_a_consumer_group(target, topic):
    group = unique("g")
    static = Member(target, group, [topic], instance_id="instance-a")
    dynamic = Member(target, group, [topic])
    client = target.connect()

    def leave(*identities):
        response = client.request(LEAVE_GROUP, 5, {"group_id": group, "members": [
            {"member_id": m, "group_instance_id": i, "reason": None} for m, i in identities]})
        assert response["error_code"] == ErrorCode.NONE
        return [(m["member_id"], m["group_instance_id"], m["error_code"]) for m in response["members"]]
    # A static member named with another member id is fenced, and stays.
    assert leave(("nobody", None), ("other", "instance-a"), ("", "instance-b")) == [
        ("nobody", None, ErrorCode.UNKNOWN_MEMBER_ID), ("other", "instance-a", ErrorCode.FENCED_INSTANCE_ID),
        ("", "instance-b", ErrorCode.UNKNOWN_MEMBER_ID)]
    assert static.beat()["error_code"] == dynamic.beat()["error_code"] == ErrorCode.NONE
    # By member id, or by instance id alone (an admin's removal), members are removed.
    assert leave((dynamic.member_id, None), ("", "instance-a")) == [
        (dynamic.member_id, None, ErrorCode.NONE), ("", "instance-a", ErrorCode.NONE)]
    assert static.beat()["error_code"] == dynamic.beat()["error_code"] == ErrorCode.UNKNOWN_MEMBER_ID
    described = client.request(CONSUMER_GROUP_DESCRIBE, 0, {"group_ids": [group],
                                                            "include_authorized_operations": False})["groups"][0]
    assert (described["error_code"], described["group_state"], described["members"]) == \
        (ErrorCode.NONE, "Empty", [])


def test_describe_reports_the_operations_and_refuses_the_empty_group_id(target, topic):
    group = unique("g")
    member = Member(target, group, [topic])
    response = member.client.request(CONSUMER_GROUP_DESCRIBE, 0, {"group_ids": [group, ""],
                                                                  "include_authorized_operations": True})
    described = {g["group_id"]: g for g in response["groups"]}
    assert described[group]["error_code"] == ErrorCode.NONE
    assert operations(described[group]["authorized_operations"]) == GROUP_OPERATIONS
    assert (described[""]["error_code"], described[""]["error_message"]) == (ErrorCode.INVALID_GROUP_ID, None)


def test_a_static_member_takes_back_its_assignment_under_a_new_member_id(target, topic):
    group = unique("g")
    first = Member(target, group, [topic], instance_id="instance-a")
    other = Member(target, group, [topic])
    first.beat_until(lambda: len(first.partitions()) == len(other.partitions()) == 3, other,
                     message="a balanced group")
    kept = first.partitions()
    # While the instance is in the group, another member cannot take its id.
    taken = join_consumer_group(target.connect(), group, str(uuid.uuid4()), [topic], instance_id="instance-a")
    assert taken["error_code"] == ErrorCode.UNRELEASED_INSTANCE_ID
    left = consumer_heartbeat(first.client, group, first.member_id, -2, instance_id="instance-a")
    assert (left["error_code"], left["member_epoch"]) == (ErrorCode.NONE, -2)
    restarted = Member(target, group, [topic], instance_id="instance-a")
    assert restarted.member_id != first.member_id
    assert restarted.partitions() == kept and restarted.epoch == first.epoch
    assert other.beat()["member_epoch"] == other.epoch == first.epoch  # no rebalance


def test_the_range_assignor_gives_consecutive_partitions(target, topic):
    group = unique("g")
    first = Member(target, group, [topic], assignor="range")
    second = Member(target, group, [topic], assignor="range")
    first.beat_until(lambda: len(first.partitions()) == len(second.partitions()) == 3, second,
                     message="a balanced group")
    assert sorted([sorted(first.partitions()), sorted(second.partitions())]) == [[0, 1, 2], [3, 4, 5]]


def test_partitions_added_to_a_subscribed_topic_are_assigned(target, topic):
    group = unique("g")
    member = Member(target, group, [topic])
    epoch = member.epoch
    response = member.client.request(CREATE_PARTITIONS, 3, {
        "topics": [{"name": topic, "count": 8, "assignments": None}], "timeout_ms": 10_000, "validate_only": False})
    assert response["results"][0]["error_code"] == ErrorCode.NONE
    member.beat_until(lambda: member.partitions() == set(range(8)), message="the new partitions")
    assert member.epoch > epoch


def test_a_regular_expression_subscription_follows_new_topics(target):
    prefix = unique("re")
    create_ready_topic(target.connect(), f"{prefix}-a", partitions=2)
    member = Member(target, unique("g"), None, regex=f"{prefix}-.*")
    first = topic_id(member.client, f"{prefix}-a")
    member.beat_until(lambda: member.owned == {first: [0, 1]}, message="the matching topic")
    create_ready_topic(member.client, f"{prefix}-b", partitions=1)
    second = topic_id(member.client, f"{prefix}-b")
    member.beat_until(lambda: member.owned == {first: [0, 1], second: [0]}, message="the new matching topic")
    target.close_clients()


def test_describe_tells_consumer_groups_from_classic_ones(target, topic):
    group, classic = unique("g"), unique("classic")
    stable_group(target, classic, topic)
    first = Member(target, group, [topic])
    second = Member(target, group, [topic])
    first.beat_until(lambda: len(first.partitions()) == len(second.partitions()) == 3, second,
                     message="a balanced group")
    client = first.client

    def stable():
        assert first.beat()["error_code"] == second.beat()["error_code"] == ErrorCode.NONE
        response = client.request(CONSUMER_GROUP_DESCRIBE, 0, {"group_ids": [group, classic],
                                                               "include_authorized_operations": False})
        groups = {g["group_id"]: g for g in response["groups"]}  # (in no particular order)
        return groups[group]["group_state"] == "Stable" and groups
    groups = wait_for(stable, interval=0.1, message="a stable consumer group")
    described, not_consumer = groups[group], groups[classic]
    assert (described["error_code"], described["assignor_name"]) == (ErrorCode.NONE, "uniform")
    assert described["group_epoch"] == described["assignment_epoch"] == second.epoch == first.epoch
    members = {m["member_id"]: m for m in described["members"]}
    assert set(members) == {first.member_id, second.member_id}
    for member in (first, second):
        described_member = members[member.member_id]
        assert described_member["member_epoch"] == member.epoch
        assert (described_member["subscribed_topic_names"], described_member["subscribed_topic_regex"]) == \
            ([topic], "")
        [current] = described_member["assignment"]["topic_partitions"]
        assert current["topic_name"] == topic and set(current["partitions"]) == member.partitions()
        assert described_member["target_assignment"] == described_member["assignment"]
    assert not_consumer["error_code"] == ErrorCode.GROUP_ID_NOT_FOUND
    # The classic API does not describe consumer protocol groups.
    classic_view = client.request(DESCRIBE_GROUPS, 5, {"groups": [group], "include_authorized_operations": False})
    assert classic_view["groups"][0]["group_state"] == "Dead"
    listed = {g["group_id"]: g for g in client.request(LIST_GROUPS, 5, {"states_filter": [],
                                                                        "types_filter": ["consumer"]})["groups"]}
    assert (listed[group]["group_type"], listed[group]["protocol_type"], listed[group]["group_state"]) == \
        ("consumer", "consumer", "Stable")
    assert classic not in listed


def test_offsets_are_committed_and_fetched_with_the_member_epoch(target, topic):
    group = unique("g")
    member = Member(target, group, [topic])
    tp = (topic, 0)
    client = member.client
    assert commit(client, group, {tp: 11}, generation=member.epoch, member_id=member.member_id) == \
        {tp: ErrorCode.NONE}
    assert commit(client, group, {tp: 12}, generation=member.epoch + 1, member_id=member.member_id) == \
        {tp: ErrorCode.STALE_MEMBER_EPOCH}
    assert commit(client, group, {tp: 12}, generation=member.epoch, member_id=member.member_id, version=8) == \
        {tp: ErrorCode.UNSUPPORTED_VERSION}

    def fetch(epoch):
        return client.request(OFFSET_FETCH, 9, {"require_stable": False, "groups": [
            {"group_id": group, "member_id": member.member_id, "member_epoch": epoch,
             "topics": [{"name": topic, "partition_indexes": [0]}]}]})["groups"][0]
    fetched = fetch(member.epoch)
    assert fetched["error_code"] == ErrorCode.NONE
    assert fetched["topics"][0]["partitions"][0]["committed_offset"] == 11
    assert fetch(member.epoch + 1)["error_code"] == ErrorCode.STALE_MEMBER_EPOCH
