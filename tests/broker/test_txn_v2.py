"""Transactions V2 (KIP-890 part 2) over the wire, as a Java 4.x producer
runs them once the broker finalizes transaction.version 2: partitions join
the transaction with the first Produce v12 to them, the group's offsets with
TxnOffsetCommit v5, and every EndTxn v5 bumps the epoch and answers it."""
import pytest

from pykbroker.coordinator.txn.metadata import MAX_EPOCH
from pykbroker.errors import ErrorCode
from pykbroker.testing import EmbeddedBroker
from tests.broker.rawapi import batch_headers, create_topic, wait_for
from tests.broker.test_txn import (END_TXN, READ_COMMITTED, Txn, committed_values, coordinator_ready, describe,
                                   fetch_offset, find_group_coordinator, now_ms, quick_aborts, read,
                                   txn_offset_commit)
from tests.support.rawclient import RawClient

API_VERSIONS = 18
PRODUCE_V2, END_TXN_V2, TXN_OFFSET_COMMIT_V2 = 12, 5, 5


class TxnV2(Txn):
    """A producer of transactions V2: no AddPartitionsToTxn, and the epoch the
    EndTxn answer gives is the one to go on with (sequences afresh)."""

    def send(self, topic, partition, values, version=PRODUCE_V2, transactional=True):
        return super().send(topic, partition, values, version, transactional)

    def jump_to_epoch(self, broker, epoch):
        """Where ``epoch`` transactions would have brought it: that many
        InitProducerId or EndTxn take too long for a test."""
        def jump():
            shard = broker.broker.txn_coordinator.runtime.shard_for(self.id)
            shard.txns[self.id] = shard.txns[self.id].with_changes(producer_epoch=epoch)
        broker.call(jump)
        self.epoch = epoch

    def end_v2(self, commit, producer_id=None, epoch=None):
        response = self.client.request(END_TXN, END_TXN_V2, {
            "transactional_id": self.id, "producer_id": self.producer_id if producer_id is None else producer_id,
            "producer_epoch": self.epoch if epoch is None else epoch, "committed": commit})
        if response["error_code"] == ErrorCode.NONE:
            self.producer_id, self.epoch = response["producer_id"], response["producer_epoch"]
            self.sequences = {}
        return response


@pytest.fixture
def client(raw, broker):
    client = raw()
    create_topic(client, "t", partitions=2)
    coordinator_ready(broker)
    return client


@pytest.fixture
def broker(tmp_path):
    with EmbeddedBroker(str(tmp_path / "data"), transaction_state_log_num_partitions=3,
                        offsets_topic_num_partitions=3) as embedded:
        yield embedded


def features(client, version):
    response = client.request(API_VERSIONS, version, {"client_software_name": "raw", "client_software_version": "1"})
    return ({f["name"]: (f["min_version"], f["max_version"]) for f in response["supported_features"]},
            response["finalized_features_epoch"],
            {f["name"]: f["max_version_level"] for f in response["finalized_features"]})


def test_the_broker_finalizes_transaction_version_2(client):
    supported, epoch, finalized = features(client, 4)
    assert supported["transaction.version"] == (0, 2) and finalized["transaction.version"] == 2
    assert epoch >= 0   # the Java client reads finalized features only with an epoch
    # As Kafka: below v4, features whose lowest level is 0 are left out of
    # the supported ones (older clients cannot read them); finalized stay.
    supported, _, finalized = features(client, 3)
    assert "transaction.version" not in supported and finalized["transaction.version"] == 2


def test_produce_v12_adds_the_partition_and_every_end_txn_bumps_the_epoch(client):
    txn = TxnV2(client, "v2")
    txn.init()
    first_epoch = txn.epoch
    assert txn.send("t", 0, [b"a", b"b"])["error_code"] == ErrorCode.NONE
    assert txn.send("t", 1, [b"c"])["error_code"] == ErrorCode.NONE
    assert txn.send("t", 0, [b"d"])["error_code"] == ErrorCode.NONE
    state = describe(client, "v2")["v2"]
    assert state["transaction_state"] == "Ongoing" and state["topics"] == [{"topic": "t", "partitions": [0, 1]}]
    committed = txn.end_v2(commit=True)
    assert (committed["error_code"], committed["producer_id"], committed["producer_epoch"]) == \
        (ErrorCode.NONE, txn.producer_id, first_epoch + 1)
    wait_for(lambda: committed_values(client, "t") == [b"a", b"b", b"d"], message="the commit marker")
    # The markers carry the bumped epoch, which fences the transaction's late writes.
    markers = [h for h in batch_headers(read(client, "t", READ_COMMITTED)["records"]) if h.is_control]
    assert [h.producer_epoch for h in markers] == [first_epoch + 1]
    # The next transaction goes on with that epoch, sequences from 0; it is
    # added at once, the previous one being complete or completing.
    assert txn.send("t", 0, [b"e"])["error_code"] == ErrorCode.NONE
    aborted = txn.end_v2(commit=False)
    assert (aborted["error_code"], aborted["producer_epoch"]) == (ErrorCode.NONE, first_epoch + 2)
    wait_for(lambda: describe(client, "v2")["v2"]["transaction_state"] == "CompleteAbort")
    assert committed_values(client, "t") == [b"a", b"b", b"d"]


