"""ListOffsets: earliest, latest, by timestamp, max timestamp, and the v0
old-style answer."""
import pytest

from pykbroker.errors import ErrorCode
from tests.broker.rawapi import DELETE_RECORDS, LIST_OFFSETS, batch, create_topic, produce_ok

EARLIEST, LATEST, MAX_TIMESTAMP = -2, -1, -3


def list_offset(client, timestamp, version=10, partition=0, topic="t", **extra):
    response = client.request(LIST_OFFSETS, version, {
        "replica_id": -1, "isolation_level": extra.pop("isolation_level", 0),
        "topics": [{"name": topic, "partitions": [{"partition_index": partition, "timestamp": timestamp,
                                                   "max_num_offsets": 1, **extra}]}]})
    return response["topics"][0]["partitions"][0]


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
