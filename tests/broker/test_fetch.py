"""Fetch: long polls woken by appends, size limits, isolation level, fetch
sessions (KIP-227), offsets out of range, topic ids, and errors as Kafka
answers them."""
import select
import time

import pytest

from pykbroker.errors import ErrorCode
from tests.broker.rawapi import (API_VERSIONS, DELETE_RECORDS, FETCH, batch, batch_headers, create_topic,
                                 decode_all, fetch, fetch_request, parked_requests, produce_ok, receive_frame,
                                 wait_for)
from wire import codec, legacy


def readable(client) -> bool:
    return bool(select.select([client.sock], [], [], 0)[0])


def receive_fetch(client, version=12):
    received, response = codec.decode_response(FETCH, version, receive_frame(client))
    return response


# --- long polls ------------------------------------------------------------------------
def test_parked_fetch_is_woken_by_a_produce_on_another_connection(broker, raw):
    consumer, producer = raw(), raw()
    create_topic(producer, "t")
    sent = time.monotonic()
    consumer.send(FETCH, 12, fetch_request("t", 0, 0, max_wait_ms=30_000, min_bytes=1))
    wait_for(lambda: parked_requests(broker) == 1, message="the fetch to park")
    assert not readable(consumer)
    produce_ok(producer, "t", 0, batch([b"wake up"]))
    response = receive_fetch(consumer)
    elapsed = time.monotonic() - sent
    [partition] = response["responses"][0]["partitions"]
    assert [r.value for r in decode_all(partition["records"])] == [b"wake up"]
    assert elapsed < 10, f"answered after {elapsed:.1f}s, max wait 30s"


def test_min_bytes_holds_the_fetch_until_enough_data(broker, raw):
    consumer, producer = raw(), raw()
    create_topic(producer, "t")
    small = batch([b"s"])
    consumer.send(FETCH, 12, fetch_request("t", 0, 0, max_wait_ms=30_000, min_bytes=len(small) + 200))
    wait_for(lambda: parked_requests(broker) == 1, message="the fetch to park")
    produce_ok(producer, "t", 0, small)
    # A round trip on the producer's connection lets the woken fetch re-check.
    producer.request(API_VERSIONS, 0, {})
    assert parked_requests(broker) == 1 and not readable(consumer)
    produce_ok(producer, "t", 0, batch([b"L" * 300]))
    [partition] = receive_fetch(consumer)["responses"][0]["partitions"]
    assert [r.value for r in decode_all(partition["records"])] == [b"s", b"L" * 300]


def test_max_wait_is_honoured_without_data(raw):
    client = raw()
    create_topic(client, "t")
    started = time.monotonic()
    partition = fetch(client, "t", 0, 0, max_wait_ms=300, min_bytes=1)
    waited = time.monotonic() - started
    assert partition["error_code"] == ErrorCode.NONE and not partition["records"]
    assert 0.29 <= waited < 5


def test_fetch_with_data_already_there_answers_at_once(raw):
    client = raw()
    create_topic(client, "t")
    produce_ok(client, "t", 0, batch([b"ready"]))
    started = time.monotonic()
    partition = fetch(client, "t", 0, 0, max_wait_ms=30_000, min_bytes=1)
    assert time.monotonic() - started < 5
    assert [r.value for r in decode_all(partition["records"])] == [b"ready"]


# --- size limits -------------------------------------------------------------------------
def _fill(client, topic, partition, batches, size=1000):
    for i in range(batches):
        produce_ok(client, topic, partition, batch([bytes([65 + i % 26]) * size]))
    return len(batch([b"x" * size]))


def test_partition_max_bytes_returns_whole_batches_within_the_limit(raw):
    client = raw()
    create_topic(client, "t")
    batch_size = _fill(client, "t", 0, 10)
    limit = int(batch_size * 2.5)
    partition = fetch(client, "t", 0, 0, partition_max_bytes=limit)
    # Whole batches up to the limit (Kafka may add the start of the next one,
    # which consumers drop).
    assert [h.base_offset for h in batch_headers(partition["records"])] == [0, 1]
    assert len(partition["records"]) <= limit
    assert partition["high_watermark"] == 10


