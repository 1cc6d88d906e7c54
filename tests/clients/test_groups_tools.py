"""What people watch consumer groups with: kafka-consumer-groups.sh
(Apache Kafka's tool, from compat) and Burrow (the Debian package), which
reads the group's commits from ``__consumer_offsets`` itself."""
import json
import shutil
import subprocess
import urllib.request

import pytest
from confluent_kafka import Consumer, TopicPartition

from compat.apache_kafka import free_port
from tests.broker.groupapi import require_kafka_jars
from tests.broker.rawapi import wait_for
from tests.clients.test_groups import create_topic, produce

# partition -> committed offset, with 10 records in each partition: lags 6, 0 and 10.
COMMITTED = {0: 4, 1: 10, 2: 0}
LAGS = {0: 6, 1: 0, 2: 10}


@pytest.fixture
def broker(tmp_path):
    from pykbroker.testing import EmbeddedBroker
    with EmbeddedBroker(str(tmp_path / "data"), properties={"offsets.topic.num.partitions": "10"}) as embedded:
        yield embedded


def lagging_consumer(bootstrap: str, topic: str, group: str, **configs) -> Consumer:
    """A live member of ``group`` that committed COMMITTED and stays in the group."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
                         "auto.offset.reset": "earliest", **configs})
    consumer.subscribe([topic])
    wait_for(lambda: consumer.poll(0.2) is not None and len(consumer.assignment()) == 3, timeout=60,
             message="the assignment")
    consumer.commit(offsets=[TopicPartition(topic, p, o) for p, o in COMMITTED.items()], asynchronous=False)
    return consumer


def consumer_groups(bootstrap: str, *arguments: str) -> str:
    require_kafka_jars()
    from compat.kafka_cli import run
    result = run("kafka-consumer-groups", ["--bootstrap-server", bootstrap, *arguments])
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def table(output: str) -> list[dict]:
    lines = [line.split() for line in output.splitlines() if line.strip()]
    header = next(i for i, words in enumerate(lines) if words[0] == "GROUP")
    return [dict(zip(lines[header], words)) for words in lines[header + 1:] if words[0] != "GROUP"]


@pytest.mark.parametrize("protocol", ["classic", "consumer"])
def test_kafka_consumer_groups_describes_members_and_lag(broker, protocol):
    bootstrap = broker.bootstrap_servers
    create_topic(bootstrap, "watched", 3)
    produce(bootstrap, "watched", [f"v{i}" for i in range(30)], 3)
    group = f"watched-{protocol}"
    consumer = lagging_consumer(bootstrap, "watched", group, **{"group.protocol": protocol})
    try:
        rows = table(consumer_groups(bootstrap, "--describe", "--group", group))
        assert {int(r["PARTITION"]): (int(r["CURRENT-OFFSET"]), int(r["LOG-END-OFFSET"]), int(r["LAG"]))
                for r in rows} == {p: (COMMITTED[p], 10, LAGS[p]) for p in COMMITTED}
        assert {(r["GROUP"], r["TOPIC"], r["HOST"]) for r in rows} == {(group, "watched", "/127.0.0.1")}
        assert len({r["CONSUMER-ID"] for r in rows}) == 1 and rows[0]["CONSUMER-ID"] != "-"
        states = table(consumer_groups(bootstrap, "--describe", "--group", group, "--state"))
        assert (states[0]["STATE"], states[0]["#MEMBERS"]) == ("Stable", "1")
        listed = table(consumer_groups(bootstrap, "--list", "--state", "--type"))
        assert {r["GROUP"]: (r["TYPE"], r["STATE"]) for r in listed}[group] == \
            (protocol.capitalize(), "Stable")
    finally:
        consumer.close()
    # Without members the tool still reports the lag of the committed offsets.
    rows = wait_for(lambda: (rows := table(consumer_groups(bootstrap, "--describe", "--group", group)))
                    and rows[0]["CONSUMER-ID"] == "-" and rows, message="the member's departure")
    assert {int(r["PARTITION"]): int(r["LAG"]) for r in rows} == LAGS
    assert "Deletion of requested consumer groups ('%s') was successful." % group in \
        consumer_groups(bootstrap, "--delete", "--group", group)


@pytest.fixture
def zookeeper(tmp_path):
    """Burrow keeps its own state in ZooKeeper: one from the jars Apache Kafka
    3.9 ships with (Kafka itself is pykbroker here)."""
    require_kafka_jars("3.9.1")
    from compat import kafka_jars
    from compat.jvm import java
    port = free_port()
    process = subprocess.Popen([java(), "-cp", kafka_jars.classpath("3.9.1"),
                                "org.apache.zookeeper.server.ZooKeeperServerMain", str(port),
                                str(tmp_path / "zookeeper")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: _accepts(port), message="ZooKeeper")
        yield f"127.0.0.1:{port}"
    finally:
        process.kill()
        process.wait()


def _accepts(port: int) -> bool:
    """ZooKeeper answers its "srvr" four-letter word once it serves sessions."""
    import socket
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as probe:
            probe.sendall(b"srvr")
            return b"Zookeeper version" in probe.recv(1024)
    except OSError:
        return False


BURROW_CONFIG = """
[general]
pidfile="{dir}/burrow.pid"
[logging]
filename="{dir}/burrow.log"
level="info"
[zookeeper]
servers=["{zookeeper}"]
root-path="/burrow"
[client-profile.pykbroker]
client-id="burrow"
kafka-version="2.0.0"
[cluster.local]
class-name="kafka"
servers=["{bootstrap}"]
client-profile="pykbroker"
topic-refresh=1
offset-refresh=1
[consumer.local]
class-name="kafka"
cluster="local"
servers=["{bootstrap}"]
client-profile="pykbroker"
[httpserver.default]
address="127.0.0.1:{http_port}"
[storage.default]
class-name="inmemory"
intervals=10
min-distance=1
[evaluator.default]
class-name="caching"
expire-cache=1
"""


def test_burrow_reports_the_lag_of_a_group(broker, zookeeper, tmp_path):
    if shutil.which("Burrow") is None:
        pytest.skip("Burrow is not installed")
    bootstrap = broker.bootstrap_servers
    create_topic(bootstrap, "burrowed", 3)
    produce(bootstrap, "burrowed", [f"v{i}" for i in range(30)], 3)
    http_port = free_port()
    config_dir = tmp_path / "burrow"
    config_dir.mkdir()
    (config_dir / "burrow.toml").write_text(BURROW_CONFIG.format(
        dir=config_dir, zookeeper=zookeeper, bootstrap=bootstrap, http_port=http_port))
    burrow = subprocess.Popen(["Burrow", "--config-dir", str(config_dir)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)

    def get(path: str):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/v3/kafka/local{path}", timeout=2) as r:
                return json.load(r)
        except (OSError, ValueError):
            return None
    consumer = None
    try:
        # Burrow ignores commits for partitions whose end offsets it does not know yet.
        wait_for(lambda: (topic := get("/topic/burrowed")) and topic["offsets"] == [10, 10, 10], timeout=60,
                 message="Burrow's view of the topic")
        consumer = lagging_consumer(bootstrap, "burrowed", "burrowed-group")
        lag = wait_for(lambda: (lag := get("/consumer/burrowed-group/lag")) and not lag["error"]
                       and len(lag["status"]["partitions"]) == 3 and lag, timeout=60, message="Burrow's lag")
        status = lag["status"]
        assert {p["partition"]: p["current_lag"] for p in status["partitions"]} == LAGS
        assert {p["partition"]: p["end"]["offset"] for p in status["partitions"]} == COMMITTED
        assert status["totallag"] == sum(LAGS.values())
        assert status["status"] in ("OK", "WARN", "ERR", "STOP", "STALL", "REWIND")
        assert "burrowed-group" in get("/consumer")["consumers"]
    finally:
        if consumer is not None:
            consumer.close()
        burrow.terminate()
        burrow.wait(30)
