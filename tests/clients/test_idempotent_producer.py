"""Idempotent producers of the Python clients whose Produce responses get
lost: they retry, and the topic holds each record exactly once, in order."""
import socket
import struct
import threading

import pytest
from confluent_kafka import Producer
from kafka import KafkaProducer

from pykbroker.testing import EmbeddedBroker
from tests.broker.rawapi import create_topic, fetched_values
from tests.clients.java import exactly_once
from tests.support.rawclient import RawClient

PRODUCE = 0


class ProduceResponseSwallower:
    """A TCP proxy in front of the broker that drops the responses to the
    first ``drop`` Produce requests, as a network losing them would."""

    def __init__(self, drop: int):
        self.drop = drop
        self.dropped = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.upstream_port = None
        self._lock = threading.Lock()
        self._sockets = []
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.upstream_port))
            produce_ids = set()
            self._sockets += [client, server]
            threading.Thread(target=self._pump, args=(client, server, produce_ids, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, produce_ids, False), daemon=True).start()

    def _pump(self, source, sink, produce_ids, requests):
        buffer = b""
        try:
            while chunk := source.recv(65536):
                buffer += chunk
                while len(buffer) >= 4 and len(buffer) >= 4 + (size := struct.unpack(">i", buffer[:4])[0]):
                    frame, buffer = buffer[:4 + size], buffer[4 + size:]
                    if requests:
                        api_key, _, correlation_id = struct.unpack_from(">hhi", frame, 4)
                        if api_key == PRODUCE:
                            produce_ids.add(correlation_id)
                    elif self._swallow(struct.unpack_from(">i", frame, 4)[0], produce_ids):
                        continue
                    sink.sendall(frame)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def _swallow(self, correlation_id, produce_ids):
        with self._lock:
            if correlation_id in produce_ids and self.dropped < self.drop:
                self.dropped += 1
                return True
            return False

    def close(self):
        self.listener.close()
        for s in self._sockets:
            s.close()


@pytest.fixture
def lossy(tmp_path):
    """(bootstrap address through the proxy, proxy, broker)."""
    proxy = ProduceResponseSwallower(drop=2)
    # Clients must come back through the proxy after reading the metadata.
    with EmbeddedBroker(str(tmp_path / "data"), advertised_listeners=f"PLAINTEXT://127.0.0.1:{proxy.port}") as broker:
        proxy.upstream_port = broker.port
        with RawClient("127.0.0.1", broker.port) as admin:
            create_topic(admin, "t")
        yield f"127.0.0.1:{proxy.port}", proxy, broker
    proxy.close()


def topic_values(broker):
    with RawClient("127.0.0.1", broker.port) as client:
        return fetched_values(client, "t", 0)


VALUES = [b"%d" % i for i in range(20)]


def test_kafka_python_idempotent_producer(lossy):
    bootstrap, proxy, broker = lossy
    producer = KafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all",
                             request_timeout_ms=1500, retry_backoff_ms=50, linger_ms=5)
    try:
        futures = [producer.send("t", value=v, partition=0) for v in VALUES]
        producer.flush(timeout=30)
        offsets = [f.get(timeout=30).offset for f in futures]
    finally:
        producer.close(timeout=5)
    assert proxy.dropped == 2
    assert topic_values(broker) == VALUES
    assert offsets == list(range(len(VALUES)))


def test_confluent_kafka_idempotent_producer(lossy):
    bootstrap, proxy, broker = lossy
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "socket.timeout.ms": 1500,
                         "retry.backoff.ms": 50, "linger.ms": 5})
    delivered = []
    for v in VALUES:
        producer.produce("t", value=v, partition=0,
                         on_delivery=lambda err, msg: delivered.append((err, msg.offset())))
    assert producer.flush(30) == 0
    assert proxy.dropped == 2
    assert all(err is None for err, _ in delivered), delivered
    assert topic_values(broker) == VALUES
    assert sorted(offset for _, offset in delivered) == list(range(len(VALUES)))


@pytest.mark.parametrize("version", exactly_once.VERSIONS)
def test_java_idempotent_producer(lossy, version):
    """The Java client's default producer (idempotent since 3.0)."""
    bootstrap, proxy, broker = lossy
    output = exactly_once.run(version, bootstrap, "idempotent", "t")
    assert proxy.dropped == 2
    assert output["offsets"] == ",".join(str(i) for i in range(50))
    assert topic_values(broker) == [b"r%d" % i for i in range(50)]
