"""Apache Kafka's own tools against a cluster: kafka-topics --describe shows
the real leaders, replicas and ISR; kafka-leader-election moves leadership
back to preferred replicas. Needs Java (and Kafka's jars, which
``compat.kafka_jars`` fetches once)."""
from __future__ import annotations

import re
import shutil

import pytest

from .processes import wait_for

pytestmark = pytest.mark.skipif(shutil.which("java") is None, reason="needs Java for Kafka's tools")


def test_kafka_topics_and_kafka_leader_election(cluster):
    from compat.kafka_cli import run
    servers = ["--bootstrap-server", cluster.bootstrap_servers]
    created = run("kafka-topics", servers + ["--create", "--topic", "t", "--partitions", "3",
                                             "--replication-factor", "3", "--config", "min.insync.replicas=2"])
    assert created.returncode == 0, created.stderr
    refused = run("kafka-topics", servers + ["--create", "--topic", "u", "--replication-factor", "4"])
    assert "InvalidReplicationFactorException" in refused.stderr
    preferred = {p["partition_index"]: p["replica_nodes"][0] for p in cluster.wait_for_full_isr("t")}
    victim = preferred[0]
    cluster.kill(victim)
    wait_for(lambda: cluster.partitions("t")[0]["leader_id"] not in (victim, -1), 20, "another leader")

    described = run("kafka-topics", servers + ["--describe", "--topic", "t"]).stdout
    rows = {int(m["p"]): (int(m["leader"]), m["isr"]) for m in re.finditer(
        r"Partition: (?P<p>\d+)\s+Leader: (?P<leader>-?\d+)\s+Replicas: [\d,]+\s+Isr: (?P<isr>[\d,]+)", described)}
    assert rows[0][0] != victim and str(victim) not in rows[0][1].split(","), described

    cluster.start(victim)
    cluster.wait_for_full_isr("t")
    elected = run("kafka-leader-election", servers + ["--election-type", "preferred", "--all-topic-partitions"])
    assert "Successfully completed leader election (PREFERRED) for partitions t-0" in elected.stdout, elected
    assert {p["partition_index"]: p["leader_id"] for p in cluster.partitions("t")} == preferred
