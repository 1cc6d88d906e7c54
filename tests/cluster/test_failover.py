"""Failover with a real producer: leaders (the active controller among them)
SIGKILLed and restarted 20 times while an idempotent acks=all producer
writes, then every acknowledged record is read back once and in order, and
every replica holds the same log. The producer is librdkafka's
(confluent-kafka) or Kafka's own Java client (kafka-verifiable-producer)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

from .processes import wait_for

TOPIC = "chaos"
PARTITIONS = 6
RATE = 2000  # records a second


class LibrdkafkaProducer:
    """Writes increasing integers to every partition in turn until stopped."""

    def __init__(self, bootstrap_servers: str, directory: str):
        # One request in flight per broker: librdkafka bumps the producer
        # epoch when a request fails (NOT_ENOUGH_REPLICAS while a restarted
        # follower rejoins) and the next one, already sent, is refused for
        # its sequence; records possibly written by a broker killed mid-request
        # then come back as duplicates. Apache Kafka brokers see the same
        # (librdkafka issue #4953); the Java client retries without a bump.
        self.producer = Producer({"bootstrap.servers": bootstrap_servers, "acks": "all",
                                  "enable.idempotence": True, "max.in.flight.requests.per.connection": 1,
                                  "linger.ms": 5, "message.timeout.ms": 180000,
                                  "socket.connection.setup.timeout.ms": 2000, "reconnect.backoff.max.ms": 500,
                                  "topic.metadata.refresh.interval.ms": 1000, "log_level": 0})
        self.acked: list[tuple[int, int, str]] = []  # (partition, offset, value)
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _delivered(self, error, message) -> None:
        if error is not None:
            self.errors.append(str(error))
        else:
            self.acked.append((message.partition(), message.offset(), message.value().decode()))

    def _run(self) -> None:
        sent = 0
        while not self._stop.is_set():
            try:
                self.producer.produce(TOPIC, value=str(sent).encode(), partition=sent % PARTITIONS,
                                      on_delivery=self._delivered)
            except BufferError:
                self.producer.poll(0.05)
                continue
            sent += 1
            self.producer.poll(0)
            if sent % 100 == 0:
                time.sleep(100 / RATE)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        assert self.producer.flush(120) == 0, "records still unacknowledged"

    def close(self) -> None:
        self._stop.set()


class JavaProducer:
    """Kafka's kafka-verifiable-producer: increasing integers, and a JSON line
    for each acknowledged one. Five requests in flight, Java's default."""

    def __init__(self, bootstrap_servers: str, directory: str):
        from compat.kafka_cli import command
        config = os.path.join(directory, "producer.properties")
        with open(config, "w") as f:
            f.write("enable.idempotence=true\nretries=2147483647\nmax.in.flight.requests.per.connection=5\n"
                    "delivery.timeout.ms=180000\nmetadata.max.age.ms=1000\n")
        self.log = os.path.join(directory, "producer.log")  # its warnings, for a failure's message
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(
                command("kafka-verifiable-producer", ["--bootstrap-server", bootstrap_servers, "--topic", TOPIC,
                                                      "--acks", "-1", "--throughput", str(RATE),
                                                      "--command-config", config]),
                stdout=subprocess.PIPE, stderr=log, text=True)
        self.acked: list[tuple[int, int, str]] = []
        self.errors: list[str] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("name") == "producer_send_success":
                self.acked.append((event["partition"], event["offset"], event["value"]))
            elif event.get("name") == "producer_send_error":
                self.errors.append(event.get("exception", ""))

    def stop(self) -> None:
        self.process.terminate()  # it flushes what it has sent
        try:
            self.process.wait(120)
        except subprocess.TimeoutExpired:
            self.process.kill()
            with open(self.log) as log:
                tail = [line for line in log if not line[:1].isspace()][-10:]  # no stack frames
            raise AssertionError("the producer did not deliver what it had sent; its last warnings:\n"
                                 + "".join(tail)) from None
        self._thread.join(30)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def read_all(bootstrap_servers: str, end_offsets: dict[int, int]) -> dict[int, list[tuple[int, str]]]:
    """(offset, value) of every record of every partition up to ``end_offsets``."""
    consumer = Consumer({"bootstrap.servers": bootstrap_servers, "group.id": "verify", "enable.auto.commit": False,
                         "enable.partition.eof": True, "log_level": 0})
    consumer.assign([TopicPartition(TOPIC, p, 0) for p in range(PARTITIONS)])
    records: dict[int, list[tuple[int, str]]] = {p: [] for p in range(PARTITIONS)}
    done = {p for p, end in end_offsets.items() if end == 0}
    deadline = time.monotonic() + 60
    while len(done) < PARTITIONS and time.monotonic() < deadline:
        message = consumer.poll(1)
        if message is None:
            continue
        if message.error():
            if message.error().code() == KafkaError._PARTITION_EOF:
                if message.offset() >= end_offsets[message.partition()]:
                    done.add(message.partition())
                continue
            raise KafkaException(message.error())
        records[message.partition()].append((message.offset(), message.value().decode()))
        if message.offset() + 1 >= end_offsets[message.partition()]:
            done.add(message.partition())
    consumer.close()
    assert len(done) == PARTITIONS, f"could not read partitions {set(range(PARTITIONS)) - done} to their end"
    return records


