"""The records of ``__consumer_offsets``, in Kafka's binary formats: a key is
an int16 version (which names the record type) followed by the key struct, a
value an int16 version followed by the value struct; a null value deletes
the key (compaction removes both). Versions written are Kafka's: offset
commits key 1 / value 3 (value 1 when the commit carries an expire
timestamp), classic group metadata key 2 / value 3, KIP-848 records 3-8 / 0.
"""
from __future__ import annotations

import struct
from typing import Any, NamedTuple

from wire import codec

_VERSION = struct.Struct(">h")

OFFSET_COMMIT = 1                 # key versions 0 and 1
GROUP_METADATA = 2
CONSUMER_GROUP_METADATA = 3
CONSUMER_GROUP_PARTITION_METADATA = 4
CONSUMER_GROUP_MEMBER_METADATA = 5
CONSUMER_GROUP_TARGET_ASSIGNMENT_METADATA = 6
CONSUMER_GROUP_TARGET_ASSIGNMENT_MEMBER = 7
CONSUMER_GROUP_CURRENT_MEMBER_ASSIGNMENT = 8

# record type (key version) -> (key message, value message, value version written)
_TYPES = {
    0: ("OffsetCommitKey", "OffsetCommitValue", 3),
    OFFSET_COMMIT: ("OffsetCommitKey", "OffsetCommitValue", 3),
    GROUP_METADATA: ("GroupMetadataKey", "GroupMetadataValue", 3),
    CONSUMER_GROUP_METADATA: ("ConsumerGroupMetadataKey", "ConsumerGroupMetadataValue", 0),
    CONSUMER_GROUP_PARTITION_METADATA: ("ConsumerGroupPartitionMetadataKey", "ConsumerGroupPartitionMetadataValue", 0),
    CONSUMER_GROUP_MEMBER_METADATA: ("ConsumerGroupMemberMetadataKey", "ConsumerGroupMemberMetadataValue", 0),
    CONSUMER_GROUP_TARGET_ASSIGNMENT_METADATA: ("ConsumerGroupTargetAssignmentMetadataKey",
                                                "ConsumerGroupTargetAssignmentMetadataValue", 0),
    CONSUMER_GROUP_TARGET_ASSIGNMENT_MEMBER: ("ConsumerGroupTargetAssignmentMemberKey",
                                              "ConsumerGroupTargetAssignmentMemberValue", 0),
    CONSUMER_GROUP_CURRENT_MEMBER_ASSIGNMENT: ("ConsumerGroupCurrentMemberAssignmentKey",
                                               "ConsumerGroupCurrentMemberAssignmentValue", 0),
}


class UnknownRecord(ValueError):
    """A record type or version this broker does not know (skipped on load)."""


class CoordinatorRecord(NamedTuple):
    type: int
    key: dict
    value: dict | None  # None: tombstone


def record(kind: int, key: dict, value: dict | None, value_version: int | None = None) -> tuple[bytes, bytes | None]:
    """The (key, value) bytes of a record; ``value`` None makes a tombstone."""
    key_name, value_name, default_version = _TYPES[kind]
    key_bytes = _VERSION.pack(kind) + codec.encode_message(key_name, kind, key)
    if value is None:
        return key_bytes, None
    version = default_version if value_version is None else value_version
    return key_bytes, _VERSION.pack(version) + codec.encode_message(value_name, version, value)


def parse(key: bytes, value: bytes | None) -> CoordinatorRecord:
    if len(key) < 2:
        raise UnknownRecord("record key too short")
    (kind,) = _VERSION.unpack_from(key)
    names = _TYPES.get(kind)
    if names is None:
        raise UnknownRecord(f"unknown record type {kind}")
    try:
        key_dict = codec.decode_message(names[0], kind, memoryview(key)[2:])
        if value is None:
            return CoordinatorRecord(kind if kind else OFFSET_COMMIT, key_dict, None)
        (version,) = _VERSION.unpack_from(value)
        value_dict = codec.decode_message(names[1], version, memoryview(value)[2:])
    except (codec.DecodeError, struct.error) as e:
        raise UnknownRecord(str(e)) from None
    return CoordinatorRecord(kind if kind else OFFSET_COMMIT, key_dict, value_dict)


# --- offset commits -------------------------------------------------------------------
def offset_commit(group: str, topic: str, partition: int, offset: Any) -> tuple[bytes, bytes | None]:
    """``offset`` is an OffsetAndMetadata, or None for a tombstone."""
    key = {"group": group, "topic": topic, "partition": partition}
    if offset is None:
        return record(OFFSET_COMMIT, key, None)
    return record(OFFSET_COMMIT, key, {
        "offset": offset.offset, "leader_epoch": offset.leader_epoch, "metadata": offset.metadata,
        "commit_timestamp": offset.commit_timestamp,
        "expire_timestamp": offset.expire_timestamp if offset.expire_timestamp is not None else -1,
    }, value_version=1 if offset.expire_timestamp is not None else 3)


# --- classic groups ---------------------------------------------------------------------
def group_metadata(group_id: str, value: dict | None) -> tuple[bytes, bytes | None]:
    return record(GROUP_METADATA, {"group": group_id}, value)


# --- consumer (KIP-848) groups --------------------------------------------------------------
def consumer_group_epoch(group_id: str, epoch: int | None) -> tuple[bytes, bytes | None]:
    return record(CONSUMER_GROUP_METADATA, {"group_id": group_id},
                  None if epoch is None else {"epoch": epoch})


def consumer_group_partition_metadata(group_id: str,
                                      topics: dict[str, tuple[bytes, int]] | None) -> tuple[bytes, bytes | None]:
    """``topics``: name -> (topic id, partition count) of the subscribed topics."""
    value = None if topics is None else {"topics": [
        {"topic_id": topic_id, "topic_name": name, "num_partitions": count, "partition_metadata": []}
        for name, (topic_id, count) in sorted(topics.items())]}
    return record(CONSUMER_GROUP_PARTITION_METADATA, {"group_id": group_id}, value)


def consumer_group_member(group_id: str, member_id: str, value: dict | None) -> tuple[bytes, bytes | None]:
    return record(CONSUMER_GROUP_MEMBER_METADATA, {"group_id": group_id, "member_id": member_id}, value)


def consumer_group_target_epoch(group_id: str, epoch: int | None) -> tuple[bytes, bytes | None]:
    return record(CONSUMER_GROUP_TARGET_ASSIGNMENT_METADATA, {"group_id": group_id},
                  None if epoch is None else {"assignment_epoch": epoch})


def consumer_group_target_member(group_id: str, member_id: str,
                                 assignment: dict[bytes, set[int]] | None) -> tuple[bytes, bytes | None]:
    value = None if assignment is None else {"topic_partitions": topic_partitions(assignment)}
    return record(CONSUMER_GROUP_TARGET_ASSIGNMENT_MEMBER, {"group_id": group_id, "member_id": member_id}, value)


def consumer_group_current_member(group_id: str, member_id: str, value: dict | None) -> tuple[bytes, bytes | None]:
    return record(CONSUMER_GROUP_CURRENT_MEMBER_ASSIGNMENT, {"group_id": group_id, "member_id": member_id}, value)


def topic_partitions(assignment: dict[bytes, set[int]]) -> list[dict]:
    return [{"topic_id": topic_id, "partitions": sorted(partitions)}
            for topic_id, partitions in sorted(assignment.items()) if partitions]


def assignment_from(items: list[dict]) -> dict[bytes, set[int]]:
    return {item["topic_id"]: set(item["partitions"]) for item in items if item["partitions"]}
