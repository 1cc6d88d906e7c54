"""``pykbroker cluster --brokers 3``: a cluster on this machine in one command."""
from __future__ import annotations

import random
import signal
import socket
import subprocess
import sys

from tests.support.rawclient import RawClient

from .processes import CREATE_TOPICS, METADATA, wait_for


def free_port_range() -> int:
    """A base port with base..base+2 and base+100..base+102 free."""
    for _ in range(100):
        base = random.randrange(20000, 60000)
        try:
            sockets = []
            for port in (base, base + 1, base + 2, base + 100, base + 101, base + 102):
                s = socket.socket()
                s.bind(("127.0.0.1", port))
                sockets.append(s)
            return base
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise RuntimeError("no free ports")


def test_cluster_command_starts_three_brokers_and_stops_them(tmp_path):
    base = free_port_range()
    process = subprocess.Popen([sys.executable, "-m", "pykbroker", "cluster", "--brokers", "3", "--port", str(base),
                                "--host", "127.0.0.1", "--dir", str(tmp_path)],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        first = process.stdout.readline()
        bootstrap = f"127.0.0.1:{base},127.0.0.1:{base + 1},127.0.0.1:{base + 2}"
        assert bootstrap in first

        def metadata():
            with RawClient("127.0.0.1", base) as c:
                return c.request(METADATA, 12, {"topics": None, "allow_auto_topic_creation": False,
                                                "include_topic_authorized_operations": False})
        wait_for(lambda: sorted(b["port"] for b in metadata()["brokers"]) == [base, base + 1, base + 2], 30,
                 "three brokers")
        with RawClient("127.0.0.1", base + 1) as c:
            created = c.request(CREATE_TOPICS, 7, {"topics": [{"name": "t", "num_partitions": 3,
                                                               "replication_factor": -1, "assignments": [],
                                                               "configs": []}],
                                                   "timeout_ms": 30000, "validate_only": False})
        # Replicated three times by default, as a real cluster is.
        assert (created["topics"][0]["error_code"], created["topics"][0]["replication_factor"]) == (0, 3)
        assert (tmp_path / "node-2" / "server.properties").exists()
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == 0
