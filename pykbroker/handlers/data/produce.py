"""Produce (key 0), versions 0-12.

v0-1 carry magic 0 message sets, v2 magic 1: both are converted to one v2
batch before appending. v3+ carry exactly one v2 batch (and a transactional
id); v7+ may use zstd; v8+ have record errors and an error message, which
Kafka fills only for records the topic refuses and for transactional writes
that fail verification (WordedError); v10+ tell the current leader on
NOT_LEADER_OR_FOLLOWER (tagged fields); v12 is v11 from a producer that runs
transactions V2 (KIP-890 part 2).
acks=0 gets no response at all, acks=1 one after the local append, acks=-1
one after the in-sync replicas have the batch (at once on a single broker).
A transaction's first batch in a partition is appended once its transaction
coordinator vouches for it: that the producer added the partition to the
transaction, or, from v12, that it has now added it on the producer's behalf.
"""
from __future__ import annotations

import asyncio
import time

from wire import legacy, records
from wire.records import RecordsError

from ...config import LONG_MAX
from ...errors import ErrorCode, KafkaError, RequestError
from ...cluster.topics import is_internal
from ...coordinator.txn.verification import verification_error
from ...log.producer_state import CLIENT, ProducerStateError
from . import by_topic

API_KEY = 0
VERSIONS = (0, 12)

_COMPRESSION_IDS = {"uncompressed": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}
# The client id that may write to internal topics, as in Kafka.
_ADMIN_CLIENT_ID = "__admin_client"
NO_TIMESTAMP = -1  # magic 0 records: never out of range, as in Kafka


def handle(ctx, request):
    acks = request["acks"]
    # One append per partition: of a partition named twice the last records
    # win, as in Kafka.
    requested = {(t["name"], p["index"]): p["records"] for t in request["topic_data"] for p in t["partition_data"]}
    results = {}  # (topic, partition) -> response dict
    waits = []  # (partition, offset the high watermark must pass, response dict)
    unverified = []  # (AskCoordinator, topic, partition, records): appended once vouched for
    for (name, index), data in requested.items():
        response = {"index": index, "error_code": ErrorCode.NONE, "base_offset": -1,
                    "log_append_time_ms": -1, "log_start_offset": -1}
        results[(name, index)] = response
        if acks not in (-1, 0, 1):
            response["error_code"] = ErrorCode.INVALID_REQUIRED_ACKS
            continue
        try:
            _produce(ctx, request, name, index, data, response, waits)
        except AskCoordinator as ask:
            unverified.append((ask, name, index, data))
    if unverified:
        return _verify_then_produce(ctx, request, results, waits, unverified)
    return _respond(request, results, waits)


def _produce(ctx, request, name, index, data, response, waits, verified=False):
    """Append one partition's records, filling its ``response``; an acks=-1
    append also joins ``waits``."""
    acks = request["acks"]
    try:
        partition, last_offset = _append(ctx, name, index, data, acks, response, request["transactional_id"],
                                         verified)
    except WordedError as e:
        response.update(error_code=e.code, error_message=e.message, record_errors=e.record_errors)
        return
    except (KafkaError, RecordsError, ProducerStateError) as e:
        # As Kafka: no message, and no log start offset with the errors
        # its ReplicaManager catches apart (corrupt or oversized batches).
        code = response["error_code"] = e.error_code if isinstance(e, RecordsError) else e.code
        if code in (ErrorCode.CORRUPT_MESSAGE, ErrorCode.MESSAGE_TOO_LARGE):
            response["log_start_offset"] = -1
        elif code == ErrorCode.NOT_LEADER_OR_FOLLOWER:
            response["current_leader"] = ctx.broker.replicas.leader_and_epoch(name, index)
        return
    if acks == -1 and partition is not None and partition.high_watermark <= last_offset:
        waits.append((partition, last_offset + 1, response))


