"""The workloads, run against one broker at a time with the same clients.

Each records its figures as (Metric, value) pairs, one value per run; the
report takes the median of the runs. Sizes and run counts come from a
``Settings`` (``QUICK`` for a smoke run, ``FULL`` for the documented figures).
"""
from __future__ import annotations

import itertools
import json
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass

from . import java_tools
from .targets import ProcessMeter, REPO, make, rss_mb

MB = 1 << 20
GB = 1 << 30


@dataclass(frozen=True)
class Settings:
    runs: int               # runs of every measurement, the report shows their median
    startup_cycles: int     # broker starts timed; the first ``runs`` of them also measure memory under load
    load_records: int       # 1 KB records produced, then consumed, for the memory under load
    produce_records: int    # 1 KB records per producer-perf-test run
    consume_records: int    # 1 KB records of the topic consumed from its start
    latency_rate: int       # records/s of the fixed-rate latency run, below both brokers' saturation
    latency_seconds: int    # at that rate, after as many records again of warm-up
    e2e_records: int        # records sent one at a time by EndToEndLatency
    warmup_records: int     # 1 KB records produced and consumed, unmeasured, before each workload
    client_mb: int          # MB produced then consumed per Python client run
    many_connections: int
    many_seconds: int


FULL = Settings(runs=3, startup_cycles=5, load_records=500_000, produce_records=300_000,
                consume_records=1 << 20, latency_rate=5000, latency_seconds=30, e2e_records=10_000,
                warmup_records=500_000, client_mb=50, many_connections=200, many_seconds=30)
QUICK = Settings(runs=1, startup_cycles=2, load_records=50_000, produce_records=30_000,
                 consume_records=100_000, latency_rate=5000, latency_seconds=5, e2e_records=1000,
                 warmup_records=30_000, client_mb=5, many_connections=200, many_seconds=10)


@dataclass(frozen=True)
class Metric:
    workload: str
    name: str
    client: str
    unit: str
    higher_is_better: bool
    target: float | None = None  # the bound on pykbroker / Kafka (a floor when higher is better)
    limit: float | None = None   # the bound on pykbroker's own figure, in ``unit``


class Recorder:
    """The figures of one broker: metric -> one value per run."""

    def __init__(self):
        self.values: dict[Metric, list[float]] = {}

    def add(self, metric: Metric, value: float) -> None:
        self.values.setdefault(metric, []).append(value)
        print(f"    {metric.workload} | {metric.name} | {metric.client}: {value:.4g} {metric.unit}", flush=True)


JAVA_PRODUCER = "kafka-producer-perf-test"
JAVA_CONSUMER = "kafka-consumer-perf-test"
E2E_TOOL = "EndToEndLatency (kafka-tools)"
RAW = "raw protocol (bench.protocol)"
PEAK_RSS = "peak resident memory"
BROKER_CPU = "broker CPU time per GB"


# --- start-up and memory: a broker started per cycle ----------------------------------------------
def startup(target_name: str, settings: Settings, recorder: Recorder, kafka_heap: str) -> None:
    """Per cycle: launch, time the first ApiVersions and the first acknowledged
    produce, resident memory idle, then under a produce-and-consume load."""
    for cycle in range(settings.startup_cycles):
        target = make(target_name, kafka_heap)
        timing = target.start()
        try:
            recorder.add(Metric("startup", "ready: first ApiVersions answered", RAW, "s", False, 0.1, 0.3),
                         timing.api_versions)
            recorder.add(Metric("startup", "ready: first produce acknowledged", RAW, "s", False, 0.1, 0.3),
                         timing.first_produce)
            time.sleep(2)  # idle: nothing connected
            recorder.add(Metric("startup", "resident memory, idle", "", "MB", False), rss_mb(target.pid))
            if cycle < settings.runs:
                _memory_under_load(target, settings, recorder)
        finally:
            target.stop()


def _memory_under_load(target, settings: Settings, recorder: Recorder) -> None:
    topic = f"load-{uuid.uuid4().hex[:8]}"
    with ProcessMeter(target.pid) as meter:
        java_tools.producer_perf(target.bootstrap_servers, topic, settings.load_records, properties={"acks": "1"})
        java_tools.consumer_perf(target.bootstrap_servers, topic, settings.load_records, f"load-{topic}")
    recorder.add(Metric("startup", "resident memory under load (peak)", f"{JAVA_PRODUCER}, then {JAVA_CONSUMER}",
                        "MB", False, 0.15), meter.peak_rss_mb)


