"""The state of idempotent and transactional producers in one partition.

Per producer id, as Kafka's ProducerStateManager keeps it: the epoch, the
metadata (sequence range, offsets, timestamp) of its last 5 batches, the
coordinator epoch of its last transaction marker and the first offset of its
open transaction. From it the leader

- answers a retried batch with the offsets it got the first time instead of
  writing it again (the last 5 batches cover a producer's in-flight requests);
- refuses a sequence gap (OUT_OF_ORDER_SEQUENCE_NUMBER), an older epoch
  (INVALID_PRODUCER_EPOCH) and a marker from an older coordinator
  (TRANSACTION_COORDINATOR_FENCED);
- accepts any sequence from a producer it knows nothing of (KIP-360: its state
  expired or its batches were deleted), so that a producer idle longer than
  producer.id.expiration.ms carries on; but on a partition whose log never
  held a record only sequence 0 (KAFKA-15591);
- knows the open transactions, hence the first unstable offset that bounds the
  last stable offset.

Snapshots ``<offset>.snapshot`` in Kafka's format (version 1: version int16,
CRC-32C uint32 of the rest, then an array of entries) hold the state as of
their offset: taken on segment roll and clean shutdown, loaded on open, the
log replayed from there reading batch headers only. Like Kafka's, they keep
only each producer's last batch.
"""
from __future__ import annotations

import bisect
import logging
import os
import re
import struct
from collections import deque
from typing import Iterable, NamedTuple

from crc32c import crc32c

from wire.records import ABORT, BatchHeader

log = logging.getLogger(__name__)

NUM_BATCHES_TO_RETAIN = 5
SNAPSHOT_SUFFIX = ".snapshot"
SNAPSHOT_VERSION = 1
NO_PRODUCER_EPOCH = -1
NO_SEQUENCE = -1
INT32_MAX = (1 << 31) - 1
_SNAPSHOT_FILE = re.compile(r"^(\d{20})\.snapshot$")
_SNAPSHOT_HEADER = struct.Struct(">hIi")      # version, crc, entry count
_SNAPSHOT_ENTRY = struct.Struct(">qhiqiqiq")  # pid, epoch, last seq, last offset, delta, timestamp, coord epoch, txn start

# Who appends: a producing client (full checks, duplicates answered), a
# coordinator (markers and its own records: epochs only) or a leader being
# replicated (no checks, as the leader made them).
CLIENT = "client"
COORDINATOR = "coordinator"
REPLICATION = "replication"


class ProducerStateError(Exception):
    """An append that the producer state refuses; ``code`` is the Kafka error."""
    code = -1


class OutOfOrderSequence(ProducerStateError):
    code = 45


class InvalidProducerEpoch(ProducerStateError):
    code = 47


class InvalidTxnState(ProducerStateError):
    code = 48


class CoordinatorFenced(ProducerStateError):
    code = 52


def snapshot_path(dir: str, offset: int) -> str:
    return os.path.join(dir, f"{offset:020d}{SNAPSHOT_SUFFIX}")


def decrement_sequence(sequence: int, decrement: int) -> int:
    """Sequences wrap from INT32_MAX to 0."""
    if sequence < decrement:
        return INT32_MAX - (decrement - sequence) + 1
    return sequence - decrement


class BatchMetadata(NamedTuple):
    last_seq: int
    last_offset: int
    offset_delta: int
    timestamp: int

    @property
    def first_seq(self) -> int:
        return decrement_sequence(self.last_seq, self.offset_delta)

    @property
    def first_offset(self) -> int:
        return self.last_offset - self.offset_delta


