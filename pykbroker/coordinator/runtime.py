"""The runtime shared by coordinators whose state lives in an internal topic
(``__consumer_offsets``, ``__transaction_state``), as Kafka's
CoordinatorRuntime does it:

- the internal topic is created on first use with the coordinator's configs;
- a key (group id, transactional id) maps to a partition as Kafka computes
  it, abs(Java String.hashCode(key)) % partitions, and the coordinator of the
  key is the leader of that partition;
- a shard (the state of one partition) is loaded by replaying the partition
  when this broker becomes its leader, and dropped when it stops leading;
  requests meanwhile get COORDINATOR_LOAD_IN_PROGRESS, or NOT_COORDINATOR;
- a write appends one batch as the partition leader and waits until it is
  replicated (acks=all); the caller changes its in-memory state only after
  ``append`` returned, holding ``shard.lock`` so that writes of one shard
  are computed from, and applied to, the state in log order.

A shard is any object with the ``Shard`` methods below; the runtime sets its
``partition``, ``lock`` and ``runtime`` attributes.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Callable, Protocol

from wire import records
from wire.records import RecordsError

from ..errors import ErrorCode, KafkaError

log = logging.getLogger("pykbroker.coordinator")

# Bytes read per step while loading a partition; the loop runs other work
# between steps.
LOAD_CHUNK_BYTES = 1 << 20


class Shard(Protocol):
    partition: int
    lock: asyncio.Lock

    def replay(self, key: bytes, value: bytes | None, producer_id: int, producer_epoch: int) -> None:
        """Apply one record of the partition (``producer_id`` is -1 unless
        the record is part of a transaction)."""

    def replay_end_transaction(self, producer_id: int, commit: bool) -> None:
        """Apply a transaction marker of the partition."""

    def on_loaded(self) -> None:
        """The whole partition was replayed: start timers."""

    def on_unloaded(self) -> None:
        """This broker no longer leads the partition: stop timers, fail waiters."""


def java_string_hash(text: str) -> int:
    """Java's String.hashCode: over UTF-16 code units, in 32-bit arithmetic."""
    h = 0
    data = text.encode("utf-16-be", "surrogatepass")
    for i in range(0, len(data), 2):
        h = (31 * h + (data[i] << 8 | data[i + 1])) & 0xFFFFFFFF
    return h - (1 << 32) if h & 0x80000000 else h


def java_abs(n: int) -> int:
    """Kafka's Utils.abs: Integer.MIN_VALUE maps to 0."""
    return 0 if n == -(1 << 31) else abs(n)


class _Loading:
    """A partition being replayed; ``task`` reads it in steps."""

    def __init__(self, shard: Any):
        self.shard = shard
        self.task: asyncio.Task | None = None


