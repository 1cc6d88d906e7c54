"""DeleteRecords, and retention by time and by size: whole segments go and
the log start offset moves on."""
import os
import time

import pytest

from pykbroker.errors import ErrorCode
from pykbroker.testing import EmbeddedBroker
from tests.broker.rawapi import (DELETE_RECORDS, LIST_OFFSETS, batch, create_topic, decode_all, fetch, fetched_values,
                                 produce_ok, wait_for)
from tests.support.rawclient import RawClient


def delete_records(client, offset, partition=0, version=2):
    response = client.request(DELETE_RECORDS, version, {
        "topics": [{"name": "t", "partitions": [{"partition_index": partition, "offset": offset}]}],
        "timeout_ms": 5000})
    return response["topics"][0]["partitions"][0]


def earliest(client):
    response = client.request(LIST_OFFSETS, 7, {"replica_id": -1, "topics": [
        {"name": "t", "partitions": [{"partition_index": 0, "timestamp": -2}]}]})
    return response["topics"][0]["partitions"][0]["offset"]


# The smallest segment Kafka allows; records of PAD bytes fill it two at a time.
SEGMENT = "1048576"
PAD = b"." * 400_000


def segment_bases(broker, partition="t-0"):
    return sorted(int(n[:20]) for n in os.listdir(os.path.join(broker.log_dir, partition)) if n.endswith(".log"))


@pytest.mark.parametrize("version", [0, 1, 2])
def test_delete_records_moves_the_log_start_offset(broker, raw, version):
    client = raw()
    create_topic(client, "t", configs={"segment.bytes": SEGMENT})
    for i in range(10):
        produce_ok(client, "t", 0, batch([b"record %d" % i + PAD]))
    assert len(segment_bases(broker)) > 3
    result = delete_records(client, 7, version=version)
    assert (result["error_code"], result["low_watermark"]) == (ErrorCode.NONE, 7)
    assert earliest(client) == 7
    # Whole segments below the new start are gone; the one holding offset 7 stays.
    assert segment_bases(broker)[0] <= 7 < (segment_bases(broker) + [10])[1]
    assert fetch(client, "t", 0, 6)["error_code"] == ErrorCode.OFFSET_OUT_OF_RANGE
    assert [r.value[:8] for r in decode_all(fetch(client, "t", 0, 7)["records"])][:1] == [b"record 7"]
    # It never moves back, and -1 means the high watermark.
    assert delete_records(client, 3)["low_watermark"] == 7
    assert delete_records(client, -1)["low_watermark"] == 10
    assert earliest(client) == 10


def test_delete_records_errors(raw):
    client = raw()
    create_topic(client, "t")
    produce_ok(client, "t", 0, batch([b"a", b"b"]))
    assert delete_records(client, 3)["error_code"] == ErrorCode.OFFSET_OUT_OF_RANGE
    assert delete_records(client, 0, partition=4)["error_code"] == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
    assert earliest(client) == 0


def test_delete_records_of_a_partition_named_twice(raw):
    """As Kafka: answered once, the last offset given wins."""
    client = raw()
    create_topic(client, "t")
    produce_ok(client, "t", 0, batch([b"a", b"b", b"c", b"d"]))
    response = client.request(DELETE_RECORDS, 2, {"topics": [
        {"name": "t", "partitions": [{"partition_index": 0, "offset": 3}, {"partition_index": 0, "offset": 1}]},
        {"name": "t", "partitions": [{"partition_index": 0, "offset": 2}]}], "timeout_ms": 5000})
    assert [(t["name"], [(p["partition_index"], p["error_code"], p["low_watermark"]) for p in t["partitions"]])
            for t in response["topics"]] == [("t", [(0, ErrorCode.NONE, 2)])]
    assert earliest(client) == 2


def test_deleted_records_stay_deleted_after_a_restart(broker, raw):
    client = raw()
    create_topic(client, "t")
    for i in range(5):
        produce_ok(client, "t", 0, batch([b"%d" % i]))
    delete_records(client, 3)
    broker.stop()
    broker.start()
    with RawClient("127.0.0.1", broker.port) as again:
        assert earliest(again) == 3
        assert fetch(again, "t", 0, 2)["error_code"] == ErrorCode.OFFSET_OUT_OF_RANGE
        assert [r.value for r in decode_all(fetch(again, "t", 0, 3)["records"])] == [b"3", b"4"]


@pytest.fixture
def retaining_broker(tmp_path):
    with EmbeddedBroker(str(tmp_path / "data"), log_retention_check_interval_ms=50) as broker:
        yield broker


def test_retention_by_time_deletes_whole_expired_segments(retaining_broker):
    broker = retaining_broker
    with RawClient("127.0.0.1", broker.port) as client:
        create_topic(client, "t", configs={"segment.bytes": SEGMENT, "retention.ms": "3600000"})
        hour_ago = int(time.time() * 1000) - 2 * 3600_000
        for i in range(6):
            produce_ok(client, "t", 0, batch([b"old %d" % i + PAD], timestamp=hour_ago))
        now = int(time.time() * 1000)
        for i in range(6, 9):
            produce_ok(client, "t", 0, batch([b"new %d" % i + PAD], timestamp=now))
        wait_for(lambda: earliest(client) == 6, message="the expired segments to go")
        assert segment_bases(broker)[0] == 6
        assert fetch(client, "t", 0, 5)["error_code"] == ErrorCode.OFFSET_OUT_OF_RANGE
        assert [v[:5] for v in fetched_values(client, "t", 0, 6)] == [b"new 6", b"new 7", b"new 8"]


def test_retention_by_size_keeps_the_newest_segments(retaining_broker):
    broker = retaining_broker
    with RawClient("127.0.0.1", broker.port) as client:
        create_topic(client, "t", configs={"segment.bytes": SEGMENT, "retention.bytes": "1500000"})
        for i in range(12):
            produce_ok(client, "t", 0, batch([b"r%02d" % i + PAD]))

        def sizes():
            return broker.call(lambda: [s.size for s in broker.broker.replicas.get("t", 0).log.segments])

        # As in Kafka: the oldest segments go while the rest still hold retention.bytes.
        wait_for(lambda: sum(sizes()) - sizes()[0] < 1_500_000, message="segments beyond retention.bytes to go")
        assert sum(sizes()) >= 1_500_000
        start = earliest(client)
        assert start == segment_bases(broker)[0] > 0      # only whole segments go
        assert [v[:3] for v in fetched_values(client, "t", 0, start)] == [b"r%02d" % i for i in range(start, 12)]
