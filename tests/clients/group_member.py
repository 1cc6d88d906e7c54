"""A consumer group member for the group tests, run in its own process so
that a test can kill it: it subscribes, reports its assignment changes and
the records it processes on stdout, commits synchronously after each poll
(and before giving partitions up), and leaves the group when stdin says
"close" or ends. The Java twin is java/GroupMember.java.

    python -m tests.clients.group_member <client> <bootstrap> <topic> <group> [config=value ...]

<client> is kafka-python, aiokafka or confluent-kafka; configs are the
client's own (kafka-python and aiokafka take them as keyword arguments,
with integers converted). Output lines: "ASSIGNED <ms> <p,...>", "REVOKED
<ms> <p,...>", "LOST <ms> <p,...>", "RECORD <partition> <offset> <value>",
"COMMITTED", "CLOSED".
"""
from __future__ import annotations

import asyncio
import sys
import threading
import time

closing = threading.Event()


def say(*words) -> None:
    print(*words, flush=True)


def report(event: str, partitions) -> None:
    say(event, int(time.time() * 1000), ",".join(str(p) for p in sorted(partitions)))


def watch_stdin() -> None:
    def read():
        for line in sys.stdin:
            if line.strip() == "close":
                break
        closing.set()
    threading.Thread(target=read, daemon=True).start()


def kafka_python(bootstrap: str, topic: str, group: str, configs: dict) -> None:
    from kafka import ConsumerRebalanceListener, KafkaConsumer, OffsetAndMetadata

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
                             **{"auto_offset_reset": "earliest", **configs})
    processed = {}

    def commit():
        if processed:
            consumer.commit({tp: OffsetAndMetadata(offset, "", -1) for tp, offset in processed.items()})
            processed.clear()
            say("COMMITTED")

    class Listener(ConsumerRebalanceListener):
        def on_partitions_revoked(self, revoked):
            commit()
            report("REVOKED", [tp.partition for tp in revoked])

        def on_partitions_assigned(self, assigned):
            report("ASSIGNED", [tp.partition for tp in assigned])

    consumer.subscribe([topic], listener=Listener())
    while not closing.is_set():
        for tp, messages in consumer.poll(timeout_ms=100).items():
            for m in messages:
                say("RECORD", m.partition, m.offset, m.value.decode())
                processed[tp] = m.offset + 1
        commit()
    consumer.close()


def aiokafka(bootstrap: str, topic: str, group: str, configs: dict) -> None:
    from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener

    async def run():
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
                                    **{"auto_offset_reset": "earliest", **configs})
        processed = {}

        async def commit():
            if processed:
                await consumer.commit(dict(processed))
                processed.clear()
                say("COMMITTED")

        class Listener(ConsumerRebalanceListener):
            async def on_partitions_revoked(self, revoked):
                await commit()
                report("REVOKED", [tp.partition for tp in revoked])

            async def on_partitions_assigned(self, assigned):
                report("ASSIGNED", [tp.partition for tp in assigned])

        await consumer.start()
        consumer.subscribe([topic], listener=Listener())
        while not closing.is_set():
            for tp, messages in (await consumer.getmany(timeout_ms=100)).items():
                for m in messages:
                    say("RECORD", m.partition, m.offset, m.value.decode())
                    processed[tp] = m.offset + 1
            await commit()
        await consumer.stop()
    asyncio.run(run())


def confluent_kafka(bootstrap: str, topic: str, group: str, configs: dict) -> None:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
                         "auto.offset.reset": "earliest", **configs})
    processed = {}

    def commit():
        if processed:
            consumer.commit(offsets=[TopicPartition(topic, p, o) for p, o in processed.items()], asynchronous=False)
            processed.clear()
            say("COMMITTED")

    def on_revoke(_, partitions):
        commit()
        report("REVOKED", [tp.partition for tp in partitions])

    def on_lost(_, partitions):
        report("LOST", [tp.partition for tp in partitions])

    consumer.subscribe([topic], on_assign=lambda _, partitions: report("ASSIGNED", [tp.partition for tp in partitions]),
                       on_revoke=on_revoke, on_lost=on_lost)
    while not closing.is_set():
        message = consumer.poll(0.1)
        if message is not None and message.error() is None:
            say("RECORD", message.partition(), message.offset(), message.value().decode())
            processed[message.partition()] = message.offset() + 1
        commit()
    consumer.close()


CLIENTS = {"kafka-python": kafka_python, "aiokafka": aiokafka, "confluent-kafka": confluent_kafka}


def main(argv: list[str]) -> None:
    client, bootstrap, topic, group, *settings = argv
    configs = {}
    for setting in settings:
        key, value = setting.split("=", 1)
        configs[key] = int(value) if value.lstrip("-").isdigit() and client != "confluent-kafka" else value
    watch_stdin()
    CLIENTS[client](bootstrap, topic, group, configs)
    say("CLOSED")


if __name__ == "__main__":
    main(sys.argv[1:])
