"""The state of one transactional id and its record in ``__transaction_state``.

A record is, in Kafka's format, key = int16 version 0 + TransactionLogKey,
value = int16 version + TransactionLogValue (version 1 written, as Kafka
does once ``transaction.version`` is finalized), or null once the id expired.
"""
from __future__ import annotations

import dataclasses
import struct
from dataclasses import dataclass, field

from wire import codec

_VERSION = struct.Struct(">h")
NO_PRODUCER_ID = -1
NO_PRODUCER_EPOCH = -1
MAX_EPOCH = (1 << 15) - 1

# TransactionStatus codes and the names DescribeTransactions/ListTransactions use.
EMPTY, ONGOING, PREPARE_COMMIT, PREPARE_ABORT, COMPLETE_COMMIT, COMPLETE_ABORT, DEAD, PREPARE_EPOCH_FENCE = range(8)
STATE_NAMES = ["Empty", "Ongoing", "PrepareCommit", "PrepareAbort", "CompleteCommit", "CompleteAbort", "Dead",
               "PrepareEpochFence"]
STATE_BY_NAME = {name: code for code, name in enumerate(STATE_NAMES)}

TopicPartition = tuple[str, int]


class UnknownRecord(ValueError):
    """A record of ``__transaction_state`` this broker cannot read (skipped on load)."""


@dataclass
class TransactionMetadata:
    transactional_id: str
    producer_id: int
    producer_epoch: int
    timeout_ms: int
    state: int = EMPTY
    partitions: set[TopicPartition] = field(default_factory=set)
    start_ms: int = -1
    last_update_ms: int = -1
    # The producer id before the last change of state (PreviousProducerId, as
    # Kafka keeps it) and, not stored, the epoch before the last bump: a
    # retried InitProducerId or EndTxn is recognised by them (KIP-360, KIP-890).
    last_producer_id: int = NO_PRODUCER_ID
    last_producer_epoch: int = NO_PRODUCER_EPOCH
    # Transactions V2: the id the producer moves to when this transaction
    # completes (its epoch was exhausted), and the protocol version of the
    # client's last AddPartitionsToTxn or EndTxn (0 classic, 2 V2).
    next_producer_id: int = NO_PRODUCER_ID
    client_version: int = 0
    # The state a write in flight will bring (Kafka's pendingState): other
    # requests meanwhile get CONCURRENT_TRANSACTIONS.
    pending: int | None = None

    @property
    def epoch_exhausted(self) -> bool:
        return self.producer_epoch >= MAX_EPOCH - 1

    def with_changes(self, **changes) -> TransactionMetadata:
        return dataclasses.replace(self, partitions=set(changes.pop("partitions", self.partitions)), **changes)

    @property
    def state_name(self) -> str:
        return STATE_NAMES[self.state]


def record_key(transactional_id: str) -> bytes:
    return _VERSION.pack(0) + codec.encode_message("TransactionLogKey", 0, {"transactional_id": transactional_id})


def record_value(m: TransactionMetadata) -> bytes:
    if m.state == EMPTY:
        partitions = None
    else:
        by_topic: dict[str, list[int]] = {}
        for topic, index in sorted(m.partitions):
            by_topic.setdefault(topic, []).append(index)
        partitions = [{"topic": t, "partition_ids": ids} for t, ids in by_topic.items()]
    return _VERSION.pack(1) + codec.encode_message("TransactionLogValue", 1, {
        "producer_id": m.producer_id, "producer_epoch": m.producer_epoch, "transaction_timeout_ms": m.timeout_ms,
        "transaction_status": m.state, "transaction_partitions": partitions,
        "transaction_last_update_timestamp_ms": m.last_update_ms, "transaction_start_timestamp_ms": m.start_ms,
        "previous_producer_id": m.last_producer_id, "next_producer_id": m.next_producer_id,
        "client_transaction_version": m.client_version})


def parse_record(key: bytes, value: bytes | None) -> tuple[str, TransactionMetadata | None]:
    """(transactional id, its metadata or None for a tombstone)."""
    try:
        (key_version,) = _VERSION.unpack_from(key)
        if key_version != 0:
            raise UnknownRecord(f"unknown key version {key_version}")
        transactional_id = codec.decode_message("TransactionLogKey", 0, memoryview(key)[2:])["transactional_id"]
        if value is None:
            return transactional_id, None
        (version,) = _VERSION.unpack_from(value)
        v = codec.decode_message("TransactionLogValue", version, memoryview(value)[2:])
    except (codec.DecodeError, struct.error) as e:
        raise UnknownRecord(str(e)) from None
    partitions = {(p["topic"], i) for p in v["transaction_partitions"] or () for i in p["partition_ids"]}
    return transactional_id, TransactionMetadata(
        transactional_id, v["producer_id"], v["producer_epoch"], v["transaction_timeout_ms"],
        v["transaction_status"], partitions, v["transaction_start_timestamp_ms"],
        v["transaction_last_update_timestamp_ms"], last_producer_id=v["previous_producer_id"],
        next_producer_id=v["next_producer_id"], client_version=v["client_transaction_version"])
