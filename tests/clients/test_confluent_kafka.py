"""confluent-kafka (librdkafka) produces and consumes 100,000 records with
each compression type."""
import time

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from tests.clients.roundtrip import (COMPRESSIONS, PARTITIONS, Received, assert_stored_with, check,
                                    librdkafka_partition, number, records)


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_produce_and_consume(broker, compression):
    bootstrap = broker.bootstrap_servers
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic("roundtrip", PARTITIONS, 1)])["roundtrip"].result(timeout=30)
    sent = records()
    reported = [None] * len(sent)
    errors = []

    def delivered(err, message):
        if err is not None:
            errors.append(err)
        else:
            reported[number(message.value())] = (message.partition(), message.offset())

    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 20,
                         "batch.size": 1_000_000, "compression.type": compression,
                         "queue.buffering.max.messages": 2 * len(sent)})
    for r in sent:
        producer.produce("roundtrip", key=r.key, value=r.value, headers=list(r.headers), timestamp=r.timestamp,
                         on_delivery=delivered)
        if len(producer) % 10_000 == 0:
            producer.poll(0)
    assert producer.flush(60) == 0
    assert errors == []

    # assign() and no commits: the group id only satisfies librdkafka.
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused", "enable.auto.commit": False,
                         "fetch.max.bytes": 64 << 20, "max.partition.fetch.bytes": 16 << 20})
    consumer.assign([TopicPartition("roundtrip", p, OFFSET_BEGINNING) for p in range(PARTITIONS)])
    received = []
    deadline = time.monotonic() + 120
    while len(received) < len(sent) and time.monotonic() < deadline:
        for m in consumer.consume(100_000, timeout=1):
            assert m.error() is None, m.error()
            received.append(Received(m.partition(), m.offset(), m.key(), m.value(), tuple(m.headers() or ()),
                                     m.timestamp()[1]))
    # The high watermarks the last fetches reported: nothing more is there.
    ends = [consumer.get_watermark_offsets(TopicPartition("roundtrip", p), cached=True)[1] for p in range(PARTITIONS)]
    consumer.close()
    assert sum(ends) == len(sent)
    check(sent, reported, received, librdkafka_partition)
    assert_stored_with(broker.port, "roundtrip", compression)
