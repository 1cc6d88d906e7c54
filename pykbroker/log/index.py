"""Sparse segment indexes, in Kafka's file formats, mirrored in memory.

``.index``: 8-byte entries (offset - base offset: int32, file position: int32),
one per ``index.interval.bytes`` of log appended; keyed by the last offset of
the batch starting at that position.
``.timeindex``: 12-byte entries (timestamp: int64, offset - base offset: int32),
timestamps strictly increasing.

Both are big-endian. Lookups bisect the in-memory arrays; the files are only
appended to (or truncated / rewritten), never read back after loading.
"""
from __future__ import annotations

import bisect
import itertools
import operator
import os
import struct
import sys
from array import array

_OFFSET_ENTRY = struct.Struct(">ii")
_TIME_ENTRY = struct.Struct(">qi")


class IndexCorrupt(ValueError):
    pass


def _increasing(values: array) -> bool:
    return all(map(operator.lt, values, itertools.islice(values, 1, None)))


class _Index:
    entry: struct.Struct
    key_type: str
    value_type: str

    def __init__(self, path: str, base_offset: int):
        self.path = path
        self.base_offset = base_offset
        self.keys = array(self.key_type)
        self.values = array(self.value_type)
        self._fd: int | None = None

    def __len__(self) -> int:
        return len(self.keys)

    @classmethod
    def load(cls, path: str, base_offset: int) -> "_Index":
        """Read an index file; IndexCorrupt if it is missing or malformed."""
        index = cls(path, base_offset)
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            raise IndexCorrupt(f"{path} is missing") from None
        if len(data) % cls.entry.size:
            raise IndexCorrupt(f"{path}: size {len(data)} is not a multiple of {cls.entry.size}")
        index._parse(data)
        index._check()
        return index

    def _parse(self, data: bytes) -> None:
        for k, v in self.entry.iter_unpack(data):
            self.keys.append(k)
            self.values.append(v)

    def _check(self) -> None:
        raise NotImplementedError

    def _write(self, data: bytes) -> None:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.write(self._fd, data)

    def _append(self, key: int, value: int, write: bool) -> None:
        if write:
            self._write(self.entry.pack(key, value))
        self.keys.append(key)
        self.values.append(value)

    def truncate_entries(self, n: int) -> None:
        """Keep the first ``n`` entries."""
        if n >= len(self.keys):
            return
        del self.keys[n:]
        del self.values[n:]
        if self._fd is None:
            os.truncate(self.path, n * self.entry.size)
        else:
            os.ftruncate(self._fd, n * self.entry.size)

    def write_all(self) -> None:
        """Replace the file with the in-memory entries (after a rebuild)."""
        self.close()
        data = b"".join(self.entry.pack(k, v) for k, v in zip(self.keys, self.values))
        with open(self.path, "wb") as f:
            f.write(data)

    def dup_fd(self) -> int | None:
        """A descriptor a flush thread may fsync and close on its own."""
        return None if self._fd is None else os.dup(self._fd)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class OffsetIndex(_Index):
    entry = _OFFSET_ENTRY
    key_type = "i"
    value_type = "i"

    def _parse(self, data: bytes) -> None:
        flat = array("i", data)
        if sys.byteorder == "little":
            flat.byteswap()
        self.keys = flat[0::2]
        self.values = flat[1::2]

    def _check(self) -> None:
        if not _increasing(self.keys) or (self.keys and self.keys[0] < 0):
            raise IndexCorrupt(f"{self.path}: offsets are not increasing")

    @property
    def last_offset(self) -> int:
        return self.base_offset + self.keys[-1] if self.keys else self.base_offset

    def append(self, offset: int, position: int, write: bool = True) -> None:
        """Add an entry; with ``write`` False only in memory (a rebuild then
        calls ``write_all``)."""
        self._append(offset - self.base_offset, position, write)

    def lookup(self, offset: int) -> tuple[int, int]:
        """The entry with the largest offset <= ``offset``, or (base offset, 0)."""
        i = bisect.bisect_right(self.keys, offset - self.base_offset)
        if i == 0:
            return self.base_offset, 0
        return self.base_offset + self.keys[i - 1], self.values[i - 1]

    def truncate_to(self, offset: int) -> None:
        """Drop entries for offsets >= ``offset``."""
        self.truncate_entries(bisect.bisect_left(self.keys, offset - self.base_offset))


class TimeIndex(_Index):
    entry = _TIME_ENTRY
    key_type = "q"
    value_type = "i"

    def _check(self) -> None:
        if not _increasing(self.keys):
            raise IndexCorrupt(f"{self.path}: timestamps are not increasing")
        if self.values and self.values[0] < 0:
            raise IndexCorrupt(f"{self.path}: offset before the segment's base offset")

    @property
    def last_entry(self) -> tuple[int, int]:
        """(timestamp, offset) of the last entry, (-1, base offset) when empty."""
        if not self.keys:
            return -1, self.base_offset
        return self.keys[-1], self.base_offset + self.values[-1]

    def maybe_append(self, timestamp: int, offset: int, write: bool = True) -> None:
        """Add an entry if ``timestamp`` is later than the last one (and than
        -1, "no timestamp")."""
        if timestamp > (self.keys[-1] if self.keys else -1):
            self._append(timestamp, offset - self.base_offset, write)

    def lookup(self, timestamp: int) -> tuple[int, int]:
        """The entry with the largest timestamp <= ``timestamp``, or (-1, base offset)."""
        i = bisect.bisect_right(self.keys, timestamp)
        if i == 0:
            return -1, self.base_offset
        return self.keys[i - 1], self.base_offset + self.values[i - 1]

    def truncate_to(self, offset: int) -> None:
        """Drop entries for offsets >= ``offset`` (offsets are non-decreasing)."""
        self.truncate_entries(bisect.bisect_left(self.values, offset - self.base_offset))