class ProducerEntry:
    __slots__ = ("producer_id", "epoch", "coordinator_epoch", "last_timestamp", "txn_first_offset", "batches")

    def __init__(self, producer_id: int, epoch: int = NO_PRODUCER_EPOCH, coordinator_epoch: int = -1,
                 last_timestamp: int = -1, txn_first_offset: int = -1, batches: Iterable[BatchMetadata] = ()):
        self.producer_id = producer_id
        self.epoch = epoch
        self.coordinator_epoch = coordinator_epoch
        self.last_timestamp = last_timestamp
        self.txn_first_offset = txn_first_offset   # -1: no open transaction
        self.batches: deque[BatchMetadata] = deque(batches, NUM_BATCHES_TO_RETAIN)

    def copy(self) -> ProducerEntry:
        return ProducerEntry(self.producer_id, self.epoch, self.coordinator_epoch, self.last_timestamp,
                             self.txn_first_offset, self.batches)

    @property
    def last_seq(self) -> int:
        return self.batches[-1].last_seq if self.batches else NO_SEQUENCE

    @property
    def first_seq(self) -> int:
        return self.batches[0].first_seq if self.batches else NO_SEQUENCE

    @property
    def last_data_offset(self) -> int:
        return self.batches[-1].last_offset if self.batches else -1

    def set_epoch(self, epoch: int) -> None:
        """A new epoch starts its sequences afresh."""
        if epoch != self.epoch:
            self.batches.clear()
            self.epoch = epoch

    def find_duplicate(self, h: BatchHeader) -> BatchMetadata | None:
        if h.producer_epoch != self.epoch:
            return None
        first, last = h.base_sequence, h.last_sequence
        for b in self.batches:
            if b.last_seq == last and b.first_seq == first:
                return b
        return None

    def __repr__(self) -> str:
        return (f"ProducerEntry(id={self.producer_id}, epoch={self.epoch}, seq={self.first_seq}..{self.last_seq}, "
                f"txn_first_offset={self.txn_first_offset}, coordinator_epoch={self.coordinator_epoch})")


class CompletedTxn(NamedTuple):
    producer_id: int
    first_offset: int
    last_offset: int    # the offset of its marker
    aborted: bool


