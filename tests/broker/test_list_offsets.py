"""ListOffsets: earliest, latest, by timestamp, max timestamp, the special
timestamps of later versions, the v0 old-style answer, and request errors."""
import pytest

from pykbroker.errors import ErrorCode
from tests.broker.rawapi import DELETE_RECORDS, LIST_OFFSETS, batch, create_topic, produce_ok

EARLIEST, LATEST, MAX_TIMESTAMP, EARLIEST_LOCAL, LATEST_TIERED = -2, -1, -3, -4, -5


def list_offsets(client, partitions, version=10, isolation_level=0, **extra):
    """ListOffsets of [(topic, partition, timestamp)], with the ``extra``
    fields in every partition; the response's topics."""
    topics = {}
    for topic, partition, timestamp in partitions:
        topics.setdefault(topic, []).append({"partition_index": partition, "timestamp": timestamp,
                                             "max_num_offsets": 1, **extra})
    return client.request(LIST_OFFSETS, version, {
        "replica_id": -1, "isolation_level": isolation_level,
        "topics": [{"name": name, "partitions": p} for name, p in topics.items()]})["topics"]


def list_offset(client, timestamp, version=10, partition=0, topic="t", **extra):
    """One partition's answer."""
    return list_offsets(client, [(topic, partition, timestamp)], version, **extra)[0]["partitions"][0]


@pytest.fixture
def client(raw):
    """A topic whose six records have timestamps out of order across batches:
    offsets 0-2 at 1000-1002, offset 3 at 5000, offsets 4-5 at 3000-3001."""
    client = raw()
    create_topic(client, "t")
    produce_ok(client, "t", 0, batch([b"a", b"b", b"c"], timestamp=1000))
    produce_ok(client, "t", 0, batch([b"d"], timestamp=5000))
    produce_ok(client, "t", 0, batch([b"e", b"f"], timestamp=3000))
    return client


@pytest.mark.parametrize("version", range(1, 11))
def test_earliest_and_latest(client, version):
    earliest, latest = list_offset(client, EARLIEST, version), list_offset(client, LATEST, version)
    assert (earliest["error_code"], earliest["offset"], earliest["timestamp"]) == (ErrorCode.NONE, 0, -1)
    assert (latest["error_code"], latest["offset"], latest["timestamp"]) == (ErrorCode.NONE, 6, -1)


@pytest.mark.parametrize("version", range(1, 11))
def test_offsets_by_timestamp(client, version):
    """The first offset (in log order) whose timestamp is at least the one asked."""
    expected = {0: (0, 1000), 1001: (1, 1001), 1003: (3, 5000), 3000: (3, 5000), 5000: (3, 5000),
                5001: (-1, -1)}
    for timestamp, (offset, found) in expected.items():
        response = list_offset(client, timestamp, version)
        assert (response["error_code"], response["offset"], response["timestamp"]) == (ErrorCode.NONE, offset, found)
        if version >= 4:
            assert response["leader_epoch"] == (0 if offset >= 0 else -1)


@pytest.mark.parametrize("version", [7, 10])
def test_max_timestamp(client, version):
    response = list_offset(client, MAX_TIMESTAMP, version)
    assert (response["error_code"], response["offset"], response["timestamp"]) == (ErrorCode.NONE, 3, 5000)


def test_max_timestamp_after_every_record_was_deleted(client):
    """As Kafka: still found, with the leader epoch its batch was written in."""
    client.request(DELETE_RECORDS, 2, {"topics": [{"name": "t", "partitions": [{"partition_index": 0, "offset": -1}]}],
                                       "timeout_ms": 5000})
    response = list_offset(client, MAX_TIMESTAMP)
    assert (response["offset"], response["timestamp"], response["leader_epoch"]) == (3, 5000, 0)


@pytest.mark.parametrize("version", range(1, 11))
def test_special_timestamps_from_their_version_on(client, version):
    """Kafka serves -3 (max timestamp) from v7, -4 (earliest local) from v8,
    -5 (latest tiered: none without tiered storage) from v9, and no other
    negative timestamp, even for a partition that does not exist."""
    unsupported = (ErrorCode.UNSUPPORTED_VERSION, -1, -1)
    epoch = 0 if version >= 4 else -1    # the field exists from v4
    expected = {MAX_TIMESTAMP: (ErrorCode.NONE, 3, epoch) if version >= 7 else unsupported,
                EARLIEST_LOCAL: (ErrorCode.NONE, 0, epoch) if version >= 8 else unsupported,
                LATEST_TIERED: (ErrorCode.NONE, -1, -1) if version >= 9 else unsupported,
                -6: unsupported, -7: unsupported, -100: unsupported}
    for timestamp, answer in expected.items():
        response = list_offset(client, timestamp, version)
        assert (response["error_code"], response["offset"], response["leader_epoch"]) == answer, timestamp
        if answer == unsupported:
            assert list_offset(client, timestamp, version, partition=9)["error_code"] == ErrorCode.UNSUPPORTED_VERSION


def test_v0_answers_old_style_offsets(client):
    assert list_offset(client, EARLIEST, 0)["old_style_offsets"] == [0]
    assert list_offset(client, LATEST, 0)["old_style_offsets"] == [6]


def test_earliest_follows_the_log_start_offset(client):
    client.request(DELETE_RECORDS, 2, {"topics": [{"name": "t", "partitions": [{"partition_index": 0, "offset": 4}]}],
                                       "timeout_ms": 5000})
    assert list_offset(client, EARLIEST)["offset"] == 4
    # Records below the log start offset are not found by timestamp either.
    assert list_offset(client, 1000)["offset"] == 4


def test_read_committed_latest_is_the_last_stable_offset(client):
    assert list_offset(client, LATEST, isolation_level=1)["offset"] == 6


def test_errors(client):
    assert list_offset(client, LATEST, partition=3)["error_code"] == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
    assert list_offset(client, LATEST, topic="nope")["error_code"] == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
    assert list_offset(client, LATEST, current_leader_epoch=3)["error_code"] == ErrorCode.UNKNOWN_LEADER_EPOCH


def test_unknown_isolation_level_fails_the_whole_request(client):
    answered = list_offsets(client, [("t", 0, LATEST), ("nope", 0, LATEST)], isolation_level=5)
    assert [(t["name"], [(p["error_code"], p["offset"]) for p in t["partitions"]]) for t in answered] == [
        ("t", [(ErrorCode.UNKNOWN_SERVER_ERROR, -1)]), ("nope", [(ErrorCode.UNKNOWN_SERVER_ERROR, -1)])]


@pytest.mark.parametrize("version", [1, 10])
def test_a_partition_named_twice_is_an_invalid_request(client, version):
    """As Kafka: answered once, INVALID_REQUEST; the other partitions as usual."""
    answered = list_offsets(client, [("t", 0, LATEST), ("t", 9, LATEST), ("t", 0, EARLIEST)], version)
    assert [(t["name"], [(p["partition_index"], p["error_code"], p["offset"]) for p in t["partitions"]])
            for t in answered] == [("t", [(0, ErrorCode.INVALID_REQUEST, -1),
                                          (9, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, -1)])]
