"""Kafka Streams (compat/streams): the stateful word count, with at-least-once
and with exactly_once_v2 processing."""
from __future__ import annotations

import struct
from collections import Counter

from ...jvm import java
from ..builds import COMPAT, maven, maven_classpath, pom_property
from ..context import Context
from ..scenario import Client, expect, scenario

PROJECT = COMPAT / "streams"
LINES = ["the quick brown fox", "jumps over the lazy dog", "The Fox and the dog", "a fox"]
EXPECTED = Counter(word for line in LINES for word in line.lower().split())

STREAMS = Client("kafka-streams", "Kafka Streams", lambda: pom_property(PROJECT, "kafka.version"),
                 lambda: maven(PROJECT))


def _word_count(ctx: Context, guarantee: str) -> None:
    source, sink, application = ctx.name("lines"), ctx.name("counts"), ctx.name("app")
    ctx.create_topic(source, partitions=2)
    ctx.create_topic(sink, partitions=2)
    ctx.produce(source, [(None, line, {}) for line in LINES])
    app = ctx.spawn([java(), "-Xmx512M", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
                     "-Djava.io.tmpdir=" + str(ctx.workdir), "-cp", maven_classpath(PROJECT),
                     "compat.WordCount", ctx.bootstrap_servers, application, source, sink, guarantee])
    app.wait_for(r"^state RUNNING", timeout=ctx.remaining(90))

    latest: dict[str, int] = {}

    def final_counts():
        latest.clear()
        latest.update((r.key.decode(), struct.unpack(">q", r.value)[0])
                      for r in ctx.read(sink, committed_only=True, decode=False, timeout=10))
        return latest == EXPECTED

    ctx.wait_until(final_counts, 60, lambda: f"the latest counts in {sink} are {latest}, not {dict(EXPECTED)}:\n"
                   + app.tail())
    topics = ctx.topics()
    repartition = f"{application}-counts-repartition"
    changelog = f"{application}-counts-changelog"
    expect(repartition in topics, f"no repartition topic {repartition} among {sorted(t for t in topics if application in t)}")
    expect(changelog in topics, f"no changelog topic {changelog}")
    expect(ctx.topic_config(changelog).get("cleanup.policy") == "compact",
           f"the changelog topic's cleanup.policy is {ctx.topic_config(changelog).get('cleanup.policy')}")
    app.stop()


@scenario(STREAMS, "word-count", "stateful word count, at_least_once: correct final counts; a repartition "
          "topic and a compacted changelog topic")
def word_count(ctx: Context) -> None:
    _word_count(ctx, "at_least_once")


@scenario(STREAMS, "word-count-exactly-once-v2", "the same with processing.guarantee=exactly_once_v2 "
          "(transactions); counts read with read_committed")
def word_count_eos(ctx: Context) -> None:
    _word_count(ctx, "exactly_once_v2")