class CoordinatorRuntime:
    def __init__(self, broker: Any, *, topic: str, key_type: int, num_partitions_config: str,
                 replication_factor_config: str, topic_configs: Callable[[], dict[str, str]],
                 shard_factory: Callable[[int], Any], commit_timeout_config: str,
                 compression_config: str | None = None):
        self.broker = broker
        self.topic = topic
        self.key_type = key_type
        self._num_partitions_config = num_partitions_config
        self._replication_factor_config = replication_factor_config
        self._topic_configs = topic_configs
        self._shard_factory = shard_factory
        self._commit_timeout_config = commit_timeout_config
        self._compression_config = compression_config
        self.shards: dict[int, Any] = {}          # loaded partitions
        self._loading: dict[int, _Loading] = {}   # partitions being replayed
        self._epochs: dict[int, int] = {}         # leader epoch each shard was loaded at
        self._creating: asyncio.Future | None = None
        self.stopped = False

    # --- keys and partitions --------------------------------------------------------
    @property
    def config(self):
        return self.broker.config

    def partition_count(self) -> int:
        registration = self.broker.store.metadata.topics.get(self.topic)
        if registration is not None:
            return len(registration.partitions)
        return self.config.get(self._num_partitions_config)

    def partition_for(self, key: str) -> int:
        return java_abs(java_string_hash(key)) % self.partition_count()

    async def ensure_topic(self) -> None:
        """Create the internal topic if it does not exist (FindCoordinator
        does so, as in Kafka). COORDINATOR_NOT_AVAILABLE if it cannot be."""
        if self.topic in self.broker.store.metadata.topics:
            return
        if self._creating is None:
            self._creating = asyncio.ensure_future(self._create_topic())
            self._creating.add_done_callback(lambda _: setattr(self, "_creating", None))
        await asyncio.shield(self._creating)

    async def _create_topic(self) -> None:
        try:
            await self.broker.topics.create(
                self.topic, self.config.get(self._num_partitions_config),
                self.config.get(self._replication_factor_config), configs=self._topic_configs())
            log.info("created internal topic %s", self.topic)
        except KafkaError as e:
            if e.code != ErrorCode.TOPIC_ALREADY_EXISTS:
                log.warning("cannot create internal topic %s: %s", self.topic, e)
                raise KafkaError(ErrorCode.COORDINATOR_NOT_AVAILABLE,
                                 f"The coordinator is not available: {e}") from None

    def coordinator_endpoint(self, key: str, listener: str) -> tuple[int, str, int]:
        """(node id, host, port) of the leader of ``key``'s partition on
        ``listener``; COORDINATOR_NOT_AVAILABLE when there is none."""
        metadata = self.broker.store.metadata
        registration = metadata.topics.get(self.topic)
        if registration is None:
            raise KafkaError(ErrorCode.COORDINATOR_NOT_AVAILABLE)
        leader = registration.partitions[self.partition_for(key)].leader
        broker = metadata.brokers.get(leader)
        endpoint = broker.endpoint(listener) if broker is not None and not broker.fenced else None
        if endpoint is None:
            raise KafkaError(ErrorCode.COORDINATOR_NOT_AVAILABLE)
        return leader, endpoint[0], endpoint[1]

    @property
    def loading(self) -> bool:
        return bool(self._loading)

    def shard(self, partition: int) -> Any:
        """The loaded shard of ``partition``, else the error clients retry on."""
        shard = self.shards.get(partition)
        if shard is not None:
            return shard
        if partition in self._loading:
            raise KafkaError(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS)
        raise KafkaError(ErrorCode.NOT_COORDINATOR)

    def shard_for(self, key: str) -> Any:
        if self.topic not in self.broker.store.metadata.topics:
            raise KafkaError(ErrorCode.NOT_COORDINATOR)
        return self.shard(self.partition_for(key))

    # --- leadership: load and unload -------------------------------------------------
    def sync_leadership(self) -> None:
        """Load the partitions this broker now leads, unload the others.
        Called at start and after every metadata change."""
        if self.stopped:
            return
        replicas = self.broker.replicas
        led: dict[int, int] = {}
        for (topic, index), partition in replicas.partitions.items():
            if topic == self.topic and partition.is_leader:
                led[index] = partition.leader_epoch
        for index in list(self.shards) + list(self._loading):
            if led.get(index) != self._epochs.get(index):
                self._unload(index)
        for index, epoch in led.items():
            if index not in self.shards and index not in self._loading:
                self._load(index, epoch)

    def _load(self, index: int, epoch: int) -> None:
        shard = self._shard_factory(index)
        shard.partition = index
        shard.lock = asyncio.Lock()
        shard.runtime = self
        loading = self._loading[index] = _Loading(shard)
        self._epochs[index] = epoch
        loading.task = asyncio.ensure_future(self._replay(index, loading))

    async def _replay(self, index: int, loading: _Loading) -> None:
        started = time.monotonic()
        shard = loading.shard
        partition = self.broker.replicas.get(self.topic, index)
        count = 0
        try:
            offset = partition.log_start_offset
            end = partition.log_end_offset
            while offset < end:
                data = partition.log.read(offset, LOAD_CHUNK_BYTES, end)
                if not data:
                    break
                offset, n = self._replay_batches(shard, data, offset)
                count += n
                await asyncio.sleep(0)
                if self._loading.get(index) is not loading:
                    return  # unloaded meanwhile
        except Exception:
            log.exception("failed to load %s-%d", self.topic, index)
            self._loading.pop(index, None)
            self._epochs.pop(index, None)
            return
        del self._loading[index]
        self.shards[index] = shard
        shard.on_loaded()
        log.log(logging.INFO if count else logging.DEBUG, "loaded %s-%d: %d records in %.0f ms", self.topic,
                index, count, (time.monotonic() - started) * 1000)

    @staticmethod
    def _replay_batches(shard: Any, data: bytes, offset: int) -> tuple[int, int]:
        """Replay the batches in ``data`` at or after ``offset``; returns the
        offset after them and the number of records replayed."""
        count = 0
        view = memoryview(data)
        for pos, size, magic in records.batch_spans(view):
            header = records.parse_header(view, pos)
            next_offset = header.last_offset + 1
            if next_offset <= offset or magic != records.MAGIC:
                offset = max(offset, next_offset)
                continue
            offset = next_offset
            batch_records = records.decode_records(view[pos:pos + size])
            if header.is_control:
                for r in batch_records:
                    try:
                        marker = records.parse_control_record(r.key, r.value)
                    except RecordsError:
                        continue
                    if marker.type in (records.COMMIT, records.ABORT):
                        shard.replay_end_transaction(header.producer_id, marker.type == records.COMMIT)
                continue
            producer_id = header.producer_id if header.is_transactional else -1
            for r in batch_records:
                if r.key is None:
                    log.warning("skipping a record without key in %s", shard)
                    continue
                shard.replay(r.key, r.value, producer_id, header.producer_epoch)
                count += 1
        return offset, count

    def _unload(self, index: int) -> None:
        self._epochs.pop(index, None)
        loading = self._loading.pop(index, None)
        if loading is not None and loading.task is not None:
            loading.task.cancel()
        shard = self.shards.pop(index, None)
        if shard is not None:
            shard.on_unloaded()
            log.log(logging.DEBUG if self.stopped else logging.INFO, "unloaded %s-%d", self.topic, index)

    def shutdown(self) -> None:
        self.stopped = True
        for index in list(self.shards) + list(self._loading):
            self._unload(index)

    # --- writes ----------------------------------------------------------------------
    async def append(self, shard: Any, entries: list[tuple[bytes, bytes | None]], *,
                     producer_id: int = -1, producer_epoch: int = -1, transactional: bool = False) -> int:
        """Append ``entries`` (key, value or None for a tombstone) as one batch
        to the shard's partition and wait until it is replicated (acks=all).
        Returns the offset of the last record. Errors are mapped as Kafka's
        coordinators map them: NOT_COORDINATOR when leadership was lost,
        COORDINATOR_NOT_AVAILABLE when replication fails or times out."""
        if not entries:
            return -1
        now = int(time.time() * 1000)
        # The codec ids of offsets.topic.compression.codec are the batch's.
        compression = self.config.get(self._compression_config) if self._compression_config else 0
        batch = records.build_batch(
            [records.Record(i, now, key, value) for i, (key, value) in enumerate(entries)],
            compression=compression, producer_id=producer_id,
            producer_epoch=producer_epoch, base_sequence=-1 if producer_id < 0 else 0,
            transactional=transactional)
        return await self._append_batch(shard, bytearray(batch))

    async def append_marker(self, shard: Any, producer_id: int, producer_epoch: int, coordinator_epoch: int,
                            commit: bool) -> int:
        """Append a transaction marker (COMMIT or ABORT) for ``producer_id``."""
        batch = records.build_control_batch(commit, producer_id, producer_epoch, coordinator_epoch,
                                            int(time.time() * 1000))
        return await self._append_batch(shard, bytearray(batch))

    async def _append_batch(self, shard: Any, batch: bytearray) -> int:
        partition = self._leader_partition(shard)
        try:
            partition.check_min_isr()
        except KafkaError:
            raise KafkaError(ErrorCode.COORDINATOR_NOT_AVAILABLE) from None
        info = partition.append_as_leader(batch, [records.parse_header(batch)])
        outcome = await partition.wait_replicated(info.last_offset + 1,
                                                  self.config.get(self._commit_timeout_config))
        if outcome == ErrorCode.NOT_LEADER_OR_FOLLOWER:
            raise KafkaError(ErrorCode.NOT_COORDINATOR)
        if outcome != ErrorCode.NONE:
            raise KafkaError(ErrorCode.COORDINATOR_NOT_AVAILABLE)
        return info.last_offset

    def _leader_partition(self, shard: Any) -> Any:
        if self.shards.get(shard.partition) is not shard:
            raise KafkaError(ErrorCode.NOT_COORDINATOR)
        partition = self.broker.replicas.get(self.topic, shard.partition)
        if partition is None or not partition.is_leader:
            raise KafkaError(ErrorCode.NOT_COORDINATOR)
        return partition


class Timers:
    """Named one-shot timers on the event loop (Kafka's CoordinatorTimer):
    scheduling a key again replaces its timer."""

    def __init__(self):
        self._handles: dict[Any, asyncio.TimerHandle] = {}

    def schedule(self, key: Any, delay_ms: float, callback: Callable[[], Any]) -> None:
        self.cancel(key)

        def fire() -> None:
            self._handles.pop(key, None)
            callback()
        self._handles[key] = asyncio.get_running_loop().call_later(max(delay_ms, 0) / 1000, fire)

    def cancel(self, key: Any) -> None:
        handle = self._handles.pop(key, None)
        if handle is not None:
            handle.cancel()

    def cancel_all(self) -> None:
        for handle in self._handles.values():
            handle.cancel()
        self._handles.clear()
