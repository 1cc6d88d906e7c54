"""Exactly-once across brokers: transaction markers sent to partition
leaders on other brokers (WriteTxnMarkers), and an idempotent producer whose
partition leader is killed carrying on without duplicates, the followers
having kept its producer state."""
import pytest
from confluent_kafka import Producer

from tests.clients.test_transactions import consume
from tests.cluster.processes import ProcessCluster, wait_for

DESCRIBE_PRODUCERS = 61


@pytest.fixture
def cluster(tmp_path):
    cluster = ProcessCluster(tmp_path / "cluster", 3, **{
        "transaction.state.log.num.partitions": "3", "offsets.topic.num.partitions": "3",
        "transaction.state.log.replication.factor": "3", "transaction.state.log.min.isr": "2"})
    cluster.start()
    try:
        cluster.wait_until_started()
        yield cluster
    finally:
        cluster.close()


def test_markers_reach_leaders_on_other_brokers(cluster):
    assert cluster.create_topic("t", 3, 3)["error_code"] == 0
    leaders = {p["leader_id"] for p in cluster.wait_for_full_isr("t")}
    assert len(leaders) == 3     # every broker leads one: two of them are not the coordinator
    bootstrap = cluster.bootstrap_servers
    producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": "spread"})
    producer.init_transactions(60)
    producer.begin_transaction()
    for i in range(9):
        producer.produce("t", value=b"c%d" % i, partition=i % 3)
    producer.commit_transaction(60)
    producer.begin_transaction()
    for i in range(3):
        producer.produce("t", value=b"a%d" % i, partition=i)
    producer.flush(60)
    producer.abort_transaction(60)
    assert sorted(consume(bootstrap, "t", "read_committed", partitions=3)) == [b"c%d" % i for i in range(9)]
    assert len(consume(bootstrap, "t", "read_uncommitted", partitions=3)) == 12


def test_idempotent_producer_survives_leader_failover(cluster):
    assert cluster.create_topic("t", 1, 3, **{"min.insync.replicas": "2"})["error_code"] == 0
    leader = cluster.wait_for_full_isr("t")[0]["leader_id"]
    bootstrap = cluster.bootstrap_servers
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 0})
    for i in range(50):
        producer.produce("t", value=b"%d" % i, partition=0)
    assert producer.flush(60) == 0
    cluster.kill(leader)
    new_leader = wait_for(lambda: (n := cluster.partitions("t")[0]["leader_id"]) not in (-1, leader) and n, 30,
                          "a new leader")
    with cluster.client(new_leader) as client:
        described = client.request(DESCRIBE_PRODUCERS, 0, {"topics": [{"name": "t", "partition_indexes": [0]}]})
    (state,) = described["topics"][0]["partitions"][0]["active_producers"]
    assert state["last_sequence"] == 49     # replicated with the records
    for i in range(50, 100):
        producer.produce("t", value=b"%d" % i, partition=0)
    assert producer.flush(60) == 0
    assert consume(bootstrap, "t", "read_uncommitted") == [b"%d" % i for i in range(100)]
