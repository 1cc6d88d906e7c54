"""Apache Kafka's command-line tools, run by their script names without the
binary distribution: each name maps to its main class, started with
``java -cp`` on the classpath that ``kafka_jars`` resolves.

    run("kafka-topics", ["--bootstrap-server", addr, "--list"]).stdout
    python -m compat.kafka_cli kafka-topics --bootstrap-server 127.0.0.1:9092 --list
    python -m compat.kafka_cli --kafka-version 3.9.1 kafka-features --bootstrap-server ... describe
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from . import kafka_jars
from .jvm import FAST_START, java

# Script name -> main classes, newest home first: Kafka 4 moved most tools from
# the Scala core (kafka.*) to org.apache.kafka.tools.*; the first class present
# in the resolved version's jars is the one its bin/<name>.sh runs.
TOOLS: dict[str, tuple[str, ...]] = {
    "kafka-acls": ("org.apache.kafka.tools.AclCommand", "kafka.admin.AclCommand"),
    "kafka-broker-api-versions": ("org.apache.kafka.tools.BrokerApiVersionsCommand",
                                  "kafka.admin.BrokerApiVersionsCommand"),
    "kafka-client-metrics": ("org.apache.kafka.tools.ClientMetricsCommand",),
    "kafka-cluster": ("org.apache.kafka.tools.ClusterTool",),
    "kafka-configs": ("org.apache.kafka.tools.ConfigCommand", "kafka.admin.ConfigCommand"),
    "kafka-console-consumer": ("org.apache.kafka.tools.consumer.ConsoleConsumer",),
    "kafka-console-producer": ("org.apache.kafka.tools.ConsoleProducer", "kafka.tools.ConsoleProducer"),
    "kafka-console-share-consumer": ("org.apache.kafka.tools.consumer.ConsoleShareConsumer",),
    "kafka-consumer-groups": ("org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",),
    "kafka-consumer-perf-test": ("org.apache.kafka.tools.ConsumerPerformance",),
    "kafka-delegation-tokens": ("org.apache.kafka.tools.DelegationTokenCommand",),
    "kafka-delete-records": ("org.apache.kafka.tools.DeleteRecordsCommand",),
    "kafka-dump-log": ("org.apache.kafka.tools.DumpLogSegments", "kafka.tools.DumpLogSegments"),
    "kafka-e2e-latency": ("org.apache.kafka.tools.EndToEndLatency",),
    "kafka-features": ("org.apache.kafka.tools.FeatureCommand",),
    "kafka-get-offsets": ("org.apache.kafka.tools.GetOffsetShell",),
    "kafka-groups": ("org.apache.kafka.tools.GroupsCommand",),
    "kafka-jmx": ("org.apache.kafka.tools.JmxTool",),
    "kafka-leader-election": ("org.apache.kafka.tools.LeaderElectionCommand",),
    "kafka-log-dirs": ("org.apache.kafka.tools.LogDirsCommand",),
    "kafka-metadata-quorum": ("org.apache.kafka.tools.MetadataQuorumCommand",),
    "kafka-producer-perf-test": ("org.apache.kafka.tools.ProducerPerformance",),
    "kafka-reassign-partitions": ("org.apache.kafka.tools.reassign.ReassignPartitionsCommand",),
    "kafka-replica-verification": ("org.apache.kafka.tools.ReplicaVerificationTool",),
    "kafka-share-consumer-perf-test": ("org.apache.kafka.tools.ShareConsumerPerformance",),
    "kafka-share-groups": ("org.apache.kafka.tools.consumer.group.ShareGroupCommand",),
    "kafka-storage": ("kafka.tools.StorageTool",),
    "kafka-streams-application-reset": ("org.apache.kafka.tools.StreamsResetter",),
    "kafka-streams-groups": ("org.apache.kafka.tools.streams.StreamsGroupCommand",),
    "kafka-topics": ("org.apache.kafka.tools.TopicCommand",),
    "kafka-transactions": ("org.apache.kafka.tools.TransactionsCommand",),
    "kafka-verifiable-consumer": ("org.apache.kafka.tools.VerifiableConsumer",),
    "kafka-verifiable-producer": ("org.apache.kafka.tools.VerifiableProducer",),
}


def main_class(tool: str, version: str = kafka_jars.DEFAULT_VERSION) -> str:
    """The main class that Kafka ``version`` runs for ``tool`` (a script name, '.sh' optional)."""
    tool = tool.removesuffix(".sh")
    if tool not in TOOLS:
        raise ValueError(f"unknown Kafka tool {tool!r}; known: {', '.join(sorted(TOOLS))}")
    present = kafka_jars.kafka_classes(version)
    for candidate in TOOLS[tool]:
        if candidate in present:
            return candidate
    raise ValueError(f"Kafka {version} has no {tool}")


def command(tool: str, args: Sequence[str] = (), version: str = kafka_jars.DEFAULT_VERSION) -> list[str]:
    """The argv that runs ``tool`` with ``args``: for subprocess.Popen when a tool
    must run alongside the test (a console consumer waiting for records)."""
    return _command(tool, args, version, _class_data_options(_archive(tool, version)))


def run(tool: str, args: Sequence[str] = (), input: str | None = None, timeout: float = 60,
        version: str = kafka_jars.DEFAULT_VERSION) -> subprocess.CompletedProcess:
    """Run ``tool`` to completion; stdout and stderr are captured as text.
    ``input`` feeds stdin (console producer lines); without it stdin is empty.
    The first successful run of a tool leaves a class-data archive for the next."""
    archive = _archive(tool, version)
    if archive.exists():
        return _run(_command(tool, args, version, _class_data_options(archive)), input, timeout)
    archive.parent.mkdir(parents=True, exist_ok=True)
    dump = archive.with_name(f"{archive.name}.{os.getpid()}.{threading.get_ident()}")
    try:
        result = _run(_command(tool, args, version, [f"-XX:ArchiveClassesAtExit={dump}"]), input, timeout)
        if result.returncode == 0 and dump.exists():
            dump.replace(archive)
        return result
    finally:
        dump.unlink(missing_ok=True)


def _command(tool: str, args: Sequence[str], version: str, class_data: list[str]) -> list[str]:
    return [java(), *FAST_START, *class_data, *kafka_jars.logging_options(version, "tools"),
            "-cp", kafka_jars.classpath(version), main_class(tool, version), *args]


def _run(argv: list[str], input: str | None, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(argv, input=input if input is not None else "",
                          capture_output=True, text=True, timeout=timeout)


def _archive(tool: str, version: str) -> Path:
    """A dynamic class-data archive per tool: it halves a tool's ~0.8 s start.
    Keyed by the java binary, since an archive only fits the JVM that wrote it."""
    jvm = hashlib.sha1(os.path.realpath(java()).encode()).hexdigest()[:12]
    return kafka_jars.cache_dir(version) / f"cds-{jvm}" / f"{main_class(tool, version)}.jsa"


def _class_data_options(archive: Path) -> list[str]:
    return [f"-XX:SharedArchiveFile={archive}"] if archive.exists() else []


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    version = kafka_jars.DEFAULT_VERSION
    if argv[:1] == ["--kafka-version"] and len(argv) > 1:
        version, argv = argv[1], argv[2:]
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip() + "\n\ntools: " + " ".join(sorted(TOOLS)))
        return 0 if argv else 2
    try:
        argv = command(argv[0], argv[1:], version)
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    # Inherit the terminal: console tools read stdin and stream their output.
    return subprocess.call(argv)


if __name__ == "__main__":
    sys.exit(main())