# --- workloads on a running broker ---------------------------------------------------------------
class Session:
    """A running broker, the settings, and where figures go."""

    def __init__(self, target, settings: Settings, recorder: Recorder):
        self.target = target
        self.settings = settings
        self.recorder = recorder
        self.bootstrap = target.bootstrap_servers
        from confluent_kafka.admin import AdminClient
        self.admin = AdminClient({"bootstrap.servers": self.bootstrap})

    def create_topic(self, prefix: str, partitions: int = 1) -> str:
        from confluent_kafka.admin import NewTopic
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        for future in self.admin.create_topics([NewTopic(name, partitions, 1)]).values():
            future.result(60)
        deadline = time.monotonic() + 60
        while True:  # until every partition has a leader, as a producer would wait
            topic = self.admin.list_topics(name, timeout=10).topics.get(name)
            if topic and topic.error is None and len(topic.partitions) == partitions and \
                    all(p.leader >= 0 for p in topic.partitions.values()):
                return name
            if time.monotonic() > deadline:
                raise TimeoutError(f"topic {name} has no leaders")
            time.sleep(0.05)

    def delete_topic(self, name: str) -> None:
        for future in self.admin.delete_topics([name]).values():
            future.result(60)

    def add(self, metric: Metric, value: float) -> None:
        self.recorder.add(metric, value)

    def close(self) -> None:
        """Before the broker stops: librdkafka would log the lost connection."""
        self.admin = None


def warm_up(session: Session) -> None:
    """Produce and consume, unmeasured, before a workload: Kafka's JIT compiler
    needs the first GB or so to compile its hot paths (its first runs were up
    to 40% slower and used 3x the CPU per GB), as a long-running broker has."""
    topic = session.create_topic("warm-up")
    java_tools.producer_perf(session.bootstrap, topic, session.settings.warmup_records, properties={"acks": "1"})
    java_tools.consumer_perf(session.bootstrap, topic, session.settings.warmup_records, f"warm-up-{topic}")
    session.delete_topic(topic)


PRODUCE_MATRIX = list(itertools.product(("1", "all"), ("16 KB", "1 MB linger-batched"), ("none", "lz4", "zstd"),
                                        (1, 6)))
BATCHING = {"16 KB": {"batch.size": "16384"},  # the producer's default batch.size, linger.ms 5
            "1 MB linger-batched": {"batch.size": str(1 << 20), "linger.ms": "50"}}


def produce(session: Session) -> None:
    """kafka-producer-perf-test, 1 KB records unthrottled, over acks x batching x
    compression x partitions; the producer's defaults otherwise (idempotence
    stays on where acks=all allows it)."""
    s = session.settings
    with ProcessMeter(session.target.pid) as meter:
        for acks, batching, compression, partitions in PRODUCE_MATRIX:
            topic = session.create_topic("produce", partitions)
            properties = {"acks": acks, "compression.type": compression, **BATCHING[batching]}
            # The throughput floor is for the plainest case; its CPU cost is shown too.
            headline = (acks, batching, compression, partitions) == ("1", "16 KB", "none", 1)
            name = f"acks={acks}, {batching}, {compression}, {partitions} partition{'s' if partitions > 1 else ''}"
            for _ in range(s.runs):
                with ProcessMeter(session.target.pid) as run:
                    result = java_tools.producer_perf(session.bootstrap, topic, s.produce_records,
                                                      properties=properties)
                session.add(Metric("produce", name, JAVA_PRODUCER, "MB/s", True, 1.0 if headline else None),
                            result.mb_per_sec)
                if headline:
                    session.add(Metric("produce", f"{name}: {BROKER_CPU}", JAVA_PRODUCER, "CPU s/GB", False),
                                run.cpu / (s.produce_records * 1024 / GB))
            session.delete_topic(topic)
    session.add(Metric("produce", PEAK_RSS, JAVA_PRODUCER, "MB", False), meter.peak_rss_mb)


def consume(session: Session) -> None:
    """kafka-consumer-perf-test from the start of a topic of 1 KB records (1 GB
    in the full run, written with 16 KB batches), a new group each run."""
    s = session.settings
    topic = session.create_topic("consume")
    java_tools.producer_perf(session.bootstrap, topic, s.consume_records, properties={"acks": "1"})
    size = f"{s.consume_records * 1024 / GB:.2g} GB"
    with ProcessMeter(session.target.pid) as meter:
        for number in range(s.runs):
            with ProcessMeter(session.target.pid) as run:
                result = java_tools.consumer_perf(session.bootstrap, topic, s.consume_records,
                                                  f"consume-{topic}-{number}")
            session.add(Metric("consume", f"{size} from offset 0, fetch throughput after the group join",
                               JAVA_CONSUMER, "MB/s", True, 1.0), result.fetch_mb_per_sec)
            session.add(Metric("consume", f"{size} from offset 0, whole run with the group join",
                               JAVA_CONSUMER, "MB/s", True), result.mb_per_sec)
            session.add(Metric("consume", f"{size} from offset 0: {BROKER_CPU}", JAVA_CONSUMER, "CPU s/GB", False),
                        run.cpu / (s.consume_records * 1024 / GB))
    session.add(Metric("consume", PEAK_RSS, JAVA_CONSUMER, "MB", False), meter.peak_rss_mb)
    session.delete_topic(topic)