def test_response_max_bytes_bounds_the_whole_response(raw):
    client = raw()
    create_topic(client, "t", partitions=2)
    batch_size = _fill(client, "t", 0, 5)
    _fill(client, "t", 1, 5)
    request = {"max_wait_ms": 0, "min_bytes": 0, "max_bytes": int(batch_size * 3.5), "topics": [
        {"topic": "t", "partitions": [{"partition": p, "fetch_offset": 0, "partition_max_bytes": 1 << 20}
                                      for p in (0, 1)]}]}
    response = client.request(FETCH, 12, request)
    data = {p["partition_index"]: p["records"] for p in response["responses"][0]["partitions"]}
    assert len(data[0]) + len(data[1]) <= batch_size * 3.5
    assert [h.base_offset for h in batch_headers(data[0])] == [0, 1, 2]
    assert batch_headers(data[1]) == []


@pytest.mark.parametrize("version", [3, 4, 11, 12])
def test_first_batch_is_returned_even_when_larger_than_the_limits(raw, version):
    """From Fetch v3 a consumer always makes progress (KIP-74)."""
    client = raw()
    create_topic(client, "t", partitions=2)
    produce_ok(client, "t", 0, batch([b"B" * 5000]))
    produce_ok(client, "t", 0, batch([b"next"]))
    produce_ok(client, "t", 1, batch([b"C" * 5000]))
    request = {"max_wait_ms": 0, "min_bytes": 0, "max_bytes": 100, "topics": [
        {"topic": "t", "partitions": [{"partition": p, "fetch_offset": 0, "partition_max_bytes": 100}
                                      for p in (0, 1)]}]}
    response = client.request(FETCH, version, request)
    data = {p["partition_index"]: p["records"] for p in response["responses"][0]["partitions"]}
    if version >= 4:
        assert [r.value for r in decode_all(data[0])] == [b"B" * 5000]
    else:
        assert len(data[0]) > 5000
    # Only the first partition with data may exceed the limit.
    assert not data[1]


@pytest.mark.parametrize("version", [0, 1, 2])
def test_before_v3_the_partition_limit_is_hard(raw, version):
    """As in Kafka before KIP-74: a message larger than the partition limit
    comes back cut off at the limit (the client reports it as too large)."""
    client = raw()
    create_topic(client, "t", partitions=2)
    produce_ok(client, "t", 0, batch([b"B" * 5000]))
    produce_ok(client, "t", 1, batch([b"small"]))
    request = {"max_wait_ms": 0, "min_bytes": 0, "max_bytes": 100, "topics": [
        {"topic": "t", "partitions": [{"partition": 0, "fetch_offset": 0, "partition_max_bytes": 100},
                                      {"partition": 1, "fetch_offset": 0, "partition_max_bytes": 1000}]}]}
    response = client.request(FETCH, version, request)
    data = {p["partition_index"]: bytes(p["records"]) for p in response["responses"][0]["partitions"]}
    assert len(data[0]) == 100
    assert legacy.legacy_to_v2(data[0]) == b""  # no whole message in it
    # Each partition has its own limit: the small message comes back whole.
    assert [r.value for r in decode_all(legacy.legacy_to_v2(data[1]))] == [b"small"]


def test_isolation_level(raw):
    client = raw()
    create_topic(client, "t")
    produce_ok(client, "t", 0, batch([b"a", b"b"]))
    uncommitted = fetch(client, "t", 0, 0, isolation_level=0)
    committed = fetch(client, "t", 0, 0, isolation_level=1)
    for partition in (uncommitted, committed):
        assert (partition["high_watermark"], partition["last_stable_offset"]) == (2, 2)
        assert [r.value for r in decode_all(partition["records"])] == [b"a", b"b"]
    # Aborted transactions are listed (here: none) only for read_committed.
    assert uncommitted["aborted_transactions"] is None
    assert committed["aborted_transactions"] == []


