"""What a partition leader knows of each follower (Kafka's ReplicaState):
how far its log goes, learnt from the offsets it fetches, and when it was
last caught up, which decides whether it stays in the ISR."""
from __future__ import annotations

import time

UNKNOWN_OFFSET = -1


def now_ms() -> int:
    return time.monotonic_ns() // 1_000_000


class FollowerState:
    __slots__ = ("log_end_offset", "last_caught_up_ms", "last_fetch_ms", "last_fetch_leader_end_offset",
                 "broker_epoch")

    def __init__(self, in_sync: bool, now: int):
        # Unknown until it fetches from this leader: the high watermark
        # waits for every ISR member to have fetched once.
        self.log_end_offset = UNKNOWN_OFFSET
        self.last_caught_up_ms = now if in_sync else 0
        self.last_fetch_ms = 0
        self.last_fetch_leader_end_offset = UNKNOWN_OFFSET
        self.broker_epoch = -1

    def record_fetch(self, fetch_offset: int, leader_end_offset: int, now: int, broker_epoch: int) -> None:
        """A fetch at ``fetch_offset`` means the follower holds everything
        before it. It was caught up now if it asked for the end of our log,
        and at its previous fetch if it asked for what the end was then."""
        if fetch_offset >= leader_end_offset:
            self.last_caught_up_ms = max(self.last_caught_up_ms, now)
        elif fetch_offset >= self.last_fetch_leader_end_offset:
            self.last_caught_up_ms = max(self.last_caught_up_ms, self.last_fetch_ms)
        self.log_end_offset = fetch_offset
        self.last_fetch_leader_end_offset = leader_end_offset
        self.last_fetch_ms = now
        self.broker_epoch = broker_epoch

    def is_caught_up(self, leader_end_offset: int, now: int, max_lag_ms: int) -> bool:
        """In sync as replica.lag.time.max.ms defines it."""
        return self.log_end_offset == leader_end_offset or now - self.last_caught_up_ms <= max_lag_ms
