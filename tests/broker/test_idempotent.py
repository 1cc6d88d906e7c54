"""The idempotent producer over the wire: InitProducerId, retried batches,
sequence and epoch errors, and the producer state across restarts."""
import time

import pytest

from pykbroker.errors import ErrorCode
from pykbroker.testing import EmbeddedBroker
from tests.broker.rawapi import create_topic, fetched_values, produce, produce_ok, wait_for
from tests.support.rawclient import RawClient
from wire import records
from wire.records import Record

INIT_PRODUCER_ID = 22


def init_producer_id(client, version=4, **fields):
    body = {"transactional_id": None, "transaction_timeout_ms": 60_000, **fields}
    return client.request(INIT_PRODUCER_ID, version, body)


def idempotent_batch(values, pid, seq, epoch=0):
    # Producers expire by their batches' timestamps: these must be current.
    now = int(time.time() * 1000)
    return bytearray(records.build_batch([Record(i, now, None, v) for i, v in enumerate(values)],
                                         producer_id=pid, producer_epoch=epoch, base_sequence=seq))


@pytest.mark.parametrize("version", [0, 2, 3, 4, 5])
def test_init_producer_id_hands_out_new_ids(raw, version):
    client = raw()
    ids = set()
    for _ in range(3):
        response = init_producer_id(client, version)
        assert (response["error_code"], response["producer_epoch"]) == (ErrorCode.NONE, 0)
        ids.add(response["producer_id"])
    assert len(ids) == 3 and min(ids) >= 0


def test_init_producer_id_with_an_id_but_no_epoch_is_invalid(raw):
    response = init_producer_id(raw(), 3, producer_id=5, producer_epoch=-1)
    assert response["error_code"] == ErrorCode.INVALID_REQUEST


def test_producer_ids_are_never_reused_after_a_restart(tmp_path):
    data = str(tmp_path / "data")
    with EmbeddedBroker(data) as broker, RawClient("127.0.0.1", broker.port) as client:
        before = {init_producer_id(client)["producer_id"] for _ in range(5)}
    with EmbeddedBroker(data) as broker, RawClient("127.0.0.1", broker.port) as client:
        after = init_producer_id(client)["producer_id"]
    assert after > max(before)


def test_a_retried_batch_is_acknowledged_with_its_original_offset(raw):
    client = raw()
    create_topic(client, "t")
    pid = init_producer_id(client)["producer_id"]
    first = idempotent_batch([b"a", b"b"], pid, 0)
    assert produce_ok(client, "t", 0, first) == 0
    assert produce_ok(client, "t", 0, idempotent_batch([b"c"], pid, 2)) == 2
    retried = produce(client, "t", 0, first)
    assert (retried["error_code"], retried["base_offset"]) == (ErrorCode.NONE, 0)
    assert fetched_values(client, "t", 0) == [b"a", b"b", b"c"]


def test_sequence_and_epoch_errors(raw):
    client = raw()
    create_topic(client, "t")
    pid = init_producer_id(client)["producer_id"]
    produce_ok(client, "t", 0, idempotent_batch([b"a"], pid, 0, epoch=1))
    gap = produce(client, "t", 0, idempotent_batch([b"x"], pid, 2, epoch=1))
    # As Kafka: no message, but the log start offset (producers compare it with their last acknowledged offset).
    assert (gap["error_code"], gap["error_message"], gap["log_start_offset"]) == \
        (ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, None, 0)
    fenced = produce(client, "t", 0, idempotent_batch([b"y"], pid, 1, epoch=0))
    assert fenced["error_code"] == ErrorCode.INVALID_PRODUCER_EPOCH
    assert fetched_values(client, "t", 0) == [b"a"]


def test_a_batch_that_overtook_the_first_one_on_a_new_partition_waits_for_it(raw):
    """A producer's second batch reaching a partition never written to
    before its first (which went to an old leader) is refused as out of
    order, as from Kafka 4.5; the first is not lost when its retry lands."""
    client = raw()
    create_topic(client, "t")
    pid = init_producer_id(client)["producer_id"]
    second = idempotent_batch([b"b"], pid, 1)
    early = produce(client, "t", 0, second)
    assert (early["error_code"], early["error_message"]) == (ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, None)
    assert produce_ok(client, "t", 0, idempotent_batch([b"a"], pid, 0)) == 0
    assert produce_ok(client, "t", 0, second) == 1
    assert fetched_values(client, "t", 0) == [b"a", b"b"]


def test_producer_state_survives_restarts(tmp_path):
    """After a clean stop and after a crash (snapshots lost), a retry is
    still recognised and a gap still refused."""
    data = str(tmp_path / "data")
    with EmbeddedBroker(data) as broker, RawClient("127.0.0.1", broker.port) as client:
        create_topic(client, "t")
        pid = init_producer_id(client)["producer_id"]
        last = idempotent_batch([b"b"], pid, 1)
        produce_ok(client, "t", 0, idempotent_batch([b"a"], pid, 0))
        produce_ok(client, "t", 0, last)
    for lose_snapshots in (False, True):
        if lose_snapshots:
            for snapshot in (tmp_path / "data" / "t-0").glob("*.snapshot"):
                snapshot.unlink()
        with EmbeddedBroker(data) as broker, RawClient("127.0.0.1", broker.port) as client:
            assert produce(client, "t", 0, last)["base_offset"] == 1
            gap = produce(client, "t", 0, idempotent_batch([b"x"], pid, 5))
            assert gap["error_code"] == ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER
            assert fetched_values(client, "t", 0) == [b"a", b"b"]


def test_an_expired_producer_carries_on(tmp_path):
    """Once producer.id.expiration.ms has passed the broker forgets the
    producer; its next batch is accepted whatever its sequence (KIP-360)."""
    with EmbeddedBroker(str(tmp_path / "data"), producer_id_expiration_ms=1,
                        producer_id_expiration_check_interval_ms=1) as broker, \
            RawClient("127.0.0.1", broker.port) as client:
        create_topic(client, "t")
        pid = init_producer_id(client)["producer_id"]
        produce_ok(client, "t", 0, idempotent_batch([b"a"], pid, 0))
        wait_for(lambda: produce(client, "t", 0, idempotent_batch([b"b"], pid, 7))["error_code"] == ErrorCode.NONE,
                 message="the producer to expire")
        assert fetched_values(client, "t", 0) == [b"a", b"b"]
