"""kafka-python produces and consumes 100,000 records with each compression type."""
import time

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic

from tests.clients.roundtrip import (COMPRESSIONS, PARTITIONS, Received, assert_stored_with, check, java_partition,
                                    records)


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_produce_and_consume(broker, compression):
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap_servers)
    admin.create_topics([NewTopic("roundtrip", PARTITIONS, 1)])
    admin.close()
    sent = records()
    producer = KafkaProducer(
        bootstrap_servers=broker.bootstrap_servers, acks="all", linger_ms=20, batch_size=512 * 1024,
        compression_type=None if compression == "none" else compression,
        # TODO: idempotence (kafka-python's default) once the broker serves InitProducerId.
        enable_idempotence=False)
    futures = [producer.send("roundtrip", key=r.key, value=r.value, headers=list(r.headers), timestamp_ms=r.timestamp)
               for r in sent]
    producer.flush()
    reported = [(m.partition, m.offset) for m in (f.get(timeout=60) for f in futures)]
    producer.close()

    consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap_servers, enable_auto_commit=False,
                             fetch_max_bytes=64 << 20, max_partition_fetch_bytes=16 << 20, max_poll_records=100_000)
    partitions = [TopicPartition("roundtrip", p) for p in range(PARTITIONS)]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    received = []
    deadline = time.monotonic() + 120
    while len(received) < len(sent) and time.monotonic() < deadline:
        for tp, batch in consumer.poll(timeout_ms=1000).items():
            received += [Received(m.partition, m.offset, m.key, m.value, tuple(m.headers), m.timestamp)
                         for m in batch]
    # The high watermarks the last fetches reported: nothing more is there.
    assert sum(consumer.highwater(tp) for tp in partitions) == len(sent)
    consumer.close()
    check(sent, reported, received, java_partition)
    assert_stored_with(broker.port, "roundtrip", compression)
