"""The group coordinator: consumer groups of both protocols and their
committed offsets, stored in ``__consumer_offsets`` (see ``runtime``).

A group lives in the shard of its ``__consumer_offsets`` partition. The
classic protocol is in ``classic_protocol``, KIP-848's in
``consumer_protocol``; offsets and the admin operations (describe, list,
delete) are here, and so is the seam for transactions: TxnOffsetCommit
writes pending offsets with ``commit_transactional_offsets``, and the
transaction markers written to ``__consumer_offsets`` go through
``complete_transaction``.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Awaitable, Callable

from . import group_records as gr
from .classic_group import COMPLETING_REBALANCE, DEAD, EMPTY, STABLE, ClassicGroup
from .classic_protocol import ClassicProtocol, validate_member
from .consumer_group import ConsumerGroup
from .consumer_protocol import ConsumerProtocol
from .group_shard import GroupShard
from .offsets import OffsetAndMetadata
from .runtime import CoordinatorRuntime
from .. import authz
from ..errors import ErrorCode, KafkaError

log = logging.getLogger("pykbroker.coordinator.group")

OFFSETS_TOPIC = "__consumer_offsets"
GROUP_KEY_TYPE = 0  # FindCoordinator's KeyType for groups


class GroupCoordinator:
    def __init__(self, broker: Any):
        self.broker = broker
        self.config = broker.config
        self.runtime = CoordinatorRuntime(
            broker, topic=OFFSETS_TOPIC, key_type=GROUP_KEY_TYPE,
            num_partitions_config="offsets.topic.num.partitions",
            replication_factor_config="offsets.topic.replication.factor",
            topic_configs=self._topic_configs, shard_factory=lambda _: GroupShard(self),
            commit_timeout_config="offsets.commit.timeout.ms", compression_config="offsets.topic.compression.codec")
        self.classic = ClassicProtocol(self)
        self.consumer = ConsumerProtocol(self)
        self._tasks: set[asyncio.Task] = set()

    def _topic_configs(self) -> dict[str, str]:
        return {"cleanup.policy": "compact", "compression.type": "producer",
                "segment.bytes": str(self.config.get("offsets.topic.segment.bytes"))}

    # --- life cycle -----------------------------------------------------------------------
    def start(self) -> None:
        self.runtime.sync_leadership()
        self._track(asyncio.ensure_future(self._expire_offsets_periodically()))

    def stop(self) -> None:
        self.runtime.shutdown()
        for task in list(self._tasks):
            task.cancel()

    def on_shard_loaded(self, shard: GroupShard) -> None:
        for group in shard.groups.values():
            if isinstance(group, ClassicGroup):
                self.classic.on_loaded(shard, group)
            else:
                self.consumer.on_loaded(shard, group)

    # --- plumbing shared by the protocols ----------------------------------------------------
    @staticmethod
    def now_ms() -> int:
        return int(time.time() * 1000)

    async def write(self, shard: GroupShard, entries: list[tuple[bytes, bytes | None]], *,
                    producer_id: int = -1, producer_epoch: int = -1) -> None:
        """Append the records (as the caller holds ``shard.lock``), then
        apply them to the shard."""
        if not entries:
            return
        transactional = producer_id >= 0
        await self.runtime.append(shard, entries, producer_id=producer_id, producer_epoch=producer_epoch,
                                  transactional=transactional)
        for key, value in entries:
            shard.apply(key, value, producer_id)

    def spawn(self, shard: GroupShard, operation: Callable[..., Awaitable[None]], *args: Any) -> None:
        """Run a timer's operation on the shard, under its lock, if this
        broker still coordinates it."""
        async def run() -> None:
            if self.runtime.shards.get(shard.partition) is not shard:
                return
            async with shard.lock:
                if self.runtime.shards.get(shard.partition) is shard:
                    await operation(shard, *args)
        self._track(asyncio.ensure_future(run()))

    def _track(self, task: asyncio.Task) -> None:
        self._tasks.add(task)

        def done(t: asyncio.Task) -> None:
            self._tasks.discard(t)
            if not t.cancelled() and t.exception() is not None:
                log.error("group coordinator task failed", exc_info=t.exception())
        task.add_done_callback(done)

    def group_tombstones(self, group: ClassicGroup | ConsumerGroup) -> list:
        """Records deleting a group (not its offsets)."""
        if isinstance(group, ClassicGroup):
            return [gr.group_metadata(group.group_id, None)] if group.persisted else []
        return self.consumer.tombstones(group)

    # --- OffsetCommit ------------------------------------------------------------------------
    async def commit_offsets(self, group_id: str, generation_or_epoch: int, member_id: str,
                             instance_id: str | None, retention_time_ms: int, topics: list[dict],
                             version: int) -> dict[tuple[str, int], ErrorCode]:
        """OffsetCommit: ``topics`` as in the request; returns each partition's error.

        As in Kafka, partitions of unknown topics are answered before the
        group is looked at, and a commit left with no other partition (or
        none at all) never reaches the group: it creates no group and fails
        no validation. The empty group id is a group like any other here
        (Kafka keeps it for backward compatibility)."""
        results = {(t["name"], p["partition_index"]): ErrorCode.NONE for t in topics for p in t["partitions"]}
        unknown = self._unknown_partitions(topics)
        results.update(dict.fromkeys(unknown, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION))
        if len(unknown) == len(results):
            return results

        def failed(code: ErrorCode) -> dict[tuple[str, int], ErrorCode]:
            return {tp: code if error == ErrorCode.NONE else error for tp, error in results.items()}
        try:
            shard = self.runtime.shard_for(group_id)
        except KafkaError as e:
            return failed(e.code)
        async with shard.lock:
            try:
                simple = self._validate_commit(shard, group_id, generation_or_epoch, member_id, instance_id,
                                               version)
            except KafkaError as e:
                return failed(e.code)
            now = self.now_ms()
            expire = now + retention_time_ms if retention_time_ms != -1 else None
            entries = self._offset_records(group_id, topics, now, expire, results)
            try:
                await self.write(shard, entries)
            except KafkaError as e:
                return failed(e.code)
            if simple and group_id not in shard.groups:
                shard.groups[group_id] = ClassicGroup(group_id)
        return results

    def _unknown_partitions(self, topics: list[dict]) -> set[tuple[str, int]]:
        known = self.broker.store.metadata.topics
        unknown = set()
        for topic in topics:
            registration = known.get(topic["name"])
            for p in topic["partitions"]:
                if registration is None or not 0 <= p["partition_index"] < len(registration.partitions):
                    unknown.add((topic["name"], p["partition_index"]))
        return unknown

    def _offset_records(self, group_id: str, topics: list[dict], now: int, expire: int | None,
                        results: dict) -> list:
        max_metadata = self.config.get("offset.metadata.max.bytes")
        known = self.broker.store.metadata.topics
        entries = []
        for topic in topics:
            registration = known.get(topic["name"])
            for p in topic["partitions"]:
                tp = (topic["name"], p["partition_index"])
                metadata = p["committed_metadata"]
                if registration is None or not 0 <= tp[1] < len(registration.partitions):
                    results[tp] = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
                elif metadata is not None and len(metadata.encode()) > max_metadata:
                    results[tp] = ErrorCode.OFFSET_METADATA_TOO_LARGE
                else:
                    commit_time = p.get("commit_timestamp", -1)
                    offset = OffsetAndMetadata(p["committed_offset"], p.get("committed_leader_epoch", -1),
                                               metadata or "", commit_time if commit_time != -1 else now, expire)
                    entries.append(gr.offset_commit(group_id, tp[0], tp[1], offset))
        return entries

    def _validate_commit(self, shard: GroupShard, group_id: str, generation: int, member_id: str,
                         instance_id: str | None, version: int, transactional: bool = False) -> bool:
        """Kafka's validateOffsetCommit. Returns True when the commit creates
        a simple group (no group yet, and no generation given)."""
        group = shard.groups.get(group_id)
        if group is None:
            if generation < 0:
                return True
            if version >= 9:
                raise KafkaError(ErrorCode.GROUP_ID_NOT_FOUND, f"Group {group_id} not found.")
            raise KafkaError(ErrorCode.ILLEGAL_GENERATION)
        if isinstance(group, ConsumerGroup):
            if generation < 0 and not group.members:
                return False
            member = group.members.get(member_id)
            if member is None:
                raise KafkaError(ErrorCode.UNKNOWN_MEMBER_ID)
            if not transactional and version < 9:
                raise KafkaError(ErrorCode.UNSUPPORTED_VERSION, "OffsetCommit version 9 or above must be used "
                                 "by members using the modern group protocol")
            if generation != member.member_epoch:
                raise KafkaError(ErrorCode.STALE_MEMBER_EPOCH, f"The received member epoch {generation} does "
                                 f"not match the expected member epoch {member.member_epoch}.")
            return False
        if group.is_in(DEAD):
            raise KafkaError(ErrorCode.COORDINATOR_NOT_AVAILABLE)
        if generation < 0 and group.is_in(EMPTY):
            return False
        if generation >= 0 or member_id or instance_id is not None:
            error = validate_member(group, member_id, instance_id)
            if error is not None:
                raise KafkaError(error)
            if generation != group.generation_id:
                raise KafkaError(ErrorCode.ILLEGAL_GENERATION)
        elif not transactional and not group.is_in(EMPTY):
            # A commit without member id and generation is only accepted
            # from outside the group, when the group is empty.
            raise KafkaError(ErrorCode.UNKNOWN_MEMBER_ID)
        if not transactional and group.is_in(COMPLETING_REBALANCE):
            raise KafkaError(ErrorCode.REBALANCE_IN_PROGRESS)
        return False

    # --- OffsetFetch -------------------------------------------------------------------------
    def fetch_offsets(self, group_id: str, topics: list[dict] | None, require_stable: bool,
                      member_id: str | None = None, member_epoch: int = -1) -> tuple[ErrorCode, list[dict]]:
        """OffsetFetch of one group: (group error, topics with partitions as
        OffsetFetch v8+ lists them). ``topics`` None fetches every committed offset."""
        try:
            shard = self.runtime.shard_for(group_id)
        except KafkaError as e:
            return e.code, []
        group = shard.groups.get(group_id)
        if member_id is not None or member_epoch >= 0:
            if isinstance(group, ConsumerGroup):
                member = group.members.get(member_id or "")
                if member is None:
                    return ErrorCode.UNKNOWN_MEMBER_ID, []
                if member.member_epoch != member_epoch:
                    return ErrorCode.STALE_MEMBER_EPOCH, []
        store = shard.offsets
        if topics is None:
            requested: dict[str, list[int]] = {}
            for topic, partition in sorted(store.offsets(group_id)):
                requested.setdefault(topic, []).append(partition)
        else:
            requested = {t["name"]: list(t["partition_indexes"]) for t in topics}
        result = []
        for topic, partitions in requested.items():
            entries = []
            for partition in partitions:
                entry = {"partition_index": partition, "committed_offset": -1, "committed_leader_epoch": -1,
                         "metadata": "", "error_code": ErrorCode.NONE}
                if require_stable and store.has_pending(group_id, (topic, partition)):
                    entry["error_code"] = ErrorCode.UNSTABLE_OFFSET_COMMIT
                else:
                    offset = store.get(group_id, (topic, partition))
                    if offset is not None:
                        entry.update(committed_offset=offset.offset, committed_leader_epoch=offset.leader_epoch,
                                     metadata=offset.metadata)
                entries.append(entry)
            result.append({"name": topic, "partitions": entries})
        return ErrorCode.NONE, result

    # --- OffsetDelete -------------------------------------------------------------------------
    async def delete_offsets(self, group_id: str, topics: list[dict]) -> tuple[ErrorCode, dict]:
        if not group_id:
            return ErrorCode.INVALID_GROUP_ID, {}
        results = {(t["name"], p["partition_index"]): ErrorCode.NONE for t in topics for p in t["partitions"]}
        try:
            shard = self.runtime.shard_for(group_id)
        except KafkaError as e:
            return e.code, {}
        async with shard.lock:
            group = shard.groups.get(group_id)
            if group is None or (isinstance(group, ClassicGroup) and group.is_in(DEAD)):
                return ErrorCode.GROUP_ID_NOT_FOUND, {}
            if isinstance(group, ClassicGroup) and not group.is_in(EMPTY) and not group.uses_consumer_protocol:
                return ErrorCode.NON_EMPTY_GROUP, {}
            known = self.broker.store.metadata.topics
            entries = []
            for topic in topics:
                subscribed = group.is_subscribed_to(topic["name"])
                registration = known.get(topic["name"])
                for p in topic["partitions"]:
                    tp = (topic["name"], p["partition_index"])
                    if registration is None or not 0 <= tp[1] < len(registration.partitions):
                        results[tp] = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
                    elif subscribed:
                        results[tp] = ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC
                    elif shard.offsets.get(group_id, tp) is not None:
                        entries.append(gr.offset_commit(group_id, tp[0], tp[1], None))
            try:
                await self.write(shard, entries)
            except KafkaError as e:
                return e.code, {}
        return ErrorCode.NONE, results

    # --- DeleteGroups ---------------------------------------------------------------------------
    async def delete_groups(self, group_ids: list[str]) -> dict[str, ErrorCode]:
        """One result per distinct group id (Kafka drops the repeats), the
        empty group id included."""
        results = {}
        for group_id in dict.fromkeys(group_ids):
            results[group_id] = await self._delete_group(group_id)
        return results

    async def _delete_group(self, group_id: str) -> ErrorCode:
        try:
            shard = self.runtime.shard_for(group_id)
        except KafkaError as e:
            return e.code
        async with shard.lock:
            group = shard.groups.get(group_id)
            if group is None or (isinstance(group, ClassicGroup) and group.is_in(DEAD)):
                return ErrorCode.GROUP_ID_NOT_FOUND
            if not group.is_empty:
                return ErrorCode.NON_EMPTY_GROUP
            try:
                await self.write(shard, self._deletion_records(shard, group))
            except KafkaError as e:
                return e.code
            self._forget(shard, group)
        return ErrorCode.NONE

    def _deletion_records(self, shard: GroupShard, group: ClassicGroup | ConsumerGroup) -> list:
        entries = [gr.offset_commit(group.group_id, topic, partition, None)
                   for topic, partition in sorted(shard.offsets.offsets(group.group_id))]
        return entries + self.group_tombstones(group)

    @staticmethod
    def _forget(shard: GroupShard, group: ClassicGroup | ConsumerGroup) -> None:
        if shard.groups.get(group.group_id) is group:
            del shard.groups[group.group_id]
        if isinstance(group, ClassicGroup):
            group.state = DEAD

    # --- DescribeGroups / ListGroups ------------------------------------------------------------
    def describe_groups(self, group_ids: list[str], include_operations: bool) -> list[dict]:
        results = []
        for group_id in group_ids:
            described = {"error_code": ErrorCode.NONE, "group_id": group_id, "group_state": DEAD,
                         "protocol_type": "", "protocol_data": "", "members": [],
                         "authorized_operations": authz.GROUP if include_operations else authz.NOT_REQUESTED}
            results.append(described)
            try:
                shard = self.runtime.shard_for(group_id)
            except KafkaError as e:
                described["error_code"] = e.code
                continue
            group = shard.classic_group(group_id)
            if group is None:
                continue  # unknown, or not a classic group: Dead, as Kafka describes it
            stable = group.is_in(STABLE)
            described.update(group_state=group.state, protocol_type=group.protocol_type or "",
                             protocol_data=group.protocol_name or "" if stable else "")
            described["members"] = [{
                "member_id": m.member_id, "group_instance_id": m.group_instance_id, "client_id": m.client_id,
                "client_host": m.client_host, "member_assignment": m.assignment,
                "member_metadata": m.metadata(group.protocol_name) if stable else b"",
            } for m in group.members.values()]
        return results

    def list_groups(self, states: list[str], types: list[str]) -> tuple[ErrorCode, list[dict]]:
        states = {s.lower() for s in states}
        types = {t.lower() for t in types}
        error = ErrorCode.COORDINATOR_LOAD_IN_PROGRESS if self.runtime.loading else ErrorCode.NONE
        listed = []
        for shard in self.runtime.shards.values():
            for group in shard.groups.values():
                state = group.state
                if (states and state.lower() not in states) or (types and group.type not in types):
                    continue
                listed.append({"group_id": group.group_id, "protocol_type": group.protocol_type or "",
                               "group_state": state, "group_type": group.type})
        return error, listed

    # --- deleted topics -----------------------------------------------------------------------------
    def on_topic_deleted(self, topic: str) -> None:
        """The committed offsets of a deleted topic are deleted too, as Kafka
        does (onPartitionsDeleted)."""
        for shard in list(self.runtime.shards.values()):
            self.spawn(shard, self._delete_topic_offsets, topic)

    async def _delete_topic_offsets(self, shard: GroupShard, topic: str) -> None:
        entries = [gr.offset_commit(group_id, t, p, None)
                   for group_id, offsets in shard.offsets.committed.items() for t, p in offsets if t == topic]
        try:
            await self.write(shard, entries)
        except KafkaError as e:
            log.warning("%s: failed to delete the offsets of deleted topic %s: %s", shard, topic, e)

    # --- offsets retention ------------------------------------------------------------------------
    async def _expire_offsets_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.config.get("offsets.retention.check.interval.ms") / 1000)
            for shard in list(self.runtime.shards.values()):
                async with shard.lock:
                    if self.runtime.shards.get(shard.partition) is shard:
                        await self.expire_offsets(shard)

    async def expire_offsets(self, shard: GroupShard) -> None:
        """Delete offsets past offsets.retention.minutes, then the empty
        groups left without offsets (Kafka's cleanupGroupMetadata)."""
        now = self.now_ms()
        retention = self.config.get("offsets.retention.minutes") * 60_000
        entries = []
        emptied = []
        for group_id, group in list(shard.groups.items()):
            base = self._expiration_base(group)
            expired = []
            offsets = shard.offsets.offsets(group_id)
            if base is not None:
                for tp, offset in offsets.items():
                    if group.is_subscribed_to(tp[0]) or shard.offsets.has_pending(group_id, tp):
                        continue
                    if offset.expire_timestamp is not None:
                        due = now >= offset.expire_timestamp
                    else:
                        due = now - base(offset) >= retention
                    if due:
                        expired.append(tp)
            entries += [gr.offset_commit(group_id, t, p, None) for t, p in sorted(expired)]
            if len(expired) == len(offsets) and group.is_empty and not shard.offsets.has_pending(group_id):
                emptied.append(group)
                entries += self.group_tombstones(group)
            if expired:
                log.info("group %s: %d offsets expired", group_id, len(expired))
        try:
            await self.write(shard, entries)
        except KafkaError as e:
            log.warning("%s: failed to write expired offsets: %s", shard, e)
            return
        for group in emptied:
            self._forget(shard, group)

    @staticmethod
    def _expiration_base(group: ClassicGroup | ConsumerGroup) -> Callable[[OffsetAndMetadata], int] | None:
        """From when an offset's retention counts, per Kafka's
        offsetExpirationCondition; None when the group's offsets do not expire."""
        if isinstance(group, ConsumerGroup):
            return lambda offset: offset.commit_timestamp
        if group.protocol_type is None:
            return lambda offset: offset.commit_timestamp
        if group.is_in(EMPTY):
            return lambda offset: group.state_timestamp if group.state_timestamp >= 0 else offset.commit_timestamp
        if group.uses_consumer_protocol and group.subscribed_topics is not None and group.is_in(STABLE):
            return lambda offset: offset.commit_timestamp
        return None

    # --- transactions -------------------------------------------------------------------------
    async def commit_transactional_offsets(self, group_id: str, producer_id: int, producer_epoch: int,
                                           member_id: str, generation_id: int, instance_id: str | None,
                                           topics: list[dict], version: int) -> dict[tuple[str, int], ErrorCode]:
        """TxnOffsetCommit: the offsets are written in a transactional batch of
        ``producer_id`` and stay pending (invisible to OffsetFetch, which
        answers UNSTABLE_OFFSET_COMMIT with RequireStable) until the
        transaction's marker reaches this group's partition."""
        results = {(t["name"], p["partition_index"]): ErrorCode.NONE for t in topics for p in t["partitions"]}
        try:
            shard = self.runtime.shard_for(group_id)
        except KafkaError as e:
            return dict.fromkeys(results, e.code)
        async with shard.lock:
            if group_id not in shard.groups:
                # Without a group, only commits from outside a generation are taken.
                if generation_id >= 0:
                    return dict.fromkeys(results, ErrorCode.ILLEGAL_GENERATION)
            else:
                try:
                    self._validate_commit(shard, group_id, generation_id, member_id, instance_id, version,
                                          transactional=True)
                except KafkaError as e:
                    return dict.fromkeys(results, e.code)
            entries = self._offset_records(group_id, topics, self.now_ms(), None, results)
            try:
                await self.write(shard, entries, producer_id=producer_id, producer_epoch=producer_epoch)
            except KafkaError as e:
                return {tp: e.code if code == ErrorCode.NONE else code for tp, code in results.items()}
        return results

    async def complete_transaction(self, partition: int, producer_id: int, producer_epoch: int,
                                   coordinator_epoch: int, commit: bool) -> ErrorCode:
        """WriteTxnMarkers for ``__consumer_offsets``-``partition``: write the
        marker, then commit or drop the producer's pending offsets."""
        try:
            shard = self.runtime.shard(partition)
        except KafkaError as e:
            return e.code
        async with shard.lock:
            try:
                await self.runtime.append_marker(shard, producer_id, producer_epoch, coordinator_epoch, commit)
            except KafkaError as e:
                return e.code
            shard.replay_end_transaction(producer_id, commit)
        return ErrorCode.NONE