# --- errors ------------------------------------------------------------------------------
def test_offset_out_of_range(raw):
    client = raw()
    create_topic(client, "t")
    produce_ok(client, "t", 0, batch([b"a", b"b", b"c"]))
    at_end = fetch(client, "t", 0, 3)
    assert (at_end["error_code"], at_end["records"], at_end["high_watermark"]) == (ErrorCode.NONE, b"", 3)
    # As Kafka, an out-of-range answer tells no offsets: consumers ask ListOffsets.
    no_offsets = (ErrorCode.OFFSET_OUT_OF_RANGE, -1, -1, -1)
    beyond = fetch(client, "t", 0, 4)
    assert (beyond["error_code"], beyond["high_watermark"], beyond["last_stable_offset"],
            beyond["log_start_offset"]) == no_offsets
    deleted = client.request(DELETE_RECORDS, 2, {"topics": [
        {"name": "t", "partitions": [{"partition_index": 0, "offset": 2}]}], "timeout_ms": 5000})
    assert deleted["topics"][0]["partitions"][0]["low_watermark"] == 2
    below = fetch(client, "t", 0, 1)
    assert (below["error_code"], below["high_watermark"], below["last_stable_offset"],
            below["log_start_offset"]) == no_offsets
    # The batch holding offset 2 comes whole; consumers skip what lies below.
    assert [r.value for r in decode_all(fetch(client, "t", 0, 2)["records"]) if r.offset >= 2] == [b"c"]


def test_unknown_topics_and_partitions(raw):
    client = raw()
    topic_id = create_topic(client, "t")["topic_id"]
    # As Kafka: with an empty list of aborted transactions, not a null one.
    for version in (4, 12):
        for unknown in (fetch(client, "nope", 0, 0, version=version), fetch(client, "t", 5, 0, version=version)):
            assert (unknown["error_code"], unknown["high_watermark"], unknown["aborted_transactions"]) == \
                (ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, -1, [])
    unknown_id = bytes(range(1, 17))
    response = client.request(FETCH, 13, fetch_request("", 0, 0, topic_id=unknown_id))
    unknown = response["responses"][0]["partitions"][0]
    assert (unknown["error_code"], unknown["aborted_transactions"]) == (ErrorCode.UNKNOWN_TOPIC_ID, [])
    produce_ok(client, "t", 0, batch([b"by id"]))
    response = client.request(FETCH, 13, fetch_request("", 0, 0, topic_id=topic_id))
    assert response["responses"][0]["topic_id"] == topic_id
    assert [r.value for r in decode_all(response["responses"][0]["partitions"][0]["records"])] == [b"by id"]


def test_leader_epoch_is_checked(raw):
    client = raw()
    create_topic(client, "t")
    assert fetch(client, "t", 0, 0, version=12)["error_code"] == ErrorCode.NONE
    request = fetch_request("t", 0, 0)
    request["topics"][0]["partitions"][0]["current_leader_epoch"] = 7
    response = client.request(FETCH, 12, request)
    assert response["responses"][0]["partitions"][0]["error_code"] == ErrorCode.UNKNOWN_LEADER_EPOCH
    # Kafka reads any negative epoch as none given.
    produce_ok(client, "t", 0, batch([b"x"]))
    request["topics"][0]["partitions"][0]["current_leader_epoch"] = -5
    response = client.request(FETCH, 12, request)
    assert [r.value for r in decode_all(response["responses"][0]["partitions"][0]["records"])] == [b"x"]


@pytest.mark.parametrize("version", [4, 12, 13])
def test_unknown_isolation_level_fails_the_whole_request(raw, version):
    """As Kafka (FetchRequest.getErrorResponse): UNKNOWN_SERVER_ERROR at the
    top (v7+) and, before v13, on every partition named."""
    client = raw()
    topic_id = create_topic(client, "t")["topic_id"]
    produce_ok(client, "t", 0, batch([b"x"]))
    response = client.request(FETCH, version, fetch_request("t", 0, 0, topic_id=topic_id, isolation_level=5))
    if version >= 7:
        assert response["error_code"] == ErrorCode.UNKNOWN_SERVER_ERROR
    partitions = [p for t in response["responses"] for p in t["partitions"]]
    if version >= 13:
        assert partitions == []
    else:
        assert [(p["error_code"], p["high_watermark"], p["records"], p["aborted_transactions"]) for p in partitions] \
            == [(ErrorCode.UNKNOWN_SERVER_ERROR, -1, b"", [])]


