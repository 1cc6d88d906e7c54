"""The leader epoch cache: which leader epoch wrote from which offset.

Kept in ``leader-epoch-checkpoint`` (Kafka's text format, ``epoch startOffset``
lines), rewritten whenever it changes. Followers and consumers use it through
OffsetForLeaderEpoch to find where their copy of the log diverged.
"""
from __future__ import annotations

import bisect
import logging

from .checkpoints import CheckpointError, read_checkpoint, write_checkpoint

log = logging.getLogger(__name__)

UNDEFINED_EPOCH = -1
UNDEFINED_EPOCH_OFFSET = -1


class LeaderEpochCache:
    def __init__(self, path: str):
        self.path = path
        self._epochs: list[int] = []
        self._starts: list[int] = []
        try:
            entries = read_checkpoint(path, 2)
            pairs = [(int(e), int(o)) for e, o in entries]
        except (CheckpointError, ValueError) as e:
            # Recovery re-reads epochs from the batches it validates.
            log.warning("ignoring unreadable leader epoch checkpoint: %s", e)
            pairs = []
        for epoch, start in pairs:
            self._assign(epoch, start)

    @property
    def entries(self) -> list[tuple[int, int]]:
        return list(zip(self._epochs, self._starts))

    @property
    def latest_epoch(self) -> int:
        """The latest epoch, -1 (UNDEFINED_EPOCH) when none is known."""
        return self._epochs[-1] if self._epochs else UNDEFINED_EPOCH

    def assign(self, epoch: int, start_offset: int) -> None:
        if self._assign(epoch, start_offset):
            self._write()

    def _assign(self, epoch: int, start_offset: int) -> bool:
        if epoch < 0 or start_offset < 0:
            raise ValueError(f"invalid leader epoch entry {epoch} {start_offset}")
        if self._epochs and self._epochs[-1] == epoch and self._starts[-1] <= start_offset:
            return False
        # Entries the new one contradicts (same or later epoch, same or later
        # offset) come from a diverged history; drop them.
        while self._epochs and (self._epochs[-1] >= epoch or self._starts[-1] >= start_offset):
            self._epochs.pop()
            self._starts.pop()
        self._epochs.append(epoch)
        self._starts.append(start_offset)
        return True

    def end_offset_for(self, epoch: int, log_end_offset: int) -> tuple[int, int]:
        """(epoch, end offset) as OffsetForLeaderEpoch answers: the largest
        known epoch <= ``epoch`` and the start offset of the epoch after it, or
        the log end offset for the latest epoch."""
        if epoch == UNDEFINED_EPOCH or not self._epochs:
            return UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET
        if epoch == self._epochs[-1]:
            return epoch, log_end_offset
        higher = bisect.bisect_right(self._epochs, epoch)
        if higher == len(self._epochs):
            return UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET
        if higher == 0:
            # Older than anything we know: the data is gone; point the
            # follower at the first offset we do have for a later epoch.
            return epoch, self._starts[0]
        return self._epochs[higher - 1], self._starts[higher]

    def epoch_for_offset(self, offset: int) -> int:
        """The epoch that wrote ``offset``, -1 (UNDEFINED_EPOCH) if unknown."""
        i = bisect.bisect_right(self._starts, offset)
        return self._epochs[i - 1] if i else UNDEFINED_EPOCH

    def truncate_from_end(self, end_offset: int) -> None:
        """Forget epochs starting at or after ``end_offset`` (log truncation)."""
        i = bisect.bisect_left(self._starts, end_offset)
        if i < len(self._starts):
            del self._epochs[i:], self._starts[i:]
            self._write()

    def truncate_from_start(self, start_offset: int) -> None:
        """The log now starts at ``start_offset``: the epoch covering it starts there."""
        i = bisect.bisect_right(self._starts, start_offset)
        if i == 0 or (i == 1 and self._starts[0] == start_offset):
            return
        del self._epochs[: i - 1], self._starts[: i - 1]
        self._starts[0] = start_offset
        self._write()

    def clear(self) -> None:
        self._epochs.clear()
        self._starts.clear()
        self._write()

    def _write(self) -> None:
        write_checkpoint(self.path, self.entries)
