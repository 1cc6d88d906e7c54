"""Clients driven through a small program of ours with one command line for
every language (compat/go's compatgo, compat/node's kafkajs.js):

    <program> create-topic|delete-topic|list-topics|produce|consume
        --bootstrap B --topic T [--group G] [--count N] [--partitions P] [--timeout S]

Each client gets the same three scenarios: topic admin, produce, consume in a group."""
from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

from ..builds import COMPAT, build, cache_dir, digest, sources
from ..context import Context, check, numbered_records
from ..scenario import Client, expect, scenario

COUNT = 10


def register(client: Client, argv: Callable[[], list[str]], core: bool = False) -> None:
    """The three scenarios of ``client``, whose program ``argv()`` starts."""

    def run(ctx: Context, operation: str, timeout: float = 60, **options) -> str:
        args = []
        for name, value in {"bootstrap": ctx.bootstrap_servers, "timeout": timeout, **options}.items():
            args += [f"--{name}", str(value) if name != "timeout" else _duration(client, value)]
        result = ctx.run([*argv(), operation, *args], timeout=timeout + 15)
        return check(result, f"{client.title} {operation}")

    @scenario(client, "admin-topics", "create a 3-partition topic, see it listed, delete it", core=core)
    def admin_topics(ctx: Context) -> None:
        topic = ctx.name("t")
        run(ctx, "create-topic", topic=topic, partitions=3)
        ctx.wait_until(lambda: ctx.partition_count(topic) == 3, 30, f"{topic} has no 3 partitions after create")
        expect(topic in run(ctx, "list-topics").split(), f"{topic} missing from the client's topic list")
        run(ctx, "delete-topic", topic=topic)
        ctx.wait_until(lambda: topic not in ctx.topics(), 30, f"{topic} still exists after delete")
        expect(topic not in run(ctx, "list-topics").split(), f"{topic} still in the client's topic list")

    @scenario(client, "produce", f"produce {COUNT} keyed records with a header; all read back", core=core)
    def produce(ctx: Context) -> None:
        topic = ctx.create_topic(ctx.name("t"), partitions=3)
        run(ctx, "produce", topic=topic, count=COUNT)
        records = ctx.read(topic, COUNT)
        got = sorted((r.key, r.value, tuple(r.headers.items())) for r in records)
        want = sorted((k, v, tuple(h.items())) for k, v, h in numbered_records(COUNT, client.name))
        expect(got == want, f"read back {got[:4]}..., expected {want[:4]}...")
        by_key = {}
        for r in records:
            by_key.setdefault(r.key, set()).add(r.partition)
        expect(all(len(partitions) == 1 for partitions in by_key.values()), "one key landed on two partitions")

    @scenario(client, "consume-group", f"consume {COUNT} records in a group from the earliest offset, "
              "commit; the group's committed offsets reach the end", core=core)
    def consume_group(ctx: Context) -> None:
        topic, group = ctx.create_topic(ctx.name("t"), partitions=3), ctx.name("g")
        ctx.produce(topic, numbered_records(COUNT, "harness"))
        printed = run(ctx, "consume", topic=topic, group=group, count=COUNT, timeout=90)
        records = [json.loads(line) for line in printed.splitlines() if line.startswith("{")]
        values = sorted(r["value"] for r in records)
        expect(values == sorted(f"value-{i}" for i in range(COUNT)), f"consumed {values}")
        expect(all(r["headers"] == {"client": "harness"} for r in records), "headers lost")
        ctx.wait_until(lambda: ctx.committed(group, topic) == ctx.end_offsets(topic), 20,
                       f"committed offsets {ctx.committed(group, topic)} are not the end offsets "
                       f"{ctx.end_offsets(topic)}")


def _duration(client: Client, seconds: float) -> str:
    # Go's flag package takes durations ("60s"), the Node program seconds.
    return f"{seconds:.0f}s" if client.name in ("franz-go", "sarama") else f"{seconds:.0f}"


# -- the programs ------------------------------------------------------------------

GO = COMPAT / "go"
NODE = COMPAT / "node"


def go_binary() -> Path:
    """compatgo, built into the cache under the digest of its sources."""
    inputs = sources(GO, "*.go", "go.mod", "go.sum")
    binary = cache_dir() / f"compatgo-{digest(inputs, GO)[:16]}"
    build("compat/go", ["go", "build", "-buildvcs=false", "-o", str(binary), "."], GO, inputs, binary.with_suffix(".stamp"))
    return binary


def node_modules() -> None:
    build("compat/node", ["npm", "ci", "--no-audit", "--no-fund"], NODE,
          [NODE / "package.json", NODE / "package-lock.json"], NODE / "node_modules" / ".compat-stamp")


def go_module_version(module: str) -> str:
    for line in (GO / "go.mod").read_text().splitlines():
        parts = line.split()
        if parts[:1] == [module] or parts[:2] == ["require", module]:
            return parts[-1]
    return "?"


def kafkajs_version() -> str:
    lock = json.loads((NODE / "package-lock.json").read_text())
    return lock["packages"]["node_modules/kafkajs"]["version"]


FRANZ = Client("franz-go", "franz-go (Go)", lambda: go_module_version("github.com/twmb/franz-go"), go_binary)
SARAMA = Client("sarama", "sarama (Go)", lambda: go_module_version("github.com/IBM/sarama"), go_binary)
KAFKAJS = Client("kafkajs", "kafkajs (Node.js)", kafkajs_version, node_modules)

register(FRANZ, lambda: [str(go_binary()), "franz"], core=True)
register(SARAMA, lambda: [str(go_binary()), "sarama"])
register(KAFKAJS, lambda: [shutil.which("node") or "node", str(NODE / "kafkajs.js")], core=True)