def test_a_v2_transaction_starts_a_partition_at_sequence_0(client):
    """Its first batch where the producer has no state must carry sequence 0:
    any other means an earlier one is still on its way."""
    other = TxnV2(client, "other")
    other.init()
    other.send("t", 0, [b"someone else's"])   # the partition is not empty
    txn = TxnV2(client, "v2")
    txn.init()
    txn.sequences = {("t", 0): 5}
    assert txn.send("t", 0, [b"overtaking"])["error_code"] == ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER
    txn.sequences = {}
    assert txn.send("t", 0, [b"first"])["error_code"] == ErrorCode.NONE
    assert txn.end_v2(commit=True)["error_code"] == ErrorCode.NONE
    wait_for(lambda: describe(client, "v2")["v2"]["transaction_state"] == "CompleteCommit")


def test_a_write_from_before_the_bump_is_fenced(client):
    txn = TxnV2(client, "v2")
    txn.init()
    txn.send("t", 0, [b"a"])
    old_epoch = txn.epoch
    txn.end_v2(commit=True)
    wait_for(lambda: describe(client, "v2")["v2"]["transaction_state"] == "CompleteCommit")
    zombie = TxnV2(client, "v2")
    zombie.producer_id, zombie.epoch = txn.producer_id, old_epoch
    zombie.sequences = {("t", 0): 1}
    assert zombie.send("t", 0, [b"late"])["error_code"] == ErrorCode.INVALID_PRODUCER_EPOCH
    assert committed_values(client, "t") == [b"a"]


def test_a_retried_end_txn_gets_the_same_answer(client):
    txn = TxnV2(client, "v2")
    txn.init()
    txn.send("t", 0, [b"a"])
    old = (txn.producer_id, txn.epoch)
    first = txn.end_v2(commit=True)
    wait_for(lambda: describe(client, "v2")["v2"]["transaction_state"] == "CompleteCommit")
    retried = txn.end_v2(commit=True, producer_id=old[0], epoch=old[1])
    assert (retried["error_code"], retried["producer_id"], retried["producer_epoch"]) == \
        (ErrorCode.NONE, first["producer_id"], first["producer_epoch"])
    # A different outcome for the same transaction, or a commit of nothing, is refused.
    assert txn.end_v2(commit=False, producer_id=old[0], epoch=old[1])["error_code"] == ErrorCode.INVALID_TXN_STATE
    assert txn.end_v2(commit=True)["error_code"] == ErrorCode.INVALID_TXN_STATE
    assert txn.end_v2(commit=True, epoch=old[1] - 1)["error_code"] == ErrorCode.PRODUCER_FENCED
    # An abort with nothing ongoing is an empty transaction: it bumps too.
    before = now_ms()
    assert txn.end_v2(commit=False)["producer_epoch"] == old[1] + 2
    wait_for(lambda: describe(client, "v2")["v2"]["transaction_state"] == "CompleteAbort")
    assert describe(client, "v2")["v2"]["transaction_start_time_ms"] >= before