async def _verify_then_produce(ctx, request, results, waits, unverified):
    """Transactional writes the transaction coordinator must vouch for: ask
    it (once per producer), then append what it vouches for."""
    groups = {}
    for ask, name, index, data in unverified:
        groups.setdefault((ask.producer_id, ask.producer_epoch), []).append((name, index, data))
    coordinator = ctx.broker.txn_coordinator
    answers = await asyncio.gather(*(
        coordinator.vouch(request["transactional_id"], producer_id, producer_epoch,
                          [(name, index) for name, index, _ in items], add=ctx.api_version >= 12)
        for (producer_id, producer_epoch), items in groups.items()))
    for items, codes in zip(groups.values(), answers):
        for name, index, data in items:
            response = results[(name, index)]
            error = verification_error(codes[(name, index)], ctx.api_version)
            if error is None:
                _produce(ctx, request, name, index, data, response, waits, verified=True)
            else:
                response.update(error_code=error.code, error_message=error.message, record_errors=[],
                                log_start_offset=-1)
    answer = _respond(request, results, waits)
    return await answer if asyncio.iscoroutine(answer) else answer


def _respond(request, results, waits):
    if request["acks"] == 0:
        failed = {f"{t}-{p}": ErrorCode(r["error_code"]).name for (t, p), r in results.items() if r["error_code"]}
        if failed:
            # As Kafka: closing the connection is the only way to tell an acks=0
            # producer, which then refreshes its metadata.
            raise RequestError(f"acks=0 produce failed: {failed}")
        return None
    if waits:
        return _await_replication(request, results, waits)
    return _response(results)


def _append(ctx, topic, index, data, acks, response, transactional_id=None, verified=False):
    broker = ctx.broker
    partition = broker.replicas.leader_partition(topic, index)
    if is_internal(topic) and ctx.client_id != _ADMIN_CLIENT_ID:
        raise KafkaError(ErrorCode.INVALID_TOPIC_EXCEPTION)
    config = partition.log.config
    records.check_produce_records(ctx.api_version, data or b"")
    now_ms = int(time.time() * 1000)
    if data and len(data) > records.MAGIC_OFFSET and data[records.MAGIC_OFFSET] < records.MAGIC:
        data = legacy.legacy_to_v2(data, max_message_bytes=config.max_message_bytes)
    # From here the log checks the batch: Kafka answers what it refuses with
    # the log start offset.
    response["log_start_offset"] = partition.log_start_offset
    header = records.validate_produce(data or b"", max_message_bytes=config.max_message_bytes)
    if header is None:
        return None, -1  # nothing whole to append: Kafka answers success
    if header.is_transactional and not verified:
        try:
            ask = broker.txn_coordinator.needs_vouching(transactional_id, partition, header, ctx.api_version >= 12)
        except KafkaError as e:
            response["log_start_offset"] = -1  # Kafka verifies before the log is reached
            raise WordedError(e.code, e.message) from None
        if ask:
            raise AskCoordinator(header.producer_id, header.producer_epoch)
    elif header.is_transactional and ctx.api_version >= 12:
        partition.log.producer_state.check_transaction_v2_start(header)   # the coordinator just added it
    if acks == -1:
        partition.check_min_isr()
    # The batch is stored as it came; a trailing partial batch is dropped. The
    # log patches offsets in place: the request frame's own bytes when writable.
    batch = memoryview(data)[:header.size]
    if batch.readonly:
        batch = bytearray(batch)
    batch, header = _apply_topic_policies(batch, header, config, now_ms, f"{topic}-{index}")
    info = partition.append_as_leader(batch, [header], origin=CLIENT)
    response["base_offset"] = info.first_offset
    response["log_append_time_ms"] = info.log_append_time
    return partition, info.last_offset


class AskCoordinator(Exception):
    """A transactional write that the transaction coordinator must vouch for
    before it is appended."""

    def __init__(self, producer_id: int, producer_epoch: int):
        super().__init__(producer_id)
        self.producer_id, self.producer_epoch = producer_id, producer_epoch


