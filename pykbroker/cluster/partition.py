"""The state of one partition replica hosted by this broker: its log, its
leader epoch, the high watermark, and the requests waiting for new data.

A single broker is a cluster of one: it leads every partition, its ISR is
itself, and the high watermark follows the log end offset at once.
"""
from __future__ import annotations

import asyncio
import time
from typing import Any

from wire.records import batch_spans, parse_header

from ..errors import ErrorCode, KafkaError
from ..log.producer_state import COORDINATOR
from .metadata import PartitionRegistration


class Partition:
    def __init__(self, topic: str, index: int, topic_id: bytes, log: Any, node_id: int,
                 registration: PartitionRegistration):
        self.topic = topic
        self.index = index
        self.topic_id = topic_id
        self.log = log
        self.node_id = node_id
        self.registration = registration
        self.high_watermark = 0
        self._waiters: list[asyncio.Future] = []
        self.update_registration(registration)

    def __repr__(self) -> str:
        return f"Partition({self.topic}-{self.index})"

    # --- leadership ------------------------------------------------------------
    def update_registration(self, registration: PartitionRegistration) -> None:
        self.registration = registration
        if self.is_leader:
            self.maybe_advance_high_watermark()

    @property
    def is_leader(self) -> bool:
        return self.registration.leader == self.node_id

    @property
    def leader_epoch(self) -> int:
        return self.registration.leader_epoch

    @property
    def isr(self) -> list[int]:
        return self.registration.isr

    # --- offsets ---------------------------------------------------------------
    @property
    def log_start_offset(self) -> int:
        return self.log.log_start_offset

    @property
    def log_end_offset(self) -> int:
        return self.log.log_end_offset

    @property
    def last_stable_offset(self) -> int:
        """What read_committed consumers may read up to: the high watermark,
        or the first offset of an undecided transaction below it."""
        unstable = self.log.first_unstable_offset
        if unstable is not None and unstable < self.high_watermark:
            return unstable
        return self.high_watermark

    def maybe_advance_high_watermark(self) -> None:
        """With this broker as the only in-sync replica, every appended batch
        is fully replicated: the high watermark is the log end offset."""
        if self.isr == [self.node_id]:
            self._set_high_watermark(self.log.log_end_offset)

    def _set_high_watermark(self, offset: int) -> None:
        if offset != self.high_watermark:
            self.high_watermark = offset
            self.log.on_high_watermark(offset)
            self.wake_waiters()

    def check_min_isr(self) -> None:
        """acks=all writes need min.insync.replicas replicas in sync."""
        if len(self.isr) < self.log.config.min_insync_replicas:
            raise KafkaError(ErrorCode.NOT_ENOUGH_REPLICAS,
                             f"The size of the current ISR {self.isr} is insufficient to satisfy the "
                             f"min.isr requirement of {self.log.config.min_insync_replicas} for partition "
                             f"{self.topic}-{self.index}")

    def replication_outcome(self, offset: int) -> ErrorCode | None:
        """For an acks=all append ending before ``offset``: None while waiting,
        NONE once the high watermark passed it, else the error to answer."""
        if not self.is_leader:
            return ErrorCode.NOT_LEADER_OR_FOLLOWER
        if self.high_watermark >= offset:
            return ErrorCode.NONE
        if len(self.isr) < self.log.config.min_insync_replicas:
            return ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND
        return None

    async def wait_replicated(self, offset: int, timeout_ms: int) -> ErrorCode:
        """For an acks=all append ending before ``offset``: NONE once the high
        watermark passed it, else the error (REQUEST_TIMED_OUT at the deadline)."""
        deadline = time.monotonic() + timeout_ms / 1000
        while (outcome := self.replication_outcome(offset)) is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return ErrorCode.REQUEST_TIMED_OUT
            waiter = asyncio.get_running_loop().create_future()
            self.add_waiter(waiter)
            try:
                await asyncio.wait_for(waiter, remaining)
            except asyncio.TimeoutError:
                pass
            finally:
                self.remove_waiter(waiter)
        return outcome

    def check_leader_epoch(self, current_leader_epoch: int) -> None:
        """KIP-320: a client that knows a newer or older epoch than ours."""
        if current_leader_epoch == -1:
            return
        if current_leader_epoch < self.leader_epoch:
            raise KafkaError(ErrorCode.FENCED_LEADER_EPOCH,
                             f"The leader epoch {current_leader_epoch} is older than the current "
                             f"{self.leader_epoch} of {self.topic}-{self.index}")
        if current_leader_epoch > self.leader_epoch:
            raise KafkaError(ErrorCode.UNKNOWN_LEADER_EPOCH,
                             f"The leader epoch {current_leader_epoch} is newer than the current "
                             f"{self.leader_epoch} of {self.topic}-{self.index}")

    def end_offset_for_epoch(self, epoch: int) -> tuple[int, int]:
        """(epoch, end offset) as OffsetForLeaderEpoch answers: the largest
        epoch <= the one asked for, and the offset where the next one began
        (the log end offset for the latest epoch); (-1, -1) if unknown."""
        return self.log.end_offset_for_epoch(epoch)

    def delete_records_before(self, offset: int) -> int:
        """DeleteRecords: advance the log start offset; returns the new one."""
        if offset == -1:
            offset = self.high_watermark
        if offset < 0 or offset > self.high_watermark:
            raise KafkaError(ErrorCode.OFFSET_OUT_OF_RANGE,
                             f"Cannot increment the log start offset to {offset} of partition "
                             f"{self.topic}-{self.index} since it is larger than the high watermark "
                             f"{self.high_watermark}")
        if offset > self.log.log_start_offset:
            self.log.delete_records_before(offset)
        return self.log.log_start_offset

    def aborted_transactions(self, fetch_offset: int, data) -> list[dict]:
        """Aborted transactions overlapping fetched data, for read_committed."""
        last = None
        for pos, _, _ in batch_spans(data):
            last = pos
        if last is None:
            return []
        end = parse_header(data, last).last_offset + 1
        return [{"producer_id": t.producer_id, "first_offset": t.first_offset}
                for t in self.log.collect_aborted_transactions(fetch_offset, end)]

    # --- appends ---------------------------------------------------------------
    def append_as_leader(self, data: bytearray, headers: list, origin: str = COORDINATOR) -> Any:
        """Append as the leader; ``origin`` CLIENT for the Produce path (see
        PartitionLog.append)."""
        info = self.log.append(data, headers, self.leader_epoch, origin=origin)
        self.maybe_advance_high_watermark()
        self.wake_waiters()
        return info

    # --- waiting for data ------------------------------------------------------
    def add_waiter(self, waiter: asyncio.Future) -> None:
        self._waiters.append(waiter)

    def remove_waiter(self, waiter: asyncio.Future) -> None:
        try:
            self._waiters.remove(waiter)
        except ValueError:
            pass

    def wake_waiters(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
