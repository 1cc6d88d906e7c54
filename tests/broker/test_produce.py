"""Produce: acks, timeouts, per-partition errors, legacy message sets and
their down-conversion for old fetchers."""
import time

import pytest

from pykbroker.errors import ErrorCode
from wire import compression, legacy, records
from wire.records import Record
from tests.broker.rawapi import (API_VERSIONS, FETCH, NOW_MS, PRODUCE, batch, batch_headers, create_topic, decode_all,
                                 fetch, fetch_request, fetched_values, legacy_message_set, produce, produce_ok)


@pytest.mark.parametrize("acks", [1, -1])
def test_acknowledged_produce_reports_offsets(raw, acks):
    client = raw()
    create_topic(client, "t")
    first = produce(client, "t", 0, batch([b"a", b"b"]), acks=acks)
    second = produce(client, "t", 0, batch([b"c"]), acks=acks)
    assert (first["error_code"], first["base_offset"], first["log_start_offset"]) == (ErrorCode.NONE, 0, 0)
    assert (second["base_offset"], second["log_append_time_ms"]) == (2, -1)
    assert fetched_values(client, "t", 0) == [b"a", b"b", b"c"]


def test_acks_zero_gets_no_response(raw):
    client = raw()
    create_topic(client, "t")
    produce(client, "t", 0, batch([b"fire"]), acks=0)
    produce(client, "t", 0, batch([b"forget"]), acks=0)
    # The next frame on the connection answers the next request.
    assert fetched_values(client, "t", 0) == [b"fire", b"forget"]


def test_failed_acks_zero_produce_closes_the_connection(raw):
    """Kafka closes the connection when an acks=0 produce fails, the only way
    to tell the producer (which then refreshes its metadata)."""
    client = raw()
    produce(client, "no-such-topic", 0, batch([b"x"]), acks=0)
    assert client.is_closed()
    assert raw().request(API_VERSIONS, 0, {})["error_code"] == ErrorCode.NONE


def test_acks_all_with_zero_timeout_succeeds_on_a_single_broker(raw):
    client = raw()
    create_topic(client, "t")
    assert produce(client, "t", 0, batch([b"now"]), acks=-1, timeout_ms=0)["error_code"] == ErrorCode.NONE
    assert fetched_values(client, "t", 0) == [b"now"]


def test_acks_all_needs_min_insync_replicas(raw):
    client = raw()
    create_topic(client, "t", configs={"min.insync.replicas": "2"})
    assert produce(client, "t", 0, batch([b"x"]), acks=-1)["error_code"] == ErrorCode.NOT_ENOUGH_REPLICAS
    # acks=1 does not wait for replicas.
    assert produce(client, "t", 0, batch([b"y"]), acks=1)["error_code"] == ErrorCode.NONE
    assert fetched_values(client, "t", 0) == [b"y"]


def test_invalid_required_acks(raw):
    client = raw()
    create_topic(client, "t")
    response = produce(client, "t", 0, batch([b"x"]), acks=2)
    assert (response["error_code"], response["base_offset"]) == (ErrorCode.INVALID_REQUIRED_ACKS, -1)
    assert fetched_values(client, "t", 0) == []


def _corrupt(data: bytearray, position: int) -> bytearray:
    data[position] ^= 0xFF
    return data


