"""The transaction coordinator (Kafka's TransactionCoordinator with its
TransactionStateManager and marker channel), classic protocol (V1) and
transactions V2 (KIP-890 part 2).

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

Transactions V2 (EndTxn v5, Produce v12, TxnOffsetCommit v5): partition
leaders add partitions to the transaction as the producer first writes to
them (``vouch``), and every EndTxn bumps the epoch in its Prepare state, so
the markers carry the new epoch and fence the transaction's late writes; the
producer is answered with the epoch (or, once exhausted, the new producer id)
to go on with.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from ...errors import ErrorCode, KafkaError
from ..runtime import CoordinatorRuntime
from .markers import RETRIABLE, MarkerChannel
from .metadata import (COMPLETE_ABORT, COMPLETE_COMMIT, EMPTY, MAX_EPOCH, NO_PRODUCER_EPOCH, NO_PRODUCER_ID,
                       ONGOING, PREPARE_ABORT, PREPARE_COMMIT, TransactionMetadata, UnknownRecord, parse_record,
                       record_key, record_value)
from .verification import RemoteCoordinator

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
        self.remote = RemoteCoordinator(broker)
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
        self.remote.close()

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
            new.last_producer_id = current.producer_id   # as Kafka keeps PreviousProducerId
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
            code = await self._abort(shard, m)
            return (ErrorCode.CONCURRENT_TRANSACTIONS if code == ErrorCode.NONE else code), -1, -1
        now = _now()
        if m.epoch_exhausted and (not expected or expected_epoch == m.producer_epoch):
            producer_id = await self._new_producer_id(m, EMPTY)
            new = m.with_changes(producer_id=producer_id, producer_epoch=0,
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
                             partitions: set[tuple[str, int]], client_version: int = 0) -> ErrorCode:
        """AddPartitionsToTxn: from the producer (classic, ``client_version``
        0) or from a partition leader on its behalf (V2, 2)."""
        try:
            shard, m = self._check_producer(transactional_id, producer_id, epoch)
            if m.pending is not None or m.state in (PREPARE_COMMIT, PREPARE_ABORT):
                return ErrorCode.CONCURRENT_TRANSACTIONS
            if m.state == ONGOING and partitions <= m.partitions:
                return ErrorCode.NONE
            now = _now()
            start = m.start_ms if m.state == ONGOING else now
            await self._write(shard, m.with_changes(state=ONGOING, partitions=m.partitions | partitions,
                                                   start_ms=start, last_update_ms=now, client_version=client_version))
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

    def needs_vouching(self, transactional_id: str | None, partition: Any, header: Any, adds: bool) -> bool:
        """Before a transactional batch is appended: whether the transaction
        coordinator must first vouch for it (``vouch``). The first batch of a
        transaction in a partition must belong to an ongoing transaction that
        includes the partition (KIP-890 part 1), or, when the producer
        ``adds`` it (V2), be added to it. As in Kafka, a transactional batch
        needs the request's transactional id (KafkaError otherwise)."""
        if transactional_id is None:
            raise KafkaError(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED)
        if not adds and not self.broker.config.get("transaction.partition.verification.enable"):
            return False
        entry = partition.log.producer_state.producers.get(header.producer_id)
        # Its transaction already open in this partition: nothing to ask.
        return not (entry is not None and entry.epoch == header.producer_epoch and entry.txn_first_offset >= 0)

    async def vouch(self, transactional_id: str, producer_id: int, epoch: int, partitions: list[tuple[str, int]],
                    add: bool) -> dict[tuple[str, int], ErrorCode]:
        """The transaction coordinator's word on ``partitions`` of the
        producer's transaction, as Kafka's AddPartitionsToTxnManager gets it:
        it adds them (``add``, transactions V2) or checks they were added.
        Asked here or, when it is another broker, with AddPartitionsToTxn v4.
        An add refused with CONCURRENT_TRANSACTIONS (the previous transaction
        still writing its markers) is retried for a moment."""
        config = self.broker.config
        backoff = config.get("add.partitions.to.txn.retry.backoff.ms") / 1000
        deadline = time.monotonic() + min(config.get("add.partitions.to.txn.retry.backoff.max.ms"),
                                          config.get("request.timeout.ms")) / 1000
        while True:
            codes = await self._ask(transactional_id, producer_id, epoch, partitions, add)
            if not (add and ErrorCode.CONCURRENT_TRANSACTIONS in codes.values()) \
                    or time.monotonic() + backoff > deadline:
                break
            await asyncio.sleep(backoff)
        return {tp: ErrorCode.INVALID_PRODUCER_EPOCH if code == ErrorCode.PRODUCER_FENCED else ErrorCode(code)
                for tp, code in codes.items()}

    async def _ask(self, transactional_id: str, producer_id: int, epoch: int, partitions: list[tuple[str, int]],
                   add: bool) -> dict[tuple[str, int], ErrorCode]:
        registration = self.broker.store.metadata.topics.get(TOPIC)
        if registration is None:   # as Kafka: no coordinator, no transaction begun
            return dict.fromkeys(partitions, ErrorCode.COORDINATOR_NOT_AVAILABLE)
        if add:
            codes = dict.fromkeys(partitions, await self.add_partitions(transactional_id, producer_id, epoch,
                                                                       set(partitions), client_version=2))
        else:
            codes = self.verify_partitions(transactional_id, producer_id, epoch, partitions)
        if ErrorCode.NOT_COORDINATOR in codes.values() and self.broker.cluster is not None:
            leader = registration.partitions[self.runtime.partition_for(transactional_id)].leader
            if leader >= 0 and leader != self.broker.node_id:
                return await self.remote.ask(leader, transactional_id, producer_id, epoch, partitions, add)
        return codes

    # --- EndTxn ----------------------------------------------------------------------------
    async def end_transaction(self, transactional_id: str, producer_id: int, epoch: int, commit: bool,
                              v2: bool = False) -> tuple[ErrorCode, int, int]:
        """EndTxn: (error, producer id, epoch the producer goes on with); the
        classic protocol answers -1, -1."""
        try:
            if v2:
                return await self._end_v2(transactional_id, producer_id, epoch, commit)
            shard, m = self._check_producer(transactional_id, producer_id, epoch)
        except KafkaError as e:
            return e.code, -1, -1
        if m.pending is not None:
            return ErrorCode.CONCURRENT_TRANSACTIONS, -1, -1
        done, prepared = (COMPLETE_COMMIT, PREPARE_COMMIT) if commit else (COMPLETE_ABORT, PREPARE_ABORT)
        if m.state == done:
            return ErrorCode.NONE, -1, -1            # a retry of an EndTxn that completed
        if m.state == prepared:
            return ErrorCode.CONCURRENT_TRANSACTIONS, -1, -1
        if m.state != ONGOING:
            log.warning("transactional id %s is %s, cannot %s", transactional_id, m.state_name,
                        "commit" if commit else "abort")
            return ErrorCode.INVALID_TXN_STATE, -1, -1
        try:
            await self._prepare_end(shard, m, commit, bump=False)
        except KafkaError as e:
            return e.code, -1, -1
        return ErrorCode.NONE, -1, -1

    async def _end_v2(self, transactional_id: str, producer_id: int, epoch: int,
                      commit: bool) -> tuple[ErrorCode, int, int]:
        """EndTxn v5: the epoch is bumped in the Prepare state. A retry from a
        producer that missed the answer comes with the epoch before the bump
        (or the producer id before a rotation) and gets the same answer."""
        if not transactional_id:
            raise KafkaError(ErrorCode.INVALID_REQUEST)
        shard = self._shard(transactional_id)
        m = shard.txns.get(transactional_id)
        if m is None:
            raise KafkaError(ErrorCode.INVALID_PRODUCER_ID_MAPPING)
        if m.pending is not None:
            raise KafkaError(ErrorCode.CONCURRENT_TRANSACTIONS)
        retry_on_rotation = (producer_id == m.last_producer_id != m.producer_id and epoch == MAX_EPOCH - 1
                             and m.producer_epoch == 0)
        retry_on_bump = m.producer_epoch == epoch + 1
        if producer_id != m.producer_id and not retry_on_rotation:
            raise KafkaError(ErrorCode.INVALID_PRODUCER_ID_MAPPING)
        if m.state in (PREPARE_COMMIT, PREPARE_ABORT):
            valid = retry_on_bump
        elif m.state in (COMPLETE_COMMIT, COMPLETE_ABORT):
            valid = retry_on_bump or retry_on_rotation or epoch == m.producer_epoch
        else:
            valid = epoch == m.producer_epoch
        if not valid:
            raise KafkaError(ErrorCode.PRODUCER_FENCED)
        retry = retry_on_bump or retry_on_rotation
        if m.state in (PREPARE_COMMIT, PREPARE_ABORT):
            same = (m.state == PREPARE_COMMIT) == commit
            raise KafkaError(ErrorCode.CONCURRENT_TRANSACTIONS if same else ErrorCode.INVALID_TXN_STATE)
        if m.state == (COMPLETE_COMMIT if commit else COMPLETE_ABORT) and retry:
            return ErrorCode.NONE, m.producer_id, m.producer_epoch
        if m.state != ONGOING and (commit or retry):
            log.warning("transactional id %s is %s, cannot %s", transactional_id, m.state_name,
                        "commit" if commit else "abort")
            raise KafkaError(ErrorCode.INVALID_TXN_STATE)
        # Ongoing, or an abort of nothing (Empty, Complete*): prepared anyway,
        # which bumps the epoch.
        prepared = await self._prepare_end(shard, m.with_changes(client_version=2), commit, bump=True)
        if prepared.next_producer_id != NO_PRODUCER_ID:
            return ErrorCode.NONE, prepared.next_producer_id, 0
        return ErrorCode.NONE, prepared.producer_id, prepared.producer_epoch

    async def _prepare_end(self, shard: TransactionShard, m: TransactionMetadata, commit: bool,
                           bump: bool) -> TransactionMetadata:
        """Make the transaction PrepareCommit/PrepareAbort, first bumping the
        epoch when ``bump`` (V2, or to fence its producer), then write its
        markers. An exhausted epoch is bumped once more, to the last, and the
        producer moves to a new id when the transaction completes."""
        now = _now()
        new = m.with_changes(state=PREPARE_COMMIT if commit else PREPARE_ABORT, last_update_ms=now)
        if m.state != ONGOING:
            new = new.with_changes(start_ms=now)   # V2's abort of nothing: a transaction of its own
        if bump and m.producer_epoch < MAX_EPOCH:
            # As Kafka 4.4: the producer's InitProducerId at the old epoch is
            # then a retry (KIP-360), answered with the bumped one.
            new = new.with_changes(producer_epoch=m.producer_epoch + 1, last_producer_epoch=m.producer_epoch)
            if m.epoch_exhausted:
                new = new.with_changes(next_producer_id=await self._new_producer_id(
                    shard.txns[m.transactional_id], new.state))
        await self._write(shard, new)
        self.send_markers(shard, m.transactional_id)
        return new

    async def _abort(self, shard: TransactionShard, m: TransactionMetadata) -> ErrorCode:
        """Abort an ongoing transaction on the coordinator's own initiative,
        bumping the epoch to fence its producer, as V2 does (Kafka 4.4 aborts
        so with transaction.version 2 finalized, whatever the client's)."""
        try:
            await self._prepare_end(shard, m.with_changes(client_version=2), commit=False, bump=True)
        except KafkaError as e:
            return e.code
        return ErrorCode.NONE

    async def _new_producer_id(self, m: TransactionMetadata, pending: int) -> int:
        """A producer id for ``m`` to move to; meanwhile ``m`` is marked as
        becoming ``pending``, so that nothing else changes it."""
        m.pending = pending
        try:
            return await self.broker.producer_ids.generate()
        finally:
            m.pending = None

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
            if m.next_producer_id != NO_PRODUCER_ID:
                done = done.with_changes(producer_id=m.next_producer_id, producer_epoch=0,
                                         next_producer_id=NO_PRODUCER_ID)
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
                    await self._abort(shard, m)

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