class ProducerAppend:
    """The producer state changes of one append, checked batch by batch
    before anything is written and applied after (``ProducerStateManager.apply``)."""

    def __init__(self, manager: ProducerStateManager, origin: str):
        self.manager = manager
        self.origin = origin
        self.entries: dict[int, ProducerEntry] = {}
        # In log order: (first offset, producer id) of a transaction begun,
        # or the CompletedTxn its marker ended.
        self.transactions: list[tuple[int, int] | CompletedTxn] = []

    def _entry(self, producer_id: int) -> tuple[ProducerEntry, ProducerEntry | None]:
        """(entry being updated, entry before this append or None)."""
        current = self.manager.producers.get(producer_id)
        updated = self.entries.get(producer_id)
        if updated is None:
            updated = self.entries[producer_id] = current.copy() if current else ProducerEntry(producer_id)
        return updated, current

    def _check_epoch(self, entry: ProducerEntry, epoch: int, offset: int) -> None:
        if epoch < entry.epoch and self.origin != REPLICATION:
            raise InvalidProducerEpoch(
                f"Epoch of producer {entry.producer_id} at offset {offset} in {self.manager.name} is {epoch}, "
                f"which is smaller than the last seen epoch {entry.epoch}")

    def add_data(self, h: BatchHeader, first_offset: int, last_offset: int, timestamp: int) -> None:
        """A data batch at [first_offset, last_offset] with max timestamp ``timestamp``."""
        pid = h.producer_id
        entry, current = self._entry(pid)
        epoch = h.producer_epoch
        self._check_epoch(entry, epoch, first_offset)
        if self.origin == CLIENT:
            self._check_sequence(entry, current, epoch, h.base_sequence, first_offset)
        entry.set_epoch(epoch)
        entry.batches.append(BatchMetadata(h.last_sequence, last_offset, last_offset - first_offset, timestamp))
        entry.last_timestamp = timestamp
        if entry.txn_first_offset >= 0 and not h.is_transactional and self.origin != REPLICATION:
            raise InvalidTxnState(f"Expected transactional write from producer {pid} at offset {first_offset} "
                                  f"in partition {self.manager.name}")
        if entry.txn_first_offset < 0 and h.is_transactional:
            entry.txn_first_offset = first_offset
            self.transactions.append((first_offset, pid))

    def _check_sequence(self, entry: ProducerEntry, current: ProducerEntry | None, epoch: int, first_seq: int,
                        offset: int) -> None:
        name = self.manager.name
        if epoch != entry.epoch:
            if first_seq != 0 and entry.epoch != NO_PRODUCER_EPOCH:
                raise OutOfOrderSequence(
                    f"Invalid sequence number for new epoch of producer {entry.producer_id} at offset {offset} in "
                    f"partition {name}: {epoch} (request epoch), {first_seq} (seq. number), "
                    f"{entry.epoch} (current producer epoch)")
            if first_seq != 0 and self.manager.map_end_offset == 0:
                # A log that never held a record cannot have lost this
                # producer's state: a later batch overtook its first, which
                # must land first (KAFKA-15591, Kafka 4.5).
                raise OutOfOrderSequence(
                    f"Invalid sequence number for producer {entry.producer_id} at offset {offset} in partition "
                    f"{name}: {first_seq} (incoming seq. number), expected 0 on a partition never written to")
            return
        if current is None or current.epoch == NO_PRODUCER_EPOCH:
            return   # nothing known of this producer: any sequence goes (KIP-360)
        last_seq = entry.last_seq
        if not (first_seq == last_seq + 1 or (first_seq == 0 and last_seq == INT32_MAX)):
            raise OutOfOrderSequence(
                f"Out of order sequence number for producer {entry.producer_id} at offset {offset} in partition "
                f"{name}: {first_seq} (incoming seq. number), {last_seq} (current end sequence number)")

    def add_marker(self, h: BatchHeader, offset: int, control_type: int, coordinator_epoch: int,
                   timestamp: int) -> None:
        """A transaction marker (control batch) at ``offset``."""
        pid = h.producer_id
        entry, _ = self._entry(pid)
        self._check_epoch(entry, h.producer_epoch, offset)
        if entry.coordinator_epoch > coordinator_epoch and self.origin != REPLICATION:
            raise CoordinatorFenced(
                f"Invalid coordinator epoch for producerId {pid} at offset {offset} in partition "
                f"{self.manager.name}: {coordinator_epoch} (zombie), {entry.coordinator_epoch} (current)")
        if entry.txn_first_offset >= 0:
            self.transactions.append(CompletedTxn(pid, entry.txn_first_offset, offset, control_type == ABORT))
        entry.set_epoch(h.producer_epoch)
        entry.coordinator_epoch = coordinator_epoch
        entry.txn_first_offset = -1
        entry.last_timestamp = timestamp


