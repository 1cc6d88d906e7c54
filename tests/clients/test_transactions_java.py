"""Transactions with the Java client: 3.9 with the classic protocol, 4.x
with transactions V2 (KIP-890 part 2, as the broker finalizes
transaction.version 2): read_committed and read_uncommitted consumers, and
fencing."""
import pytest

from tests.broker.rawapi import create_topic
from tests.clients.java import exactly_once
from tests.support.rawclient import RawClient

DESCRIBE_TRANSACTIONS = 65


@pytest.fixture
def topic(kafka_broker):
    with RawClient("127.0.0.1", kafka_broker.port) as client:
        create_topic(client, "t", partitions=2)
    return kafka_broker.bootstrap_servers


@pytest.mark.parametrize("version", exactly_once.VERSIONS)
def test_committed_and_aborted_transactions(topic, version):
    output = exactly_once.run(version, topic, "transactions", "t")
    committed = sorted(["committed-%d" % i for i in range(10)] + ["last"])
    assert output["read_committed"] == ",".join(committed)
    assert output["read_uncommitted"] == ",".join(sorted(committed + ["aborted-%d" % i for i in range(10)]))
    # V2 bumps the epoch at each of the three transactions' ends; the classic
    # protocol keeps the one InitProducerId gave.
    with RawClient("127.0.0.1", int(topic.rsplit(":", 1)[1])) as client:
        (state,) = client.request(DESCRIBE_TRANSACTIONS, 0, {"transactional_ids": ["java-tx"]})["transaction_states"]
    assert state["producer_epoch"] == (0 if version.startswith("3.") else 3)


@pytest.mark.parametrize("version", exactly_once.VERSIONS)
def test_a_second_producer_fences_the_first(topic, version):
    output = exactly_once.run(version, topic, "fencing", "t")
    assert output["first"] == "failed ProducerFencedException"
    assert output["read_committed"] == "winner"


def test_kafka_transactions_tool(topic):
    """kafka-transactions.sh lists, describes and (by its partition) aborts
    an open transaction, and finds none hanging."""
    from confluent_kafka import Producer
    from compat.kafka_cli import run
    from tests.clients.test_transactions import consume

    bootstrap = topic
    producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": "cli-tx"})
    producer.init_transactions(30)
    producer.begin_transaction()
    producer.produce("t", value=b"open", partition=0)
    producer.flush(30)

    def tool(*args):
        result = run("kafka-transactions", ["--bootstrap-server", bootstrap, *args])
        assert result.returncode == 0, result.stderr
        return [line.split() for line in result.stdout.splitlines()]

    listed = tool("list")
    assert listed[0][:4] == ["TransactionalId", "Coordinator", "ProducerId", "TransactionState"]
    assert [row[0] for row in listed[1:]] == ["cli-tx"] and listed[1][3] == "Ongoing"
    described = tool("describe", "--transactional-id", "cli-tx")
    assert "Ongoing" in described[1] and "t-0" in described[1]
    producers = tool("describe-producers", "--topic", "t", "--partition", "0")
    assert producers[0][:2] == ["ProducerId", "ProducerEpoch"] and producers[1][-1] == "0"  # CurrentTransactionStartOffset
    # Open longer than 0 minutes, but its coordinator knows it: not hanging.
    hanging = tool("find-hanging", "--broker-id", "1", "--max-transaction-timeout", "0")
    assert hanging[0][:2] == ["Topic", "Partition"] and not any(hanging[1:])
    tool("abort", "--topic", "t", "--partition", "0", "--start-offset", "0")
    assert consume(bootstrap, "t", "read_committed", partitions=2) == []
    assert consume(bootstrap, "t", "read_uncommitted", partitions=2) == [b"open"]
