"""One log segment: ``<base>.log`` (batches as received) with its indexes.

Files are named by the segment's base offset on 20 digits, as in Kafka. The
log file is appended to through an O_APPEND descriptor and read with
os.pread; the indexes live in memory and are loaded lazily, so opening a
segment costs a stat and nothing more.
"""
from __future__ import annotations

import logging
import os
import struct
from typing import Callable, Iterator

from wire.records import HEADER_SIZE, LOG_OVERHEAD, MAGIC, BatchHeader, crc_matches, parse_header

from .index import IndexCorrupt, OffsetIndex, TimeIndex
from .txn_index import TXN_INDEX_SUFFIX, TransactionIndex

log = logging.getLogger(__name__)

LOG_SUFFIX = ".log"
INDEX_SUFFIX = ".index"
TIME_INDEX_SUFFIX = ".timeindex"
SUFFIXES = (LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX)
INT32_MAX = (1 << 31) - 1

# baseOffset, batchLength, then (skipping epoch, magic, crc, attributes) lastOffsetDelta.
_PREFIX = struct.Struct(">qi11xi")
PREFIX_SIZE = _PREFIX.size
_LENGTH = struct.Struct(">i")
# Bytes read at a time when walking batch headers from an index position;
# an index entry is at most index.interval.bytes plus one batch away.
SCAN_CHUNK = 16 * 1024
# Bytes read at a time when validating or rebuilding a whole segment.
READ_CHUNK = 1 << 20


def segment_name(base_offset: int) -> str:
    return f"{base_offset:020d}"


def iter_batches(fd: int, start: int, end: int) -> Iterator[tuple[int, memoryview]]:
    """(position, bytes) of each whole, plausibly framed batch in [start, end).

    Stops at the first frame that is too short or runs past ``end``: the
    caller compares how far it got with ``end`` to find a torn tail.
    """
    pos = start
    chunk = b""
    chunk_pos = start
    while pos + HEADER_SIZE <= end:
        off = pos - chunk_pos
        if off + HEADER_SIZE > len(chunk):
            chunk, chunk_pos, off = os.pread(fd, min(READ_CHUNK, end - pos), pos), pos, 0
            if len(chunk) < HEADER_SIZE:   # short read: the file shrank under us
                return
        size = _LENGTH.unpack_from(chunk, off + 8)[0] + LOG_OVERHEAD
        if size < HEADER_SIZE or pos + size > end:
            return
        if off + size > len(chunk):
            chunk, chunk_pos, off = os.pread(fd, min(max(READ_CHUNK, size), end - pos), pos), pos, 0
            if len(chunk) < size:
                return
        yield pos, memoryview(chunk)[off:off + size]
        pos += size


def batch_is_valid(view: memoryview, header: BatchHeader) -> bool:
    return header.magic == MAGIC and header.last_offset_delta >= 0 and crc_matches(view, 0, header.size)


