"""A segment's transaction index, ``<base>.txnindex``: the aborted
transactions whose ABORT marker lies in the segment, in Kafka's format (34
bytes per entry: version int16 = 0, producer id, first offset, last offset,
last stable offset, all int64). A read_committed Fetch returns the entries
overlapping the fetched range so that consumers can drop aborted data.

The file exists only once a segment has an entry; entries are few (one per
aborted transaction), so they are kept in memory once read.
"""
from __future__ import annotations

import os
import struct
from typing import NamedTuple

TXN_INDEX_SUFFIX = ".txnindex"
_ENTRY = struct.Struct(">hqqqq")
_VERSION = 0


class AbortedTxn(NamedTuple):
    producer_id: int
    first_offset: int
    last_offset: int        # the offset of the ABORT marker
    last_stable_offset: int


class TransactionIndex:
    def __init__(self, path: str):
        self.path = path
        self._entries: list[AbortedTxn] | None = None

    @property
    def entries(self) -> list[AbortedTxn]:
        if self._entries is None:
            self._entries = self._load()
        return self._entries

    def _load(self) -> list[AbortedTxn]:
        try:
            with open(self.path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return []
        whole = len(data) - len(data) % _ENTRY.size   # a torn last entry is ignored
        return [AbortedTxn(*_ENTRY.unpack_from(data, pos)[1:]) for pos in range(0, whole, _ENTRY.size)]

    def add(self, txn: AbortedTxn) -> None:
        """Index an aborted transaction: appended in the normal course, put
        in its place (rewriting the file) when recovery finds one missing."""
        entries = self.entries
        if any(t.last_offset == txn.last_offset for t in entries):
            return
        if entries and txn.last_offset < entries[-1].last_offset:
            entries.append(txn)
            entries.sort(key=lambda t: t.last_offset)
            tmp = self.path + ".tmp"
            with open(tmp, "wb") as f:
                f.write(b"".join(_ENTRY.pack(_VERSION, *t) for t in entries))
            os.replace(tmp, self.path)
            return
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, _ENTRY.pack(_VERSION, *txn))
        finally:
            os.close(fd)
        entries.append(txn)

    def collect(self, start: int, end: int) -> tuple[list[AbortedTxn], bool]:
        """The entries of transactions overlapping offsets [start, end), and
        whether that is all of them: it is once an entry's last stable offset
        reaches ``end`` (every transaction begun before ``end`` had ended)."""
        found = []
        for t in self.entries:
            if t.last_offset >= start and t.first_offset < end:
                found.append(t)
            if t.last_stable_offset >= end:
                return found, True
        return found, False

    def truncate_to(self, offset: int) -> None:
        """Drop the entries whose marker is at or after ``offset``."""
        kept = [t for t in self.entries if t.last_offset < offset]
        if len(kept) == len(self.entries):
            return
        if kept:
            with open(self.path, "r+b") as f:
                f.truncate(len(kept) * _ENTRY.size)
        else:
            self.delete()
        self._entries = kept

    def delete(self) -> None:
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        self._entries = []

    def dup_fd(self) -> int | None:
        """A descriptor for a flush thread to fsync, None if there is no file."""
        try:
            return os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return None
