"""A partition's log: ordered segments, the last one active.

All methods run on the broker's event loop thread. Slow blocking work
(fsync, unlinking files) is handed to ``run_blocking(work, done)``: it runs
``work()`` wherever the caller likes (a thread pool, or inline) and then
``done(result)`` back on the loop thread. ``work`` only touches duplicated
descriptors and paths, never the log's own state.
"""
from __future__ import annotations

import bisect
import logging
import os
import re
import time
from typing import Any, Callable, NamedTuple

from wire.records import (ABORT, COMMIT, BatchHeader, RecordsError, decode_records, parse_control_record,
                          parse_header, set_base_offset, set_log_append_time, set_partition_leader_epoch)

from .checkpoints import fsync_dir
from .errors import OffsetOutOfRange, UnexpectedAppendOffset
from .leader_epoch import LeaderEpochCache
from .log_config import LogConfig
from .producer_state import CLIENT, COORDINATOR, REPLICATION, CompletedTxn, ProducerAppend, ProducerStateManager
from .txn_index import AbortedTxn
from .segment import INDEX_SUFFIX, INT32_MAX, LOG_SUFFIX, SUFFIXES, TIME_INDEX_SUFFIX, LogSegment, iter_batches

log = logging.getLogger(__name__)

RunBlocking = Callable[[Callable[[], Any], Callable[[Any], None]], None]

LEADER_EPOCH_FILE = "leader-epoch-checkpoint"
DELETED_SUFFIX = ".deleted"
CLEANED_SUFFIX = ".cleaned"
SWAP_SUFFIX = ".swap"
_PARTITION_DIR = re.compile(r"^(.+)-(\d+)$")
_SEGMENT_FILE = re.compile(r"^(\d{20})(\.log|\.index|\.timeindex|\.txnindex)$")


def run_inline(work: Callable[[], Any], done: Callable[[Any], None]) -> None:
    done(work())


def unlink_all(paths: list[str]) -> None:
    for path in paths:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def parse_partition_dir(name: str) -> tuple[str, int] | None:
    """``"orders-3"`` -> ``("orders", 3)``; None for anything else."""
    m = _PARTITION_DIR.match(name)
    return (m.group(1), int(m.group(2))) if m else None


def time_ms() -> int:
    return time.time_ns() // 1_000_000


class AppendInfo(NamedTuple):
    first_offset: int
    last_offset: int
    max_timestamp: int
    offset_of_max_timestamp: int   # last offset of the (first) batch holding max_timestamp
    # -1 unless the topic uses LogAppendTime; for a duplicate, as in Kafka,
    # the timestamp of the batch it repeats.
    log_append_time: int
    duplicate: bool = False        # a retried batch already in the log: nothing was written