def test_an_exhausted_epoch_moves_the_producer_to_a_new_id(broker, client):
    txn = TxnV2(client, "v2")
    txn.init()
    txn.jump_to_epoch(broker, MAX_EPOCH - 2)
    old_id = txn.producer_id
    txn.send("t", 0, [b"a"])
    assert txn.end_v2(commit=True)["producer_epoch"] == MAX_EPOCH - 1
    txn.send("t", 0, [b"b"])
    rotated = txn.end_v2(commit=True)
    assert rotated["error_code"] == ErrorCode.NONE and rotated["producer_id"] != old_id \
        and rotated["producer_epoch"] == 0
    wait_for(lambda: describe(client, "v2")["v2"]["transaction_state"] == "CompleteCommit")
    # Its markers were the last epoch of the old id.
    markers = [h for h in batch_headers(read(client, "t", READ_COMMITTED)["records"]) if h.is_control]
    assert [(h.producer_id, h.producer_epoch) for h in markers][-1] == (old_id, MAX_EPOCH)
    retried = txn.end_v2(commit=True, producer_id=old_id, epoch=MAX_EPOCH - 1)
    assert (retried["error_code"], retried["producer_id"], retried["producer_epoch"]) == \
        (ErrorCode.NONE, rotated["producer_id"], 0)
    assert txn.send("t", 0, [b"c"])["error_code"] == ErrorCode.NONE
    # A transaction later, the old id is no longer known.
    assert txn.end_v2(commit=True, producer_id=old_id, epoch=MAX_EPOCH - 1)["error_code"] == \
        ErrorCode.INVALID_PRODUCER_ID_MAPPING
    assert txn.end_v2(commit=True)["producer_epoch"] == 1
    wait_for(lambda: committed_values(client, "t") == [b"a", b"b", b"c"], message="the last commit marker")


def test_txn_offset_commit_v5_adds_the_groups_partition(client):
    find_group_coordinator(client, "g")
    txn = TxnV2(client, "copier")
    txn.init()
    assert txn_offset_commit(txn, "g", 5, version=4) == ErrorCode.TRANSACTION_ABORTABLE
    assert txn_offset_commit(txn, "g", 5, version=TXN_OFFSET_COMMIT_V2) == ErrorCode.NONE
    (topic,) = describe(client, "copier")["copier"]["topics"]
    assert topic["topic"] == "__consumer_offsets"
    assert fetch_offset(client, "g", require_stable=True) == ErrorCode.UNSTABLE_OFFSET_COMMIT
    assert txn.end_v2(commit=True)["error_code"] == ErrorCode.NONE
    wait_for(lambda: fetch_offset(client, "g", require_stable=True) == 5, message="the commit marker")


def test_after_a_timeout_abort_the_producers_abort_is_answered(tmp_path):
    """The coordinator aborts a transaction open too long with the epoch
    bumped once: a V2 producer then aborting it at its epoch is told that
    epoch, as if its own abort had been answered; its commit is refused."""
    with quick_aborts(tmp_path) as client:
        txn = TxnV2(client, "slow", timeout_ms=300)
        txn.init()
        epoch = txn.epoch
        txn.send("t", 0, [b"abandoned"])
        wait_for(lambda: describe(client, "slow")["slow"]["transaction_state"] == "CompleteAbort")
        assert txn.end_v2(commit=True)["error_code"] == ErrorCode.INVALID_TXN_STATE
        aborted = txn.end_v2(commit=False)
        assert (aborted["error_code"], aborted["producer_epoch"]) == (ErrorCode.NONE, epoch + 1)
        assert committed_values(client, "t") == []


def test_a_rotation_is_remembered_across_a_restart(tmp_path):
    """The id a producer moves to and the one it leaves are stored in
    __transaction_state (NextProducerId, PreviousProducerId): a restarted
    coordinator completes the rotation and still knows a retried EndTxn."""
    data = str(tmp_path / "data")
    with EmbeddedBroker(data) as broker, RawClient("127.0.0.1", broker.port) as client:
        create_topic(client, "t")
        coordinator_ready(broker)
        txn = TxnV2(client, "v2")
        txn.init()
        txn.jump_to_epoch(broker, MAX_EPOCH - 1)
        old_id = txn.producer_id
        txn.send("t", 0, [b"a"])
        rotated = txn.end_v2(commit=True)
        wait_for(lambda: describe(client, "v2")["v2"]["transaction_state"] == "CompleteCommit")
    with EmbeddedBroker(data) as broker, RawClient("127.0.0.1", broker.port) as client:
        state = wait_for(lambda: (s := describe(client, "v2")["v2"])["error_code"] == ErrorCode.NONE and s,
                         message="the coordinator loaded")
        assert (state["producer_id"], state["producer_epoch"]) == (rotated["producer_id"], 0)
        txn.client = client
        retried = txn.end_v2(commit=True, producer_id=old_id, epoch=MAX_EPOCH - 1)
        assert (retried["error_code"], retried["producer_id"], retried["producer_epoch"]) == \
            (ErrorCode.NONE, rotated["producer_id"], 0)
        assert txn.send("t", 0, [b"b"])["error_code"] == ErrorCode.NONE
        assert txn.end_v2(commit=True)["error_code"] == ErrorCode.NONE
        wait_for(lambda: committed_values(client, "t") == [b"a", b"b"], message="the last commit marker")
