"""What a scenario gets: the target's address, names of its own, the
processes it starts (stopped when it ends, whatever happens), and a harness
that checks what the client did from the outside, with libraries that are not
under test here (kafka-python to produce and read by assignment, without a
group; confluent-kafka's AdminClient for topics, configs and committed offsets).
"""
from __future__ import annotations

import re
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .scenario import Failed

_UNSAFE = re.compile(r"[^a-zA-Z0-9._-]+")


@dataclass(frozen=True)
class Record:
    partition: int
    offset: int
    key: str | None
    value: str | None
    headers: dict[str, str] = field(default_factory=dict)


def numbered_records(count: int, client: str) -> list[tuple[str, str, dict[str, str]]]:
    """The records every client produces and every consumer scenario expects:
    key-<i>, value-<i>, a header naming the producing client."""
    return [(f"key-{i}", f"value-{i}", {"client": client}) for i in range(count)]


class Background:
    """A process running beside the scenario, its stdout and stderr collected by
    line; ``wait_for(pattern)`` blocks until a line matches."""

    def __init__(self, argv: Sequence[str], **popen):
        self.argv = list(argv)
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._changed = threading.Condition()
        self.process = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True, start_new_session=True, **popen)
        self._readers = [threading.Thread(target=self._read, args=(stream, lines), daemon=True)
                         for stream, lines in ((self.process.stdout, self.stdout),
                                               (self.process.stderr, self.stderr))]
        for reader in self._readers:
            reader.start()

    def wait_for(self, pattern: str, timeout: float, stream: str = "stdout") -> re.Match:
        regex = re.compile(pattern)
        lines = self.stdout if stream == "stdout" else self.stderr

        def found():
            for line in lines:
                match = regex.search(line)
                if match:
                    return match
            if self.process.poll() is not None:
                raise Failed(f"{Path(self.argv[0]).name} exited with {self.process.returncode} before "
                             f"printing /{pattern}/:\n{self.tail()}")
            return None

        with self._changed:
            match = self._changed.wait_for(found, timeout)
        if not match:
            raise Failed(f"no /{pattern}/ from {Path(self.argv[0]).name} within {timeout:.0f}s:\n{self.tail()}")
        return match

    def wait(self, timeout: float) -> int:
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise Failed(f"{Path(self.argv[0]).name} still running after {timeout:.0f}s:\n{self.tail()}") from None
        for reader in self._readers:
            reader.join(5)
        return code

    def stop(self, grace: float = 15) -> None:
        """SIGTERM (a JVM runs its shutdown hooks), SIGKILL after ``grace``."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for reader in self._readers:
            reader.join(5)

    def tail(self, lines: int = 25) -> str:
        return "\n".join([*self.stdout[-lines:], *self.stderr[-lines:]])

    def _read(self, stream, lines: list[str]) -> None:
        for line in stream:
            with self._changed:
                lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()


class Context:
    def __init__(self, bootstrap_servers: str, prefix: str, deadline: float, workdir: Path):
        self.bootstrap_servers = bootstrap_servers
        self.prefix = _UNSAFE.sub("-", prefix)
        self.deadline = deadline
        self.workdir = workdir
        self._processes: list[Background] = []
        self._admin = None

    # -- names and time ------------------------------------------------------------

    def name(self, what: str = "") -> str:
        """A topic, group or application name of this scenario's own."""
        return f"{self.prefix}-{what}" if what else self.prefix

    def remaining(self, cap: float | None = None) -> float:
        left = max(1.0, self.deadline - time.monotonic())
        return min(left, cap) if cap else left

    # -- processes -----------------------------------------------------------------

    def run(self, argv: Sequence[str], input: str | None = None, timeout: float | None = None,
            **popen) -> subprocess.CompletedProcess:
        timeout = self.remaining(timeout)
        try:
            return subprocess.run(list(argv), input=input if input is not None else "", capture_output=True,
                                  text=True, timeout=timeout, **popen)
        except subprocess.TimeoutExpired as expired:
            output = "\n".join(_text(part) for part in (expired.stdout, expired.stderr) if part)
            raise Failed(f"{Path(argv[0]).name} did not finish in {timeout:.0f}s:\n{_tail(output)}") from None

    def spawn(self, argv: Sequence[str], **popen) -> Background:
        process = Background(argv, **popen)
        self._processes.append(process)
        return process

    def close(self) -> None:
        for process in self._processes:
            process.stop(grace=10)
        self._processes.clear()
        if self._admin is not None:
            self._admin = None

    # -- the harness: outside checks -----------------------------------------------

    @property
    def admin(self):
        if self._admin is None:
            from confluent_kafka.admin import AdminClient
            self._admin = AdminClient({"bootstrap.servers": self.bootstrap_servers, "log_level": 3})
        return self._admin

    def create_topic(self, topic: str, partitions: int = 1, config: Mapping[str, str] | None = None) -> str:
        from confluent_kafka.admin import NewTopic
        future = self.admin.create_topics([NewTopic(topic, partitions, config=dict(config or {}))],
                                          request_timeout=30)[topic]
        try:
            future.result(timeout=self.remaining(60))
        except Exception as error:
            raise Failed(f"setup: creating topic {topic} failed: {error}") from None
        self.wait_until(lambda: self.partition_count(topic) == partitions, 30,
                        f"setup: topic {topic} has no {partitions} partitions with leaders")
        return topic

    def topics(self) -> set[str]:
        return set(self.admin.list_topics(timeout=self.remaining(30)).topics)

    def partition_count(self, topic: str) -> int:
        metadata = self.admin.list_topics(topic, timeout=self.remaining(30)).topics.get(topic)
        if metadata is None or metadata.error is not None:
            return 0
        return sum(1 for partition in metadata.partitions.values() if partition.leader >= 0)

    def broker_ids(self) -> list[int]:
        return sorted(self.admin.list_topics(timeout=self.remaining(30)).brokers)

    def topic_config(self, topic: str) -> dict[str, str]:
        from confluent_kafka.admin import ConfigResource
        resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
        entries = self.admin.describe_configs([resource])[resource].result(timeout=self.remaining(30))
        return {name: entry.value for name, entry in entries.items()}

    def committed(self, group: str, topic: str) -> dict[int, int]:
        """The group's committed offsets for ``topic``, by partition (as the
        admin API reports them; -1 where none)."""
        from confluent_kafka import ConsumerGroupTopicPartitions
        try:
            future = self.admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)])[group]
            result = future.result(timeout=self.remaining(30))
        except Exception as error:
            raise Failed(f"check: fetching the committed offsets of group {group} failed: {error}") from None
        return {tp.partition: tp.offset for tp in result.topic_partitions if tp.topic == topic}

    def produce(self, topic: str, records: Sequence[tuple[str | None, str | None, Mapping[str, str]]],
                partition: int | None = None) -> None:
        from kafka import KafkaProducer
        producer = KafkaProducer(bootstrap_servers=self.bootstrap_servers, acks="all", linger_ms=5)
        try:
            futures = [producer.send(topic, key=_bytes(key), value=_bytes(value), partition=partition,
                                     headers=[(name, _bytes(data)) for name, data in headers.items()])
                       for key, value, headers in records]
            for future in futures:
                future.get(timeout=self.remaining(30))
        except Exception as error:
            raise Failed(f"setup: producing to {topic} failed: {error!r}") from None
        finally:
            producer.close(timeout=10)

    def end_offsets(self, topic: str) -> dict[int, int]:
        from kafka import KafkaConsumer, TopicPartition
        consumer = KafkaConsumer(bootstrap_servers=self.bootstrap_servers, group_id=None, enable_auto_commit=False)
        try:
            partitions = [TopicPartition(topic, p) for p in self._partitions(consumer, topic)]
            return {tp.partition: offset for tp, offset in consumer.end_offsets(partitions).items()}
        finally:
            consumer.close()

    def read(self, topic: str, count: int | None = None, timeout: float = 30, committed_only: bool = False,
             decode: bool = True) -> list[Record]:
        """Records of ``topic`` from its earliest offsets, by assignment (no group):
        at least ``count`` of them, or with None all up to the end offsets as they
        were when it started. read_committed with ``committed_only``; keys and
        values as text, or bytes with ``decode`` False."""
        from kafka import KafkaConsumer, TopicPartition
        consumer = KafkaConsumer(bootstrap_servers=self.bootstrap_servers, group_id=None, enable_auto_commit=False,
                                 auto_offset_reset="earliest",
                                 isolation_level="read_committed" if committed_only else "read_uncommitted")
        convert = _text if decode else (lambda data: data)
        records: list[Record] = []
        try:
            partitions = [TopicPartition(topic, p) for p in self._partitions(consumer, topic)]
            consumer.assign(partitions)
            ends = consumer.end_offsets(partitions) if count is None else {}

            def done():
                if count is not None:
                    return len(records) >= count
                return all(consumer.position(tp) >= end for tp, end in ends.items())

            deadline = time.monotonic() + self.remaining(timeout)
            while not done() and time.monotonic() < deadline:
                for batch in consumer.poll(timeout_ms=200).values():
                    records.extend(Record(m.partition, m.offset, convert(m.key), convert(m.value),
                                          {name: _text(data) for name, data in (m.headers or [])})
                                   for m in batch)
        finally:
            consumer.close()
        if count is not None and len(records) < count:
            raise Failed(f"check: read {len(records)} of {count} records from {topic} in {timeout:.0f}s: "
                         f"{[r.value for r in records][:10]}")
        return sorted(records, key=lambda r: (r.partition, r.offset))

    def wait_until(self, condition, timeout: float, message, interval: float = 0.2):
        """Poll ``condition`` until it returns something true; that value. The
        failure ``message`` may be a function, called then (to show the last state)."""
        deadline = time.monotonic() + self.remaining(timeout)
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                raise Failed(message() if callable(message) else message)
            time.sleep(interval)

    def _partitions(self, consumer, topic: str) -> list[int]:
        def known():
            consumer.topics()  # refreshes the metadata of all topics
            return consumer.partitions_for_topic(topic)
        return sorted(self.wait_until(known, 30, f"check: topic {topic} not in the metadata"))


def _bytes(text: str | None) -> bytes | None:
    return None if text is None else text.encode()


def _text(data) -> str | None:
    if data is None:
        return None
    return data.decode(errors="replace") if isinstance(data, bytes) else str(data)


def _tail(text: str, lines: int = 30) -> str:
    return "\n".join(text.splitlines()[-lines:])


def check(result: subprocess.CompletedProcess, what: str) -> str:
    """The stdout of a finished process, or Failed with its exit code and output."""
    if result.returncode != 0:
        raise Failed(f"{what} exited with {result.returncode}:\n{_tail(result.stderr or result.stdout)}")
    return result.stdout
