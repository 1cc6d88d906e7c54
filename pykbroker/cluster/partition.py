"""The state of one partition replica hosted by this broker: its log, its
leader epoch, the high watermark, and the requests waiting for new data.

A single broker is a cluster of one: it leads every partition, its ISR is
itself, and the high watermark follows the log end offset at once. With
several brokers a leader learns its followers' log end offsets from their
fetches (Kafka's Partition): the high watermark is the smallest among the
ISR, and followers that stop keeping up leave the ISR, through the
controller, as do returning ones that caught up. A follower appends what it
fetches and takes the leader's high watermark.
"""
from __future__ import annotations

import asyncio
import time
from typing import Any, Callable

from wire.records import batch_spans, parse_header

from ..errors import ErrorCode, KafkaError
from ..log.producer_state import COORDINATOR
from .follower_state import FollowerState, now_ms
from .metadata import PartitionRegistration

# An ISR change proposed to the controller: partition, new ISR.
IsrChanger = Callable[["Partition", list[int]], None]


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
        # Leader side: the followers, the ISR change awaiting the controller
        # (None if none), and where this leader's epoch began in the log.
        self.followers: dict[int, FollowerState] = {}
        self.pending_isr: list[int] | None = None
        self.leader_epoch_start_offset = 0
        self.replica_lag_time_max_ms = 30000
        self.isr_changer: IsrChanger | None = None
        self._leadership: tuple[int, int] | None = None  # (leader, leader epoch) last acted upon
        self.update_registration(registration)

    def __repr__(self) -> str:
        return f"Partition({self.topic}-{self.index})"

    # --- leadership ------------------------------------------------------------
    def update_registration(self, registration: PartitionRegistration) -> None:
        self.registration = registration
        leadership = (registration.leader, registration.leader_epoch)
        if leadership != self._leadership:
            self._leadership = leadership
            if self.is_leader:
                self._become_leader()
            else:
                self._become_follower()
        elif self.pending_isr is not None and (self.pending_isr == registration.isr
                                               or self.node_id not in registration.isr):
            self.pending_isr = None
        if self.is_leader:
            self.maybe_advance_high_watermark()

    def _become_leader(self) -> None:
        """A new leader epoch starts at the log end offset (recorded at once,
        so that followers asking where an older epoch ended learn it here)."""
        end = self.log.log_end_offset
        if self.leader_epoch > self.log.latest_epoch:
            self.log.leader_epochs.assign(self.leader_epoch, end)
        self.leader_epoch_start_offset = end
        now = now_ms()
        isr = self.registration.isr
        self.followers = {r: FollowerState(r in isr, now) for r in self.registration.replicas if r != self.node_id}
        self.pending_isr = None
        self.wake_waiters()  # acks=all appends of an earlier epoch answer now

    def _become_follower(self) -> None:
        self.followers = {}
        self.pending_isr = None
        self.wake_waiters()

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
        """The smallest log end offset among the ISR (with members being
        added), and among followers caught up but not yet added, as Kafka
        computes it; only ever forward. Alone in the ISR, the log end offset."""
        new = self.log.log_end_offset
        if self.followers:
            end = new
            now = now_ms()
            isr = self.registration.isr
            for replica, state in self.followers.items():
                if state.log_end_offset < new and (
                        replica in isr or (self.pending_isr is not None and replica in self.pending_isr)
                        or state.is_caught_up(end, now, self.replica_lag_time_max_ms)):
                    new = state.log_end_offset
        if new > self.high_watermark:
            self._set_high_watermark(new)

    def in_sync_replicas(self) -> list[int]:
        """The ISR less the followers this leader already knows to lag past
        replica.lag.time.max.ms (their removal may still await the controller,
        or a controller: acks=all is refused meanwhile rather than left to time out)."""
        lagging = self.out_of_sync_followers()
        return [r for r in self.registration.isr if r not in lagging] if lagging else self.registration.isr

    def _set_high_watermark(self, offset: int) -> None:
        if offset != self.high_watermark:
            self.high_watermark = offset
            self.log.on_high_watermark(offset)
            self.wake_waiters()

    def check_min_isr(self) -> None:
        """acks=all writes need min.insync.replicas replicas in sync."""
        isr = self.in_sync_replicas()
        if len(isr) < self.log.config.min_insync_replicas:
            raise KafkaError(ErrorCode.NOT_ENOUGH_REPLICAS,
                             f"The size of the current ISR {isr} is insufficient to satisfy the "
                             f"min.isr requirement of {self.log.config.min_insync_replicas} for partition "
                             f"{self.topic}-{self.index}")

    def replication_outcome(self, offset: int) -> ErrorCode | None:
        """For an acks=all append ending before ``offset``: None while waiting,
        NONE once the high watermark passed it, else the error to answer."""
        if not self.is_leader:
            return ErrorCode.NOT_LEADER_OR_FOLLOWER
        if self.high_watermark >= offset:
            return ErrorCode.NONE
        if len(self.in_sync_replicas()) < self.log.config.min_insync_replicas:
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

    # --- replication: leader side -------------------------------------------------
    def follower_fetch(self, replica_id: int, fetch_offset: int, last_fetched_epoch: int,
                       broker_epoch: int) -> dict | None:
        """A follower's fetch (Kafka's Partition.fetchRecords for a replica):
        the epoch where its log diverges from ours, if it does (KIP-320:
        nothing is read then and it truncates), else None after recording
        its progress, which may advance the high watermark or add it to the ISR."""
        state = self.followers.get(replica_id)
        if state is None:
            raise KafkaError(ErrorCode.NOT_LEADER_OR_FOLLOWER,
                             f"Replica {replica_id} is not a follower of {self.topic}-{self.index}")
        if last_fetched_epoch >= 0:
            epoch, end = self.log.end_offset_for_epoch(last_fetched_epoch)
            if epoch < last_fetched_epoch or end < fetch_offset:
                return {"epoch": epoch, "end_offset": end}
        end = self.log.log_end_offset
        if fetch_offset > end:
            return None  # the read answers OFFSET_OUT_OF_RANGE
        state.record_fetch(fetch_offset, end, now_ms(), broker_epoch)
        self.maybe_advance_high_watermark()
        isr = self.registration.isr
        if (replica_id not in isr and self.pending_isr is None and self.isr_changer is not None
                and fetch_offset >= self.high_watermark and fetch_offset >= self.leader_epoch_start_offset):
            self.propose_isr(isr + [replica_id])
        return None

    def out_of_sync_followers(self) -> list[int]:
        """ISR members that have not caught up within replica.lag.time.max.ms."""
        if not self.is_leader or not self.followers:
            return []
        end = self.log.log_end_offset
        now = now_ms()
        return [r for r in self.registration.isr if r != self.node_id and not (
            (state := self.followers.get(r)) is not None and state.is_caught_up(end, now, self.replica_lag_time_max_ms))]

    def propose_isr(self, isr: list[int]) -> None:
        """Ask the controller for a new ISR; one change at a time, as Kafka's
        AlterPartition manager does."""
        self.pending_isr = list(isr)
        self.isr_changer(self, self.pending_isr)

    # --- replication: follower side -------------------------------------------------
    def append_as_follower(self, data, headers: list) -> Any:
        """Append batches fetched from the leader, keeping their offsets and epochs."""
        return self.log.append_replicated(data, headers)

    def update_follower_state(self, leader_high_watermark: int, leader_log_start_offset: int) -> None:
        """What a fetch response tells a follower: the leader's high
        watermark (ours is the lower of it and our log end offset) and log
        start offset (records deleted there go here too)."""
        end = self.log.log_end_offset
        if 0 <= leader_log_start_offset <= end and leader_log_start_offset > self.log.log_start_offset:
            self.log.delete_records_before(leader_log_start_offset)
        if leader_high_watermark >= 0:
            self._set_high_watermark(min(leader_high_watermark, end))

    def truncate_to(self, offset: int) -> None:
        """Drop our log from ``offset`` on (where it diverges from the leader's)."""
        if offset < self.log.log_end_offset:
            self.log.truncate_to(offset)
            if self.high_watermark > self.log.log_end_offset:
                self._set_high_watermark(self.log.log_end_offset)

    def restart_at(self, offset: int) -> None:
        """Empty our log and start it at ``offset`` (the leader's log start
        offset, when what we hold ends before it)."""
        self.log.truncate_fully_and_start_at(offset)
        self._set_high_watermark(offset)

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
