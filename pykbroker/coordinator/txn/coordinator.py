"""The transaction coordinator (Kafka's TransactionCoordinator with its
TransactionStateManager and marker channel), classic protocol (V1).

Each transactional id belongs to a partition of ``__transaction_state``; the
leader of that partition is its coordinator and keeps its state machine
there (records in Kafka's format, see ``metadata``):

    Empty --AddPartitions--> Ongoing --EndTxn--> PrepareCommit/PrepareAbort
      ^                                            | markers written to every
      +--InitProducerId-- CompleteCommit/Abort <---+ partition of the transaction

InitProducerId bumps the epoch, fencing an older producer with the same id;
if that one left a transaction open it is aborted first (with the bumped
epoch, so its late writes are refused) and the new producer is told to retry
(CONCURRENT_TRANSACTIONS). A transaction open longer than its timeout is
aborted the same way. EndTxn answers once the Prepare state is durable; the
markers and the Complete state follow. After a restart or a leadership change
the new coordinator loads the partition and finishes what was prepared.
The coordinator epoch written into markers is the leader epoch of the
``__transaction_state`` partition.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from ...errors import ErrorCode, KafkaError
from ..runtime import CoordinatorRuntime
from .markers import GROUP_TOPIC, RETRIABLE, MarkerChannel
from .metadata import (COMPLETE_ABORT, COMPLETE_COMMIT, EMPTY, MAX_EPOCH, NO_PRODUCER_EPOCH, NO_PRODUCER_ID,
                       ONGOING, PREPARE_ABORT, PREPARE_COMMIT, TransactionMetadata, UnknownRecord, parse_record,
                       record_key, record_value)
from .verification import RemoteVerifier, verification_error

log = logging.getLogger("pykbroker.txn")

TOPIC = "__transaction_state"
TRANSACTION_KEY_TYPE = 1
MARKER_RETRY_BACKOFF_S = 0.1


def _now() -> int:
    return int(time.time() * 1000)


class TransactionShard:
    """The transactions of one ``__transaction_state`` partition."""

    def __init__(self, coordinator: TransactionCoordinator):
        self.coordinator = coordinator
        self.txns: dict[str, TransactionMetadata] = {}

    def replay(self, key: bytes, value: bytes | None, producer_id: int, producer_epoch: int) -> None:
        try:
            transactional_id, metadata = parse_record(key, value)
        except UnknownRecord as e:
            log.warning("skipping an unreadable record of %s-%d: %s", TOPIC, self.partition, e)
            return
        if metadata is None:
            self.txns.pop(transactional_id, None)
        else:
            self.txns[transactional_id] = metadata

    def replay_end_transaction(self, producer_id: int, commit: bool) -> None:
        pass   # __transaction_state holds no transactional data

    def on_loaded(self) -> None:
        for m in self.txns.values():
            if m.state in (PREPARE_COMMIT, PREPARE_ABORT):
                self.coordinator.send_markers(self, m.transactional_id)

    def on_unloaded(self) -> None:
        pass   # marker tasks see the shard is gone and stop

    def __repr__(self) -> str:
        return f"TransactionShard({TOPIC}-{getattr(self, 'partition', '?')})"


class TransactionCoordinator:
    def __init__(self, broker: Any):
        self.broker = broker
        self.runtime = CoordinatorRuntime(
            broker, topic=TOPIC, key_type=TRANSACTION_KEY_TYPE,
            num_partitions_config="transaction.state.log.num.partitions",
            replication_factor_config="transaction.state.log.replication.factor",
            topic_configs=self._topic_configs, shard_factory=lambda _: TransactionShard(self),
            commit_timeout_config="request.timeout.ms")
        self.markers = MarkerChannel(broker)
        self.verifier = RemoteVerifier(broker)
        self._tasks: set[asyncio.Task] = set()
        self._periodic: asyncio.Task | None = None

    def _topic_configs(self) -> dict[str, str]:
        config = self.broker.config
        return {"cleanup.policy": "compact", "compression.type": "uncompressed",
                "min.insync.replicas": str(config.get("transaction.state.log.min.isr")),
                "segment.bytes": str(config.get("transaction.state.log.segment.bytes")),
                "unclean.leader.election.enable": "false"}

    # --- life cycle ---------------------------------------------------------------
    def start(self) -> None:
        self.runtime.sync_leadership()
        self._periodic = asyncio.ensure_future(self._housekeeping())

    def stop(self) -> None:
        if self._periodic is not None:
            self._periodic.cancel()
        for task in list(self._tasks):
            task.cancel()
        self.runtime.shutdown()
        self.markers.close()
        self.verifier.close()

    def _spawn(self, coroutine) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- lookups -----------------------------------------------------------------------
    def _shard(self, transactional_id: str) -> TransactionShard:
        return self.runtime.shard_for(transactional_id)

    def _coordinator_epoch(self, shard: TransactionShard) -> int:
        return self.broker.replicas.get(TOPIC, shard.partition).leader_epoch

    def transaction(self, transactional_id: str) -> TransactionMetadata | None:
        """The state of a transactional id this broker coordinates (KafkaError
        NOT_COORDINATOR / COORDINATOR_LOAD_IN_PROGRESS otherwise)."""
        return self._shard(transactional_id).txns.get(transactional_id)

    def loaded_transactions(self) -> list[TransactionMetadata]:
        return [m for shard in self.runtime.shards.values() for m in shard.txns.values()]


    # --- writes --------------------------------------------------------------------------
    async def _write(self, shard: TransactionShard, new: TransactionMetadata) -> None:
        """Make ``new`` the durable state of its id, the current one marked
        pending meanwhile; raises KafkaError as the append fails."""
        current = shard.txns.get(new.transactional_id)
        if current is not None:
            current.pending = new.state
        try:
            async with shard.lock:
                await self.runtime.append(shard, [(record_key(new.transactional_id), record_value(new))])
                new.pending = None
                shard.txns[new.transactional_id] = new
        finally:
            if current is not None:
                current.pending = None

    # --- InitProducerId ------------------------------------------------------------------
    async def init_producer_id(self, transactional_id: str, timeout_ms: int, expected_id: int,
                               expected_epoch: int) -> tuple[ErrorCode, int, int]:
        """(error, producer id, epoch) for InitProducerId with a transactional id."""
        if not transactional_id:
            return ErrorCode.INVALID_REQUEST, -1, -1
        if not 0 < timeout_ms <= self.broker.config.get("transaction.max.timeout.ms"):
            return ErrorCode.INVALID_TRANSACTION_TIMEOUT, -1, -1
        try:
            shard = self._shard(transactional_id)
            m = shard.txns.get(transactional_id)
            if m is None:
                producer_id = await self.broker.producer_ids.generate()
                shard = self._shard(transactional_id)
                m = shard.txns.setdefault(transactional_id, TransactionMetadata(
                    transactional_id, producer_id, NO_PRODUCER_EPOCH, timeout_ms, EMPTY, last_update_ms=_now()))
            return await self._init(shard, m, timeout_ms, expected_id, expected_epoch)
        except KafkaError as e:
            return e.code, -1, -1

    async def _init(self, shard, m: TransactionMetadata, timeout_ms: int, expected_id: int,
                    expected_epoch: int) -> tuple[ErrorCode, int, int]:
        expected = expected_id != NO_PRODUCER_ID
        if m.pending is not None:
            return ErrorCode.CONCURRENT_TRANSACTIONS, -1, -1
        if expected and not (m.producer_epoch == NO_PRODUCER_EPOCH or expected_id == m.producer_id
                             or (expected_id == m.last_producer_id and expected_epoch >= MAX_EPOCH - 1)):
            return ErrorCode.PRODUCER_FENCED, -1, -1
        if m.state in (PREPARE_COMMIT, PREPARE_ABORT):
            return ErrorCode.CONCURRENT_TRANSACTIONS, -1, -1
        if m.state == ONGOING:
            # Abort what the previous producer left open, with a bumped
            # epoch that fences it; this one retries and bumps again.
            code = await self._abort(shard, m, fence=True)
            return (ErrorCode.CONCURRENT_TRANSACTIONS if code == ErrorCode.NONE else code), -1, -1
        now = _now()
        if m.epoch_exhausted and (not expected or expected_epoch == m.producer_epoch):
            producer_id = await self.broker.producer_ids.generate()
            new = m.with_changes(producer_id=producer_id, producer_epoch=0, last_producer_id=m.producer_id,
                                 last_producer_epoch=m.producer_epoch if expected else NO_PRODUCER_EPOCH)
        elif not expected or m.producer_epoch == NO_PRODUCER_EPOCH or expected_epoch == m.producer_epoch:
            new = m.with_changes(producer_epoch=m.producer_epoch + 1,
                                 last_producer_epoch=m.producer_epoch if expected else NO_PRODUCER_EPOCH)
        elif expected_epoch == m.last_producer_epoch:
            new = m.with_changes()   # a retry of a bump whose answer was lost: the same answer
        else:
            return ErrorCode.PRODUCER_FENCED, -1, -1
        new = new.with_changes(state=EMPTY, partitions=set(), start_ms=-1, last_update_ms=now, timeout_ms=timeout_ms)
        await self._write(shard, new)
        return ErrorCode.NONE, new.producer_id, new.producer_epoch

    # --- AddPartitionsToTxn / AddOffsetsToTxn --------------------------------------------
    def _check_producer(self, transactional_id: str, producer_id: int, epoch: int):
        """(shard, metadata) of a request from the producer, or KafkaError."""
        if not transactional_id:
            raise KafkaError(ErrorCode.INVALID_REQUEST)
        shard = self._shard(transactional_id)
        m = shard.txns.get(transactional_id)
        if m is None or m.producer_id != producer_id:
            raise KafkaError(ErrorCode.INVALID_PRODUCER_ID_MAPPING)
        if m.producer_epoch != epoch:
            raise KafkaError(ErrorCode.PRODUCER_FENCED)
        return shard, m

    async def add_partitions(self, transactional_id: str, producer_id: int, epoch: int,
                             partitions: set[tuple[str, int]]) -> ErrorCode:
        try:
            shard, m = self._check_producer(transactional_id, producer_id, epoch)
            if m.pending is not None or m.state in (PREPARE_COMMIT, PREPARE_ABORT):
                return ErrorCode.CONCURRENT_TRANSACTIONS
            if m.state == ONGOING and partitions <= m.partitions:
                return ErrorCode.NONE
            now = _now()
            start = m.start_ms if m.state == ONGOING else now
            await self._write(shard, m.with_changes(state=ONGOING, partitions=m.partitions | partitions,
                                                   start_ms=start, last_update_ms=now))
        except KafkaError as e:
            return e.code
        return ErrorCode.NONE

    def verify_partitions(self, transactional_id: str, producer_id: int, epoch: int,
                          partitions: list[tuple[str, int]]) -> dict[tuple[str, int], ErrorCode]:
        """AddPartitionsToTxn with VerifyOnly: whether each partition is part
        of the producer's ongoing transaction (TRANSACTION_ABORTABLE if not)."""
        try:
            _, m = self._check_producer(transactional_id, producer_id, epoch)
            if m.state in (PREPARE_COMMIT, PREPARE_ABORT):
                raise KafkaError(ErrorCode.CONCURRENT_TRANSACTIONS)
        except KafkaError as e:
            return {tp: e.code for tp in partitions}
        return {tp: ErrorCode.NONE if m.state == ONGOING and tp in m.partitions else ErrorCode.TRANSACTION_ABORTABLE
                for tp in partitions}

    def check_transactional_write(self, transactional_id: str | None, partition: Any, header: Any,
                                  produce_version: int) -> int | None:
        """Before a transactional batch is appended (KIP-890 part 1): the
        first batch of a transaction in a partition must belong to an ongoing
        transaction that includes it, so that no transaction can hang open
        there without a marker to come. KafkaError if not; the node id of
        the transaction coordinator if it is another broker, which must be
        asked (``verifier``); else None. As in Kafka, a transactional batch
        needs the request's transactional id."""
        if transactional_id is None:
            raise KafkaError(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED)
        if not self.broker.config.get("transaction.partition.verification.enable"):
            return None
        entry = partition.log.producer_state.producers.get(header.producer_id)
        if entry is not None and entry.epoch == header.producer_epoch and entry.txn_first_offset >= 0:
            return None   # its transaction is already open in this partition
        tp = (partition.topic, partition.index)
        registration = self.broker.store.metadata.topics.get(TOPIC)
        if registration is None:
            code = ErrorCode.COORDINATOR_NOT_AVAILABLE   # as Kafka: no coordinator, no transaction begun
        else:
            code = self.verify_partitions(transactional_id, header.producer_id, header.producer_epoch, [tp])[tp]
            if code == ErrorCode.NOT_COORDINATOR and self.broker.cluster is not None:
                leader = registration.partitions[self.runtime.partition_for(transactional_id)].leader
                if leader >= 0 and leader != self.broker.node_id:
                    return leader
        error = verification_error(code, produce_version)
        if error is not None:
            raise error
        return None

    def check_offsets_in_transaction(self, transactional_id: str, producer_id: int, epoch: int,
                                     offsets_partition: int) -> ErrorCode:
        """Before TxnOffsetCommit writes: the group's ``__consumer_offsets``
        partition must be part of the producer's ongoing transaction."""
        if not self.broker.config.get("transaction.partition.verification.enable"):
            return ErrorCode.NONE
        tp = (GROUP_TOPIC, offsets_partition)
        code = self.verify_partitions(transactional_id, producer_id, epoch, [tp])[tp]
        if code == ErrorCode.NOT_COORDINATOR:
            return ErrorCode.NONE   # a coordinator on another broker: not checked here
        return code

    # --- EndTxn ----------------------------------------------------------------------------
    async def end_transaction(self, transactional_id: str, producer_id: int, epoch: int,
                              commit: bool) -> ErrorCode:
        try:
            shard, m = self._check_producer(transactional_id, producer_id, epoch)
        except KafkaError as e:
            return e.code
        if m.pending is not None:
            return ErrorCode.CONCURRENT_TRANSACTIONS
        done, prepared = (COMPLETE_COMMIT, PREPARE_COMMIT) if commit else (COMPLETE_ABORT, PREPARE_ABORT)
        if m.state == done:
            return ErrorCode.NONE            # a retry of an EndTxn that completed
        if m.state == prepared:
            return ErrorCode.CONCURRENT_TRANSACTIONS
        if m.state != ONGOING:
            log.warning("transactional id %s is %s, cannot %s", transactional_id, m.state_name,
                        "commit" if commit else "abort")
            return ErrorCode.INVALID_TXN_STATE
        try:
            await self._write(shard, m.with_changes(state=prepared, last_update_ms=_now()))
        except KafkaError as e:
            return e.code
        self.send_markers(shard, transactional_id)
        return ErrorCode.NONE

    async def _abort(self, shard: TransactionShard, m: TransactionMetadata, fence: bool) -> ErrorCode:
        """Abort an ongoing transaction on the coordinator's own initiative,
        first bumping the epoch when ``fence``."""
        new = m.with_changes(state=PREPARE_ABORT, last_update_ms=_now())
        if fence:
            new = new.with_changes(producer_epoch=m.producer_epoch + 1, last_producer_epoch=NO_PRODUCER_EPOCH)
        try:
            await self._write(shard, new)
        except KafkaError as e:
            return e.code
        self.send_markers(shard, m.transactional_id)
        return ErrorCode.NONE

    # --- markers ---------------------------------------------------------------------------
    def send_markers(self, shard: TransactionShard, transactional_id: str) -> None:
        self._spawn(self._complete(shard, transactional_id))

    async def _complete(self, shard: TransactionShard, transactional_id: str) -> None:
        """Write the markers of a prepared transaction, then its Complete state."""
        m = shard.txns[transactional_id]
        commit = m.state == PREPARE_COMMIT
        m.pending = COMPLETE_COMMIT if commit else COMPLETE_ABORT
        try:
            coordinator_epoch = self._coordinator_epoch(shard)
            remaining = set(m.partitions)
            while remaining:
                if self.runtime.shards.get(shard.partition) is not shard:
                    return   # no longer the coordinator: the new one finishes
                for topic, index in sorted(remaining):
                    code = await self.markers.send(topic, index, m.producer_id, m.producer_epoch,
                                                   coordinator_epoch, commit)
                    if code in (ErrorCode.INVALID_PRODUCER_EPOCH, ErrorCode.TRANSACTION_COORDINATOR_FENCED):
                        log.warning("stopped writing the markers of %s: %s", transactional_id, ErrorCode(code).name)
                        return   # a newer coordinator or producer epoch owns the partition
                    if code == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION and topic in self.broker.store.metadata.topics:
                        continue   # its leader does not know it yet
                    if code in RETRIABLE:
                        continue
                    if code not in (ErrorCode.NONE, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION):   # deleted: nothing to mark
                        log.warning("marker of %s for %s-%d failed: %s", transactional_id, topic, index,
                                    ErrorCode(code).name)
                    remaining.discard((topic, index))
                if remaining:
                    await asyncio.sleep(MARKER_RETRY_BACKOFF_S)
            m.pending = None
            done = m.with_changes(state=COMPLETE_COMMIT if commit else COMPLETE_ABORT, partitions=set(),
                                  last_update_ms=_now())
            while True:
                try:
                    await self._write(shard, done)
                    return
                except KafkaError as e:
                    if e.code == ErrorCode.NOT_COORDINATOR or self.runtime.shards.get(shard.partition) is not shard:
                        return
                    await asyncio.sleep(MARKER_RETRY_BACKOFF_S)
        finally:
            m.pending = None

    # --- timeouts and expiry -----------------------------------------------------------------
    async def _housekeeping(self) -> None:
        config = self.broker.config
        next_expiry = 0.0
        while True:
            await asyncio.sleep(config.get("transaction.abort.timed.out.transaction.cleanup.interval.ms") / 1000)
            await self.abort_timed_out(_now())
            if time.monotonic() >= next_expiry:
                await self.remove_expired(_now())
                next_expiry = time.monotonic() + config.get(
                    "transaction.remove.expired.transaction.cleanup.interval.ms") / 1000

    async def abort_timed_out(self, now_ms: int) -> None:
        """Abort, fencing their producers, the transactions open past their timeout."""
        for shard in list(self.runtime.shards.values()):
            for m in list(shard.txns.values()):
                if m.state == ONGOING and m.pending is None and m.start_ms + m.timeout_ms < now_ms:
                    log.info("aborting transaction %s of producer %d: open longer than %d ms",
                             m.transactional_id, m.producer_id, m.timeout_ms)
                    await self._abort(shard, m, fence=not m.epoch_exhausted)

    async def remove_expired(self, now_ms: int) -> None:
        """Forget transactional ids unused for transactional.id.expiration.ms."""
        expiration = self.broker.config.get("transactional.id.expiration.ms")
        for shard in list(self.runtime.shards.values()):
            for m in list(shard.txns.values()):
                if m.state in (EMPTY, COMPLETE_COMMIT, COMPLETE_ABORT) and m.pending is None \
                        and m.last_update_ms + expiration <= now_ms:
                    try:
                        async with shard.lock:
                            await self.runtime.append(shard, [(record_key(m.transactional_id), None)])
                    except KafkaError:
                        continue
                    if shard.txns.get(m.transactional_id) is m:
                        del shard.txns[m.transactional_id]
