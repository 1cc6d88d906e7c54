"""Requests the raw-protocol tests share: creating topics, producing and
fetching batches, reading records back, waiting on conditions."""
from __future__ import annotations

import struct
import time
from typing import Callable

from pykbroker.errors import ErrorCode
from wire import records
from wire.records import Record

PRODUCE, FETCH, LIST_OFFSETS, METADATA = 0, 1, 2, 3
API_VERSIONS, CREATE_TOPICS, DELETE_TOPICS, DELETE_RECORDS = 18, 19, 20, 21
DESCRIBE_CONFIGS, ALTER_CONFIGS, CREATE_PARTITIONS = 32, 33, 37
INCREMENTAL_ALTER_CONFIGS, DESCRIBE_CLUSTER = 44, 60
TOPIC_RESOURCE, BROKER_RESOURCE, BROKER_LOGGER_RESOURCE = 2, 4, 8

# Recent enough that no retention.ms deletes what the tests write.
NOW_MS = int(time.time() * 1000)


def create_topic(client, name: str, partitions: int = 1, configs: dict[str, str] | None = None,
                 version: int = 7) -> dict:
    """Create a topic; returns its CreateTopics result, asserting success."""
    response = client.request(CREATE_TOPICS, version, {
        "topics": [{"name": name, "num_partitions": partitions, "replication_factor": 1,
                    "configs": [{"name": k, "value": v} for k, v in (configs or {}).items()]}],
        "timeout_ms": 10_000})
    result = response["topics"][0]
    assert result["error_code"] == ErrorCode.NONE, result
    return result


def batch(values: list[bytes], *, keys: list[bytes | None] | None = None, timestamp: int = NOW_MS,
          compression: int = 0, headers=()) -> bytearray:
    """A v2 batch as a producer sends it: base offset 0, timestamps 1 ms apart."""
    keys = keys or [None] * len(values)
    return bytearray(records.build_batch(
        [Record(i, timestamp + i, k, v, headers) for i, (k, v) in enumerate(zip(keys, values))],
        compression=compression))


def produce(client, topic: str, partition: int, data, *, acks: int = -1, version: int = 9,
            timeout_ms: int = 10_000) -> dict | None:
    """Produce ``data`` to one partition; its partition response (None for acks=0)."""
    correlation_id = client.send(PRODUCE, version, {
        "acks": acks, "timeout_ms": timeout_ms,
        "topic_data": [{"name": topic, "partition_data": [{"index": partition, "records": bytes(data)}]}]})
    if acks == 0:
        return None
    received, response = client.receive(PRODUCE, version)
    assert received == correlation_id
    return response["responses"][0]["partition_responses"][0]


def produce_ok(client, topic: str, partition: int, data, **kwargs) -> int:
    """Produce and assert success; returns the base offset."""
    response = produce(client, topic, partition, data, **kwargs)
    assert response["error_code"] == ErrorCode.NONE, response
    return response["base_offset"]


def fetch_request(topic: str, partition: int, offset: int, *, max_wait_ms: int = 0, min_bytes: int = 0,
                  partition_max_bytes: int = 1 << 20, max_bytes: int = 50 << 20, topic_id: bytes | None = None,
                  **extra) -> dict:
    entry = {"topic": topic, "partitions": [{"partition": partition, "fetch_offset": offset,
                                              "partition_max_bytes": partition_max_bytes}]}
    if topic_id is not None:
        entry["topic_id"] = topic_id
    return {"max_wait_ms": max_wait_ms, "min_bytes": min_bytes, "max_bytes": max_bytes, "topics": [entry],
            **extra}


def fetch(client, topic: str, partition: int, offset: int, *, version: int = 12, **kwargs) -> dict:
    """Fetch one partition (by name: versions up to 12); its partition data."""
    response = client.request(FETCH, version, fetch_request(topic, partition, offset, **kwargs))
    assert response["error_code"] == ErrorCode.NONE, response
    return response["responses"][0]["partitions"][0]


def decode_all(data) -> list[Record]:
    """Every record of the v2 batches in a fetched ``records`` field."""
    out = []
    for pos, _, magic in records.batch_spans(memoryview(data or b"")):
        assert magic == records.MAGIC
        out += records.decode_records(data, pos)
    return out


def batch_headers(data) -> list[records.BatchHeader]:
    return [records.parse_header(data, pos) for pos, _, _ in records.batch_spans(memoryview(data or b""))]


def legacy_message_set(magic: int, values: list[bytes], keys=None, codec: int = 0,
                       timestamp: int = NOW_MS) -> bytes:
    """A magic 0/1 message set as an old producer (kafka-python's builder) sends it."""
    from kafka.record.legacy_records import LegacyRecordBatchBuilder
    builder = LegacyRecordBatchBuilder(magic, codec, 1 << 24)
    for i, value in enumerate(values):
        builder.append(i, timestamp + i if magic else None, (keys or [None] * len(values))[i], value)
    return bytes(builder.build())


def fetched_values(client, topic: str, partition: int, offset: int = 0) -> list[bytes]:
    """Every value from ``offset`` to the high watermark (a fetch reads one segment at most)."""
    values = []
    while True:
        data = fetch(client, topic, partition, offset)
        batch_records = [r for r in decode_all(data["records"]) if r.offset >= offset]
        if not batch_records:
            assert offset == data["high_watermark"], (offset, data)
            return values
        values += [r.value for r in batch_records]
        offset = batch_records[-1].offset + 1


def parked_requests(broker) -> int:
    """Connections of the embedded ``broker`` whose request waits in it (a long poll)."""
    return broker.call(lambda: sum(c.in_flight is not None for c in broker.broker.connections))


def wait_for(condition: Callable[[], object], timeout: float = 20.0, interval: float = 0.02,
             message: str = "condition") -> object:
    """Poll ``condition`` until it returns something truthy; fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


def receive_frame(client) -> bytes:
    """The next response frame, without its size prefix."""
    (size,) = struct.unpack(">i", client.recv_exact(4))
    return client.recv_exact(size)


def walk_error_codes(value) -> list[int]:
    """Every ``error_code`` anywhere in a decoded response."""
    if isinstance(value, dict):
        codes = [value["error_code"]] if "error_code" in value else []
        return codes + [c for k, v in value.items() if k != "error_code" for c in walk_error_codes(v)]
    if isinstance(value, list):
        return [c for v in value for c in walk_error_codes(v)]
    return []