def test_errors_are_per_partition(raw):
    """Each partition is answered alone, as Kafka answers it: a refused batch
    without error message or record errors (the Java producer words its
    exception from the code), and with the log start offset only where the
    log itself refused it (not corrupt or oversized batches)."""
    client = raw()
    create_topic(client, "t", partitions=12, configs={"max.message.bytes": "500"})
    control = bytearray(records.build_control_batch(True, 5, 0, 0, NOW_MS))
    requested = {  # (topic, partition): (records, error, log start offset)
        ("t", 0): (batch([b"fine"]), ErrorCode.NONE, 0),
        ("t", 1): (batch([b"x" * 1000]), ErrorCode.MESSAGE_TOO_LARGE, -1),        # over max.message.bytes
        ("t", 2): (_corrupt(batch([b"crc"]), 17), ErrorCode.CORRUPT_MESSAGE, -1),  # a byte of the stored CRC
        ("t", 3): (_corrupt(batch([b"payload" * 4]), records.HEADER_SIZE + 3), ErrorCode.CORRUPT_MESSAGE, -1),
        ("t", 4): (control, ErrorCode.INVALID_RECORD, 0),                 # clients may not write control batches
        ("t", 5): (batch([b"a"]) + batch([b"b"]), ErrorCode.INVALID_RECORD, -1),   # v3+: exactly one batch
        ("t", 6): (b"", ErrorCode.INVALID_RECORD, -1),                             # ... and at least one
        ("t", 7): (batch([b"cut", b"off"])[:-3], ErrorCode.INVALID_RECORD, -1),    # a truncated batch is none
        ("t", 8): (legacy_message_set(1, [b"m1"]), ErrorCode.INVALID_RECORD, -1),  # v3+: magic 2 only
        ("t", 9): (records.build_batch([]), ErrorCode.INVALID_RECORD, 0),          # no record
        ("t", 10): (records.build_batch([Record(5, NOW_MS, None, b"x")], base_offset=5), ErrorCode.INVALID_RECORD, 0),
        ("t", 11): (records.build_batch([Record(0, NOW_MS, None, b"x")], producer_id=42, producer_epoch=0),
                    ErrorCode.INVALID_RECORD, 0),                                  # a producer id needs a sequence
        ("t", 12): (batch([b"no such partition"]), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, -1),
        ("missing", 0): (batch([b"no such topic"]), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, -1),
    }
    topic_data = {}
    for (topic, index), (data, _, _) in requested.items():
        topic_data.setdefault(topic, []).append({"index": index, "records": bytes(data)})
    response = client.request(PRODUCE, 9, {"acks": -1, "timeout_ms": 5000, "topic_data": [
        {"name": topic, "partition_data": partitions} for topic, partitions in topic_data.items()]})
    answers = {(t["name"], p["index"]): (p["error_code"], p["log_start_offset"], p["error_message"], p["record_errors"])
               for t in response["responses"] for p in t["partition_responses"]}
    assert answers == {key: (error, start, None, []) for key, (_, error, start) in requested.items()}
    assert all(p["base_offset"] == -1 for t in response["responses"] for p in t["partition_responses"] if p["index"])
    assert fetched_values(client, "t", 0) == [b"fine"]
    for index in range(1, 12):
        assert fetch(client, "t", index, 0)["high_watermark"] == 0


def test_a_partition_named_twice_is_written_once(raw):
    """As Kafka: the last records given for a partition are appended, and
    the partition is answered once."""
    client = raw()
    create_topic(client, "t")
    response = client.request(PRODUCE, 9, {"acks": -1, "timeout_ms": 5000, "topic_data": [
        {"name": "t", "partition_data": [{"index": 0, "records": bytes(batch([b"first"]))}]},
        {"name": "t", "partition_data": [{"index": 0, "records": bytes(batch([b"second"]))}]}]})
    assert [(t["name"], [(p["index"], p["error_code"], p["base_offset"]) for p in t["partition_responses"]])
            for t in response["responses"]] == [("t", [(0, ErrorCode.NONE, 0)])]
    assert fetched_values(client, "t", 0) == [b"second"]


def test_producer_may_not_claim_log_append_time(raw):
    client = raw()
    create_topic(client, "t")
    data = bytearray(records.build_batch([Record(0, 5, None, b"v")], log_append_time=5))
    assert produce(client, "t", 0, data)["error_code"] == ErrorCode.INVALID_TIMESTAMP


def test_timestamps_more_than_an_hour_ahead_are_refused_by_default(raw):
    """Kafka 4's message.timestamp.after.max.ms default (KIP-1030): one hour."""
    client = raw()
    create_topic(client, "t")
    now = int(time.time() * 1000)
    ahead = bytearray(records.build_batch([Record(0, now, None, b"now"), Record(1, now + 7_200_000, None, b"later")]))
    refused = produce(client, "t", 0, ahead)
    assert refused["error_code"] == ErrorCode.INVALID_TIMESTAMP
    assert [e["batch_index"] for e in refused["record_errors"]] == [1]
    soon = bytearray(records.build_batch([Record(0, now + 600_000, None, b"in ten minutes")]))
    assert produce(client, "t", 0, soon)["error_code"] == ErrorCode.NONE


