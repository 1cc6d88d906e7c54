"""Writing transaction markers (COMMIT or ABORT control batches) into the
partitions of a transaction, as the leader of each does on WriteTxnMarkers.

``write_marker`` appends one as this broker, the partition's leader: the
WriteTxnMarkers handler calls it, and so does the transaction coordinator
for the partitions it leads itself (on a single broker, all of them). A
marker in a ``__consumer_offsets`` partition goes through the group
coordinator, which makes the transaction's offsets visible (or drops them)
as it writes it. ``MarkerChannel`` sends markers to the leaders on other
brokers, as Kafka's TransactionMarkerChannelManager does.
"""
from __future__ import annotations

import time
from typing import Any

from wire.records import build_control_batch, parse_header

from ...cluster.peer_client import PeerError, PeerPool, UnknownPeer
from ...errors import ErrorCode, KafkaError
from ...log.producer_state import ProducerStateError

GROUP_TOPIC = "__consumer_offsets"
WRITE_TXN_MARKERS = 27

# Errors after which a marker is simply tried again (Kafka's
# TransactionMarkerRequestCompletionHandler); others end the attempt.
RETRIABLE = frozenset({
    ErrorCode.NOT_LEADER_OR_FOLLOWER, ErrorCode.NOT_ENOUGH_REPLICAS, ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND,
    ErrorCode.REQUEST_TIMED_OUT, ErrorCode.KAFKA_STORAGE_ERROR, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
    ErrorCode.COORDINATOR_NOT_AVAILABLE, ErrorCode.NOT_COORDINATOR, ErrorCode.LEADER_NOT_AVAILABLE,
})


async def write_marker(broker: Any, topic: str, index: int, producer_id: int, producer_epoch: int,
                       coordinator_epoch: int, commit: bool) -> ErrorCode:
    """Append the marker as this partition's leader and wait until it is
    replicated; returns the error code for this partition."""
    if topic == GROUP_TOPIC:
        return await broker.group_coordinator.complete_transaction(index, producer_id, producer_epoch,
                                                                   coordinator_epoch, commit)
    try:
        partition = broker.replicas.leader_partition(topic, index)
        partition.check_min_isr()
    except KafkaError as e:
        return e.code
    batch = bytearray(build_control_batch(commit, producer_id, producer_epoch, coordinator_epoch,
                                          int(time.time() * 1000)))
    try:
        info = partition.append_as_leader(batch, [parse_header(batch)])
    except ProducerStateError as e:
        return ErrorCode(e.code)
    return await partition.wait_replicated(info.last_offset + 1, broker.config.get("request.timeout.ms"))


class MarkerChannel:
    """Markers to every partition leader: this broker writes its own, the
    others get WriteTxnMarkers over one connection each."""

    def __init__(self, broker: Any):
        self.broker = broker
        self._peers = PeerPool(broker, "txn-markers")

    async def send(self, topic: str, index: int, producer_id: int, producer_epoch: int, coordinator_epoch: int,
                   commit: bool) -> ErrorCode:
        metadata = self.broker.store.metadata
        registration = metadata.topics.get(topic)
        if registration is None or not 0 <= index < len(registration.partitions):
            return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
        leader = registration.partitions[index].leader
        if leader == self.broker.node_id or self.broker.cluster is None:
            return await write_marker(self.broker, topic, index, producer_id, producer_epoch, coordinator_epoch,
                                      commit)
        marker = {"producer_id": producer_id, "producer_epoch": producer_epoch, "transaction_result": commit,
                  "coordinator_epoch": coordinator_epoch, "topics": [{"name": topic, "partition_indexes": [index]}]}
        try:
            response = await self._peers.request(leader, WRITE_TXN_MARKERS, 1, {"markers": [marker]})
        except UnknownPeer:
            return ErrorCode.LEADER_NOT_AVAILABLE
        except PeerError:
            return ErrorCode.REQUEST_TIMED_OUT
        return ErrorCode(response["markers"][0]["topics"][0]["partitions"][0]["error_code"])

    def close(self) -> None:
        self._peers.close()
