"""Apache Kafka's performance tools, run as the distribution's bin/ scripts run
them (kafka-run-class.sh with KAFKA_JVM_PERFORMANCE_OPTS and the scripts'
-Xmx512M), with the same flags whichever broker they measure. The CLI
harness's fast-start flags (C1 only, serial GC) suit short admin commands
but would make the client, not the broker, the bottleneck.
"""
from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass

from compat import kafka_cli, kafka_jars
from compat.apache_kafka import PERFORMANCE_OPTIONS
from compat.jvm import java

TOOL_HEAP = "-Xmx512M"  # kafka-producer-perf-test.sh / kafka-consumer-perf-test.sh


def command(tool: str, args: list[str], version: str = kafka_jars.DEFAULT_VERSION) -> list[str]:
    return [java(), TOOL_HEAP, *PERFORMANCE_OPTIONS, *kafka_jars.logging_options(version, "tools"),
            "-cp", kafka_jars.classpath(version), kafka_cli.main_class(tool, version), *args]


def _run(tool: str, args: list[str], timeout: float) -> str:
    result = subprocess.run(command(tool, args), capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"{tool} exited with {result.returncode}:\n{result.stdout[-2000:]}{result.stderr[-3000:]}")
    return result.stdout


@dataclass
class ProducerResult:
    records_per_sec: float
    mb_per_sec: float
    avg_ms: float
    p50_ms: float
    p99_ms: float
    p999_ms: float


_PRODUCER_SUMMARY = re.compile(
    r"(\d+) (?:steady state )?records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\), ([\d.]+) ms avg latency, "
    r"([\d.]+) ms max latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th, (\d+) ms 99.9th")


def producer_perf(bootstrap: str, topic: str, records: int, record_size: int = 1024, throughput: int = -1,
                  properties: dict[str, str] | None = None, warmup: int = 0,
                  timeout: float = 900) -> ProducerResult:
    """kafka-producer-perf-test; ``properties`` are producer configs (acks, batch.size, ...),
    the producer's defaults otherwise (idempotence on, acks=all, linger.ms 5). With
    ``warmup``, the figures of the records after the first ``warmup`` (steady state)."""
    args = ["--bootstrap-server", bootstrap, "--topic", topic, "--num-records", str(records),
            "--record-size", str(record_size), "--throughput", str(throughput)]
    if warmup:
        args += ["--warmup-records", str(warmup)]
    if properties:
        args += ["--command-property", *(f"{k}={v}" for k, v in properties.items())]
    output = _run("kafka-producer-perf-test", args, timeout)
    summary = _PRODUCER_SUMMARY.findall(output)
    if not summary:
        raise RuntimeError(f"no summary in kafka-producer-perf-test's output:\n{output[-2000:]}")
    sent, rate, mb, avg, _, p50, _, p99, p999 = summary[-1]
    if int(sent) != records - warmup:
        raise RuntimeError(f"kafka-producer-perf-test sent {sent} of {records} records")
    return ProducerResult(float(rate), float(mb), float(avg), float(p50), float(p99), float(p999))


@dataclass
class ConsumerResult:
    mb_per_sec: float        # over the whole run, the group join included
    fetch_mb_per_sec: float  # after the group join: what the fetches sustained
    rebalance_ms: float


def consumer_perf(bootstrap: str, topic: str, records: int, group: str, timeout: float = 900) -> ConsumerResult:
    """kafka-consumer-perf-test in a new group, from the start of ``topic``."""
    output = _run("kafka-consumer-perf-test", [
        "--bootstrap-server", bootstrap, "--topic", topic, "--num-records", str(records),
        "--group", group, "--timeout", "30000"], timeout)
    lines = [line for line in output.splitlines() if line.count(",") >= 9 and not line.startswith("start.time")]
    if not lines:
        raise RuntimeError(f"no summary in kafka-consumer-perf-test's output:\n{output[-2000:]}")
    fields = [field.strip() for field in lines[-1].split(",")]
    consumed = int(fields[4])
    if consumed < records:
        raise RuntimeError(f"kafka-consumer-perf-test consumed {consumed} of {records} records")
    return ConsumerResult(float(fields[3]), float(fields[8]), float(fields[6]))


@dataclass
class EndToEndResult:
    avg_ms: float
    p50_ms: float
    p99_ms: float
    p999_ms: float


_E2E_AVERAGE = re.compile(r"Avg latency: ([\d.]+) ms")
_E2E_PERCENTILES = re.compile(r"Percentiles: 50th = (\d+), 99th = (\d+), 99.9th = (\d+)")


def end_to_end(bootstrap: str, topic: str, records: int, acks: str = "1", record_size: int = 1024,
               timeout: float = 900) -> EndToEndResult:
    """EndToEndLatency: one record at a time, produced then consumed (an
    assigned consumer), the time from send to poll."""
    output = _run("kafka-e2e-latency", [
        "--bootstrap-server", bootstrap, "--topic", topic, "--num-records", str(records),
        "--producer-acks", acks, "--record-size", str(record_size)], timeout)
    average, percentiles = _E2E_AVERAGE.search(output), _E2E_PERCENTILES.search(output)
    if not average or not percentiles:
        raise RuntimeError(f"no summary in kafka-e2e-latency's output:\n{output[-2000:]}")
    return EndToEndResult(float(average.group(1)), *map(float, percentiles.groups()))
