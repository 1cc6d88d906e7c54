"""kcat (librdkafka underneath), the Debian package: metadata, produce with
keys and headers, consume by partition and in a balanced group. kcat has no
topic administration."""
from __future__ import annotations

import json
import re
import shutil
import subprocess

from ..context import Context, check, numbered_records
from ..packages import apt_install
from ..scenario import Client, expect, scenario

COUNT = 10


def _version() -> str:
    if shutil.which("kcat") is None:
        return "not installed"
    printed = subprocess.run(["kcat", "-V"], capture_output=True, text=True).stdout
    kcat = re.search(r"Version (\S+)", printed)
    librdkafka = re.search(r"librdkafka (\S+)", printed)
    return f"{kcat.group(1) if kcat else '?'} (librdkafka {librdkafka.group(1) if librdkafka else '?'})"


KCAT = Client("kcat", "kcat", _version, lambda: apt_install("kcat", "kcat"))


def kcat(ctx: Context, *args: str, input: str | None = None, timeout: float = 60) -> str:
    result = ctx.run(["kcat", "-b", ctx.bootstrap_servers, *args], input=input, timeout=timeout)
    return check(result, f"kcat {' '.join(args[:2])}")


@scenario(KCAT, "metadata", "kcat -L: the broker and a 3-partition topic with leaders "
          "(kcat has no topic administration)")
def metadata(ctx: Context) -> None:
    topic = ctx.create_topic(ctx.name("t"), partitions=3)
    listed = json.loads(kcat(ctx, "-L", "-J", "-t", topic))
    expect(listed["brokers"], f"kcat -L lists no broker: {listed}")
    topics = {t["topic"]: t for t in listed["topics"]}
    expect(topic in topics and len(topics[topic]["partitions"]) == 3, f"kcat -L: {listed['topics']}")
    expect(all(p["leader"] >= 0 for p in topics[topic]["partitions"]), "a partition has no leader")


@scenario(KCAT, "produce", f"kcat -P: {COUNT} records with keys (-K) and headers (-H); all read back")
def produce(ctx: Context) -> None:
    topic = ctx.create_topic(ctx.name("t"), partitions=3)
    lines = "".join(f"{key}:{value}\n" for key, value, _ in numbered_records(COUNT, "kcat"))
    kcat(ctx, "-P", "-t", topic, "-K", ":", "-H", "client=kcat", input=lines)
    got = sorted((r.key, r.value, r.headers.get("client")) for r in ctx.read(topic, COUNT))
    expect(got == sorted((k, v, "kcat") for k, v, _ in numbered_records(COUNT, "kcat")), f"read back {got}")


@scenario(KCAT, "consume", "kcat -C -o beginning -e (no group): every record, keys and headers")
def consume(ctx: Context) -> None:
    topic = ctx.create_topic(ctx.name("t"), partitions=3)
    ctx.produce(topic, numbered_records(COUNT, "harness"))
    printed = kcat(ctx, "-C", "-t", topic, "-o", "beginning", "-e", "-f", "%k|%s|%h\n")
    expect(sorted(printed.splitlines()) == sorted(f"{k}|{v}|client=harness" for k, v, _ in
                                                  numbered_records(COUNT, "harness")),
           f"kcat -C printed {printed.splitlines()}")


@scenario(KCAT, "consume-group", f"kcat -G: {COUNT} records in a balanced consumer group; offsets committed")
def consume_group(ctx: Context) -> None:
    topic, group = ctx.create_topic(ctx.name("t"), partitions=3), ctx.name("g")
    ctx.produce(topic, numbered_records(COUNT, "harness"))
    printed = kcat(ctx, "-G", group, "-X", "auto.offset.reset=earliest", "-c", str(COUNT), "-f", "%s\n", topic,
                   timeout=90)
    expect(sorted(printed.split()) == sorted(f"value-{i}" for i in range(COUNT)), f"kcat -G printed {printed!r}")
    ctx.wait_until(lambda: ctx.committed(group, topic) == ctx.end_offsets(topic), 20,
                   f"committed offsets {ctx.committed(group, topic)} are not the end offsets {ctx.end_offsets(topic)}")
