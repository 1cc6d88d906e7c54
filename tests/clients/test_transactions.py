"""Transactions with the Python clients: what read_committed and
read_uncommitted consumers see of committed and aborted transactions,
fencing by transactional.id, a consume-transform-produce loop killed with
SIGKILL mid-transaction, and a broker restarted mid-transaction."""
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from kafka import KafkaProducer

from pykbroker.testing import EmbeddedBroker
from tests.broker.rawapi import create_topic, wait_for
from tests.support.rawclient import RawClient


def make_topics(broker, *names, partitions=1):
    with RawClient("127.0.0.1", broker.port) as client:
        for name in names:
            create_topic(client, name, partitions=partitions)


def consume(bootstrap, topic, isolation, partitions=1, timeout=30.0):
    """Every value a consumer with ``isolation`` reads from the start of the
    topic up to its end (the last stable offset for read_committed)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"check-{isolation}",
                         "isolation.level": isolation, "enable.auto.commit": False,
                         "enable.partition.eof": True})
    try:
        consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
        values, at_end = [], set()
        deadline = time.monotonic() + timeout
        while len(at_end) < partitions:
            assert time.monotonic() < deadline, f"did not reach the end of {topic}: {values}"
            message = consumer.poll(0.2)
            if message is None:
                continue
            if message.error() is None:
                values.append(message.value())
            elif message.error().code() == KafkaError._PARTITION_EOF:
                at_end.add(message.partition())
        return values
    finally:
        consumer.close()


def transactional_producer(bootstrap, transactional_id, **config):
    producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": transactional_id, **config})
    producer.init_transactions(30)
    return producer


def test_committed_and_aborted_transactions(kafka_broker):
    bootstrap = kafka_broker.bootstrap_servers
    make_topics(kafka_broker, "t", partitions=2)
    producer = transactional_producer(bootstrap, "tx-1")
    producer.begin_transaction()
    for i in range(10):
        producer.produce("t", value=b"committed-%d" % i, partition=i % 2)
    producer.commit_transaction(30)
    producer.begin_transaction()
    for i in range(10):
        producer.produce("t", value=b"aborted-%d" % i, partition=i % 2)
    producer.flush(30)
    producer.abort_transaction(30)
    producer.begin_transaction()
    producer.produce("t", value=b"last", partition=0)
    producer.commit_transaction(30)
    committed = consume(bootstrap, "t", "read_committed", partitions=2)
    assert sorted(committed) == sorted([b"committed-%d" % i for i in range(10)] + [b"last"])
    everything = consume(bootstrap, "t", "read_uncommitted", partitions=2)
    assert sorted(everything) == sorted(committed + [b"aborted-%d" % i for i in range(10)])


def test_a_second_producer_fences_the_first(kafka_broker):
    bootstrap = kafka_broker.bootstrap_servers
    make_topics(kafka_broker, "t")
    first = transactional_producer(bootstrap, "shared-id")
    first.begin_transaction()
    first.produce("t", value=b"zombie", partition=0)
    first.flush(30)
    second = transactional_producer(bootstrap, "shared-id")   # aborts the first one's transaction
    second.begin_transaction()
    second.produce("t", value=b"winner", partition=0)
    second.commit_transaction(30)
    with pytest.raises(KafkaException) as failure:
        first.commit_transaction(30)
    assert failure.value.args[0].fatal()
    assert consume(bootstrap, "t", "read_committed") == [b"winner"]


def test_kafka_python_transactions(kafka_broker):
    bootstrap = kafka_broker.bootstrap_servers
    make_topics(kafka_broker, "t")
    producer = KafkaProducer(bootstrap_servers=bootstrap, transactional_id="kp")
    try:
        producer.init_transactions()
        producer.begin_transaction()
        producer.send("t", b"one", partition=0)
        producer.commit_transaction()
        producer.begin_transaction()
        producer.send("t", b"never", partition=0)
        producer.flush()
        producer.abort_transaction()
    finally:
        producer.close(timeout=5)
    assert consume(bootstrap, "t", "read_committed") == [b"one"]
    assert consume(bootstrap, "t", "read_uncommitted") == [b"one", b"never"]


# --- consume-transform-produce, killed mid-transaction --------------------------------------

COPIER = textwrap.dedent("""
    import os, signal, sys
    from confluent_kafka import Consumer, Producer
    bootstrap, die_after = sys.argv[1], int(sys.argv[2])
    # A short session: the killed copier's membership must lapse before the
    # restarted one gets the partition.
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "copier", "isolation.level": "read_committed",
                         "enable.auto.commit": False, "auto.offset.reset": "earliest", "session.timeout.ms": 6000})
    consumer.subscribe(["input"])
    producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": "copier-1"})
    producer.init_transactions(30)
    copied = 0
    while True:
        batch = consumer.consume(5, 1.0)
        if not batch:
            print("idle", flush=True)
            continue
        producer.begin_transaction()
        for message in batch:
            producer.produce("output", value=message.value().upper(), partition=0)
            copied += 1
            if copied == die_after:
                producer.flush(30)           # written, but the transaction stays open
                os.kill(os.getpid(), signal.SIGKILL)
        producer.send_offsets_to_transaction(consumer.position(consumer.assignment()),
                                             consumer.consumer_group_metadata(), 30)
        producer.commit_transaction(30)