def test_negative_partition_max_bytes(raw):
    """Kafka's log refuses a negative size once it has something to read."""
    client = raw()
    create_topic(client, "t")
    produce_ok(client, "t", 0, batch([b"x"]))
    refused = fetch(client, "t", 0, 0, partition_max_bytes=-1)
    assert (refused["error_code"], refused["high_watermark"], refused["records"]) == \
        (ErrorCode.UNKNOWN_SERVER_ERROR, -1, b"")
    at_end = fetch(client, "t", 0, 1, partition_max_bytes=-1)
    assert (at_end["error_code"], at_end["high_watermark"]) == (ErrorCode.NONE, 1)


# --- fetch sessions ----------------------------------------------------------------------
def _session_fetch(client, session_id, epoch, partitions, forgotten=()):
    """A Fetch v12 in a session; partitions: {index: fetch offset}."""
    topics = [{"topic": "t", "partitions": [{"partition": p, "fetch_offset": o, "partition_max_bytes": 1 << 20}
                                            for p, o in partitions.items()]}] if partitions else []
    return client.request(FETCH, 12, {
        "max_wait_ms": 0, "min_bytes": 0, "max_bytes": 1 << 20, "session_id": session_id, "session_epoch": epoch,
        "topics": topics,
        "forgotten_topics_data": [{"topic": "t", "partitions": list(forgotten)}] if forgotten else []})


def _returned(response):
    return {(t["topic"], p["partition_index"]): [r.value for r in decode_all(p["records"])]
            for t in response["responses"] for p in t["partitions"]}


def test_fetch_sessions_return_only_changed_partitions(raw):
    client = raw()
    create_topic(client, "t", partitions=3)
    produce_ok(client, "t", 0, batch([b"p0"]))
    full = _session_fetch(client, 0, 0, {0: 0, 1: 0, 2: 0})
    session = full["session_id"]
    assert full["error_code"] == ErrorCode.NONE and session != 0
    assert _returned(full) == {("t", 0): [b"p0"], ("t", 1): [], ("t", 2): []}

    # Nothing changed since: an empty incremental response (offsets as before, p0 moved on).
    assert _returned(_session_fetch(client, session, 1, {0: 1})) == {}
    produce_ok(client, "t", 1, batch([b"p1"]))
    assert _returned(_session_fetch(client, session, 2, {})) == {("t", 1): [b"p1"]}
    assert _returned(_session_fetch(client, session, 3, {1: 1})) == {}

    # A forgotten partition is no longer fetched.
    assert _returned(_session_fetch(client, session, 4, {}, forgotten=[2])) == {}
    produce_ok(client, "t", 2, batch([b"p2"]))
    produce_ok(client, "t", 0, batch([b"p0 again"]))
    assert _returned(_session_fetch(client, session, 5, {})) == {("t", 0): [b"p0 again"]}

    # A partition can be added to the session.
    assert _returned(_session_fetch(client, session, 6, {2: 0, 0: 2})) == {("t", 2): [b"p2"]}


def test_fetch_session_errors(raw):
    client = raw()
    create_topic(client, "t")
    session = _session_fetch(client, 0, 0, {0: 0})["session_id"]
    missing = _session_fetch(client, session + 1, 1, {})
    assert (missing["error_code"], missing["session_id"], missing["responses"]) == \
        (ErrorCode.FETCH_SESSION_ID_NOT_FOUND, 0, [])
    wrong_epoch = _session_fetch(client, session, 5, {})
    assert wrong_epoch["error_code"] == ErrorCode.INVALID_FETCH_SESSION_EPOCH
    # The session survives a wrong epoch ...
    assert _session_fetch(client, session, 1, {})["error_code"] == ErrorCode.NONE
    # ... and is gone once closed (epoch -1), which answers a full sessionless fetch.
    closing = _session_fetch(client, session, -1, {0: 0})
    assert (closing["error_code"], closing["session_id"]) == (ErrorCode.NONE, 0)
    assert _session_fetch(client, session, 2, {})["error_code"] == ErrorCode.FETCH_SESSION_ID_NOT_FOUND


def test_sessionless_fetch_before_v7(raw):
    client = raw()
    create_topic(client, "t")
    produce_ok(client, "t", 0, batch([b"x"]))
    response = client.request(FETCH, 6, fetch_request("t", 0, 0))
    assert [r.value for r in decode_all(response["responses"][0]["partitions"][0]["records"])] == [b"x"]
