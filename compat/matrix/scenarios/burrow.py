"""Burrow, LinkedIn's consumer-lag monitor (the Debian package): it reads the
groups' commits from __consumer_offsets in Kafka's record format, and the end
offsets through ListOffsets, and serves the lag over HTTP. Burrow 1.x keeps its
own coordination state in ZooKeeper: one runs beside it, from the ZooKeeper jar
that Kafka 3.9's Maven dependencies bring (compat.kafka_jars)."""
from __future__ import annotations

import json
import shutil
import socket
import subprocess
import urllib.request
from string import Template

from ... import kafka_jars
from ...apache_kafka import free_port
from ...jvm import FAST_START, java
from ..builds import COMPAT
from ..context import Context, numbered_records
from ..packages import apt_install
from ..scenario import Client, expect, scenario

TEMPLATE = COMPAT / "burrow" / "burrow.toml"
ZOOKEEPER_KAFKA = "3.9.1"  # the last Kafka whose dependencies include ZooKeeper


def _prepare() -> None:
    apt_install("burrow", "Burrow")
    kafka_jars.jars(ZOOKEEPER_KAFKA)


def _version() -> str:
    printed = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "burrow"], capture_output=True, text=True)
    return printed.stdout.strip() or "not installed"


BURROW = Client("burrow", "Burrow", _version, _prepare)


def _zookeeper(ctx: Context) -> int:
    port = free_port()
    data = ctx.workdir / "zookeeper"
    data.mkdir()
    zookeeper = ctx.spawn([java(), *FAST_START, "-Dzookeeper.admin.enableServer=false",
                           *kafka_jars.logging_options(ZOOKEEPER_KAFKA, "tools"),
                           "-cp", kafka_jars.classpath(ZOOKEEPER_KAFKA),
                           "org.apache.zookeeper.server.ZooKeeperServerMain", str(port), str(data)])

    def serving():
        """'srvr' (the one four-letter word allowed by default) answers with the
        server's Mode only once it serves sessions; the port opens before that."""
        if zookeeper.process.poll() is not None:
            raise AssertionError(f"setup: ZooKeeper exited:\n{zookeeper.tail()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as connection:
                connection.sendall(b"srvr")
                return b"Mode:" in connection.recv(4096)
        except OSError:
            return False

    ctx.wait_until(serving, 60, lambda: f"setup: ZooKeeper not serving:\n{zookeeper.tail()}")
    return port


def _get(url: str) -> dict:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        return json.loads(error.read() or b"{}")
    except OSError:
        return {}


# Burrow 1.2.1 asks for end offsets with ListOffsets v0, which Kafka 4.0 removed
# (KIP-896): the reference run uses Kafka 3.9, the last that serves it.
@scenario(BURROW, "consumer-lag", "a group committed offset 6 of 10: Burrow lists the topic and the group "
          "and reports a lag of 4 (Burrow 1.2.1 asks for end offsets with ListOffsets v0, which Kafka 4.0 removed by "
          "KIP-896: its reference run is against Kafka 3.9.1)", timeout=150, kafka_version="3.9.1")
def consumer_lag(ctx: Context) -> None:
    from confluent_kafka import Consumer, TopicPartition
    topic, group = ctx.create_topic(ctx.name("t")), ctx.name("g")
    ctx.produce(topic, numbered_records(10, "harness"))
    committer = Consumer({"bootstrap.servers": ctx.bootstrap_servers, "group.id": group, "log_level": 3})
    errors: list[Exception] = []

    def committed() -> bool:
        try:  # the first commit to a fresh broker may find the coordinator still loading
            committer.commit(offsets=[TopicPartition(topic, 0, 6)], asynchronous=False)
            return True
        except Exception as error:
            errors.append(error)
            return False

    try:
        ctx.wait_until(committed, 30, lambda: f"setup: committing offset 6 for group {group} failed: {errors[-1]}")
    finally:
        committer.close()

    http_port = free_port()
    (ctx.workdir / "burrow.toml").write_text(Template(TEMPLATE.read_text()).substitute(
        workdir=ctx.workdir, zookeeper_port=_zookeeper(ctx), bootstrap=ctx.bootstrap_servers, http_port=http_port))
    burrow = ctx.spawn([shutil.which("Burrow") or "Burrow", "-config-dir", str(ctx.workdir)], cwd=ctx.workdir)
    api = f"http://127.0.0.1:{http_port}/v3/kafka/local"

    def burrow_log() -> str:
        log = ctx.workdir / "burrow.log"
        lines = log.read_text(errors="replace").splitlines() if log.exists() else []
        return "\n".join([*[line for line in lines if '"level":"error"' in line or '"warn"' in line][-15:],
                          burrow.tail()])

    ctx.wait_until(lambda: topic in _get(f"{api}/topic").get("topics", []), 60,
                   lambda: f"Burrow never listed {topic}:\n{burrow_log()}")
    lag: dict = {}

    def reported():
        lag.clear()
        lag.update(_get(f"{api}/consumer/{group}/lag").get("status") or {})
        return lag.get("totallag") == 4

    ctx.wait_until(reported, 60, lambda: f"Burrow's lag for {group}: {lag or 'none'}\n{burrow_log()}")
    partitions = lag.get("partitions") or []
    expect(len(partitions) == 1 and partitions[0].get("current_lag") == 4, f"partition lag {partitions}")