class WordedError(KafkaError):
    """The only produce errors Kafka answers with a message (and record
    errors): records the topic refuses, and transactional writes that fail
    verification (the message None where Kafka has none)."""

    def __init__(self, code: ErrorCode, message: str | None, record_errors: list[dict] | None = None):
        super().__init__(code, message)
        self.record_errors = record_errors or []


class RecordValidationError(WordedError):
    """Records of a batch that the topic refuses, each named by its index in
    the batch (Produce v8+ record_errors), as Kafka's LogValidator reports them."""

    def __init__(self, code: ErrorCode, errors: list[tuple[int, str]]):
        if code == ErrorCode.INVALID_TIMESTAMP:
            message = "One or more records have been rejected due to invalid timestamp"
        else:
            shown = ", ".join(f"RecordError(batchIndex={i}, message='{m}')" for i, m in errors[:3])
            message = (f"One or more records have been rejected due to {len(errors)} record errors in total, "
                       f"and only showing the first three errors at most: [{shown}]")
        super().__init__(code, message, [{"batch_index": i, "batch_index_error_message": m} for i, m in errors])


def _apply_topic_policies(batch: bytearray, header, config, now_ms, topic_partition: str):
    """What the topic's configs demand of a batch before it is stored: the
    broker-side compression type, timestamp rules, keys for compacted topics."""
    wanted = config.compression_type
    recompress = wanted != "producer" and _COMPRESSION_IDS[wanted] != header.compression
    # The batch's max timestamp answers the "after" bound for every record;
    # only a "before" bound needs the records' own timestamps.
    check_timestamps = config.message_timestamp_type == "CreateTime" and (
        config.message_timestamp_before_max_ms < LONG_MAX
        or header.max_timestamp > now_ms + config.message_timestamp_after_max_ms)
    if "compact" in config.cleanup_policy or recompress or check_timestamps:
        decoded = records.decode_records(batch)
        if "compact" in config.cleanup_policy:
            keyless = [(i, f"Compacted topic cannot accept message without key in topic partition {topic_partition}")
                       for i, r in enumerate(decoded) if r.key is None]
            if keyless:
                raise RecordValidationError(ErrorCode.INVALID_RECORD, keyless)
        if check_timestamps:
            earliest = now_ms - config.message_timestamp_before_max_ms
            latest = now_ms + config.message_timestamp_after_max_ms
            out_of_range = [(i, f"Timestamp {r.timestamp} of message with offset {r.offset} is out of range. "
                                f"The timestamp should be within [{earliest}, {latest}]")
                            for i, r in enumerate(decoded)
                            if r.timestamp != NO_TIMESTAMP and not earliest <= r.timestamp <= latest]
            if out_of_range:
                raise RecordValidationError(ErrorCode.INVALID_TIMESTAMP, out_of_range)
        if recompress:
            batch = bytearray(records.build_batch(
                decoded, compression=_COMPRESSION_IDS[wanted], producer_id=header.producer_id,
                producer_epoch=header.producer_epoch, base_sequence=header.base_sequence,
                transactional=header.is_transactional, base_timestamp=header.base_timestamp))
            header = records.parse_header(batch)
    if config.message_timestamp_type == "LogAppendTime":
        records.set_log_append_time(batch, 0, now_ms)
        header = records.parse_header(batch)
    return batch, header


async def _await_replication(request, results, waits):
    """acks=-1: answer once every partition's high watermark passes its batch,
    or with REQUEST_TIMED_OUT for those that did not in time."""
    outcomes = await asyncio.gather(*(partition.wait_replicated(offset, request["timeout_ms"])
                                      for partition, offset, _ in waits))
    for (_, _, response), outcome in zip(waits, outcomes):
        response["error_code"] = outcome
    return _response(results)


def _response(results):
    return {"responses": by_topic(results, "partition_responses")}