""")


@pytest.fixture
def quick_groups(tmp_path):
    """A broker whose groups do not wait for more members to join."""
    with EmbeddedBroker(str(tmp_path / "data"), group_initial_rebalance_delay_ms=0) as broker:
        yield broker


def test_consume_transform_produce_survives_sigkill(quick_groups, tmp_path):
    bootstrap = quick_groups.bootstrap_servers
    make_topics(quick_groups, "input", "output")
    inputs = [b"record-%02d" % i for i in range(40)]
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    for value in inputs:
        producer.produce("input", value=value, partition=0)
    assert producer.flush(30) == 0
    script = tmp_path / "copier.py"
    script.write_text(COPIER)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    killed = subprocess.run([sys.executable, str(script), bootstrap, "23"], env=env, timeout=120,
                            capture_output=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()
    # The partial transaction is still open: a read_committed reader waits at its start.
    copier = subprocess.Popen([sys.executable, str(script), bootstrap, "0"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        expected = sorted(v.upper() for v in inputs)
        wait_for(lambda: sorted(consume(bootstrap, "output", "read_committed")) == expected, timeout=60,
                 interval=0.5, message="every input copied once")
    finally:
        copier.kill()
        copier.wait()
    assert sorted(consume(bootstrap, "output", "read_committed")) == expected
    # The first copier's uncommitted writes are there, aborted.
    assert len(consume(bootstrap, "output", "read_uncommitted")) > len(inputs)


# --- the broker restarted mid-transaction ----------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_transaction_survives_a_broker_restart(tmp_path):
    data, port = str(tmp_path / "data"), free_port()
    listeners = f"PLAINTEXT://127.0.0.1:{port}"
    bootstrap = f"127.0.0.1:{port}"
    broker = EmbeddedBroker(data, listeners=listeners).start()
    try:
        make_topics(broker, "t")
        producer = transactional_producer(bootstrap, "restarting", **{"transaction.timeout.ms": 60000})
        producer.begin_transaction()
        producer.produce("t", value=b"before", partition=0)
        producer.flush(30)
        broker.stop()
        broker = EmbeddedBroker(data, listeners=listeners).start()
        producer.produce("t", value=b"after", partition=0)
        producer.commit_transaction(60)
        assert consume(bootstrap, "t", "read_committed") == [b"before", b"after"]
    finally:
        broker.stop()


def test_aiokafka_transactions(kafka_broker):
    import asyncio

    from aiokafka import AIOKafkaProducer

    bootstrap = kafka_broker.bootstrap_servers
    make_topics(kafka_broker, "t")

    async def produce():
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, transactional_id="aio")
        await producer.start()
        try:
            async with producer.transaction():
                await producer.send_and_wait("t", b"kept", partition=0)
            await producer.begin_transaction()
            await producer.send_and_wait("t", b"dropped", partition=0)
            await producer.abort_transaction()
        finally:
            await producer.stop()

    asyncio.run(produce())
    assert consume(bootstrap, "t", "read_committed") == [b"kept"]
    assert consume(bootstrap, "t", "read_uncommitted") == [b"kept", b"dropped"]
