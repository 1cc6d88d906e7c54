"""A transaction's first write to a partition is verified with its
transaction coordinator (KIP-890 part 1) also when that coordinator is
another broker than the partition's leader: the leader asks it with
AddPartitionsToTxn (VerifyOnly) before appending; for a producer of
transactions V2 (Produce v12) it asks it to add the partition. The same
holds for a group's offsets committed in a transaction (TxnOffsetCommit)."""
from __future__ import annotations

import time

import pytest

from pykbroker.errors import ErrorCode
from wire import records
from wire.records import Record

from .processes import wait_for
from .test_coordinator_failover import INTERNAL, coordinator

PRODUCE, INIT_PRODUCER_ID, ADD_PARTITIONS_TO_TXN, TXN_OFFSET_COMMIT, DESCRIBE_TRANSACTIONS = 0, 22, 24, 28, 65


def transactional_batch(producer_id: int, epoch: int, value: bytes) -> bytes:
    return records.build_batch([Record(0, int(time.time() * 1000), None, value)], producer_id=producer_id,
                               producer_epoch=epoch, base_sequence=0, transactional=True)


def produce(client, topic: str, partition: int, data: bytes, version: int) -> dict:
    response = client.request(PRODUCE, version, {
        "transactional_id": "tx", "acks": -1, "timeout_ms": 10_000,
        "topic_data": [{"name": topic, "partition_data": [{"index": partition, "records": data}]}]})
    return response["responses"][0]["partition_responses"][0]


@pytest.fixture
def remote_partition(cluster_factory):
    """(cluster, coordinator of "tx", producer id, epoch, a partition led by another broker, its leader)."""
    cluster = cluster_factory(**INTERNAL)
    assert cluster.create_topic("t", 3, 3)["error_code"] == ErrorCode.NONE
    cluster.wait_for_full_isr("t")
    node = coordinator(cluster, "tx", 1)

    def init():
        with cluster.client(node) as c:
            answer = c.request(INIT_PRODUCER_ID, 4, {"transactional_id": "tx", "transaction_timeout_ms": 60_000,
                                                     "producer_id": -1, "producer_epoch": -1})
        return answer["error_code"] == ErrorCode.NONE and answer
    answer = wait_for(init, 30, "a producer id for tx")
    partition = next(p for p in cluster.wait_for_full_isr("t") if p["leader_id"] != node)
    return cluster, node, answer["producer_id"], answer["producer_epoch"], partition["partition_index"], \
        partition["leader_id"]


def test_a_write_the_remote_coordinator_does_not_know_of_is_refused(remote_partition):
    cluster, _, producer_id, epoch, index, leader = remote_partition
    data = transactional_batch(producer_id, epoch, b"hanging")
    with cluster.client(leader) as c:
        old = produce(c, "t", index, data, version=9)
        assert (old["error_code"], old["error_message"]) == \
            (ErrorCode.INVALID_TXN_STATE, "Partition was not added to the transaction")
        new = produce(c, "t", index, data, version=11)
        assert (new["error_code"], new["error_message"]) == (ErrorCode.TRANSACTION_ABORTABLE, None)
    assert cluster.log_bytes(leader, "t", index) == b""


def test_a_write_the_remote_coordinator_added_is_appended(remote_partition):
    cluster, node, producer_id, epoch, index, leader = remote_partition
    with cluster.client(node) as c:
        added = c.request(ADD_PARTITIONS_TO_TXN, 3, {
            "v3_and_below_transactional_id": "tx", "v3_and_below_producer_id": producer_id,
            "v3_and_below_producer_epoch": epoch, "v3_and_below_topics": [{"name": "t", "partitions": [index]}]})
    assert added["results_by_topic_v3_and_below"][0]["results_by_partition"][0]["partition_error_code"] == 0
    with cluster.client(leader) as c:
        written = produce(c, "t", index, transactional_batch(producer_id, epoch, b"in"), version=11)
    assert (written["error_code"], written["base_offset"]) == (ErrorCode.NONE, 0)


def transaction_topics(cluster, node: int) -> list[dict]:
    with cluster.client(node) as c:
        (state,) = c.request(DESCRIBE_TRANSACTIONS, 0, {"transactional_ids": ["tx"]})["transaction_states"]
    return state["topics"]


def test_a_v2_write_is_added_by_the_remote_coordinator(remote_partition):
    cluster, node, producer_id, epoch, index, leader = remote_partition
    with cluster.client(leader) as c:
        written = produce(c, "t", index, transactional_batch(producer_id, epoch, b"in"), version=12)
    assert (written["error_code"], written["base_offset"]) == (ErrorCode.NONE, 0)
    assert transaction_topics(cluster, node) == [{"topic": "t", "partitions": [index]}]


def test_offsets_committed_in_a_transaction_are_checked_by_the_remote_coordinator(remote_partition):
    cluster, node, producer_id, epoch, _, _ = remote_partition
    group = next(g for g in (f"group-{i}" for i in range(100)) if coordinator(cluster, g, 0) != node)
    group_coordinator = coordinator(cluster, group, 0)

    def commit(version):
        with cluster.client(group_coordinator) as c:
            response = c.request(TXN_OFFSET_COMMIT, version, {
                "transactional_id": "tx", "group_id": group, "producer_id": producer_id, "producer_epoch": epoch,
                "topics": [{"name": "t", "partitions": [{"partition_index": 0, "committed_offset": 1,
                                                          "committed_metadata": ""}]}]})
        return response["topics"][0]["partitions"][0]["error_code"]
    # Without AddOffsetsToTxn, as the coordinator on the other broker says.
    assert commit(version=4) == ErrorCode.TRANSACTION_ABORTABLE
    # V2: added on the producer's behalf.
    assert commit(version=5) == ErrorCode.NONE
    (added,) = transaction_topics(cluster, node)
    assert added["topic"] == "__consumer_offsets"
