"""Fetch (key 1), versions 0-17.

v0-1 read magic 0 and v2-3 magic 1 message sets (down-converted from the
stored v2 batches); v3+ bound the whole response (MaxBytes); v4+ isolation
level, last stable offset and aborted transactions; v5+ log start offset;
v7+ fetch sessions (KIP-227); v9+ current leader epoch (KIP-320); v11+
preferred read replica; v12+ tagged fields, last fetched epoch and diverging
epoch; v13+ topic ids instead of names; v15+ ReplicaState instead of
ReplicaId; v16+ node endpoints for the new leader.

The response waits up to MaxWaitMs for MinBytes, woken by appends. As in
Kafka, from v3 the first partition with data returns at least one whole batch
even when it exceeds the limits, so that consumers always make progress;
before v3 the partition limit is hard and cuts a larger message off.
A follower (replica id set) reads up to the log end offset; its fetch offset
tells the leader how far it got (``Partition.follower_fetch``), or the answer
is where its log diverges, at once.
Errors as Kafka answers them: a partition with an error carries no offsets
(-1), an unknown topic or partition an empty (not null) list of aborted
transactions; an unknown isolation level fails the whole request.
"""
from __future__ import annotations

import asyncio
import time

from wire import legacy
from wire.records import RecordsError

from ...cluster.metadata import ZERO_UUID
from ...errors import ErrorCode, KafkaError
from ...fetch_sessions import (FINAL_EPOCH, INITIAL_EPOCH, CachedPartition, FetchSessionError)
from ...log.errors import OffsetOutOfRange

API_KEY = 1
VERSIONS = (0, 17)

READ_UNCOMMITTED, READ_COMMITTED = 0, 1


def handle(ctx, request):
    version = ctx.api_version
    if request["isolation_level"] not in (READ_UNCOMMITTED, READ_COMMITTED):
        return _request_error(request, version, ErrorCode.UNKNOWN_SERVER_ERROR)
    try:
        fetch = FetchContext(ctx, request)
    except FetchSessionError as e:
        return {"error_code": e.code, "session_id": 0, "responses": []}
    results, readable, errors = fetch.read_all()
    if request["max_wait_ms"] <= 0 or readable >= request["min_bytes"] or errors or not fetch.entries:
        return fetch.response(results)
    return _long_poll(fetch, request, version)


def _request_error(request, version, code):
    """Kafka's FetchRequest.getErrorResponse (an unknown isolation level
    fails the whole request): the top-level code and, before v13, the same on
    every partition as named."""
    topics = [] if version >= 13 else [
        {"topic": t["topic"], "partitions": [_partition_response(p["partition"], code) for p in t["partitions"]]}
        for t in request["topics"]]
    return {"error_code": code, "session_id": 0, "responses": topics}


def _partition_response(index, error=ErrorCode.NONE):
    """A partition as Kafka's FetchResponse.partitionResponse answers it:
    offsets unknown, an empty (not null) list of aborted transactions."""
    return {"partition_index": index, "error_code": error, "high_watermark": -1, "last_stable_offset": -1,
            "log_start_offset": -1, "aborted_transactions": [], "preferred_read_replica": -1, "records": b""}


async def _long_poll(fetch, request, version):
    deadline = time.monotonic() + request["max_wait_ms"] / 1000
    loop = asyncio.get_running_loop()
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        waiter = loop.create_future()
        partitions = fetch.partitions()
        for partition in partitions:
            partition.add_waiter(waiter)
        try:
            await asyncio.wait_for(waiter, remaining)
        except asyncio.TimeoutError:
            break
        finally:
            for partition in partitions:
                partition.remove_waiter(waiter)
        results, readable, errors = fetch.read_all()
        if readable >= request["min_bytes"] or errors:
            return fetch.response(results)
    results, _, _ = fetch.read_all()
    return fetch.response(results)