def end_offsets(cluster) -> dict[int, int]:
    """Each partition's high watermark, from its leader. Leadership may still
    move (back to preferred replicas): a leader that no longer is one answers
    NOT_LEADER_OR_FOLLOWER, and the question goes to the new one."""
    def latest(p):
        with cluster.client(p["leader_id"]) as c:
            response = c.request(2, 8, {"replica_id": -1, "isolation_level": 0, "topics": [
                {"name": TOPIC, "partitions": [{"partition_index": p["partition_index"], "current_leader_epoch": -1,
                                                "timestamp": -1}]}]})
        answer = response["topics"][0]["partitions"][0]
        return answer["offset"] if answer["error_code"] == 0 else None

    def all_answered():
        ends = {p["partition_index"]: latest(p) for p in cluster.wait_for_full_isr(TOPIC, timeout=60)}
        return None if None in ends.values() else ends
    return wait_for(all_answered, 60, "every partition's leader to tell its end offset")


@pytest.mark.parametrize("client", [
    LibrdkafkaProducer,
    pytest.param(JavaProducer, marks=pytest.mark.skipif(shutil.which("java") is None, reason="needs Java"))])
def test_acknowledged_records_survive_repeated_leader_kills(cluster, tmp_path, client, request):
    assert cluster.create_topic(TOPIC, PARTITIONS, 3, **{"min.insync.replicas": "2"})["error_code"] == 0
    cluster.wait_for_full_isr(TOPIC)
    producer = client(cluster.bootstrap_servers, str(tmp_path))
    request.addfinalizer(producer.close)
    wait_for(lambda: len(producer.acked) > 500, 120, "the producer to get going")
    killed_controller = 0
    for round_ in range(20):
        partition = round_ % PARTITIONS
        victim = cluster.wait_for_full_isr(TOPIC, timeout=60)[partition]["leader_id"]
        killed_controller += victim == cluster.controller()
        before = len(producer.acked)
        cluster.kill(victim)
        if round_ % 2:
            # The controller notices (session timeout) and elects another leader...
            wait_for(lambda: cluster.partitions(TOPIC)[partition]["leader_id"] not in (victim, -1), 30,
                     f"a new leader of {TOPIC}-{partition}")
            cluster.start(victim)
        else:
            # ... or the broker is back before that, and its registration moves leadership away.
            cluster.start(victim)
            wait_for(lambda: cluster.partitions(TOPIC)[partition]["leader_id"] not in (victim, -1), 30,
                     f"a new leader of {TOPIC}-{partition}")
        # Writes go on (to other leaders, then to the new ones) before the next kill.
        wait_for(lambda: len(producer.acked) > before + 500, 60, f"acknowledgements after killing {victim}")
    cluster.wait_for_full_isr(TOPIC, timeout=60)
    producer.stop()
    assert killed_controller > 0, "the active controller was never among the victims"
    assert producer.errors == []

    records = read_all(cluster.bootstrap_servers, end_offsets(cluster))
    for partition in range(PARTITIONS):
        values = [int(v) for _, v in records[partition]]
        assert len(values) == len(set(values)), f"partition {partition} holds duplicates"
        assert values == sorted(values), f"partition {partition} is out of order"
    stored = {(p, offset): value for p, rs in records.items() for offset, value in rs}
    missing = [a for a in producer.acked if stored.get(a[:2]) != a[2]]
    assert not missing, f"{len(missing)} acknowledged records are not where they were acknowledged: {missing[:5]}"

    # Every replica has the same bytes once all are in sync and the brokers stopped.
    for node in cluster.broker_ids:
        assert cluster.terminate(node) == 0
    for partition in range(PARTITIONS):
        logs = {node: cluster.log_bytes(node, TOPIC, partition) for node in cluster.broker_ids}
        assert len(set(logs.values())) == 1, f"replicas of partition {partition} differ: " + \
            ", ".join(f"node {n}: {len(b)} bytes" for n, b in logs.items())