class LogSegment:
    def __init__(self, dir: str, base_offset: int, *, created_ms: int, index_interval_bytes: int):
        self.dir = dir
        self.base_offset = base_offset
        name = os.path.join(dir, segment_name(base_offset))
        self.log_path = name + LOG_SUFFIX
        self.index_path = name + INDEX_SUFFIX
        self.time_index_path = name + TIME_INDEX_SUFFIX
        # Aborted transactions whose marker is in this segment.
        self.txn_index = TransactionIndex(name + TXN_INDEX_SUFFIX)
        self.created_ms = created_ms
        self.index_interval_bytes = index_interval_bytes
        self.size = 0
        self._fd: int | None = None
        self._offset_index: OffsetIndex | None = None
        self._time_index: TimeIndex | None = None
        # (timestamp, offset) of the largest batch max timestamp; None until known.
        self._max_ts: tuple[int, int] | None = None
        self._first_batch_ts: int | None = None
        self._bytes_since_index = 0
        # (offset, position): every batch before position ends below offset.
        # Where the last read stopped, so a sequential reader needs no search.
        self._read_hint: tuple[int, int] | None = None

    def __repr__(self) -> str:
        return f"LogSegment({self.log_path}, size={self.size})"

    # -- opening -----------------------------------------------------------

    @classmethod
    def create(cls, dir: str, base_offset: int, *, now_ms: int, index_interval_bytes: int) -> LogSegment:
        seg = cls(dir, base_offset, created_ms=now_ms, index_interval_bytes=index_interval_bytes)
        for path in (seg.index_path, seg.time_index_path):
            open(path, "wb").close()
        seg._fd = os.open(seg.log_path, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
        seg._offset_index = OffsetIndex(seg.index_path, base_offset)
        seg._time_index = TimeIndex(seg.time_index_path, base_offset)
        seg._max_ts = (-1, base_offset)
        return seg

    @classmethod
    def open(cls, dir: str, base_offset: int, *, now_ms: int, index_interval_bytes: int) -> LogSegment:
        seg = cls(dir, base_offset, created_ms=now_ms, index_interval_bytes=index_interval_bytes)
        seg.size = os.stat(seg.log_path).st_size
        return seg

    @property
    def fd(self) -> int:
        if self._fd is None:
            self._fd = os.open(self.log_path, os.O_RDWR | os.O_APPEND)
        return self._fd

    @property
    def offset_index(self) -> OffsetIndex:
        if self._offset_index is None:
            self._load_indexes()
        return self._offset_index

    @property
    def time_index(self) -> TimeIndex:
        if self._time_index is None:
            self._load_indexes()
        return self._time_index

    def _load_indexes(self) -> None:
        try:
            offsets = OffsetIndex.load(self.index_path, self.base_offset)
            times = TimeIndex.load(self.time_index_path, self.base_offset)
            if len(offsets) and offsets.values[-1] >= self.size:
                raise IndexCorrupt(f"{self.index_path} points past the end of the log")
        except IndexCorrupt as e:
            log.warning("rebuilding indexes of %s: %s", self.log_path, e)
            self.rebuild(validate=False)
            return
        self._offset_index, self._time_index = offsets, times

    # -- facts about the contents -----------------------------------------

    @property
    def max_timestamp_and_offset(self) -> tuple[int, int]:
        """(largest batch max timestamp, last offset of the first batch with
        it), (-1, base offset) when no batch has a timestamp."""
        if self._max_ts is None:
            # A segment gets a final time index entry when it stops being
            # active and when it is closed, so the last entry is the maximum.
            self._max_ts = self.time_index.last_entry
        return self._max_ts

    @property
    def max_timestamp(self) -> int:
        return self.max_timestamp_and_offset[0]

    def largest_timestamp(self) -> int:
        """What retention ages the segment by: its largest record timestamp,
        or the file's modification time when its records have none."""
        ts = self.max_timestamp
        return ts if ts >= 0 else int(os.stat(self.log_path).st_mtime * 1000)

    def rolling_timestamp(self) -> int:
        """The first batch's max timestamp, which segment.ms counts from (-1: none)."""
        if self._first_batch_ts is None:
            if self.size < HEADER_SIZE:
                return -1
            self._first_batch_ts = parse_header(os.pread(self.fd, HEADER_SIZE, 0)).max_timestamp
        return self._first_batch_ts

    def next_offset(self) -> int:
        """One past the last offset in the segment (base offset if empty)."""
        last = None
        _, pos = self.offset_index.lookup(self.offset_index.last_offset)
        for _, view in iter_batches(self.fd, pos, self.size):
            base, _, delta = _PREFIX.unpack_from(view)
            last = base + delta
        return self.base_offset if last is None else last + 1

    def _largest_timestamp_after(self, entry: tuple[int, int]) -> tuple[int, int]:
        """After a truncation the time index's last entry may miss batches
        appended after it: scan from its offset to the end."""
        best = entry
        _, pos = self.offset_index.lookup(entry[1])
        for _, view in iter_batches(self.fd, pos, self.size):
            h = parse_header(view)
            if h.max_timestamp > best[0]:
                best = (h.max_timestamp, h.last_offset)
        return best

    # -- appending ---------------------------------------------------------

    def append(self, data, batches: list[tuple[int, int, int, int]]) -> None:
        """Write ``data`` (whole batches) at the end; ``batches`` holds, per
        batch, (position in data, last offset, max timestamp, size)."""
        start = self.size
        offsets, times = self.offset_index, self.time_index
        n_offsets, n_times = len(offsets), len(times)
        saved = (self._max_ts, self._bytes_since_index)
        try:
            view = memoryview(data)
            written = 0
            while written < len(view):
                written += os.write(self.fd, view[written:])
            max_ts = self.max_timestamp_and_offset
            interval = self.index_interval_bytes
            for pos, last, ts, size in batches:
                if ts > max_ts[0]:
                    max_ts = (ts, last)
                    self._max_ts = max_ts
                if self._bytes_since_index > interval:
                    offsets.append(last, start + pos)
                    times.maybe_append(*max_ts)
                    self._bytes_since_index = 0
                self._bytes_since_index += size
        except OSError:
            # A full disk must not leave half a batch or a dangling index entry.
            self._max_ts, self._bytes_since_index = saved
            offsets.truncate_entries(n_offsets)
            times.truncate_entries(n_times)
            os.ftruncate(self.fd, start)
            raise
        self.size = start + len(data)
        if start == 0:
            self._first_batch_ts = batches[0][2]

    def on_become_inactive(self) -> None:
        """Record the segment's largest timestamp, which retention ages it by."""
        self.time_index.maybe_append(*self.max_timestamp_and_offset)

    # -- reading -----------------------------------------------------------

    def _start_position(self, offset: int) -> int:
        """A batch boundary from which scanning forward finds ``offset``."""
        _, pos = self.offset_index.lookup(offset)
        hint = self._read_hint
        if hint is not None and hint[0] <= offset and hint[1] > pos:
            pos = hint[1]
        return pos

    def find_batch(self, offset: int) -> tuple[int, int, int, int] | None:
        """(position, base offset, last offset, size) of the first batch whose
        last offset is >= ``offset``, None if there is none in this segment."""
        pos = self._start_position(offset)
        fd, end = self.fd, self.size
        while pos + PREFIX_SIZE <= end:
            chunk = os.pread(fd, min(SCAN_CHUNK, end - pos), pos)
            p = 0
            while p + PREFIX_SIZE <= len(chunk):
                base, length, delta = _PREFIX.unpack_from(chunk, p)
                if base + delta >= offset:
                    return pos + p, base, base + delta, length + LOG_OVERHEAD
                p += length + LOG_OVERHEAD
            if p == 0:  # short read: the file shrank under us
                return None
            pos += p
        return None

    def read(self, offset: int, max_bytes: int, max_offset: int, min_one_batch: bool):
        """Whole batches from the one containing ``offset`` (or the next one),
        all ending below ``max_offset`` and together at most ``max_bytes``
        (the first one regardless of size when ``min_one_batch``).
        None when this segment has nothing at or after ``offset``."""
        found = self.find_batch(offset)
        if found is None:
            return None
        start, _, first_last, first_size = found
        if first_last >= max_offset:
            return b""
        if first_size > max_bytes:
            if not min_one_batch:
                return b""
            self._read_hint = (first_last + 1, start + first_size)
            return os.pread(self.fd, first_size, start)
        buf = os.pread(self.fd, min(max_bytes, self.size - start), start)
        end, last = first_size, first_last
        n = len(buf)
        while end + PREFIX_SIZE <= n:
            base, length, delta = _PREFIX.unpack_from(buf, end)
            if end + length + LOG_OVERHEAD > n or base + delta >= max_offset:
                break
            end += length + LOG_OVERHEAD
            last = base + delta
        self._read_hint = (last + 1, start + end)
        # A view: cutting off the partial last batch must not copy the rest.
        return buf if end == n else memoryview(buf)[:end]

    def read_batch_headers(self, start: int = 0) -> Iterator[tuple[int, BatchHeader]]:
        """(position, header) of every batch from position ``start``."""
        pos, end, fd = start, self.size, self.fd
        while pos + HEADER_SIZE <= end:
            chunk = os.pread(fd, min(SCAN_CHUNK, end - pos), pos)
            p = 0
            while p + HEADER_SIZE <= len(chunk):
                h = parse_header(chunk, p)
                yield pos + p, h
                p += h.size
            if p == 0:  # short read: the file shrank under us
                return
            pos += p

    def read_at(self, position: int, size: int) -> bytes:
        return os.pread(self.fd, size, position)

    # -- truncation and recovery ------------------------------------------

    def truncate_to(self, offset: int, now_ms: int) -> int:
        """Drop the batch containing ``offset`` and everything after it;
        returns the number of bytes removed."""
        found = self.find_batch(offset)
        if found is None:
            return 0
        position = found[0]
        self.offset_index.truncate_to(offset)
        self.time_index.truncate_to(offset)
        self.txn_index.truncate_to(offset)
        os.ftruncate(self.fd, position)
        removed = self.size - position
        self.size = position
        self._read_hint = None
        self._bytes_since_index = 0
        self._max_ts = self._largest_timestamp_after(self.time_index.last_entry)
        if position == 0:
            self.created_ms = now_ms
            self._first_batch_ts = None
        return removed

    def rebuild(self, validate: bool, on_batch: Callable[[BatchHeader], None] | None = None) -> int:
        """Rebuild both indexes by walking the log; with ``validate``, check
        every batch (framing, magic, CRC-32C, increasing offsets) and cut the
        log at the first bad one. Returns the number of bytes cut."""
        offsets = OffsetIndex(self.index_path, self.base_offset)
        times = TimeIndex(self.time_index_path, self.base_offset)
        max_ts = (-1, self.base_offset)
        valid = 0
        since_index = 0
        next_offset = self.base_offset
        interval = self.index_interval_bytes
        for pos, view in iter_batches(self.fd, 0, self.size):
            h = parse_header(view)
            if validate and not (batch_is_valid(view, h) and h.base_offset >= next_offset
                                 and h.last_offset - self.base_offset <= INT32_MAX):
                log.warning("%s: invalid batch at position %d", self.log_path, pos)
                break
            if h.max_timestamp > max_ts[0]:
                max_ts = (h.max_timestamp, h.last_offset)
            if since_index > interval:
                offsets.append(h.last_offset, pos, write=False)
                times.maybe_append(*max_ts, write=False)
                since_index = 0
            since_index += h.size
            valid = pos + h.size
            next_offset = h.last_offset + 1
            if on_batch is not None:
                on_batch(h)
        times.maybe_append(*max_ts, write=False)
        cut = self.size - valid
        if cut:
            log.warning("%s: truncating %d bytes of invalid or torn data", self.log_path, cut)
            os.ftruncate(self.fd, valid)
            self.size = valid
        for index in (self._offset_index, self._time_index):
            if index is not None:
                index.close()
        offsets.write_all()
        times.write_all()
        self._offset_index, self._time_index = offsets, times
        self._max_ts = max_ts
        self._bytes_since_index = since_index
        self._read_hint = None
        self._first_batch_ts = None
        return cut

    # -- durability and lifetime ------------------------------------------

    def dup_fds(self) -> list[int]:
        """Descriptors of the files with unsynced writes, for a flush thread
        to fsync and close independently of this segment's lifetime."""
        fds = [] if self._fd is None else [os.dup(self._fd)]
        for index in (self._offset_index, self._time_index):
            if index is not None:
                fd = index.dup_fd()
                if fd is not None:
                    fds.append(fd)
        fd = self.txn_index.dup_fd()
        if fd is not None:
            fds.append(fd)
        return fds

    def close_index_files(self) -> None:
        for index in (self._offset_index, self._time_index):
            if index is not None:
                index.close()

    def close(self) -> None:
        self.close_index_files()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def rename_to_deleted(self) -> list[str]:
        """Close and rename the files to ``*.deleted``; returns the new paths."""
        self.close()
        renamed = []
        for path in (self.log_path, self.index_path, self.time_index_path, self.txn_index.path):
            try:
                os.rename(path, path + ".deleted")
                renamed.append(path + ".deleted")
            except FileNotFoundError:
                pass
        return renamed