def latency(session: Session) -> None:
    """kafka-producer-perf-test at a fixed rate of 1 KB records with the
    producer's defaults (acks=all, idempotent, linger.ms 5); the percentiles of
    the steady state, after as many records of warm-up (JIT, metadata)."""
    s = session.settings
    records = s.latency_rate * s.latency_seconds
    name = f"{s.latency_rate} records/s of 1 KB"
    for _ in range(s.runs):
        topic = session.create_topic("latency")
        result = java_tools.producer_perf(session.bootstrap, topic, 2 * records, throughput=s.latency_rate,
                                          warmup=records)
        session.add(Metric("produce latency", f"p50, {name}", JAVA_PRODUCER, "ms", False), result.p50_ms)
        session.add(Metric("produce latency", f"p99, {name}", JAVA_PRODUCER, "ms", False, 1.5), result.p99_ms)
        session.add(Metric("produce latency", f"p99.9, {name}", JAVA_PRODUCER, "ms", False), result.p999_ms)
        session.delete_topic(topic)


def end_to_end(session: Session) -> None:
    """EndToEndLatency: 1 KB records with acks=1, one at a time, send to poll."""
    s = session.settings
    for _ in range(s.runs):
        topic = session.create_topic("e2e")
        result = java_tools.end_to_end(session.bootstrap, topic, s.e2e_records)
        for label, value in (("avg", result.avg_ms), ("p50", result.p50_ms), ("p99", result.p99_ms),
                             ("p99.9", result.p999_ms)):
            session.add(Metric("end-to-end latency", f"{label}, 1 KB, acks=1", E2E_TOOL, "ms", False), value)
        session.delete_topic(topic)


def python_clients(session: Session) -> None:
    """confluent-kafka (librdkafka) and kafka-python with their defaults, 100 B
    and 1 KB records to one partition, then read back by an assigned consumer."""
    s = session.settings
    for client, size in itertools.product(("confluent-kafka", "kafka-python"), (100, 1024)):
        records = s.client_mb * MB // size
        label = "100 B" if size == 100 else "1 KB"
        for _ in range(s.runs):
            topic = session.create_topic("clients")
            output = subprocess.run(
                [sys.executable, "-m", "bench.python_clients", client, session.bootstrap, topic, str(records),
                 str(size)], cwd=REPO, capture_output=True, text=True, timeout=900)
            if output.returncode != 0:
                raise RuntimeError(f"{client} failed:\n{output.stderr[-3000:]}")
            result = json.loads(output.stdout.splitlines()[-1])
            session.add(Metric("python clients", f"produce, {label} records", client, "MB/s", True),
                        result["produce_mb_per_sec"])
            session.add(Metric("python clients", f"consume (assigned), {label} records", client, "MB/s", True),
                        result["consume_mb_per_sec"])
            session.delete_topic(topic)


def many_clients(session: Session) -> None:
    """``many_connections`` connections, each producing 10 records of 100 B and
    fetching them back once a second, over 6 partitions."""
    s = session.settings
    label = f"{s.many_connections} connections"
    for _ in range(s.runs):
        topic = session.create_topic("many", 6)
        with ProcessMeter(session.target.pid) as meter:
            output = subprocess.run(
                [sys.executable, "-m", "bench.many_clients", session.bootstrap, topic, "6",
                 str(s.many_connections), str(s.many_seconds), "1.0"],
                cwd=REPO, capture_output=True, text=True, timeout=s.many_seconds + 300)
        if output.returncode != 0:
            raise RuntimeError(f"many clients failed:\n{output.stderr[-3000:]}")
        result = json.loads(output.stdout.splitlines()[-1])
        if result["errors"]:
            raise RuntimeError(f"many clients: {result['errors']} failed requests")
        session.add(Metric("many clients", f"{label}: produce p50", RAW, "ms", False), result["produce_p50_ms"])
        session.add(Metric("many clients", f"{label}: produce p99", RAW, "ms", False), result["produce_p99_ms"])
        session.add(Metric("many clients", f"{label}: fetch p99", RAW, "ms", False), result["fetch_p99_ms"])
        session.add(Metric("many clients", f"{label}: round trips", RAW, "/s", True), result["round_trips_per_sec"])
        session.add(Metric("many clients", f"{label}: broker CPU", RAW, "% of a core", False),
                    100 * meter.cpu / meter.seconds)
        session.add(Metric("many clients", f"{label}: {PEAK_RSS}", RAW, "MB", False), meter.peak_rss_mb)
        session.delete_topic(topic)


# Run in this order; "startup" starts its own brokers, the others share one.
WORKLOADS = {"startup": None, "produce": produce, "consume": consume, "latency": latency, "e2e": end_to_end,
             "clients": python_clients, "many": many_clients}