class ProducerStateManager:
    def __init__(self, dir: str, name: str):
        self.dir = dir
        self.name = name   # topic-partition, for messages
        self.producers: dict[int, ProducerEntry] = {}
        # Open transactions by first offset, and completed ones whose marker
        # is not below the high watermark yet: both keep the LSO down.
        self._ongoing: dict[int, int] = {}          # first offset -> producer id
        self._unreplicated: dict[int, int] = {}     # first offset -> marker offset
        self.map_end_offset = 0                     # the state reflects the log below this offset
        self._last_snapshot_offset = -1
        self._snapshots: list[int] = self._list_snapshots()

    # -- appends -----------------------------------------------------------

    def begin(self, origin: str) -> ProducerAppend:
        return ProducerAppend(self, origin)

    def find_duplicate(self, h: BatchHeader) -> BatchMetadata | None:
        """The metadata of a recent batch with the same epoch and sequence range."""
        entry = self.producers.get(h.producer_id)
        return entry.find_duplicate(h) if entry is not None else None

    def check_transaction_v2_start(self, h: BatchHeader) -> None:
        """The batch that starts a transactions-V2 transaction in this
        partition, where the producer has no batches, must carry sequence 0:
        any other means an earlier batch is still on its way (as Kafka)."""
        entry = self.producers.get(h.producer_id)
        if h.base_sequence != 0 and (entry is None or not entry.batches):
            raise OutOfOrderSequence(
                f"Invalid sequence number for producer {h.producer_id} in partition {self.name}: "
                f"{h.base_sequence} (incoming seq. number), expected 0 for a transactions V2 producer with no "
                "existing state")

    def apply(self, append: ProducerAppend) -> list[tuple[CompletedTxn, int]]:
        """Install a checked append once written; returns the transactions it
        completed, each with the last stable offset right after its marker
        (for the transaction index). The caller moves ``map_end_offset`` past
        every append, with producers or not."""
        self.producers.update(append.entries)
        completed = []
        for event in append.transactions:
            if isinstance(event, CompletedTxn):
                completed.append((event, self._last_stable_offset_after(event)))
                self._ongoing.pop(event.first_offset, None)
                self._unreplicated[event.first_offset] = event.last_offset
            else:
                first_offset, pid = event
                self._ongoing[first_offset] = pid
        return completed

    def _last_stable_offset_after(self, txn: CompletedTxn) -> int:
        """The first offset of another producer's open transaction, else the
        offset after ``txn``'s marker."""
        others = [first for first, pid in self._ongoing.items() if pid != txn.producer_id]
        return min(others) if others else txn.last_offset + 1

    def on_high_watermark(self, high_watermark: int) -> None:
        for first, marker in list(self._unreplicated.items()):
            if marker < high_watermark:
                del self._unreplicated[first]

    def first_unstable_offset(self) -> int | None:
        """The first offset of a transaction that is open, or whose marker is
        not yet below the high watermark; None when there is none."""
        candidates = list(self._ongoing) + list(self._unreplicated)
        return min(candidates) if candidates else None

    def ongoing_transactions(self) -> list[tuple[int, int]]:
        """(first offset, producer id) of the open transactions."""
        return sorted(self._ongoing.items())

    def remove_expired(self, now_ms: int, expiration_ms: int) -> None:
        """Forget producers idle for ``expiration_ms`` (producer.id.expiration.ms)
        without an open transaction; their next batch is accepted with any sequence."""
        expired = [pid for pid, e in self.producers.items() if _expired(e, now_ms, expiration_ms)]
        for pid in expired:
            del self.producers[pid]

    # -- loading -----------------------------------------------------------

    def load(self, log_start_offset: int, log_end_offset: int, now_ms: int, expiration_ms: int) -> int:
        """Reset to the latest usable snapshot at or below the log end offset
        (discarding those above it); returns the offset from which the caller
        must replay the log with ``replay``."""
        for offset in [o for o in self._snapshots if o > log_end_offset]:
            self._delete_snapshot(offset)
        self.producers.clear()
        self._ongoing.clear()
        self._unreplicated.clear()
        self._last_snapshot_offset = -1
        while self._snapshots:
            offset = self._snapshots[-1]
            try:
                entries = read_snapshot(snapshot_path(self.dir, offset))
            except (OSError, ValueError) as e:
                log.warning("%s: discarding producer snapshot %d: %s", self.name, offset, e)
                self._delete_snapshot(offset)
                continue
            for entry in entries:
                if not _expired(entry, now_ms, expiration_ms):
                    self.producers[entry.producer_id] = entry
                    if entry.txn_first_offset >= 0:
                        self._ongoing[entry.txn_first_offset] = entry.producer_id
            self._last_snapshot_offset = offset
            self.map_end_offset = max(offset, log_start_offset)
            return self.map_end_offset
        self.map_end_offset = log_start_offset
        return log_start_offset

    def replay(self) -> ProducerAppend:
        """An append without checks, for batches already in the log."""
        return ProducerAppend(self, REPLICATION)

    def truncate_fully(self, offset: int) -> None:
        self.producers.clear()
        self._ongoing.clear()
        self._unreplicated.clear()
        for snapshot in list(self._snapshots):
            self._delete_snapshot(snapshot)
        self.map_end_offset = offset
        self._last_snapshot_offset = -1

    # -- snapshots ---------------------------------------------------------

    def _list_snapshots(self) -> list[int]:
        try:
            names = os.listdir(self.dir)
        except FileNotFoundError:
            return []
        return sorted(int(m.group(1)) for n in names if (m := _SNAPSHOT_FILE.match(n)))

    def take_snapshot(self) -> None:
        """Write the state as of the map end offset, unless already written.
        Not fsynced: a torn snapshot fails its CRC and the log is replayed."""
        offset = self.map_end_offset
        if offset == self._last_snapshot_offset:
            return
        path = snapshot_path(self.dir, offset)
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(encode_snapshot(self.producers.values()))
        os.replace(tmp, path)
        if offset not in self._snapshots:
            bisect.insort(self._snapshots, offset)
        self._last_snapshot_offset = offset

    def delete_snapshots_below(self, offset: int) -> None:
        """Snapshots of deleted segments go, but never the latest one."""
        for snapshot in self._snapshots[:-1]:
            if snapshot < offset:
                self._delete_snapshot(snapshot)

    def _delete_snapshot(self, offset: int) -> None:
        self._snapshots.remove(offset)
        try:
            os.unlink(snapshot_path(self.dir, offset))
        except FileNotFoundError:
            pass

    @property
    def snapshot_offsets(self) -> list[int]:
        return list(self._snapshots)