class PartitionLog:
    """Open with :meth:`open`."""

    def __init__(self, dir: str, config: LogConfig, *, run_blocking: RunBlocking,
                 delete_files: Callable[[list[str], int], None] | None, clock: Callable[[], int]):
        self.dir = dir
        self.topic, self.partition = parse_partition_dir(os.path.basename(dir)) or (os.path.basename(dir), 0)
        self.config = config
        self._run_blocking = run_blocking
        # delete_files(paths, delay_ms): unlink renamed-away segment files,
        # after file.delete.delay.ms if the owner honours it.
        self._delete_files_hook = delete_files or (lambda paths, _: run_blocking(lambda: unlink_all(paths),
                                                                                 lambda _: None))
        self._clock = clock
        self._segments: list[LogSegment] = []
        self._bases: list[int] = []
        self._leo = 0
        self._log_start_offset = 0
        self._recovery_point = 0
        # Bumped whenever offsets can be reused (truncation, segment swaps), so
        # background work started before does not act on stale facts.
        self.generation = 0
        self.last_flush_ms = clock()
        self.leader_epochs = LeaderEpochCache(os.path.join(dir, LEADER_EPOCH_FILE))
        self.producer_state = ProducerStateManager(dir, f"{self.topic}-{self.partition}")
        self._high_watermark = 0   # as last told by the partition (on_high_watermark)
        self.closed = False

    # -- opening -----------------------------------------------------------

    @classmethod
    def open(cls, dir: str, config: LogConfig, *, recovery_point: int = 0, log_start_offset: int = 0,
             clean_shutdown: bool = False, run_blocking: RunBlocking = run_inline,
             delete_files: Callable[[list[str], int], None] | None = None,
             clock: Callable[[], int] = time_ms) -> PartitionLog:
        """Open (creating if needed) the log in ``dir``. After an unclean
        shutdown every segment from ``recovery_point`` on is revalidated and a
        torn or corrupt tail is cut off; after a clean one nothing is read but
        the tail of the active segment."""
        os.makedirs(dir, exist_ok=True)
        self = cls(dir, config, run_blocking=run_blocking, delete_files=delete_files, clock=clock)
        now = clock()
        bases = self._tidy_files()
        for base in bases:
            self._add_segment(LogSegment.open(dir, base, now_ms=now,
                                              index_interval_bytes=config.index_interval_bytes))
        if not self._segments:
            self._add_segment(self._new_segment(log_start_offset, now))
        if clean_shutdown:
            self._leo = self._active.next_offset()
            self._recovery_point = self._leo
        else:
            self._recover(recovery_point)
            self._recovery_point = min(recovery_point, self._leo)
        self._log_start_offset = min(max(log_start_offset, self._bases[0]), self._leo)
        self.leader_epochs.truncate_from_end(self._leo)
        self.leader_epochs.truncate_from_start(self._log_start_offset)
        self._load_producer_state(now)
        return self

    def _tidy_files(self) -> list[int]:
        """Finish or undo what a crash interrupted; return the segment base offsets."""
        names = os.listdir(self.dir)
        for name in names:
            if name.endswith((DELETED_SUFFIX, CLEANED_SUFFIX, ".tmp")):
                os.unlink(os.path.join(self.dir, name))
        for name in names:
            if name.endswith(LOG_SUFFIX + SWAP_SUFFIX):
                self._complete_swap(int(name[:20]))
        names = os.listdir(self.dir)
        for name in names:
            if name.endswith(SWAP_SUFFIX):   # index files whose log never made it to .swap
                os.unlink(os.path.join(self.dir, name))
        bases = []
        for name in names:
            m = _SEGMENT_FILE.match(name)
            if m and m.group(2) == LOG_SUFFIX:
                bases.append(int(m.group(1)))
        for name in names:
            m = _SEGMENT_FILE.match(name)
            if m and m.group(2) != LOG_SUFFIX and int(m.group(1)) not in bases:
                os.unlink(os.path.join(self.dir, name))
        return sorted(bases)

    def _complete_swap(self, base: int) -> None:
        """A cleaned segment was committed (renamed to .swap) but the old
        segments it replaces may still be there: remove every old segment
        starting in its offset range, then give it its final name."""
        path = os.path.join(self.dir, f"{base:020d}")
        fd = os.open(path + LOG_SUFFIX + SWAP_SUFFIX, os.O_RDONLY)
        try:
            end = base
            for _, view in iter_batches(fd, 0, os.fstat(fd).st_size):
                end = parse_header(view).last_offset + 1
        finally:
            os.close(fd)
        for name in os.listdir(self.dir):
            m = _SEGMENT_FILE.match(name)
            if m and base <= int(m.group(1)) < max(end, base + 1):
                os.unlink(os.path.join(self.dir, name))
        for suffix in (INDEX_SUFFIX, TIME_INDEX_SUFFIX, LOG_SUFFIX):
            if os.path.exists(path + suffix + SWAP_SUFFIX):
                os.rename(path + suffix + SWAP_SUFFIX, path + suffix)
        log.info("completed interrupted segment swap at %s", path)

    def _recover(self, recovery_point: int) -> None:
        """Revalidate every segment holding offsets at or after the recovery
        point; after the first damaged one, later segments cannot be trusted."""
        start = max(0, bisect.bisect_right(self._bases, recovery_point) - 1)
        epochs = self.leader_epochs

        def note_epoch(h: BatchHeader) -> None:
            if h.partition_leader_epoch > epochs.latest_epoch:
                epochs.assign(h.partition_leader_epoch, h.base_offset)

        for i in range(start, len(self._segments)):
            seg = self._segments[i]
            if seg.rebuild(validate=True, on_batch=note_epoch) and i + 1 < len(self._segments):
                dropped = self._segments[i + 1:]
                log.warning("%s: dropping %d segments after a damaged one", self.dir, len(dropped))
                for s in dropped:
                    unlink_all(s.rename_to_deleted())
                del self._segments[i + 1:], self._bases[i + 1:]
                break
        self._leo = self._active.next_offset()
        self._active.txn_index.truncate_to(self._leo)

    def _load_producer_state(self, now: int) -> None:
        """Producer state from the latest snapshot, then the log after it
        replayed by batch headers (control batches read whole: one record)."""
        state = self.producer_state
        start = state.load(self._log_start_offset, self._leo, now, self.config.producer_id_expiration_ms)
        if start < self._leo:
            replay = state.replay()
            i = max(0, bisect.bisect_right(self._bases, start) - 1)
            for seg in self._segments[i:]:
                found = seg.find_batch(start)
                if found is None:
                    continue
                for pos, h in seg.read_batch_headers(found[0]):
                    if h.producer_id >= 0:
                        batch = seg.read_at(pos, h.size) if h.is_control else None
                        _track_producer(replay, h, h.base_offset, h.last_offset, h.max_timestamp, batch)
            self._complete_txns(state.apply(replay))
        state.map_end_offset = self._leo
        state.on_high_watermark(min(self._high_watermark, self._leo))
        state.remove_expired(now, self.config.producer_id_expiration_ms)

    def _new_segment(self, base: int, now: int) -> LogSegment:
        return LogSegment.create(self.dir, base, now_ms=now, index_interval_bytes=self.config.index_interval_bytes)

    def _add_segment(self, seg: LogSegment) -> None:
        self._segments.append(seg)
        self._bases.append(seg.base_offset)

    # -- properties --------------------------------------------------------

    @property
    def _active(self) -> LogSegment:
        return self._segments[-1]

    @property
    def log_start_offset(self) -> int:
        return self._log_start_offset

    @property
    def log_end_offset(self) -> int:
        return self._leo

    @property
    def recovery_point(self) -> int:
        return self._recovery_point

    @property
    def unflushed_messages(self) -> int:
        return self._leo - self._recovery_point

    @property
    def size_in_bytes(self) -> int:
        return sum(s.size for s in self._segments)

    @property
    def segments(self) -> tuple[LogSegment, ...]:
        return tuple(self._segments)

    def in_dir(self, log_dir: str) -> bool:
        """Whether this log lives in the log directory ``log_dir``."""
        return os.path.dirname(os.path.abspath(self.dir)) == os.path.abspath(log_dir)

    @property
    def latest_epoch(self) -> int:
        """-1 when no epoch is known."""
        return self.leader_epochs.latest_epoch

    def end_offset_for_epoch(self, epoch: int) -> tuple[int, int]:
        """(epoch, end offset) for OffsetForLeaderEpoch; (-1, -1) if unknown."""
        return self.leader_epochs.end_offset_for(epoch, self._leo)

    def epoch_for_offset(self, offset: int) -> int:
        """The leader epoch that wrote ``offset`` (ListOffsets), -1 if unknown."""
        return self.leader_epochs.epoch_for_offset(offset)

    def _delete_files(self, paths: list[str]) -> None:
        self._delete_files_hook(paths, self.config.file_delete_delay_ms)

    def _now(self, now_ms: int | None) -> int:
        return self._clock() if now_ms is None else now_ms

    # -- appending ---------------------------------------------------------

    def append(self, data: bytearray, headers: list[BatchHeader], leader_epoch: int,
               now_ms: int | None = None, origin: str = COORDINATOR) -> AppendInfo:
        """Append validated v2 batches as a leader: assign offsets from the log
        end offset by rewriting each batch's baseOffset and
        partitionLeaderEpoch in place (and its timestamp for LogAppendTime).

        Batches of idempotent and transactional producers are checked against
        the producer state first (raising a ProducerStateError); with
        ``origin`` CLIENT (the Produce path) sequences are checked too and a
        retried batch is answered with its first append's offsets, unwritten."""
        now = self._now(now_ms)
        append_time = self.config.log_append_time
        first = offset = self._leo
        pos = 0
        batches = []
        max_ts, offset_of_max = -1, -1
        producers: ProducerAppend | None = None
        for h in headers:
            size = h.size
            set_base_offset(data, pos, offset)
            set_partition_leader_epoch(data, pos, leader_epoch)
            ts = h.max_timestamp
            if append_time:
                set_log_append_time(data, pos, now)
                ts = now
            last = offset + h.last_offset_delta
            if h.producer_id >= 0:
                if origin == CLIENT and not h.is_control:
                    duplicate = self.producer_state.find_duplicate(h)
                    if duplicate is not None:
                        return AppendInfo(duplicate.first_offset, duplicate.last_offset, duplicate.timestamp,
                                          duplicate.last_offset, duplicate.timestamp, duplicate=True)
                if producers is None:
                    producers = self.producer_state.begin(origin)
                _track_producer(producers, h, offset, last, ts, memoryview(data)[pos:pos + size])
            if ts > max_ts:
                max_ts, offset_of_max = ts, last
            batches.append((pos, last, ts, size))
            offset = last + 1
            pos += size
        if not headers or pos != len(data):
            raise ValueError(f"batch headers describe {pos} bytes, data has {len(data)}")
        self._write(data, batches, first, max_ts, now)
        self._producers_appended(producers)
        if leader_epoch > self.latest_epoch:
            self.leader_epochs.assign(leader_epoch, first)
        return AppendInfo(first, offset - 1, max_ts, offset_of_max, now if append_time else -1)

    def append_replicated(self, data: bytearray, headers: list[BatchHeader],
                          now_ms: int | None = None) -> AppendInfo:
        """Append batches as a follower, keeping their offsets. They must be
        increasing and start at or after the log end offset (a compacted
        leader may leave gaps, as in Kafka)."""
        now = self._now(now_ms)
        expected = self._leo
        pos = 0
        batches = []
        new_epochs = []
        max_ts, offset_of_max = -1, -1
        producers: ProducerAppend | None = None
        for h in headers:
            if h.base_offset < expected:
                raise UnexpectedAppendOffset(
                    f"batch at offset {h.base_offset} but the log expects {expected} or later")
            last = h.last_offset
            if h.producer_id >= 0:
                if producers is None:
                    producers = self.producer_state.begin(REPLICATION)
                _track_producer(producers, h, h.base_offset, last, h.max_timestamp,
                                memoryview(data)[pos:pos + h.size])
            if h.max_timestamp > max_ts:
                max_ts, offset_of_max = h.max_timestamp, last
            batches.append((pos, last, h.max_timestamp, h.size))
            epoch = h.partition_leader_epoch
            if epoch > (new_epochs[-1][0] if new_epochs else self.latest_epoch):
                new_epochs.append((epoch, h.base_offset))
            expected = last + 1
            pos += h.size
        if not headers or pos != len(data):
            raise ValueError(f"batch headers describe {pos} bytes, data has {len(data)}")
        self._write(data, batches, headers[0].base_offset, max_ts, now)
        self._producers_appended(producers)
        for epoch, start in new_epochs:
            self.leader_epochs.assign(epoch, start)
        return AppendInfo(headers[0].base_offset, expected - 1, max_ts, offset_of_max, -1)

    def _write(self, data, batches: list[tuple[int, int, int, int]], first: int, max_ts: int, now: int) -> None:
        last = batches[-1][1]
        if self._should_roll(len(data), len(batches), last, max_ts, now):
            self._roll(first, now)
        self._active.append(data, batches)
        self._leo = last + 1
        if self.unflushed_messages >= self.config.flush_messages:
            self.flush()

    def _producers_appended(self, producers: ProducerAppend | None) -> None:
        """Install the producer state of an append now written, indexing the
        transactions it aborted."""
        if producers is not None:
            self._complete_txns(self.producer_state.apply(producers))
        self.producer_state.map_end_offset = self._leo

    def _complete_txns(self, completed: list[tuple[CompletedTxn, int]]) -> None:
        """Index the aborted ones among completed transactions, in the segment
        of their marker."""
        for txn, last_stable_offset in completed:
            if txn.aborted:
                seg = self._segments[bisect.bisect_right(self._bases, txn.last_offset) - 1]
                seg.txn_index.add(AbortedTxn(txn.producer_id, txn.first_offset, txn.last_offset,
                                             last_stable_offset))

    def _should_roll(self, n_bytes: int, n_batches: int, last: int, max_ts: int, now: int) -> bool:
        seg, cfg = self._active, self.config
        if last - seg.base_offset > INT32_MAX:
            return True   # offsets would not fit the index's 32-bit relative offsets
        if seg.size == 0:
            return False
        rolling_ts = seg.rolling_timestamp()
        waited = max_ts - rolling_ts if rolling_ts >= 0 else now - seg.created_ms
        return (seg.size > cfg.segment_bytes - n_bytes
                or waited > cfg.segment_ms
                or len(seg.offset_index) + n_batches > cfg.segment_index_bytes // 8
                or len(seg.time_index) + n_batches > cfg.segment_index_bytes // 12)

    def roll(self, now_ms: int | None = None) -> None:
        """Start a new active segment at the log end offset."""
        self._roll(self._leo, self._now(now_ms))

    def _roll(self, base: int, now: int) -> None:
        # As in Kafka, the producer state as of each segment's start is kept
        # beside it, so that recovery replays at most the segments after it.
        self.producer_state.map_end_offset = base
        self.producer_state.take_snapshot()
        old = self._active
        if old.size == 0:
            # Nothing to keep: re-base the empty segment, as Kafka does.
            self._segments.pop()
            self._bases.pop()
            old.close()
            unlink_all([old.log_path, old.index_path, old.time_index_path])
            self._add_segment(self._new_segment(base, now))
            return
        old.on_become_inactive()
        self._add_segment(self._new_segment(base, now))
        # As in Kafka, a segment is made durable in the background once it
        # stops being active: that is what moves the recovery point on.
        self.flush(up_to=base)
        old.close_index_files()

    # -- reading -----------------------------------------------------------

    def read(self, offset: int, max_bytes: int, max_offset: int | None = None,
             min_one_batch: bool = True) -> bytes | memoryview:
        """Whole stored batches starting with the one containing ``offset``
        (which may start before it), none reaching ``max_offset`` (exclusive;
        the high watermark or last stable offset), at most ``max_bytes`` in
        all unless the first one alone is larger and ``min_one_batch``."""
        if offset < self._log_start_offset or offset > self._leo:
            raise OffsetOutOfRange(offset, self._log_start_offset, self._leo)
        upper = self._leo if max_offset is None else min(max_offset, self._leo)
        if offset >= upper:
            return b""
        if max_bytes < 0:   # refused only once a segment is to be read, as Kafka's LogSegment.read does
            raise ValueError(f"Invalid max size {max_bytes} for log read")
        i = max(0, bisect.bisect_right(self._bases, offset) - 1)
        for seg in self._segments[i:]:
            data = seg.read(offset, max_bytes, upper, min_one_batch)
            if data is not None:
                return data
        return b""

    def offset_for_timestamp(self, timestamp: int) -> tuple[int, int, int] | None:
        """(offset, timestamp, leader epoch of its batch) of the first record
        whose timestamp is >= ``timestamp`` (ListOffsets by time), None if
        there is none."""
        for seg in self._segments:
            if seg.largest_timestamp() >= timestamp:
                break
        else:
            return None
        start = self._log_start_offset
        _, indexed_offset = seg.time_index.lookup(timestamp)
        _, position = seg.offset_index.lookup(max(indexed_offset, start))
        for pos, h in seg.read_batch_headers(position):
            if h.max_timestamp >= timestamp and h.last_offset >= start:
                for r in decode_records(seg.read_at(pos, h.size)):
                    if r.timestamp >= timestamp and r.offset >= start:
                        return r.offset, r.timestamp, h.partition_leader_epoch
        return None

    def max_timestamp_offset(self) -> tuple[int, int, int] | None:
        """(offset, timestamp, leader epoch of its batch) of the first record
        with the largest timestamp (ListOffsets MAX_TIMESTAMP), None if no
        record has a timestamp. As in Kafka the epoch is the one stored in the
        batch, known even once the log start offset passed the record."""
        best = None
        for seg in self._segments:
            ts, offset = seg.max_timestamp_and_offset
            if ts >= 0 and (best is None or ts > best[0]):
                best = (ts, offset, seg)
        if best is None:
            return None
        ts, offset, seg = best
        found = seg.find_batch(offset)
        if found is not None:
            pos, _, _, size = found
            data = seg.read_at(pos, size)
            for r in decode_records(data):
                if r.timestamp == ts:
                    return r.offset, ts, parse_header(data).partition_leader_epoch
        return offset, ts, -1

    # -- transactions ------------------------------------------------------

    @property
    def first_unstable_offset(self) -> int | None:
        """The first offset of a transaction not yet decided (or whose marker
        is above the high watermark): the LSO cannot pass it. None if none."""
        offset = self.producer_state.first_unstable_offset()
        return None if offset is None else max(offset, self._log_start_offset)

    @property
    def first_undecided_offset(self) -> int | None:
        """The first offset of an open transaction (None if none): what
        compaction must not reach."""
        ongoing = self.producer_state.ongoing_transactions()
        return ongoing[0][0] if ongoing else None

    def on_high_watermark(self, high_watermark: int) -> None:
        """Transactions whose marker is below the high watermark no longer hold the LSO back."""
        self._high_watermark = high_watermark
        self.producer_state.on_high_watermark(high_watermark)

    def collect_aborted_transactions(self, start: int, end: int) -> list[AbortedTxn]:
        """Aborted transactions overlapping offsets [start, end), from the
        transaction indexes of the segment holding ``start`` and after it."""
        found = []
        i = max(0, bisect.bisect_right(self._bases, start) - 1)
        for seg in self._segments[i:]:
            txns, complete = seg.txn_index.collect(start, end)
            found += txns
            if complete:
                break
        return found

    def remove_expired_producers(self, now_ms: int | None = None) -> None:
        self.producer_state.remove_expired(self._now(now_ms), self.config.producer_id_expiration_ms)

    # -- truncation and deletion ------------------------------------------

    def truncate_to(self, offset: int, now_ms: int | None = None) -> None:
        """Drop every offset >= ``offset`` (a follower's truncation), together
        with index and leader epoch entries."""
        if offset >= self._leo:
            return
        if offset < self._log_start_offset:
            self.truncate_fully_and_start_at(offset, now_ms)
            return
        self.generation += 1
        keep = bisect.bisect_right(self._bases, offset)
        for seg in self._segments[keep:]:
            self._delete_files(seg.rename_to_deleted())
        del self._segments[keep:], self._bases[keep:]
        self._active.truncate_to(offset, self._now(now_ms))
        self._leo = self._active.next_offset()
        self._log_start_offset = min(self._log_start_offset, self._leo)
        self._recovery_point = min(self._recovery_point, self._leo)
        self.leader_epochs.truncate_from_end(self._leo)
        self._load_producer_state(self._now(now_ms))

    def truncate_fully_and_start_at(self, offset: int, now_ms: int | None = None) -> None:
        """Empty the log and restart it at ``offset``."""
        self.generation += 1
        for seg in self._segments:
            self._delete_files(seg.rename_to_deleted())
        self._segments, self._bases = [], []
        self._add_segment(self._new_segment(offset, self._now(now_ms)))
        self._leo = self._log_start_offset = self._recovery_point = offset
        self.leader_epochs.clear()
        self.producer_state.truncate_fully(offset)

    def delete_records_before(self, offset: int) -> int:
        """DeleteRecords: move the log start offset up to ``offset`` (which may
        lie inside a segment) and delete the segments wholly below it.
        Returns the new log start offset (the partition's low watermark)."""
        if offset > self._leo:
            raise OffsetOutOfRange(offset, self._log_start_offset, self._leo)
        if offset > self._log_start_offset:
            self._log_start_offset = offset
            self.leader_epochs.truncate_from_start(offset)
            self._delete_prefix(self._below_log_start, self._leo)
        return self._log_start_offset

    def delete_old_segments(self, now_ms: int | None = None, high_watermark: int | None = None) -> int:
        """Retention: delete the oldest segments that are past retention.ms
        (by their largest timestamp) or beyond retention.bytes, or wholly
        below the log start offset; never any offset at or above the high
        watermark. Returns how many segments went."""
        now = self._now(now_ms)
        hw = self._leo if high_watermark is None else min(high_watermark, self._leo)
        deleted = self._delete_prefix(self._below_log_start, hw)
        cfg = self.config
        if cfg.delete and cfg.retention_ms >= 0:
            deleted += self._delete_prefix(lambda seg, _: now - seg.largest_timestamp() > cfg.retention_ms, hw)
        if cfg.delete and cfg.retention_bytes >= 0:
            excess = self.size_in_bytes - cfg.retention_bytes

            def over_size(seg: LogSegment, _) -> bool:
                nonlocal excess
                if excess - seg.size < 0:
                    return False
                excess -= seg.size
                return True

            if excess >= 0:
                deleted += self._delete_prefix(over_size, hw)
        return deleted

    def _below_log_start(self, seg: LogSegment, next_seg: LogSegment | None) -> bool:
        return next_seg is not None and next_seg.base_offset <= self._log_start_offset

    def _delete_prefix(self, predicate: Callable[[LogSegment, LogSegment | None], bool], hw: int) -> int:
        segs = self._segments
        n = 0
        while n < len(segs):
            seg = segs[n]
            next_seg = segs[n + 1] if n + 1 < len(segs) else None
            upper = next_seg.base_offset if next_seg else self._leo
            if upper > hw or (next_seg is None and seg.size == 0) or not predicate(seg, next_seg):
                break
            n += 1
        if n:
            self._delete_segments(n)
        return n

    def _delete_segments(self, n: int) -> None:
        """Delete the ``n`` oldest segments, rolling first if that is all of them."""
        if n == len(self._segments):
            self.roll()
        doomed = self._segments[:n]
        del self._segments[:n], self._bases[:n]
        for seg in doomed:
            self._delete_files(seg.rename_to_deleted())
        self.producer_state.delete_snapshots_below(self._bases[0])
        if self._bases[0] > self._log_start_offset:
            self._log_start_offset = self._bases[0]
            self.leader_epochs.truncate_from_start(self._log_start_offset)

    # -- compaction support ------------------------------------------------

    def replace_segments(self, old: list[LogSegment], cleaned_base: int) -> None:
        """Swap in the cleaned segment written as ``<cleaned_base>.*.cleaned``
        for the consecutive segments ``old``. The rename of the .log file to
        .swap is the commit point a restart completes (see _complete_swap)."""
        path = os.path.join(self.dir, f"{cleaned_base:020d}")
        for suffix in (INDEX_SUFFIX, TIME_INDEX_SUFFIX, LOG_SUFFIX):
            os.rename(path + suffix + CLEANED_SUFFIX, path + suffix + SWAP_SUFFIX)
        first = self._segments.index(old[0])
        deleted = []
        for seg in old:
            deleted += seg.rename_to_deleted()
        for suffix in SUFFIXES:
            os.rename(path + suffix + SWAP_SUFFIX, path + suffix)
        fsync_dir(self.dir)
        new = LogSegment.open(self.dir, cleaned_base, now_ms=self._clock(),
                              index_interval_bytes=self.config.index_interval_bytes)
        self._segments[first:first + len(old)] = [new]
        self._bases[first:first + len(old)] = [cleaned_base]
        self.generation += 1
        self._delete_files(deleted)

    # -- durability and lifetime ------------------------------------------

    def flush(self, up_to: int | None = None, *, inline: bool = False) -> None:
        """fsync the log and index files holding offsets below ``up_to``
        (default: everything), then move the recovery point there. Runs via
        ``run_blocking`` unless ``inline``."""
        up_to = self._leo if up_to is None else min(up_to, self._leo)
        if up_to <= self._recovery_point:
            return
        first = max(0, bisect.bisect_right(self._bases, self._recovery_point) - 1)
        last = bisect.bisect_left(self._bases, up_to)
        self._sync(self._segments[first:last], inline, up_to)

    def _sync(self, segments: list[LogSegment], inline: bool, up_to: int) -> None:
        fds = [fd for seg in segments for fd in seg.dup_fds()]
        generation = self.generation
        dir = self.dir

        def work() -> None:
            try:
                for fd in fds:
                    os.fsync(fd)
                fsync_dir(dir)
            finally:
                for fd in fds:
                    os.close(fd)

        def done(_) -> None:
            self.last_flush_ms = self._clock()
            if generation == self.generation:
                self._recovery_point = max(self._recovery_point, min(up_to, self._leo))

        (run_inline if inline else self._run_blocking)(work, done)

    def close(self, flush: bool = True) -> None:
        """Close the files, after making them durable unless ``flush`` is False."""
        if self.closed:
            return
        self._active.on_become_inactive()
        if flush:
            # The producer state as of the log end: a clean restart replays nothing.
            self.producer_state.take_snapshot()
            self._sync(self._segments, True, self._leo)
        for seg in self._segments:
            seg.close()
        self.closed = True

    def __repr__(self) -> str:
        return (f"PartitionLog({self.topic}-{self.partition}, start={self._log_start_offset}, "
                f"end={self._leo}, segments={len(self._segments)})")


def _track_producer(producers: ProducerAppend, h: BatchHeader, first: int, last: int, timestamp: int,
                    batch) -> None:
    """Feed one batch of a producer to ``producers``; ``batch`` (its bytes)
    is read only for control batches, whose record says what they mark."""
    if not h.is_control:
        producers.add_data(h, first, last, timestamp)
        return
    try:
        records = decode_records(batch)
    except RecordsError:
        return
    if not records:
        return   # a marker emptied by compaction: its transaction is gone too
    try:
        marker = parse_control_record(records[0].key, records[0].value)
    except RecordsError:
        return
    if marker.type in (ABORT, COMMIT):
        producers.add_marker(h, first, marker.type, marker.coordinator_epoch, records[0].timestamp)
