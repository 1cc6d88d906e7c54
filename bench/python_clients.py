"""Producer then consumer throughput of a Python client, with its defaults:
``records`` of ``size`` bytes produced to partition 0 of an existing topic
(acks as the client defaults), then read back from offset 0 by a consumer
that assigns the partition (no group). Prints one JSON line with MB/s
(MB = 2**20 bytes of record values, as Kafka's perf tools count). The
consumer's clock starts at assign(): its connection set-up is part of the
run, as it is of kafka-consumer-perf-test's.

Runs in its own process so that the benchmark's threads never share its GIL:

    python -m bench.python_clients confluent-kafka 127.0.0.1:9092 topic 100000 1024
"""
from __future__ import annotations

import json
import sys
import time

MB = 1 << 20


def confluent_kafka(bootstrap: str, topic: str, records: int, size: int) -> tuple[float, float]:
    from confluent_kafka import Consumer, Producer, TopicPartition

    value = b"x" * size
    producer = Producer({"bootstrap.servers": bootstrap})
    started = time.perf_counter()
    for _ in range(records):
        while True:
            try:
                producer.produce(topic, value, partition=0)
                break
            except BufferError:  # the local queue is full: let deliveries drain it
                producer.poll(0.01)
        producer.poll(0)
    if producer.flush(120):
        raise RuntimeError("confluent-kafka: records left undelivered")
    produced = time.perf_counter() - started

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-unused",
                         "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, 0, 0)])

    def poll() -> int:
        return sum(1 for message in consumer.consume(10_000, timeout=1.0) if message.error() is None)

    rate = _consume_rate(poll, records, size, "confluent-kafka")
    consumer.close()
    return records * size / MB / produced, rate


def kafka_python(bootstrap: str, topic: str, records: int, size: int) -> tuple[float, float]:
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition

    value = b"x" * size
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    started = time.perf_counter()
    for _ in range(records):
        producer.send(topic, value, partition=0)
    producer.flush(120)
    produced = time.perf_counter() - started
    producer.close()

    partition = TopicPartition(topic, 0)
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    consumer.assign([partition])
    consumer.seek(partition, 0)

    def poll() -> int:
        return sum(len(batch) for batch in consumer.poll(timeout_ms=1000).values())

    rate = _consume_rate(poll, records, size, "kafka-python")
    consumer.close()
    return records * size / MB / produced, rate


def _consume_rate(poll, records: int, size: int, client: str) -> float:
    """MB/s from now until ``poll()``, which says how many records came, has brought them all."""
    started = time.perf_counter()
    deadline = time.monotonic() + 120
    received = 0
    while received < records:
        received += poll()
        if time.monotonic() > deadline:
            raise RuntimeError(f"{client}: consumed {received} of {records}")
    return records * size / MB / (time.perf_counter() - started)


CLIENTS = {"confluent-kafka": confluent_kafka, "kafka-python": kafka_python}


def main() -> None:
    client, bootstrap, topic, records, size = sys.argv[1:6]
    produce, consume = CLIENTS[client](bootstrap, topic, int(records), int(size))
    print(json.dumps({"produce_mb_per_sec": produce, "consume_mb_per_sec": consume}))


if __name__ == "__main__":
    main()