def _expired(entry: ProducerEntry, now_ms: int, expiration_ms: int) -> bool:
    return entry.txn_first_offset < 0 and now_ms - entry.last_timestamp >= expiration_ms


def encode_snapshot(entries: Iterable[ProducerEntry]) -> bytes:
    body = bytearray()
    count = 0
    for e in entries:
        last = e.batches[-1] if e.batches else None
        body += _SNAPSHOT_ENTRY.pack(
            e.producer_id, e.epoch, last.last_seq if last else NO_SEQUENCE, last.last_offset if last else -1,
            last.offset_delta if last else 0, e.last_timestamp, e.coordinator_epoch, e.txn_first_offset)
        count += 1
    # The CRC covers everything after itself: the entry count and the entries.
    covered = struct.pack(">i", count) + bytes(body)
    return struct.pack(">hI", SNAPSHOT_VERSION, crc32c(covered)) + covered


def read_snapshot(path: str) -> list[ProducerEntry]:
    """Raises ValueError for a file that is not a whole, valid snapshot."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < _SNAPSHOT_HEADER.size:
        raise ValueError("snapshot is truncated")
    version, crc, count = _SNAPSHOT_HEADER.unpack_from(data)
    if version != SNAPSHOT_VERSION:
        raise ValueError(f"unknown snapshot version {version}")
    if crc32c(data[6:]) != crc:
        raise ValueError("snapshot CRC does not match")
    if count < 0 or len(data) != _SNAPSHOT_HEADER.size + count * _SNAPSHOT_ENTRY.size:
        raise ValueError("snapshot size does not match its entry count")
    entries = []
    for i in range(count):
        pid, epoch, seq, offset, delta, ts, coordinator_epoch, txn_first = _SNAPSHOT_ENTRY.unpack_from(
            data, _SNAPSHOT_HEADER.size + i * _SNAPSHOT_ENTRY.size)
        batches = [BatchMetadata(seq, offset, delta, ts)] if offset >= 0 else []
        entries.append(ProducerEntry(pid, epoch, coordinator_epoch, ts, txn_first, batches))
    return entries
