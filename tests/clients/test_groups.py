"""Consumer groups with stock clients: kafka-python, aiokafka,
confluent-kafka and the Java client (classic protocol, eager and
cooperative, and the consumer protocol of KIP-848), each member in its own
process: partitions shared out, one owner at a time, a killed member's
partitions taken over, nothing lost or processed twice with synchronous
commits, offsets resumed after a broker restart, auto.offset.reset."""
import shutil
import time
import uuid

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from compat.apache_kafka import free_port
from pykbroker.testing import EmbeddedBroker
from tests.broker.groupapi import require_kafka_jars
from tests.broker.rawapi import wait_for
from tests.clients.group_members import Member, assert_one_owner_at_a_time, wait_for_balance

SESSION_TIMEOUT_MS = 6000
BROKER_PROPERTIES = {
    # The consumer protocol's session timeout is the broker's.
    "group.consumer.session.timeout.ms": str(SESSION_TIMEOUT_MS),
    "group.consumer.min.session.timeout.ms": str(SESSION_TIMEOUT_MS),
    "group.consumer.heartbeat.interval.ms": "1000",
    "group.consumer.min.heartbeat.interval.ms": "1000",
    "offsets.topic.num.partitions": "10",
}
CLIENTS = ["kafka-python", "aiokafka", "confluent-kafka", "java", "java-cooperative", "java-consumer-protocol"]


def member_configs(client: str, **options: str) -> list[str]:
    """The client's own settings for session timeout, heartbeat interval and
    ``options`` (auto_offset_reset)."""
    if client.startswith("java"):
        configs = {"session.timeout.ms": SESSION_TIMEOUT_MS, "heartbeat.interval.ms": 1000}
        if client == "java-cooperative":
            configs["partition.assignment.strategy"] = \
                "org.apache.kafka.clients.consumer.CooperativeStickyAssignor"
        if client == "java-consumer-protocol":
            configs = {"group.protocol": "consumer"}  # the session is the broker's business then
        configs.update({k.replace("_", "."): v for k, v in options.items()})
    elif client == "confluent-kafka":
        configs = {"session.timeout.ms": SESSION_TIMEOUT_MS, "heartbeat.interval.ms": 1000,
                   **{k.replace("_", "."): v for k, v in options.items()}}
    else:
        configs = {"session_timeout_ms": SESSION_TIMEOUT_MS, "heartbeat_interval_ms": 1000, **options}
    return [f"{key}={value}" for key, value in configs.items()]


def start_member(client: str, bootstrap: str, topic: str, group: str, **options: str) -> Member:
    if client.startswith("java"):
        if shutil.which("javac") is None:
            pytest.skip("the Java client needs a JDK")
        require_kafka_jars()
    return Member("java" if client.startswith("java") else client, bootstrap, topic, group,
                  *member_configs(client, **options))


@pytest.fixture
def cluster(tmp_path):
    """A broker on a fixed port, restartable on the same data."""
    port = free_port()
    state = {}

    def start():
        state["broker"] = EmbeddedBroker(str(tmp_path / "data"), properties={
            **BROKER_PROPERTIES, "listeners": f"PLAINTEXT://127.0.0.1:{port}"}).start()
        return state["broker"]

    def restart():
        state["broker"].stop()
        return start()
    start()
    yield restart, f"127.0.0.1:{port}"
    state["broker"].stop()


@pytest.fixture
def members():
    started: list[Member] = []
    yield started
    for member in started:
        member.stop()


def create_topic(bootstrap: str, name: str, partitions: int) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(name, partitions, 1)])[name].result(30)


def produce(bootstrap: str, topic: str, values: list[str], partitions: int) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for i, value in enumerate(values):
        producer.produce(topic, value.encode(), partition=i % partitions)
    assert producer.flush(30) == 0


def processed(members: list[Member]) -> list[str]:
    return [value for member in members for value in member.values()]


@pytest.mark.timeout(300)
@pytest.mark.parametrize("client", CLIENTS)
def test_members_share_partitions_and_take_over_from_a_killed_one(cluster, members, client):
    _, bootstrap = cluster
    topic, group = "shared", f"group-{client}"
    create_topic(bootstrap, topic, 6)
    members += [start_member(client, bootstrap, topic, group) for _ in range(3)]
    wait_for_balance(members, 6)
    first = [f"first-{i}" for i in range(600)]
    produce(bootstrap, topic, first, 6)
    wait_for(lambda: sorted(processed(members)) == sorted(first), timeout=60, message="the first records")
    wait_for(lambda: all(m.idle_and_committed() for m in members), message="the commits")

    died = members[0].kill()
    wait_for_balance(members[1:], 6, timeout=60)
    taken_over = time.time() - died / 1000
    # The coordinator notices after the session timeout, then the others rebalance.
    assert taken_over < SESSION_TIMEOUT_MS / 1000 + 6, taken_over
    second = [f"second-{i}" for i in range(600)]
    produce(bootstrap, topic, second, 6)
    wait_for(lambda: len(processed(members)) >= len(first + second), timeout=60, message="the second records")
    for member in members[1:]:
        member.close()
    # Nothing lost and, the dead member having committed all it processed, nothing twice.
    assert sorted(processed(members)) == sorted(first + second)
    assert_one_owner_at_a_time(members)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("client", CLIENTS)
def test_a_group_resumes_from_its_committed_offsets_after_a_broker_restart(cluster, members, client):
    restart, bootstrap = cluster
    topic, group = "resumed", f"resume-{client}"
    create_topic(bootstrap, topic, 3)
    before = [f"before-{i}" for i in range(90)]
    produce(bootstrap, topic, before, 3)
    member = start_member(client, bootstrap, topic, group)
    members.append(member)
    wait_for(lambda: sorted(member.values()) == sorted(before), timeout=60, message="the first records")
    wait_for(member.idle_and_committed, message="the commits")
    member.close()
    restart()
    after = [f"after-{i}" for i in range(30)]
    produce(bootstrap, topic, after, 3)
    successor = start_member(client, bootstrap, topic, group)
    members.append(successor)
    wait_for(lambda: len(successor.values()) >= len(after), timeout=60, message="the records after the restart")
    successor.close()
    assert sorted(successor.values()) == sorted(after)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("client", CLIENTS)
def test_auto_offset_reset_earliest_reads_everything_and_latest_only_what_comes(cluster, members, client):
    _, bootstrap = cluster
    topic = "reset"
    create_topic(bootstrap, topic, 2)
    old = [f"old-{i}" for i in range(20)]
    produce(bootstrap, topic, old, 2)
    earliest = start_member(client, bootstrap, topic, f"earliest-{client}", auto_offset_reset="earliest")
    latest = start_member(client, bootstrap, topic, f"latest-{client}", auto_offset_reset="latest")
    members += [earliest, latest]
    wait_for(lambda: latest.owned == {0, 1}, timeout=60, message="the assignment")
    # New records until the late starter sees one: its position was taken
    # at the end of the log at some point after its assignment.
    new = []

    def latest_reads_new():
        value = f"new-{uuid.uuid4()}"
        new.append(value)
        produce(bootstrap, topic, [value], 1)
        time.sleep(0.2)
        return latest.values()
    wait_for(latest_reads_new, timeout=60, message="a new record")
    wait_for(lambda: len(earliest.values()) == len(old + new), timeout=60, message="everything")
    assert all(value.startswith("new-") for value in latest.values())
    assert sorted(earliest.values()) == sorted(old + new)
