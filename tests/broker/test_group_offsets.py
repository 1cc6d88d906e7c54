"""Committed offsets: OffsetCommit and OffsetFetch at every version,
validation against the group's generation, OffsetDelete, DeleteGroups and
expiry; on pykbroker and on Apache Kafka."""
import time

import pytest

from pykbroker.errors import ErrorCode
from tests.broker.groupapi import (DELETE_GROUPS, DESCRIBE_GROUPS, GROUP_PROPERTIES, LIST_GROUPS, OFFSET_DELETE,
                                   OFFSET_FETCH, commit, create_ready_topic, fetch_offsets, find_coordinator,
                                   join_new_member, stable_group, targets_fixture)
from tests.broker.rawapi import DELETE_TOPICS, wait_for

target = targets_fixture({**GROUP_PROPERTIES, "offsets.retention.check.interval.ms": "200"})


@pytest.fixture
def client(target):
    yield target.connect()
    target.close_clients()


def unique(prefix: str) -> str:
    return f"{prefix}-{time.monotonic_ns()}"


@pytest.fixture
def topic(client):
    name = unique("topic")
    create_ready_topic(client, name, partitions=3)
    return name


def offset_of(client, group, tp, version=8):
    error, fetched = fetch_offsets(client, group, [tp], version=version)
    assert error == ErrorCode.NONE
    return fetched[tp]


@pytest.mark.parametrize("version", range(10))
def test_commit_and_fetch_at_every_version(target, client, topic, version):
    if target.name == "apache-kafka" and version < 2:
        pytest.skip("Apache Kafka 4 no longer serves OffsetCommit v0-v1 (KIP-896)")
    group = unique("g")
    find_coordinator(client, group)
    assert commit(client, group, {(topic, 1): 40 + version}, version=version, metadata=f"v{version}",
                  leader_epoch=0) == {(topic, 1): ErrorCode.NONE}
    for fetch_version in range(1 if target.name == "apache-kafka" else 0, 10):
        fetched = offset_of(client, group, (topic, 1), fetch_version)
        assert (fetched["committed_offset"], fetched["metadata"], fetched["error_code"]) == \
            (40 + version, f"v{version}", ErrorCode.NONE)
        if fetch_version >= 5:
            assert fetched["committed_leader_epoch"] == (0 if version >= 6 else -1)
    never = offset_of(client, group, (topic, 2))
    assert (never["committed_offset"], never["metadata"], never["error_code"]) == (-1, "", ErrorCode.NONE)


def test_fetch_every_offset_of_a_group_and_several_groups_at_once(client, topic):
    first, second, missing = unique("g"), unique("g"), unique("g")
    find_coordinator(client, first)
    find_coordinator(client, second)
    commit(client, first, {(topic, 0): 5, (topic, 2): 7})
    commit(client, second, {(topic, 1): 9})
    error, everything = fetch_offsets(client, first, None, version=7)
    assert error == ErrorCode.NONE
    assert {tp: p["committed_offset"] for tp, p in everything.items()} == {(topic, 0): 5, (topic, 2): 7}
    response = client.request(OFFSET_FETCH, 8, {"require_stable": True, "groups": [
        {"group_id": g, "topics": None} for g in (first, second, missing)]})
    found = {g["group_id"]: {(t["name"], p["partition_index"]): p["committed_offset"]
                             for t in g["topics"] for p in t["partitions"]} for g in response["groups"]}
    assert found == {first: {(topic, 0): 5, (topic, 2): 7}, second: {(topic, 1): 9}, missing: {}}
    assert all(g["error_code"] == ErrorCode.NONE for g in response["groups"])


def test_commits_from_a_member_must_match_its_generation(target, client, topic):
    group = unique("g")
    [(leader, member_id)], generation = stable_group(target, group, topic)
    tp = (topic, 0)
    assert commit(leader, group, {tp: 1}, generation=generation, member_id=member_id) == {tp: ErrorCode.NONE}
    assert commit(leader, group, {tp: 2}, generation=generation + 1, member_id=member_id) == \
        {tp: ErrorCode.ILLEGAL_GENERATION}
    assert commit(leader, group, {tp: 2}, generation=generation, member_id="stranger") == \
        {tp: ErrorCode.UNKNOWN_MEMBER_ID}
    # Without member id and generation only an empty group accepts commits.
    assert commit(client, group, {tp: 2}) == {tp: ErrorCode.UNKNOWN_MEMBER_ID}
    assert offset_of(client, group, tp)["committed_offset"] == 1
    missing = unique("g")
    find_coordinator(client, missing)
    assert commit(client, missing, {tp: 1}, generation=3, member_id="m", version=8) == \
        {tp: ErrorCode.ILLEGAL_GENERATION}
    assert commit(client, missing, {tp: 1}, generation=3, member_id="m", version=9) == \
        {tp: ErrorCode.GROUP_ID_NOT_FOUND}


