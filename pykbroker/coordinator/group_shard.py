"""The group coordinator's state for one ``__consumer_offsets`` partition:
its groups (classic and consumer), their committed offsets and its timers.
Built by replaying the partition; kept in step by replaying each record the
coordinator writes (except classic group metadata, whose live state is
richer than its record and is changed directly)."""
from __future__ import annotations

import logging
from typing import Any

from . import group_records as gr
from .classic_group import ClassicGroup, complete, join_error, sync_error, DEAD
from .consumer_group import ConsumerGroup
from .offsets import OffsetAndMetadata, OffsetStore
from .runtime import Timers
from ..errors import ErrorCode

log = logging.getLogger("pykbroker.coordinator.group")


class GroupShard:
    def __init__(self, coordinator: Any):
        self.coordinator = coordinator
        self.groups: dict[str, ClassicGroup | ConsumerGroup] = {}
        self.offsets = OffsetStore()
        self.timers = Timers()
        # Set by the runtime.
        self.partition = -1
        self.lock = None
        self.runtime = None

    def __repr__(self) -> str:
        return f"GroupShard(__consumer_offsets-{self.partition})"

    def classic_group(self, group_id: str) -> ClassicGroup | None:
        group = self.groups.get(group_id)
        return group if isinstance(group, ClassicGroup) else None

    def consumer_group(self, group_id: str) -> ConsumerGroup | None:
        group = self.groups.get(group_id)
        return group if isinstance(group, ConsumerGroup) else None

    # --- runtime callbacks ------------------------------------------------------------
    def replay(self, key: bytes, value: bytes | None, producer_id: int, producer_epoch: int) -> None:
        self.apply(key, value, producer_id, loading=True)

    def replay_end_transaction(self, producer_id: int, commit: bool) -> None:
        for group_id in self.offsets.end_transaction_groups(producer_id):
            if commit and group_id not in self.groups:
                self.groups[group_id] = ClassicGroup(group_id)
        self.offsets.replay_end_transaction(producer_id, commit)

    def on_loaded(self) -> None:
        self.coordinator.on_shard_loaded(self)

    def on_unloaded(self) -> None:
        """Parked JoinGroup/SyncGroup requests learn that this broker is no
        longer the coordinator."""
        self.timers.cancel_all()
        for group in self.groups.values():
            if isinstance(group, ClassicGroup):
                for member in group.members.values():
                    complete(member.join_future, join_error(member.member_id, ErrorCode.NOT_COORDINATOR))
                    complete(member.sync_future, sync_error(ErrorCode.NOT_COORDINATOR))
                    member.join_future = member.sync_future = None

    # --- records ----------------------------------------------------------------------
    def apply(self, key: bytes, value: bytes | None, producer_id: int = -1, loading: bool = False) -> None:
        """Apply one record. Live, a classic group's metadata record is not
        applied (the group already is as written); its tombstone is."""
        try:
            record = gr.parse(key, value)
        except gr.UnknownRecord as e:
            log.debug("%s: skipping a record: %s", self, e)
            return
        if record.type == gr.OFFSET_COMMIT:
            self._apply_offset(record, producer_id)
        elif record.type == gr.GROUP_METADATA:
            group_id = record.key["group"]
            if record.value is None:
                self._remove_group(group_id, ClassicGroup)
            elif loading:
                self.groups[group_id] = ClassicGroup.from_record(group_id, record.value)
        else:
            self._apply_consumer_group(record)

    def _apply_offset(self, record: gr.CoordinatorRecord, producer_id: int) -> None:
        group_id = record.key["group"]
        tp = (record.key["topic"], record.key["partition"])
        value = record.value
        offset = None if value is None else OffsetAndMetadata(
            value["offset"], value["leader_epoch"], value["metadata"], value["commit_timestamp"],
            value["expire_timestamp"] if value["expire_timestamp"] >= 0 else None)
        self.offsets.replay(group_id, tp, offset, producer_id)
        if offset is not None and producer_id < 0 and group_id not in self.groups:
            # Offsets of a group that does not exist: a "simple" group holds them.
            self.groups[group_id] = ClassicGroup(group_id)

    def _apply_consumer_group(self, record: gr.CoordinatorRecord) -> None:
        group_id = record.key["group_id"]
        value = record.value
        group = self.consumer_group(group_id)
        if group is None:
            if value is None:
                return
            group = self.groups[group_id] = ConsumerGroup(group_id)
        kind = record.type
        member_id = record.key.get("member_id")
        if kind == gr.CONSUMER_GROUP_METADATA:
            if value is None:
                self._remove_group(group_id, ConsumerGroup)
            else:
                group.group_epoch = value["epoch"]
        elif kind == gr.CONSUMER_GROUP_PARTITION_METADATA:
            group.subscription_metadata = {} if value is None else {
                t["topic_name"]: (t["topic_id"], t["num_partitions"]) for t in value["topics"]}
        elif kind == gr.CONSUMER_GROUP_MEMBER_METADATA:
            if value is None:
                group.remove_member(member_id)
            else:
                group.member_for_replay(member_id).apply_metadata(value)
        elif kind == gr.CONSUMER_GROUP_TARGET_ASSIGNMENT_METADATA:
            group.assignment_epoch = 0 if value is None else value["assignment_epoch"]
        elif kind == gr.CONSUMER_GROUP_TARGET_ASSIGNMENT_MEMBER:
            if value is None:
                group.target.pop(member_id, None)
            else:
                group.target[member_id] = gr.assignment_from(value["topic_partitions"])
        elif kind == gr.CONSUMER_GROUP_CURRENT_MEMBER_ASSIGNMENT:
            group.update_assignment(member_id, value)

    def _remove_group(self, group_id: str, kind: type) -> None:
        group = self.groups.get(group_id)
        if isinstance(group, kind):
            del self.groups[group_id]
            if isinstance(group, ClassicGroup):
                group.state = DEAD
