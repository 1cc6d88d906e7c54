"""aiokafka produces and consumes 100,000 records with each compression type."""
import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from tests.clients.roundtrip import (COMPRESSIONS, PARTITIONS, Received, assert_stored_with, check, java_partition,
                                    records)


async def roundtrip(bootstrap, compression, sent):
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic("roundtrip", PARTITIONS, 1)])
    await admin.close()

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20, max_batch_size=512 * 1024,
                                compression_type=None if compression == "none" else compression)
    await producer.start()
    try:
        futures = [await producer.send("roundtrip", key=r.key, value=r.value, headers=list(r.headers),
                                       timestamp_ms=r.timestamp) for r in sent]
        reported = [(m.partition, m.offset) for m in await asyncio.gather(*futures)]
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_bytes=64 << 20,
                                max_partition_fetch_bytes=16 << 20)
    await consumer.start()
    try:
        partitions = [TopicPartition("roundtrip", p) for p in range(PARTITIONS)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        received = []

        async def consume_all():
            while len(received) < len(sent):
                for _, batch in (await consumer.getmany(timeout_ms=1000, max_records=100_000)).items():
                    received.extend(Received(m.partition, m.offset, m.key, m.value, tuple(m.headers), m.timestamp)
                                    for m in batch)

        await asyncio.wait_for(consume_all(), 120)
        # The high watermarks the last fetches reported: nothing more is there.
        assert sum(consumer.highwater(tp) for tp in partitions) == len(sent)
    finally:
        await consumer.stop()
    return reported, received


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_produce_and_consume(broker, compression):
    sent = records()
    reported, received = asyncio.run(roundtrip(broker.bootstrap_servers, compression, sent))
    check(sent, reported, received, java_partition)
    assert_stored_with(broker.port, "roundtrip", compression)
