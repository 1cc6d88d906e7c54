"""Followers fetch from leaders, the Kafka way (ReplicaFetcherManager,
ReplicaFetcherThread): one fetcher per leader broker, fetching every
partition this broker follows there in one Fetch (the replica id set, so the
leader reads up to its log end offset and learns how far we got).

Before fetching under a new leader epoch, a partition's log is truncated
where it diverges from the leader's (KIP-101/KIP-279): OffsetForLeaderEpoch
gives the end of our latest epoch in the leader's log, possibly in several
rounds. Divergence found later comes back in Fetch responses (KIP-320's
DivergingEpoch) and is handled the same way.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from wire.records import RecordsError, batch_spans, parse_header

from ..errors import ErrorCode
from ..log.errors import UnexpectedAppendOffset
from .peer_client import PeerConnection, PeerError

log = logging.getLogger("pykbroker.replication")

FETCH, LIST_OFFSETS, OFFSET_FOR_LEADER_EPOCH = 1, 2, 23
FETCH_VERSION, LIST_OFFSETS_VERSION, OFFSET_FOR_LEADER_EPOCH_VERSION = 17, 8, 4
LATEST, EARLIEST = -1, -2
_RETRIABLE = {ErrorCode.NOT_LEADER_OR_FOLLOWER, ErrorCode.FENCED_LEADER_EPOCH, ErrorCode.UNKNOWN_LEADER_EPOCH,
              ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.UNKNOWN_TOPIC_ID, ErrorCode.LEADER_NOT_AVAILABLE,
              ErrorCode.KAFKA_STORAGE_ERROR, ErrorCode.REPLICA_NOT_AVAILABLE}


class ReplicaFetchers:
    """The fetchers of this broker, kept in step with the partitions it follows."""

    def __init__(self, node: Any):
        self.node = node
        self.fetchers: dict[int, LeaderFetcher] = {}

    def update(self, partitions: dict) -> None:
        """After every change of the hosted partitions: each followed
        partition goes to the fetcher of its current leader."""
        node_id = self.node.node_id
        wanted: dict[int, dict] = {}
        for key, partition in partitions.items():
            leader = partition.registration.leader
            if leader >= 0 and leader != node_id:
                wanted.setdefault(leader, {})[key] = partition
        for leader in [leader for leader in self.fetchers if leader not in wanted]:
            self.fetchers.pop(leader).stop()
        for leader, assigned in wanted.items():
            fetcher = self.fetchers.get(leader)
            if fetcher is None:
                fetcher = self.fetchers[leader] = LeaderFetcher(self.node, leader)
            fetcher.assign(assigned)

    def close(self) -> None:
        for fetcher in self.fetchers.values():
            fetcher.stop()
        self.fetchers.clear()


class _FetchState:
    __slots__ = ("partition", "leader_epoch", "truncating", "retry_at")

    def __init__(self, partition: Any):
        self.partition = partition
        self.leader_epoch = partition.leader_epoch
        self.truncating = True
        self.retry_at = 0.0


class LeaderFetcher:
    def __init__(self, node: Any, leader_id: int):
        self.node = node
        self.leader_id = leader_id
        config = node.config
        self.wait_ms = config.get("replica.fetch.wait.max.ms")
        self.min_bytes = config.get("replica.fetch.min.bytes")
        self.partition_max_bytes = config.get("replica.fetch.max.bytes")
        self.response_max_bytes = config.get("replica.fetch.response.max.bytes")
        self.backoff = config.get("replica.fetch.backoff.ms") / 1000
        self.socket_timeout = config.get("replica.socket.timeout.ms") / 1000
        self.states: dict[tuple[str, int], _FetchState] = {}
        self.connection: PeerConnection | None = None
        self._failing = False  # log a failure streak once
        self._changed = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run())

    def assign(self, partitions: dict) -> None:
        """The partitions to fetch from this leader now; one whose leader
        epoch changed is truncated again before fetching."""
        for key in [key for key in self.states if key not in partitions]:
            del self.states[key]
        for key, partition in partitions.items():
            state = self.states.get(key)
            if state is None or state.partition is not partition or state.leader_epoch != partition.leader_epoch:
                self.states[key] = _FetchState(partition)
        self._changed.set()

    def stop(self) -> None:
        self._task.cancel()
        if self.connection is not None:
            self.connection.close()

    # --- the loop --------------------------------------------------------------------
    async def _run(self) -> None:
        while True:
            self._changed.clear()  # an assignment from now on cuts the next pause short
            try:
                connection = self._connect()
                if connection is None:
                    await self._pause(self.backoff)
                    continue
                if any(s.truncating for s in self.states.values()):
                    await self._truncate(connection)
                ready = [s for s in self.states.values() if not s.truncating and s.retry_at <= time.monotonic()]
                if ready:
                    await self._fetch(connection, ready)
                    self._failing = False
                else:
                    await self._pause(self._next_retry())
            except PeerError as e:
                log.log(logging.DEBUG if self._failing else logging.INFO, "fetching from broker %d: %s",
                        self.leader_id, e)
                self._failing = True
                await self._pause(self.backoff)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("replica fetcher for broker %d failed", self.leader_id)
                await self._pause(self.backoff)

    async def _pause(self, seconds: float) -> None:
        """Sleep, but wake up at once when the assignment changes."""
        try:
            async with asyncio.timeout(seconds):
                await self._changed.wait()
        except TimeoutError:
            pass

    def _next_retry(self) -> float:
        pending = [s.retry_at for s in self.states.values() if not s.truncating]
        return max(0.0, min(pending) - time.monotonic()) if pending else self.backoff

    def _connect(self) -> PeerConnection | None:
        registration = self.node.store.metadata.brokers.get(self.leader_id)
        endpoint = registration.endpoint(self.node.inter_broker_listener) if registration else None
        if endpoint is None:
            return None
        if self.connection is None or (self.connection.host, self.connection.port) != endpoint:
            if self.connection is not None:
                self.connection.close()
            self.connection = PeerConnection(endpoint[0], endpoint[1], f"replica-fetcher-{self.node.node_id}")
        return self.connection

    def _current(self, state: _FetchState) -> bool:
        """Whether a state is still what this fetcher should act on."""
        key = (state.partition.topic, state.partition.index)
        return self.states.get(key) is state and state.partition.leader_epoch == state.leader_epoch

    def _delay(self, state: _FetchState) -> None:
        state.retry_at = time.monotonic() + self.backoff

    # --- truncation --------------------------------------------------------------------
    async def _truncate(self, connection: PeerConnection) -> None:
        """OffsetForLeaderEpoch for every partition awaiting truncation,
        then cut each log where it diverges; repeated while a round only
        reached an intermediate epoch."""
        for _ in range(16):
            pending = [s for s in self.states.values() if s.truncating and s.retry_at <= time.monotonic()]
            if not pending:
                return
            asked = {}
            for state in pending:
                log_ = state.partition.log
                if log_.latest_epoch < 0:
                    # Nothing written under any epoch: at most keep what the
                    # high watermark vouches for.
                    state.partition.truncate_to(state.partition.high_watermark)
                    state.truncating = False
                    continue
                asked[(state.partition.topic, state.partition.index)] = (state, log_.latest_epoch)
            if not asked:
                return
            topics: dict[str, list] = {}
            for (topic, index), (state, epoch) in asked.items():
                topics.setdefault(topic, []).append({"partition": index, "current_leader_epoch": state.leader_epoch,
                                                     "leader_epoch": epoch})
            body = {"replica_id": self.node.node_id,
                    "topics": [{"topic": t, "partitions": ps} for t, ps in topics.items()]}
            response = await connection.request(OFFSET_FOR_LEADER_EPOCH, OFFSET_FOR_LEADER_EPOCH_VERSION, body,
                                                 self.socket_timeout)
            for topic in response["topics"]:
                for p in topic["partitions"]:
                    entry = asked.get((topic["topic"], p["partition"]))
                    if entry is None or not self._current(entry[0]):
                        continue
                    state = entry[0]
                    if p["error_code"] != ErrorCode.NONE:
                        self._delay(state)
                        continue
                    complete = self._truncate_to_leader(state.partition, p["leader_epoch"], p["end_offset"])
                    state.truncating = not complete

    @staticmethod
    def _truncate_to_leader(partition: Any, leader_epoch: int, leader_end_offset: int) -> bool:
        """Cut our log where the leader's log for ``leader_epoch`` ends
        (Kafka's getOffsetTruncationState); False if only an intermediate
        point was reached and the leader must be asked again."""
        end = partition.log.log_end_offset
        if leader_end_offset < 0:
            offset, complete = min(partition.high_watermark, end), True
        else:
            epoch, epoch_end = partition.log.end_offset_for_epoch(leader_epoch)
            if epoch < 0:
                offset, complete = min(leader_end_offset, end), True
            elif epoch != leader_epoch:
                offset, complete = min(epoch_end, end), False
            else:
                offset, complete = min(leader_end_offset, epoch_end, end), True
        if offset < end:
            log.info("truncating %s-%d from %d to %d (leader epoch %d ends at %d there)", partition.topic,
                     partition.index, end, offset, leader_epoch, leader_end_offset)
            partition.truncate_to(offset)
        return complete

    # --- fetching --------------------------------------------------------------------
    async def _fetch(self, connection: PeerConnection, ready: list[_FetchState]) -> None:
        by_id: dict[bytes, list] = {}
        sent = {}
        for state in ready:
            p = state.partition
            log_ = p.log
            by_id.setdefault(p.topic_id, []).append({
                "partition": p.index, "current_leader_epoch": state.leader_epoch,
                "fetch_offset": log_.log_end_offset, "last_fetched_epoch": log_.latest_epoch,
                "log_start_offset": log_.log_start_offset, "partition_max_bytes": self.partition_max_bytes})
            sent[(p.topic_id, p.index)] = (state, log_.log_end_offset)
        body = {"replica_id": -1, "replica_state": {"replica_id": self.node.node_id,
                                                    "replica_epoch": self.node.broker_epoch},
                "max_wait_ms": self.wait_ms, "min_bytes": self.min_bytes, "max_bytes": self.response_max_bytes,
                "isolation_level": 0, "session_id": 0, "session_epoch": -1, "forgotten_topics_data": [],
                "rack_id": "", "topics": [{"topic_id": t, "partitions": ps} for t, ps in by_id.items()]}
        response = await connection.request(FETCH, FETCH_VERSION, body, self.wait_ms / 1000 + self.socket_timeout)
        if response["error_code"] != ErrorCode.NONE:
            raise PeerError(f"fetch failed: {ErrorCode(response['error_code']).name}")
        for topic in response["responses"]:
            for p in topic["partitions"]:
                entry = sent.get((topic["topic_id"], p["partition_index"]))
                if entry is not None and self._current(entry[0]):
                    await self._process(connection, entry[0], entry[1], p)

    async def _process(self, connection: PeerConnection, state: _FetchState, fetch_offset: int, p: dict) -> None:
        partition = state.partition
        error = p["error_code"]
        if error == ErrorCode.OFFSET_OUT_OF_RANGE:
            await self._out_of_range(connection, state)
            return
        if error != ErrorCode.NONE:
            if error not in _RETRIABLE:
                log.warning("fetching %s-%d from broker %d: %s", partition.topic, partition.index, self.leader_id,
                            ErrorCode(error).name)
            self._delay(state)
            return
        diverging = p["diverging_epoch"]
        if diverging["end_offset"] >= 0 or diverging["epoch"] >= 0:
            if not self._truncate_to_leader(partition, diverging["epoch"], diverging["end_offset"]):
                state.truncating = True
            return
        if partition.log.log_end_offset != fetch_offset:
            return  # the log changed while the fetch was out: this data is stale
        data = p["records"]
        if data:
            self._append(partition, data)
        partition.update_follower_state(p["high_watermark"], p["log_start_offset"])

    def _append(self, partition: Any, data: bytes) -> None:
        end = partition.log.log_end_offset
        headers, first, last = [], None, 0
        try:
            for pos, size, magic in batch_spans(data):
                header = parse_header(data, pos)
                if header.last_offset < end:
                    continue  # a batch we hold already (the read starts at the batch holding the offset)
                if first is None:
                    first = pos
                headers.append(header)
                last = pos + size
        except RecordsError as e:
            log.error("corrupt data fetched for %s-%d from broker %d: %s", partition.topic, partition.index,
                      self.leader_id, e)
            return
        if headers:
            try:
                partition.append_as_follower(bytearray(memoryview(data)[first:last]), headers)
            except UnexpectedAppendOffset as e:
                log.error("cannot append data fetched for %s-%d: %s", partition.topic, partition.index, e)

    async def _out_of_range(self, connection: PeerConnection, state: _FetchState) -> None:
        """Our log end is beyond the leader's (possible only after an
        unclean election) or before its start (it deleted what we lack)."""
        partition = state.partition
        leader_end = await self._leader_offset(connection, state, LATEST)
        if leader_end is None:
            return
        if leader_end < partition.log.log_end_offset:
            partition.truncate_to(leader_end)
            return
        leader_start = await self._leader_offset(connection, state, EARLIEST)
        if leader_start is not None and leader_start > partition.log.log_end_offset:
            log.info("%s-%d starts over at the leader's log start offset %d", partition.topic, partition.index,
                     leader_start)
            partition.restart_at(leader_start)

    async def _leader_offset(self, connection: PeerConnection, state: _FetchState, timestamp: int) -> int | None:
        partition = state.partition
        body = {"replica_id": self.node.node_id, "isolation_level": 0, "topics": [
            {"name": partition.topic, "partitions": [{"partition_index": partition.index,
                                                      "current_leader_epoch": state.leader_epoch,
                                                      "timestamp": timestamp}]}]}
        response = await connection.request(LIST_OFFSETS, LIST_OFFSETS_VERSION, body, self.socket_timeout)
        result = response["topics"][0]["partitions"][0]
        if result["error_code"] != ErrorCode.NONE or not self._current(state):
            self._delay(state)
            return None
        return result["offset"]
