"""Fetch sessions (KIP-227): a consumer or follower registers the partitions
it fetches once, then sends only what changed, and hears back only about
partitions with something new.

Request forms, by (session_id, session_epoch):
  (0, -1)  full fetch without a session        (x, -1) close x, full fetch
  (0,  0)  full fetch opening a new session    (x,  0) close x, open a new one
  (x, n>0) incremental fetch in session x, n being the next expected epoch
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass, field

from .errors import ErrorCode

INITIAL_EPOCH = 0
FINAL_EPOCH = -1
# Kafka evicts only sessions idle at least this long to make room for new ones.
EVICTION_MS = 120_000


@dataclass
class CachedPartition:
    topic: str
    topic_id: bytes
    partition: int
    fetch_offset: int
    max_bytes: int
    log_start_offset: int
    current_leader_epoch: int
    last_fetched_epoch: int
    # What the last response told the client, to detect changes.
    high_watermark: int = -1
    last_stable_offset: int = -1
    sent_log_start_offset: int = -1


@dataclass
class FetchSession:
    session_id: int
    epoch: int
    partitions: dict[tuple, CachedPartition] = field(default_factory=dict)
    last_used: float = 0.0


class FetchSessionError(Exception):
    def __init__(self, code: ErrorCode):
        super().__init__(code.name)
        self.code = code


class FetchSessionCache:
    def __init__(self, max_slots: int):
        self.max_slots = max_slots
        self.sessions: dict[int, FetchSession] = {}

    def get(self, session_id: int, epoch: int) -> FetchSession:
        """The session for an incremental fetch, checking its epoch."""
        session = self.sessions.get(session_id)
        if session is None:
            raise FetchSessionError(ErrorCode.FETCH_SESSION_ID_NOT_FOUND)
        if session.epoch != epoch:
            raise FetchSessionError(ErrorCode.INVALID_FETCH_SESSION_EPOCH)
        session.last_used = time.monotonic()
        return session

    def remove(self, session_id: int) -> None:
        self.sessions.pop(session_id, None)

    def create(self, partitions: dict[tuple, CachedPartition]) -> FetchSession | None:
        """A new session, or None when the cache is full of sessions in use
        (the client then gets a sessionless full response, session id 0)."""
        now = time.monotonic()
        if len(self.sessions) >= self.max_slots:
            idle = [s for s in self.sessions.values() if (now - s.last_used) * 1000 >= EVICTION_MS]
            if not idle:
                return None
            self.sessions.pop(min(idle, key=lambda s: s.last_used).session_id)
        session_id = 0
        while session_id == 0 or session_id in self.sessions:
            session_id = random.randint(1, 2**31 - 1)
        session = FetchSession(session_id, 1, partitions, now)
        self.sessions[session_id] = session
        return session