def test_a_commit_between_join_and_sync_is_told_to_wait(client, topic):
    group = unique("g")
    find_coordinator(client, group)
    joined = join_new_member(client, group, topics=(topic,))
    assert commit(client, group, {(topic, 0): 3}, generation=joined["generation_id"],
                  member_id=joined["member_id"]) == {(topic, 0): ErrorCode.REBALANCE_IN_PROGRESS}


def test_commit_refuses_unknown_partitions_and_oversized_metadata(client, topic):
    group = unique("g")
    find_coordinator(client, group)
    results = commit(client, group, {(topic, 0): 1, (topic, 3): 1, (unique("nothing"), 0): 1})
    assert [results[(topic, 0)], results[(topic, 3)]] == [ErrorCode.NONE, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]
    assert list(results.values())[2] == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
    assert commit(client, group, {(topic, 1): 1}, metadata="x" * 4097) == \
        {(topic, 1): ErrorCode.OFFSET_METADATA_TOO_LARGE}
    assert commit(client, group, {(topic, 1): 1}, metadata="x" * 4096) == {(topic, 1): ErrorCode.NONE}


def test_offset_delete_spares_the_topics_the_group_consumes(target, client, topic):
    other = unique("other")
    create_ready_topic(client, other)
    group = unique("g")
    [(leader, member_id)], generation = stable_group(target, group, topic)
    commit(leader, group, {(topic, 0): 3, (other, 0): 4}, generation=generation, member_id=member_id)
    response = client.request(OFFSET_DELETE, 0, {"group_id": group, "topics": [
        {"name": topic, "partitions": [{"partition_index": 0}]},
        {"name": other, "partitions": [{"partition_index": 0}]}]})
    assert response["error_code"] == ErrorCode.NONE
    assert {t["name"]: t["partitions"][0]["error_code"] for t in response["topics"]} == \
        {topic: ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC, other: ErrorCode.NONE}
    assert offset_of(client, group, (topic, 0))["committed_offset"] == 3
    assert offset_of(client, group, (other, 0))["committed_offset"] == -1
    missing = client.request(OFFSET_DELETE, 0, {"group_id": unique("missing"), "topics": []})
    assert missing["error_code"] == ErrorCode.GROUP_ID_NOT_FOUND


def test_delete_groups_removes_empty_groups_with_their_offsets(target, client, topic):
    active, idle = unique("active"), unique("idle")
    stable_group(target, active, topic)
    find_coordinator(client, idle)
    commit(client, idle, {(topic, 0): 12})
    missing = unique("missing")
    response = client.request(DELETE_GROUPS, 2, {"groups_names": [active, idle, missing]})
    assert {r["group_id"]: r["error_code"] for r in response["results"]} == {
        active: ErrorCode.NON_EMPTY_GROUP, idle: ErrorCode.NONE, missing: ErrorCode.GROUP_ID_NOT_FOUND}
    assert offset_of(client, idle, (topic, 0))["committed_offset"] == -1
    described = client.request(DESCRIBE_GROUPS, 5, {"groups": [idle], "include_authorized_operations": False})
    assert described["groups"][0]["group_state"] == "Dead"
    listed = client.request(LIST_GROUPS, 5, {"states_filter": [], "types_filter": []})["groups"]
    assert idle not in [g["group_id"] for g in listed] and active in [g["group_id"] for g in listed]


def test_delete_groups_answers_a_repeated_group_once(client, topic):
    group = unique("g")
    find_coordinator(client, group)
    commit(client, group, {(topic, 0): 3})
    response = client.request(DELETE_GROUPS, 2, {"groups_names": [group, group]})
    assert [(r["group_id"], r["error_code"]) for r in response["results"]] == [(group, ErrorCode.NONE)]
    assert offset_of(client, group, (topic, 0))["committed_offset"] == -1