class FetchContext:
    """The partitions one Fetch reads, from the request or its session, and
    the shape of the response (all partitions, or only changed ones)."""

    def __init__(self, ctx, request):
        self.ctx = ctx
        self.broker = ctx.broker
        self.version = ctx.api_version
        self.request = request
        state = request.get("replica_state")
        self.replica_id = state["replica_id"] if self.version >= 15 and state else request["replica_id"]
        self.replica_epoch = state["replica_epoch"] if self.version >= 15 and state else -1
        self.isolation = request["isolation_level"]
        self.session = None
        self.incremental = False
        self.session_id = 0
        requested = self._requested_partitions()
        sessions = self.broker.fetch_sessions
        session_id, epoch = request["session_id"], request["session_epoch"]
        if self.version < 7 or epoch == FINAL_EPOCH:
            if session_id:
                sessions.remove(session_id)
            self.entries = list(requested.values())
        elif epoch == INITIAL_EPOCH:
            if session_id:
                sessions.remove(session_id)
            self.session = sessions.create(requested)
            self.session_id = self.session.session_id if self.session else 0
            self.entries = list(requested.values())
        else:
            self.session = sessions.get(session_id, epoch)
            self.session.epoch = epoch + 1 if epoch < 2**31 - 1 else 1
            self.incremental = True
            self.session_id = session_id
            cached = self.session.partitions
            for forgotten in request["forgotten_topics_data"]:
                for index in forgotten["partitions"]:
                    cached.pop((self._topic_key(forgotten), index), None)
            for key, entry in requested.items():
                previous = cached.get(key)
                if previous is not None:
                    entry.high_watermark = previous.high_watermark
                    entry.last_stable_offset = previous.last_stable_offset
                    entry.sent_log_start_offset = previous.sent_log_start_offset
                cached[key] = entry
            self.entries = list(cached.values())

    def _topic_key(self, topic):
        return topic["topic_id"] if self.version >= 13 else topic["topic"]

    def _requested_partitions(self):
        metadata = self.broker.store.metadata
        requested = {}
        for topic in self.request["topics"]:
            if self.version >= 13:
                topic_id = topic["topic_id"]
                registration = metadata.topic_by_id(topic_id)
                name = registration.name if registration is not None else None
            else:
                name = topic["topic"]
                registration = metadata.topics.get(name)
                topic_id = registration.topic_id if registration is not None else ZERO_UUID
            for p in topic["partitions"]:
                requested[(self._topic_key(topic), p["partition"])] = CachedPartition(
                    name, topic_id, p["partition"], p["fetch_offset"], p["partition_max_bytes"],
                    p["log_start_offset"], p["current_leader_epoch"], p["last_fetched_epoch"])
        return requested

    def partitions(self):
        replicas = self.broker.replicas
        return [p for e in self.entries if e.topic is not None
                and (p := replicas.get(e.topic, e.partition)) is not None]

    # --- reading -------------------------------------------------------------------
    def read_all(self):
        """Read every partition once: (results, bytes read, any error)."""
        if self.version >= 3:
            limit = min(self.request["max_bytes"], self._response_limit())
        else:
            limit = self._response_limit()
        min_one = True
        results, readable, errors = [], 0, False
        for entry in self.entries:
            result, size = self._read(entry, limit, min_one)
            if size and self.version >= 3:
                min_one = False
                limit = max(limit - size, 0)
                readable += size
            errors = errors or result["error_code"] != ErrorCode.NONE or "diverging_epoch" in result
            results.append((entry, result))
        return results, readable, errors

    def _response_limit(self):
        config = self.broker.config
        return config.get("replica.fetch.response.max.bytes" if self.replica_id >= 0 else "fetch.max.bytes")

    def _read(self, entry, limit, min_one):
        result = _partition_response(entry.partition)
        if entry.topic is None:
            result["error_code"] = ErrorCode.UNKNOWN_TOPIC_ID
            return result, 0
        # Past Kafka's metadata check (unknown topics and partitions, answered
        # as above) the answer is its log read's: no aborted transactions
        # but for read_committed, and no offsets with an error.
        result["aborted_transactions"] = None
        try:
            partition = self.broker.replicas.leader_partition(entry.topic, entry.partition)
            # Any negative epoch means none, as Kafka reads the request.
            partition.check_leader_epoch(max(entry.current_leader_epoch, -1))
            diverging, max_offset = None, partition.high_watermark
            if self.replica_id >= 0:  # a follower: it may have to truncate, else it tells how far it got
                diverging = partition.follower_fetch(self.replica_id, entry.fetch_offset, entry.last_fetched_epoch,
                                                     self.replica_epoch)
                max_offset = partition.log_end_offset
            elif self.isolation == READ_COMMITTED:
                max_offset = partition.last_stable_offset
            if diverging is None:
                data = partition.log.read(entry.fetch_offset, min(entry.max_bytes, limit), max_offset, min_one)
        except KafkaError as e:
            result["error_code"] = e.code
            if e.code == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION:
                result["aborted_transactions"] = []
            elif e.code in (ErrorCode.NOT_LEADER_OR_FOLLOWER, ErrorCode.FENCED_LEADER_EPOCH):
                result["current_leader"] = self.broker.replicas.leader_and_epoch(entry.topic, entry.partition)
            return result, 0
        except OffsetOutOfRange:
            result["error_code"] = ErrorCode.OFFSET_OUT_OF_RANGE
            return result, 0
        except ValueError:  # a negative partition_max_bytes, refused by the log
            result["error_code"] = ErrorCode.UNKNOWN_SERVER_ERROR
            return result, 0
        result["high_watermark"] = partition.high_watermark
        result["last_stable_offset"] = partition.last_stable_offset
        result["log_start_offset"] = partition.log_start_offset
        if diverging is not None:
            result["diverging_epoch"] = diverging
            return result, 0
        if self.isolation == READ_COMMITTED and self.replica_id < 0:
            result["aborted_transactions"] = partition.aborted_transactions(entry.fetch_offset, data)
        if data and self.version < 4:
            try:
                data = legacy.v2_to_legacy(data, legacy.fetch_magic(self.version), first_offset=entry.fetch_offset)
            except RecordsError as e:
                result["error_code"] = e.error_code
                return result, 0
        if self.version <= 2 and len(data) > entry.max_bytes:
            # Before v3 the limit is hard, as in Kafka: a larger message comes
            # back cut off, and the client reports it as too large for its fetch size.
            data = data[:entry.max_bytes]
        result["records"] = data
        return result, len(data)

    # --- the response ----------------------------------------------------------------
    def response(self, results):
        topics = []
        by_topic = {}
        for entry, result in results:
            if self.incremental and not self._changed(entry, result):
                continue
            entry.high_watermark = result["high_watermark"]
            entry.last_stable_offset = result["last_stable_offset"]
            entry.sent_log_start_offset = result["log_start_offset"]
            key = entry.topic_id if self.version >= 13 else entry.topic
            topic = by_topic.get(key)
            if topic is None:
                topic = by_topic[key] = {"topic": entry.topic, "topic_id": entry.topic_id, "partitions": []}
                topics.append(topic)
            topic["partitions"].append(result)
        response = {"error_code": ErrorCode.NONE, "session_id": self.session_id, "responses": topics}
        if self.version >= 16:
            response["node_endpoints"] = self._leader_endpoints(results)
        return response

    @staticmethod
    def _changed(entry, result):
        return (len(result["records"]) > 0 or result["error_code"] != ErrorCode.NONE
                or result["high_watermark"] != entry.high_watermark
                or result["last_stable_offset"] != entry.last_stable_offset
                or result["log_start_offset"] != entry.sent_log_start_offset)

    def _leader_endpoints(self, results):
        brokers = self.broker.store.metadata.brokers
        endpoints = {}
        for _, result in results:
            leader = result.get("current_leader", {}).get("leader_id", -1)
            registration = brokers.get(leader)
            if registration is not None and (endpoint := registration.endpoint(self.ctx.listener)):
                endpoints[leader] = {"node_id": leader, "host": endpoint[0], "port": endpoint[1],
                                     "rack": registration.rack}
        return list(endpoints.values())