def test_zstd_needs_produce_v7(raw):
    client = raw()
    create_topic(client, "t")
    data = batch([b"z"], compression=compression.ZSTD)
    assert produce(client, "t", 0, data, version=6)["error_code"] == ErrorCode.UNSUPPORTED_COMPRESSION_TYPE
    assert produce(client, "t", 0, data, version=7)["error_code"] == ErrorCode.NONE


def test_every_codec_round_trips(raw):
    client = raw()
    create_topic(client, "t")
    for codec in (compression.NONE, compression.GZIP, compression.SNAPPY, compression.LZ4, compression.ZSTD):
        produce_ok(client, "t", 0, batch([b"codec %d" % codec] * 3, compression=codec))
    fetched = fetch(client, "t", 0, 0)["records"]
    # Stored as sent, never recompressed.
    assert [h.compression for h in batch_headers(fetched)] == [0, 1, 2, 3, 4]
    assert [r.offset for r in decode_all(fetched)] == list(range(15))


# --- legacy message sets ---------------------------------------------------------------
LEGACY_CODECS = [compression.NONE, compression.GZIP, compression.SNAPPY, compression.LZ4]


@pytest.mark.parametrize("codec", LEGACY_CODECS)
def test_legacy_produce_then_down_converted_fetch(raw, codec):
    client = raw()
    create_topic(client, "t")
    values = [b"value %d" % i for i in range(5)]
    keys = [b"key %d" % i for i in range(5)]
    # Produce v0 and v1 carry magic 0, v2 magic 1 (with timestamps). kafka-python
    # builds magic 0 LZ4 only with xxhash installed, so LZ4 goes in at v2 only.
    versions = (2, 2, 2) if codec == compression.LZ4 else (0, 1, 2)
    for n, version in enumerate(versions):
        data = legacy_message_set(0 if version < 2 else 1, values, keys, codec)
        response = produce(client, "t", 0, data, acks=1, version=version)
        assert (response["error_code"], response["base_offset"]) == (ErrorCode.NONE, 5 * n)
    stored = decode_all(fetch(client, "t", 0, 0)["records"])
    assert [r.offset for r in stored] == list(range(15))
    assert [(r.key, r.value) for r in stored] == list(zip(keys, values)) * 3
    timestamps = [[NOW_MS + i for i in range(5)] if v == 2 else [-1] * 5 for v in versions]
    assert [r.timestamp for r in stored] == sum(timestamps, [])

    for version in (0, 1, 2, 3):
        response = client.request(FETCH, version, fetch_request("t", 0, 3))
        data = response["responses"][0]["partitions"][0]["records"]
        magic = 0 if version < 2 else 1
        assert {data[pos + records.MAGIC_OFFSET] for pos, _, _ in records.batch_spans(data)} == {magic}
        fetched = [r for r in legacy.decode_legacy(data) if r.offset >= 3]
        assert [r.offset for r in fetched] == list(range(3, 15))
        assert [(r.key, r.value) for r in fetched] == (list(zip(keys, values)) * 3)[3:]
        if magic == 1:
            assert [r.timestamp for r in fetched] == sum(timestamps, [])[3:]


def test_zstd_cannot_be_down_converted(raw):
    client = raw()
    create_topic(client, "t")
    produce_ok(client, "t", 0, batch([b"z"], compression=compression.ZSTD))
    response = client.request(FETCH, 3, fetch_request("t", 0, 0))
    assert response["responses"][0]["partitions"][0]["error_code"] == ErrorCode.UNSUPPORTED_COMPRESSION_TYPE


def test_corrupt_legacy_message_is_refused(raw):
    client = raw()
    create_topic(client, "t")
    data = bytearray(legacy_message_set(1, [b"x"]))
    data[12] ^= 0xFF   # the message's CRC-32
    assert produce(client, "t", 0, data, acks=1, version=2)["error_code"] == ErrorCode.CORRUPT_MESSAGE

