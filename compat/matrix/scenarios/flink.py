"""A Flink job (compat/flink) in Flink's local mini-cluster: KafkaSource ->
upper-case -> KafkaSink, bounded so that it ends once it has read the input
topic to its end; at-least-once, and exactly-once through Kafka transactions."""
from __future__ import annotations

from ...jvm import java
from ..builds import COMPAT, maven, maven_classpath, pom_property
from ..context import Context, check, numbered_records
from ..scenario import Client, expect, scenario

PROJECT = COMPAT / "flink"
COUNT = 20
# Flink 2 on Java 17: its serializers reach into these JDK packages.
OPENS = [f"--add-opens=java.base/{package}=ALL-UNNAMED"
         for package in ("java.lang", "java.util", "java.lang.reflect", "java.io", "java.nio", "java.net",
                         "java.util.concurrent", "java.time", "java.text")]

FLINK = Client("flink", "Flink + flink-connector-kafka",
               lambda: f"Flink {pom_property(PROJECT, 'flink.version')}, "
                       f"connector {pom_property(PROJECT, 'flink.connector.kafka.version')}",
               lambda: maven(PROJECT))


def _upper_case(ctx: Context, guarantee: str) -> None:
    source, sink = ctx.create_topic(ctx.name("in"), partitions=2), ctx.create_topic(ctx.name("out"), partitions=1)
    ctx.produce(source, numbered_records(COUNT, "harness"))
    job = ctx.run([java(), "-Xmx768M", *OPENS, "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
                   "-Djava.io.tmpdir=" + str(ctx.workdir), "-cp", maven_classpath(PROJECT), "compat.UpperCase",
                   ctx.bootstrap_servers, source, sink, ctx.name("job"), guarantee], timeout=240)
    check(job, f"the Flink job ({guarantee})")
    values = sorted(r.value for r in ctx.read(sink, committed_only=True))
    expect(values == sorted(f"VALUE-{i}" for i in range(COUNT)), f"{sink} holds {values}")


@scenario(FLINK, "upper-case", f"bounded job: {COUNT} records in, upper-cased, all out (at-least-once sink)",
          timeout=300)
def upper_case(ctx: Context) -> None:
    _upper_case(ctx, "at-least-once")


@scenario(FLINK, "upper-case-exactly-once", "the same with the exactly-once sink (Kafka transactions "
          "committed at checkpoints); read with read_committed", timeout=300)
def upper_case_exactly_once(ctx: Context) -> None:
    _upper_case(ctx, "exactly-once")
