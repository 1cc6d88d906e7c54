"""pytest plugin: the ``kafka_broker`` fixture, a fresh in-process broker
per test (it starts in milliseconds), with its data in the test's tmp_path.

    def test_roundtrip(kafka_broker):
        producer = KafkaProducer(bootstrap_servers=kafka_broker.bootstrap_servers)
"""
import pytest

from .testing import EmbeddedBroker


@pytest.fixture
def kafka_broker(tmp_path):
    with EmbeddedBroker(str(tmp_path / "kafka-data")) as broker:
        yield broker