def listed_groups(client) -> list[str]:
    return [g["group_id"] for g in client.request(LIST_GROUPS, 5, {"states_filter": [], "types_filter": []})["groups"]]


def test_the_empty_group_id_is_a_group_for_offsets(client, topic):
    find_coordinator(client, "")
    for version in (2, 5, 8, 9):
        assert commit(client, "", {(topic, 0): 10 + version}, version=version) == {(topic, 0): ErrorCode.NONE}
    assert commit(client, "", {(topic, 1): 7}) == {(topic, 1): ErrorCode.NONE}
    error, fetched = fetch_offsets(client, "", None)
    assert error == ErrorCode.NONE
    assert {tp: p["committed_offset"] for tp, p in fetched.items()} == {(topic, 0): 19, (topic, 1): 7}
    assert offset_of(client, "", (topic, 0), version=5)["committed_offset"] == 19
    described = client.request(DESCRIBE_GROUPS, 5, {"groups": [""], "include_authorized_operations": False})
    assert [(g["group_id"], g["error_code"], g["group_state"]) for g in described["groups"]] == \
        [("", ErrorCode.NONE, "Empty")]
    assert "" in listed_groups(client)
    # OffsetDelete is the one API that refuses it.
    refused = client.request(OFFSET_DELETE, 0, {"group_id": "", "topics": [
        {"name": topic, "partitions": [{"partition_index": 0}]}]})
    assert (refused["error_code"], refused["topics"]) == (ErrorCode.INVALID_GROUP_ID, [])
    deleted = client.request(DELETE_GROUPS, 2, {"groups_names": [""]})
    assert [(r["group_id"], r["error_code"]) for r in deleted["results"]] == [("", ErrorCode.NONE)]
    assert fetch_offsets(client, "", None) == (ErrorCode.NONE, {})
    assert "" not in listed_groups(client)


def test_a_commit_that_stores_no_offset_creates_no_group(client, topic):
    group = unique("g")
    find_coordinator(client, group)
    assert commit(client, group, {}) == {}
    # Unknown partitions are refused before the group is looked at.
    nothing = unique("nothing")
    unknown = {(nothing, 0): ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, (topic, 3): ErrorCode.UNKNOWN_TOPIC_OR_PARTITION}
    assert commit(client, group, dict.fromkeys(unknown, 1)) == unknown
    assert commit(client, group, dict.fromkeys(unknown, 1), generation=3, member_id="m") == unknown
    described = client.request(DESCRIBE_GROUPS, 5, {"groups": [group], "include_authorized_operations": False})
    assert described["groups"][0]["group_state"] == "Dead"
    assert group not in listed_groups(client)
    # A commit for a known partition and an unknown one stores the first: the group exists.
    assert commit(client, group, {(topic, 0): 5, (nothing, 0): 1}) == \
        {(topic, 0): ErrorCode.NONE, (nothing, 0): ErrorCode.UNKNOWN_TOPIC_OR_PARTITION}
    assert group in listed_groups(client)


def test_offsets_committed_with_a_retention_time_expire(client, topic):
    group = unique("g")
    find_coordinator(client, group)
    assert commit(client, group, {(topic, 0): 8}, version=2, retention_ms=1) == {(topic, 0): ErrorCode.NONE}
    # The retention check (every 200 ms here) deletes the offset, then the group left without any.
    wait_for(lambda: offset_of(client, group, (topic, 0))["committed_offset"] == -1, message="expiry")
    wait_for(lambda: group not in [g["group_id"] for g in client.request(
        LIST_GROUPS, 5, {"states_filter": [], "types_filter": []})["groups"]], message="group deletion")


def test_the_offsets_of_a_deleted_topic_are_deleted(client, topic):
    group = unique("g")
    find_coordinator(client, group)
    commit(client, group, {(topic, 0): 4})
    response = client.request(DELETE_TOPICS, 6, {"topics": [{"name": topic, "topic_id": bytes(16)}],
                                                 "timeout_ms": 10_000})
    assert response["responses"][0]["error_code"] == ErrorCode.NONE
    wait_for(lambda: fetch_offsets(client, group, None)[1] == {}, message="the offsets' deletion")
