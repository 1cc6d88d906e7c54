"""Committed offsets of the groups of one ``__consumer_offsets`` partition,
and the transactional offsets still pending (TxnOffsetCommit): those become
committed when the transaction's COMMIT marker is written to the partition,
and are dropped on ABORT. State changes only through ``replay`` and
``replay_end_transaction``, for records already in the log."""
from __future__ import annotations

from typing import NamedTuple

TopicPartition = tuple[str, int]


class OffsetAndMetadata(NamedTuple):
    offset: int
    leader_epoch: int
    metadata: str
    commit_timestamp: int
    expire_timestamp: int | None  # only set by OffsetCommit v2-v4 with a retention time


class OffsetStore:
    def __init__(self):
        self.committed: dict[str, dict[TopicPartition, OffsetAndMetadata]] = {}
        # producer id -> group -> partition -> offset, until its marker
        self.pending: dict[int, dict[str, dict[TopicPartition, OffsetAndMetadata]]] = {}

    # --- reading ------------------------------------------------------------------
    def offsets(self, group_id: str) -> dict[TopicPartition, OffsetAndMetadata]:
        return self.committed.get(group_id, {})

    def get(self, group_id: str, tp: TopicPartition) -> OffsetAndMetadata | None:
        return self.committed.get(group_id, {}).get(tp)

    def has_pending(self, group_id: str, tp: TopicPartition | None = None) -> bool:
        """Whether a transaction has uncommitted offsets for the group (or one
        of its partitions): OffsetFetch with RequireStable waits for them."""
        for groups in self.pending.values():
            offsets = groups.get(group_id)
            if offsets and (tp is None or tp in offsets):
                return True
        return False

    def end_transaction_groups(self, producer_id: int) -> list[str]:
        """The groups with offsets pending in ``producer_id``'s transaction."""
        return list(self.pending.get(producer_id, {}))

    # --- replay ---------------------------------------------------------------------
    def replay(self, group_id: str, tp: TopicPartition, offset: OffsetAndMetadata | None, producer_id: int) -> None:
        if producer_id >= 0:
            if offset is not None:
                self.pending.setdefault(producer_id, {}).setdefault(group_id, {})[tp] = offset
            return
        if offset is None:
            offsets = self.committed.get(group_id)
            if offsets is not None:
                offsets.pop(tp, None)
                if not offsets:
                    del self.committed[group_id]
        else:
            self.committed.setdefault(group_id, {})[tp] = offset

    def replay_end_transaction(self, producer_id: int, commit: bool) -> None:
        groups = self.pending.pop(producer_id, None)
        if commit and groups:
            for group_id, offsets in groups.items():
                self.committed.setdefault(group_id, {}).update(offsets)
