"""The broker as a real process, started as users start it: durability of
acknowledged records across SIGKILL, clean shutdown on SIGTERM, torn tails,
a second broker on the same log dir, bad properties, a stock
server.properties."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from pykbroker.errors import ErrorCode
from tests.broker.rawapi import METADATA, batch, create_topic, fetch, fetched_values, produce_ok, wait_for
from tests.support.rawclient import RawClient

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class BrokerProcess:
    """``python -m pykbroker`` with its stderr (the log) in a file."""

    def __init__(self, tmp_path, *args: str, log_dir: str | None = None, port: int | None = None):
        self.port = port or free_port()
        self.log_dir = log_dir or str(tmp_path / "data")
        self.args = list(args) or ["--override", f"listeners=PLAINTEXT://127.0.0.1:{self.port}",
                                   "--override", f"log.dirs={self.log_dir}"]
        self.log_path = tmp_path / f"broker-{self.port}-{os.urandom(3).hex()}.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> "BrokerProcess":
        self._log = open(self.log_path, "w")
        self.process = subprocess.Popen([sys.executable, "-m", "pykbroker", *self.args], cwd=REPO,
                                        env={**os.environ, "PYTHONPATH": REPO}, stdout=self._log,
                                        stderr=subprocess.STDOUT)
        return self

    def wait_started(self) -> "BrokerProcess":
        wait_for(lambda: "started in" in self.log() or self.process.poll() is not None,
                 message="the broker to start")
        assert self.process.poll() is None, self.log()
        return self

    def log(self) -> str:
        return self.log_path.read_text()

    def stop(self, sig=signal.SIGTERM) -> int:
        self.process.send_signal(sig)
        code = self.process.wait(timeout=60)
        self._log.close()
        return code

    def exit_code(self) -> int:
        code = self.process.wait(timeout=60)
        self._log.close()
        return code

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def client(self) -> RawClient:
        return RawClient("127.0.0.1", self.port)


@pytest.fixture
def processes():
    started = []
    yield started
    for p in started:
        if p.process is not None and p.process.poll() is None:
            p.process.kill()
            p.process.wait(timeout=60)


def run(processes, tmp_path, **kwargs) -> BrokerProcess:
    broker = BrokerProcess(tmp_path, **kwargs).start()
    processes.append(broker)
    return broker.wait_started()


def test_acknowledged_records_survive_sigkill(processes, tmp_path):
    broker = run(processes, tmp_path)
    with broker.client() as client:
        create_topic(client, "durable", partitions=3)
    acked, failed = set(), set()

    def delivered(err, message):
        (failed if err is not None else acked).add(message.value())

    producer = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "linger.ms": 2,
                         "retries": 0, "message.timeout.ms": 10000})
    sent = 0

    def send(count):
        nonlocal sent
        for _ in range(count):
            producer.produce("durable", value=b"%d" % sent, key=b"%d" % (sent % 97), on_delivery=delivered)
            sent += 1
        producer.poll(0)

    def acknowledged(count):
        producer.poll(0.05)
        return len(acked) >= count

    send(20_000)
    wait_for(lambda: acknowledged(10_000), message="10,000 acks")
    send(5_000)     # in flight when the broker dies
    broker.process.send_signal(signal.SIGKILL)
    broker.exit_code()
    producer.purge()
    producer.flush(5)
    assert len(acked) >= 10_000 and len(acked) + len(failed) == sent

    restarted = run(processes, tmp_path, log_dir=broker.log_dir, port=broker.port)
    assert "unclean shutdown" in restarted.log()
    consumer = Consumer({"bootstrap.servers": restarted.bootstrap, "group.id": "unused",
                         "enable.auto.commit": False})
    ends = [consumer.get_watermark_offsets(TopicPartition("durable", p), timeout=10)[1] for p in range(3)]
    consumer.assign([TopicPartition("durable", p, OFFSET_BEGINNING) for p in range(3)])
    consumed = []
    while len(consumed) < sum(ends):
        for message in consumer.consume(10_000, timeout=1):
            assert message.error() is None, message.error()
            consumed.append(message.value())
    consumer.close()
    assert len(consumed) == len(set(consumed)), "a record was stored twice"
    assert acked <= set(consumed), f"{len(acked - set(consumed))} acknowledged records are missing"


def test_sigterm_shuts_down_cleanly_and_the_next_start_skips_recovery(processes, tmp_path):
    broker = run(processes, tmp_path)
    with broker.client() as client:
        create_topic(client, "t")
        for i in range(5):
            produce_ok(client, "t", 0, batch([b"%d" % i]))
    assert broker.stop(signal.SIGTERM) == 0
    assert "stopped" in broker.log()
    assert os.path.exists(os.path.join(broker.log_dir, ".kafka_cleanshutdown"))
    restarted = run(processes, tmp_path, log_dir=broker.log_dir, port=broker.port)
    assert "(clean shutdown)" in restarted.log()
    assert not os.path.exists(os.path.join(broker.log_dir, ".kafka_cleanshutdown"))
    with restarted.client() as client:
        assert fetched_values(client, "t", 0) == [b"%d" % i for i in range(5)]


def test_a_torn_tail_is_truncated_on_restart(processes, tmp_path):
    broker = run(processes, tmp_path)
    with broker.client() as client:
        create_topic(client, "t")
        for i in range(5):
            produce_ok(client, "t", 0, batch([b"whole %d" % i]))
    broker.stop(signal.SIGKILL)
    segment = os.path.join(broker.log_dir, "t-0", "%020d.log" % 0)
    size = os.path.getsize(segment)
    torn = bytearray(batch([b"torn" * 50]))
    torn[:8] = (5).to_bytes(8, "big")
    with open(segment, "ab") as f:
        f.write(torn[: len(torn) // 2])
    restarted = run(processes, tmp_path, log_dir=broker.log_dir, port=broker.port)
    assert os.path.getsize(segment) == size
    assert "truncating" in restarted.log()
    with restarted.client() as client:
        assert fetch(client, "t", 0, 0)["high_watermark"] == 5
        assert produce_ok(client, "t", 0, batch([b"after"])) == 5
        assert fetched_values(client, "t", 0) == [b"whole %d" % i for i in range(5)] + [b"after"]


def test_a_second_broker_on_the_same_log_dir_is_refused(processes, tmp_path):
    first = run(processes, tmp_path)
    second = BrokerProcess(tmp_path, log_dir=first.log_dir).start()
    processes.append(second)
    assert second.exit_code() != 0
    assert first.log_dir in second.log() and "in use" in second.log()
    with first.client() as client:
        create_topic(client, "still-serving")


@pytest.mark.parametrize("override, named", [
    ("no.such.property=1", "no.such.property"),
    ("num.partitions=many", "num.partitions"),
    ("listeners=not a listener", "listeners"),
    # No TLS or SASL: such a listener is refused rather than served as plaintext.
    ("listeners=SSL://127.0.0.1:0", "security protocol SSL"),
    ("listeners=INTERNAL://127.0.0.1:0", "No security protocol defined for listener INTERNAL"),
    # No authorizer: one that is asked for is refused rather than silently missing.
    ("authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer", "enforces no ACLs"),
])
def test_bad_properties_are_refused_at_start(tmp_path, override, named):
    result = subprocess.run([sys.executable, "-m", "pykbroker", "--override", override,
                             "--override", f"log.dirs={tmp_path / 'data'}"],
                            cwd=REPO, env={**os.environ, "PYTHONPATH": REPO}, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode != 0
    assert named in result.stderr


STOCK_PROPERTIES = r"""
    ############################# Server Basics #############################
    # The role of this server. Setting this puts us in KRaft mode
    process.roles=broker,controller
    # The node id associated with this instance's roles
    node.id=1
    # List of controller endpoints used connect to the controller cluster
    controller.quorum.bootstrap.servers=localhost:{controller}

    ############################# Socket Server Settings #############################
    listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}
    inter.broker.listener.name=PLAINTEXT
    advertised.listeners=PLAINTEXT://127.0.0.1:{port}
    controller.listener.names=CONTROLLER
    listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL,\
        SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL
    num.network.threads=3
    num.io.threads=8
    socket.send.buffer.bytes=102400
    socket.receive.buffer.bytes=102400
    socket.request.max.bytes=104857600

    ############################# Log Basics #############################
    log.dirs={log_dir}
    num.partitions=3
    num.recovery.threads.per.data.dir=1

    ############################# Internal Topic Settings  #############################
    offsets.topic.replication.factor=1
    transaction.state.log.replication.factor=1
    transaction.state.log.min.isr=1

    ############################# Log Flush Policy #############################
    #log.flush.interval.messages=10000
    #log.flush.interval.ms=1000

    ############################# Log Retention Policy #############################
    log.retention.hours=168
    #log.retention.bytes=1073741824
    log.segment.bytes=1073741824
    log.retention.check.interval.ms=300000
"""


def test_stock_server_properties_file(processes, tmp_path):
    port = free_port()
    path = tmp_path / "server.properties"
    path.write_text(textwrap.dedent(STOCK_PROPERTIES).format(port=port, controller=free_port(),
                                                             log_dir=tmp_path / "kraft-combined-logs"))
    stock = BrokerProcess(tmp_path, str(path), port=port)
    processes.append(stock.start())
    stock.wait_started()
    with stock.client() as client:
        request = {"topics": [{"name": "auto"}], "allow_auto_topic_creation": True}
        [creating] = client.request(METADATA, 12, request)["topics"]
        assert creating["error_code"] == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
        response = client.request(METADATA, 12, request)
        [topic] = response["topics"]
        assert (topic["error_code"], len(topic["partitions"])) == (ErrorCode.NONE, 3)
        assert [(b["host"], b["port"]) for b in response["brokers"]] == [("127.0.0.1", port)]
    assert stock.stop() == 0
