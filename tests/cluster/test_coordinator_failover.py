"""Group and transaction coordinators live with the leaders of their
internal topics' partitions: when that broker dies, the new leader rebuilds
their state and clients find it (NOT_COORDINATOR, then FindCoordinator)."""
from __future__ import annotations

import subprocess

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

from compat import kafka_jars
from pykbroker.errors import ErrorCode
from tests.clients.java import programs as java_programs

from .processes import wait_for

FIND_COORDINATOR, DESCRIBE_TRANSACTIONS = 10, 65
INTERNAL = {"offsets_topic_replication_factor": 3, "offsets_topic_num_partitions": 5,
            "transaction_state_log_replication_factor": 3, "transaction_state_log_num_partitions": 5,
            "transaction_state_log_min_isr": 2}

# librdkafka fails a synchronous commit with these while the coordinator moves.
RETRIED_COMMIT_ERRORS = {KafkaError._WAIT_COORD, KafkaError.NOT_COORDINATOR, KafkaError.COORDINATOR_NOT_AVAILABLE,
                         KafkaError.COORDINATOR_LOAD_IN_PROGRESS, KafkaError._TRANSPORT}


def coordinator(cluster, key: str, key_type: int) -> int:
    def find():
        with cluster.client() as c:
            result = c.request(FIND_COORDINATOR, 4, {"key_type": key_type, "coordinator_keys": [key]})
        found = result["coordinators"][0]
        return found["error_code"] == ErrorCode.NONE and found["node_id"]
    return wait_for(find, 30, f"a coordinator for {key}")


def kill_and_restart(cluster, node: int, key: str, key_type: int) -> int:
    """Kill ``node``; once another broker coordinates ``key``, start it again."""
    cluster.kill(node)
    moved = wait_for(lambda: (n := coordinator(cluster, key, key_type)) != node and n, 30,
                     "the coordinator to move")
    cluster.start(node)
    return moved


def test_a_consumer_group_keeps_its_offsets_across_coordinator_failover(cluster_factory):
    cluster = cluster_factory(**INTERNAL)
    cluster.create_topic("in", 3, 3)
    cluster.wait_for_full_isr("in")
    producer = Producer({"bootstrap.servers": cluster.bootstrap_servers, "acks": "all", "log_level": 0})
    for i in range(300):
        producer.produce("in", value=b"%d" % i, partition=i % 3)
    assert producer.flush(30) == 0

    def consumer():
        # The session must outlast the failover (fencing, then finding the new
        # coordinator) plus a heartbeat interval: else librdkafka times the
        # session out itself, drops its member id, and its next commit is
        # answered UNKNOWN_MEMBER_ID, as Kafka answers it.
        c = Consumer({"bootstrap.servers": cluster.bootstrap_servers, "group.id": "g", "enable.auto.commit": False,
                      "auto.offset.reset": "earliest", "session.timeout.ms": 30000, "log_level": 0})
        c.subscribe(["in"])
        return c

    first = consumer()
    seen = []

    def commit(c, message):
        """As an application does: a commit that finds no coordinator yet is retried."""
        def attempt():
            try:
                c.commit(message=message, asynchronous=False)
            except KafkaException as e:
                if not (e.args[0].retriable() or e.args[0].code() in RETRIED_COMMIT_ERRORS):
                    raise
                return False
            return True
        wait_for(attempt, 60, "the commit to reach a coordinator", interval=0.2)

    def consume(c, count):
        def step():
            message = c.poll(0.5)
            if message is not None and not message.error():
                seen.append(message.value())
                commit(c, message)
            return len(seen) >= count
        wait_for(step, 60, f"{count} records consumed", interval=0)

    consume(first, 150)
    moved = kill_and_restart(cluster, coordinator(cluster, "g", 0), "g", 0)
    assert moved != -1
    # Commits retry until they reach the new coordinator; consumption goes on.
    consume(first, 300)
    first.close()
    second = consumer()
    committed = second.committed([TopicPartition("in", p) for p in range(3)], timeout=30)
    assert sorted(tp.offset for tp in committed) == [100, 100, 100]
    second.close()
    assert set(seen) == {b"%d" % i for i in range(300)}


def test_transactions_go_on_across_coordinator_failover(cluster_factory):
    cluster = transactional_cluster(cluster_factory)
    producer = Producer({"bootstrap.servers": cluster.bootstrap_servers, "transactional.id": "tx",
                         "transaction.timeout.ms": 60000, "log_level": 0})
    producer.init_transactions(30)

    def transaction(values):
        producer.begin_transaction()
        for v in values:
            producer.produce("out", value=v, partition=int(v) % 3)
        producer.commit_transaction(60)

    transaction([b"%d" % i for i in range(30)])
    kill_and_restart(cluster, coordinator(cluster, "tx", 1), "tx", 1)
    transaction([b"%d" % i for i in range(30, 60)])
    producer.begin_transaction()
    producer.produce("out", value=b"aborted", partition=0)
    producer.abort_transaction(60)
    assert read_committed(cluster, 60) == {b"%d" % i for i in range(60)}


def test_transactions_v2_go_on_across_coordinator_failover(cluster_factory, tmp_path):
    """The same with the Java 4.x client, which runs transactions V2 here:
    partitions join the transaction through their leaders, and each EndTxn
    bumps the epoch, also when the coordinator has moved in between."""
    cluster = transactional_cluster(cluster_factory)
    with open(tmp_path / "producer.log", "w") as log:
        producer = subprocess.Popen(java_programs.command("TransactionSteps", kafka_jars.DEFAULT_VERSION,
                                                          cluster.bootstrap_servers, "out", "tx-java", "3"),
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        def step(command):
            if command:
                producer.stdin.write(command + "\n")
                producer.stdin.flush()
            line = producer.stdout.readline().strip()
            assert line == ("ok" if command else "ready"), (tmp_path / "producer.log").read_text()[-3000:]

        step(None)
        step("commit 0 30")
        kill_and_restart(cluster, coordinator(cluster, "tx-java", 1), "tx-java", 1)
        step("commit 30 60")
        step("abort aborted")
        producer.stdin.close()
        assert producer.wait(60) == 0
    finally:
        if producer.poll() is None:
            producer.kill()
            producer.wait()
    assert read_committed(cluster, 60) == {b"%d" % i for i in range(60)}
    with cluster.client(coordinator(cluster, "tx-java", 1)) as c:
        (state,) = c.request(DESCRIBE_TRANSACTIONS, 0, {"transactional_ids": ["tx-java"]})["transaction_states"]
    assert state["producer_epoch"] == 3   # bumped by each of the three EndTxn


def transactional_cluster(cluster_factory):
    cluster = cluster_factory(**INTERNAL)
    cluster.create_topic("out", 3, 3, **{"min.insync.replicas": "2"})
    cluster.wait_for_full_isr("out")
    return cluster


def read_committed(cluster, count: int) -> set[bytes]:
    """The values a read_committed consumer of "out" sees, once it has ``count``."""
    reader = Consumer({"bootstrap.servers": cluster.bootstrap_servers, "group.id": "reader",
                       "isolation.level": "read_committed", "auto.offset.reset": "earliest", "log_level": 0})
    reader.subscribe(["out"])
    values = set()

    def read():
        message = reader.poll(0.5)
        if message is not None and not message.error():
            values.add(message.value())
        return len(values) >= count
    wait_for(read, 60, "the committed records", interval=0)
    reader.close()
    return values
