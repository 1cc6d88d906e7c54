"""Log compaction (cleanup.policy=compact): keep the latest record per key.

Used by __consumer_offsets, __transaction_state and compacted user topics
(Kafka Streams changelogs). Three steps, as the broker schedules them:

    job = prepare_clean(log, first_dirty_offset, now_ms)    # loop thread
    result = job.run()                                      # any thread
    job.commit(log, result)                                 # loop thread

``run`` reads the old segments through descriptors duplicated by
``prepare_clean`` and writes ``<base>.*.cleaned`` files, so it never touches
the log's state; ``commit`` swaps them in if the log has not changed under it.

What is kept, as Kafka's cleaner does:
- a keyed record unless a record with the same key sits at a later offset in
  the dirty part of the log (the offset map is built from the dirty part only);
- tombstones (null value) only while their segment is younger than
  delete.retention.ms before the last already-clean segment;
- keyless records are dropped (a compacted topic cannot use them);
- control batches (transaction markers) always; transactional data whose
  marker has not been seen yet as is; data of aborted transactions never
  enters the offset map (it must not shadow committed values) and is dropped;
- a batch emptied by cleaning stays as an empty batch when it is the last one
  of its producer in the log, so the producer's sequence survives restarts.

Kept batches keep their offsets (gaps are left where records went); a batch
that loses nothing is copied byte for byte, others are rebuilt with
``build_batch`` keeping base offset, offset range, producer id/epoch/sequence,
compression and leader epoch.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

from wire.records import (ABORT, COMMIT, BatchHeader, build_batch, decode_records, parse_control_record,
                          parse_header)

from .index import OffsetIndex, TimeIndex
from .partition_log import CLEANED_SUFFIX, PartitionLog
from .segment import INDEX_SUFFIX, INT32_MAX, LOG_SUFFIX, TIME_INDEX_SUFFIX, LogSegment, iter_batches, segment_name

log = logging.getLogger(__name__)


@dataclass
class _Source:
    """An old segment as the cleaning thread sees it."""
    segment: LogSegment
    fd: int
    size: int
    retain_deletes: bool


@dataclass
class CleanResult:
    groups: list[tuple[int, int, int]] = field(default_factory=list)  # (first, end index in sources, base)
    bytes_before: int = 0
    bytes_after: int = 0


class CleanJob:
    def __init__(self, log_: PartitionLog, sources: list[_Source], later: list[tuple[int, int]],
                 first_dirty: int, end_offset: int):
        self.dir = log_.dir
        self.generation = log_.generation
        self.sources = sources
        self.later = later              # (fd, size) of the segments after the cleaned range
        self.first_dirty = first_dirty
        self.end_offset = end_offset    # first offset not cleaned: the next first dirty offset
        cfg = log_.config
        self.segment_bytes = cfg.segment_bytes
        self.max_index_entries = cfg.segment_index_bytes // 12
        self.index_interval_bytes = cfg.index_interval_bytes
        # Filled by run(): what the scans of the cleaned range found.
        self._outcomes: dict[tuple[int, int], int] = {}        # (source, position) -> ABORT/COMMIT
        self._last_of_producer: dict[int, tuple[int, int]] = {}
        self._offset_map: dict[bytes, int] = {}

    # -- in a thread ---------------------------------------------------------

    def run(self) -> CleanResult:
        try:
            self._scan_transactions()
            self._build_offset_map()
            result = CleanResult()
            for first, end in self._groups():
                base = self.sources[first].segment.base_offset
                result.bytes_before += sum(s.size for s in self.sources[first:end])
                result.bytes_after += self._clean_group(first, end, base)
                result.groups.append((first, end, base))
            return result
        finally:
            for s in self.sources:
                os.close(s.fd)
            for fd, _ in self.later:
                os.close(fd)

    def _batches(self):
        for i, s in enumerate(self.sources):
            for pos, view in iter_batches(s.fd, 0, s.size):
                yield i, pos, view, parse_header(view)

    def _scan_transactions(self) -> None:
        """Find the outcome (ABORT/COMMIT) of each transactional data batch
        whose marker is in the cleaned range, and the last batch of each
        producer that has none after the cleaned range."""
        outcomes = self._outcomes
        pending: dict[int, list[tuple[int, int]]] = {}
        last_of_producer = self._last_of_producer
        for i, pos, view, h in self._batches():
            if h.producer_id >= 0:
                last_of_producer[h.producer_id] = (i, pos)
            if not h.is_transactional:
                continue
            if h.is_control:
                for r in decode_records(view):
                    kind = parse_control_record(r.key, r.value).type
                    if kind in (ABORT, COMMIT):
                        for batch in pending.pop(h.producer_id, ()):
                            outcomes[batch] = kind
            else:
                pending.setdefault(h.producer_id, []).append((i, pos))
        for fd, size in self.later:
            for _, view in iter_batches(fd, 0, size):
                last_of_producer.pop(parse_header(view).producer_id, None)

    def _build_offset_map(self) -> None:
        """Key -> last offset in the dirty part, committed data only."""
        offset_map = self._offset_map
        for i, pos, view, h in self._batches():
            if h.last_offset < self.first_dirty or h.is_control:
                continue
            if h.is_transactional and self._outcomes.get((i, pos)) != COMMIT:
                continue
            for r in decode_records(view):
                if r.key is not None and r.offset >= self.first_dirty:
                    offset_map[r.key] = r.offset

    def _groups(self) -> list[tuple[int, int]]:
        """Consecutive sources that fit one segment (by their size before
        cleaning, index entries and 32-bit relative offsets)."""
        groups = []
        first = 0
        while first < len(self.sources):
            end = first + 1
            size = self.sources[first].size
            base = self.sources[first].segment.base_offset
            while end < len(self.sources):
                nxt = self.sources[end]
                upper = self.sources[end + 1].segment.base_offset if end + 1 < len(self.sources) else self.end_offset
                if (size + nxt.size > self.segment_bytes or upper - 1 - base > INT32_MAX
                        or (size + nxt.size) // max(self.index_interval_bytes, 1) >= self.max_index_entries):
                    break
                size += nxt.size
                end += 1
            groups.append((first, end))
            first = end
        return groups

    def _clean_group(self, first: int, end: int, base: int) -> int:
        """Write the kept batches of sources [first, end) as one cleaned
        segment with its indexes; returns its size."""
        path = os.path.join(self.dir, segment_name(base))
        offsets = OffsetIndex(path + INDEX_SUFFIX + CLEANED_SUFFIX, base)
        times = TimeIndex(path + TIME_INDEX_SUFFIX + CLEANED_SUFFIX, base)
        max_ts = (-1, base)
        written = since_index = 0
        with open(path + LOG_SUFFIX + CLEANED_SUFFIX, "wb") as out:
            for i in range(first, end):
                source = self.sources[i]
                for pos, view in iter_batches(source.fd, 0, source.size):
                    h = parse_header(view)
                    # Timestamps of dropped batches count too: retention and
                    # min.compaction.lag.ms keep ageing the segment as before.
                    if h.max_timestamp > max_ts[0]:
                        max_ts = (h.max_timestamp, h.last_offset)
                    kept = self._filter(i, pos, view, h, source.retain_deletes)
                    if kept is None:
                        continue
                    if since_index > self.index_interval_bytes:
                        offsets.append(h.last_offset, written, write=False)
                        times.maybe_append(*max_ts, write=False)
                        since_index = 0
                    out.write(kept)
                    written += len(kept)
                    since_index += len(kept)
            out.flush()
            os.fsync(out.fileno())
        times.maybe_append(*max_ts, write=False)
        for index in (offsets, times):
            index.write_all()
            fd = os.open(index.path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        return written

    def _filter(self, i: int, pos: int, view: memoryview, h: BatchHeader, retain_deletes: bool):
        """The bytes to keep of one batch, or None to drop it."""
        if h.is_control:
            return view
        outcome = self._outcomes.get((i, pos))
        if h.is_transactional and outcome is None:
            return view        # its transaction's end is beyond the cleaned range
        if outcome == ABORT:
            records = []
        else:
            records = decode_records(view)
            offset_map = self._offset_map
            kept = [r for r in records
                    if r.key is not None and r.offset >= offset_map.get(r.key, -1)
                    and (r.value is not None or retain_deletes)]
            if len(kept) == len(records):
                return view
            records = kept
        if not records and self._last_of_producer.get(h.producer_id) != (i, pos):
            return None
        return build_batch(
            records, base_offset=h.base_offset, last_offset_delta=h.last_offset_delta,
            compression=h.compression, producer_id=h.producer_id, producer_epoch=h.producer_epoch,
            base_sequence=h.base_sequence, transactional=h.is_transactional,
            partition_leader_epoch=h.partition_leader_epoch,
            log_append_time=h.max_timestamp if h.log_append_time else None)

    # -- back on the loop thread --------------------------------------------

    def commit(self, log_: PartitionLog, result: CleanResult) -> bool:
        """Swap the cleaned segments in; False (and the cleaned files removed)
        if the log changed meanwhile in a way that makes them stale."""
        current = log_.segments
        stale = (log_.closed or log_.generation != self.generation
                 or any(s.segment not in current for s in self.sources))
        if stale:
            for _, _, base in result.groups:
                path = os.path.join(self.dir, segment_name(base))
                for suffix in (LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX):
                    try:
                        os.unlink(path + suffix + CLEANED_SUFFIX)
                    except FileNotFoundError:
                        pass
            return False
        for first, end, base in result.groups:
            log_.replace_segments([s.segment for s in self.sources[first:end]], base)
        log.info("cleaned %s up to offset %d: %d -> %d bytes", log_, self.end_offset,
                 result.bytes_before, result.bytes_after)
        return True


def prepare_clean(log_: PartitionLog, first_dirty_offset: int, now_ms: int,
                  upper_bound: int | None = None) -> CleanJob | None:
    """A job compacting ``log_`` if it needs it (dirty ratio at least
    min.cleanable.dirty.ratio, or dirty data older than max.compaction.lag.ms),
    else None. Only non-active segments below ``upper_bound`` (the last
    stable offset; default: log end) and the first offset of an undecided
    transaction, and older than min.compaction.lag.ms, are touched."""
    cfg = log_.config
    segments = log_.segments
    limit = log_.log_end_offset if upper_bound is None else upper_bound
    undecided = log_.first_undecided_offset
    if undecided is not None:
        limit = min(limit, undecided)
    cleanable = []
    for seg, nxt in zip(segments, segments[1:]):
        if nxt.base_offset > limit or seg.largest_timestamp() > now_ms - cfg.min_compaction_lag_ms:
            break
        cleanable.append(seg)
    if not cleanable:
        return None
    end_offset = segments[len(cleanable)].base_offset
    first_dirty = min(max(first_dirty_offset, log_.log_start_offset), end_offset)
    dirty = [s for s, nxt in zip(cleanable, segments[1:]) if nxt.base_offset > first_dirty]
    dirty_bytes = sum(s.size for s in dirty)
    total_bytes = sum(s.size for s in cleanable)
    if not dirty_bytes:
        return None
    overdue = 0 <= dirty[0].rolling_timestamp() < now_ms - cfg.max_compaction_lag_ms
    if dirty_bytes / total_bytes < cfg.min_cleanable_dirty_ratio and not overdue:
        return None
    # Tombstones stay until delete.retention.ms past the newest segment that
    # was already clean (Kafka's delete horizon).
    clean = [s for s in cleanable if s not in dirty]
    horizon = clean[-1].largest_timestamp() - cfg.delete_retention_ms if clean else -1 << 63
    sources = [_Source(s, os.dup(s.fd), s.size, s.largest_timestamp() > horizon) for s in cleanable]
    later = [(os.dup(s.fd), s.size) for s in segments[len(cleanable):]]
    return CleanJob(log_, sources, later, first_dirty, end_offset)
