"""Clusters of real broker processes for failover tests: each node is
``python -m pykbroker server.properties`` on free 127.0.0.1 ports with its own
data directory, so that it can be SIGKILLed, SIGSTOPped and restarted."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from typing import Callable

from pykbroker.errors import ErrorCode
from tests.support.rawclient import RawClient
from wire import records
from wire.records import Record

PRODUCE, FETCH, LIST_OFFSETS, METADATA, CREATE_TOPICS = 0, 1, 2, 3, 19

# Failure detection in seconds rather than Kafka's tens of seconds.
FAST = {
    "broker.session.timeout.ms": "2000",
    "broker.heartbeat.interval.ms": "200",
    "replica.lag.time.max.ms": "2000",
    "replica.fetch.backoff.ms": "100",
    "replica.fetch.wait.max.ms": "200",
    "controller.quorum.election.timeout.ms": "500",
    "group.initial.rebalance.delay.ms": "0",
    "log.flush.offset.checkpoint.interval.ms": "1000",
}


def free_ports(count: int) -> list[int]:
    sockets = []
    for _ in range(count):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        sockets.append(s)
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def wait_for(condition: Callable[[], object], timeout: float, message: str, interval: float = 0.05):
    """Poll ``condition`` until it returns something true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            result = condition()
            if result:
                return result
        except (OSError, ConnectionError, AssertionError) as e:
            last_error = e
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message} (last error: {last_error})")


class ProcessCluster:
    def __init__(self, directory, brokers: int = 3, controllers: int = 0, **properties: str):
        self.directory = str(directory)
        os.makedirs(self.directory, exist_ok=True)
        self.broker_ids = list(range(1, brokers + 1))
        self.controller_ids = list(range(brokers + 1, brokers + controllers + 1)) if controllers else self.broker_ids
        nodes = sorted(set(self.broker_ids) | set(self.controller_ids))
        ports = free_ports(2 * len(nodes))
        self.ports = {node: ports[2 * i] for i, node in enumerate(nodes)}
        self.quorum_ports = {node: ports[2 * i + 1] for i, node in enumerate(nodes)}
        voters = ",".join(f"{n}@127.0.0.1:{self.quorum_ports[n]}" for n in self.controller_ids)
        self.properties = {}
        for node in nodes:
            roles = [r for r, members in (("broker", self.broker_ids), ("controller", self.controller_ids))
                     if node in members]
            listeners = ([f"PLAINTEXT://127.0.0.1:{self.ports[node]}"] if node in self.broker_ids else []) + (
                [f"CONTROLLER://127.0.0.1:{self.quorum_ports[node]}"] if node in self.controller_ids else [])
            props = {"node.id": str(node), "process.roles": ",".join(roles), "listeners": ",".join(listeners),
                     "controller.listener.names": "CONTROLLER", "controller.quorum.voters": voters,
                     "log.dirs": os.path.join(self.directory, f"node-{node}"), "cluster.id": "test-cluster-id",
                     **FAST, **properties}
            self.properties[node] = props
        self.processes: dict[int, subprocess.Popen] = {}
        self.paused: set[int] = set()
        self._logs = {}

    # --- processes -------------------------------------------------------------------
    def start(self, *nodes: int) -> None:
        for node in nodes or self.properties:
            path = os.path.join(self.directory, f"node-{node}.properties")
            with open(path, "w") as f:
                f.write("".join(f"{k}={v}\n" for k, v in self.properties[node].items()))
            log_file = open(os.path.join(self.directory, f"node-{node}.log"), "a")
            self._logs[node] = log_file
            self.processes[node] = subprocess.Popen([sys.executable, "-m", "pykbroker", path],
                                                    stdout=log_file, stderr=subprocess.STDOUT)

    def kill(self, node: int) -> None:
        self.processes[node].kill()
        self.processes[node].wait()
        self.paused.discard(node)

    def pause(self, node: int) -> None:
        self.processes[node].send_signal(signal.SIGSTOP)
        self.paused.add(node)

    def resume(self, node: int) -> None:
        self.processes[node].send_signal(signal.SIGCONT)
        self.paused.discard(node)

    def terminate(self, node: int, timeout: float = 30) -> int:
        process = self.processes[node]
        self.resume(node)
        process.terminate()
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"node {node} did not stop; its log ends with:\n{self.log(node)[-3000:]}") from None

    def running(self, node: int) -> bool:
        process = self.processes.get(node)
        return process is not None and process.poll() is None

    def close(self) -> None:
        for node in list(self.processes):
            if self.running(node):
                self.processes[node].send_signal(signal.SIGCONT)
                self.processes[node].kill()
                self.processes[node].wait()
        for f in self._logs.values():
            f.close()

    def log_bytes(self, node: int, topic: str, partition: int) -> bytes:
        """A replica's whole log as it is on disk, its segments concatenated."""
        path = os.path.join(self.properties[node]["log.dirs"], f"{topic}-{partition}")
        data = b""
        for name in sorted(n for n in os.listdir(path) if n.endswith(".log")):
            with open(os.path.join(path, name), "rb") as f:
                data += f.read()
        return data

    def log(self, node: int) -> str:
        with open(os.path.join(self.directory, f"node-{node}.log")) as f:
            return f.read()

    # --- clients ---------------------------------------------------------------------
    @property
    def bootstrap_servers(self) -> str:
        return ",".join(f"127.0.0.1:{self.ports[n]}" for n in self.broker_ids)

    def client(self, node: int | None = None) -> RawClient:
        """A connection to ``node``, or to the first live broker that accepts one."""
        candidates = [node] if node is not None else [n for n in self.broker_ids
                                                      if self.running(n) and n not in self.paused]
        for n in candidates:
            try:
                return RawClient("127.0.0.1", self.ports[n], timeout=10)
            except OSError:
                continue
        raise ConnectionError("no broker accepts connections")

    def metadata(self, topics=None, node: int | None = None) -> dict:
        with self.client(node) as c:
            return c.request(METADATA, 12, {
                "topics": None if topics is None else [{"name": t, "topic_id": bytes(16)} for t in topics],
                "allow_auto_topic_creation": False, "include_topic_authorized_operations": False})

    def partitions(self, topic: str, node: int | None = None) -> list[dict]:
        topics = self.metadata([topic], node)["topics"]
        assert topics[0]["error_code"] == ErrorCode.NONE, topics
        return sorted(topics[0]["partitions"], key=lambda p: p["partition_index"])

    def create_topic(self, name: str, partitions: int, replication_factor: int, **configs: str) -> dict:
        with self.client() as c:
            response = c.request(CREATE_TOPICS, 7, {
                "topics": [{"name": name, "num_partitions": partitions, "replication_factor": replication_factor,
                            "assignments": [], "configs": [{"name": k, "value": v} for k, v in configs.items()]}],
                "timeout_ms": 30000, "validate_only": False})
        return response["topics"][0]

    def wait_until_started(self, timeout: float = 30) -> None:
        """Every broker registered and unfenced (listed in Metadata)."""
        wanted = {n for n in self.broker_ids if self.running(n) and n not in self.paused}
        wait_for(lambda: {b["node_id"] for b in self.metadata()["brokers"]} >= wanted, timeout,
                 f"brokers {sorted(wanted)} to be up")

    def wait_for_full_isr(self, topic: str, timeout: float = 30) -> list[dict]:
        """Every partition led, with all its replicas in sync."""
        return wait_for(lambda: (ps := self.partitions(topic)) and all(
            p["leader_id"] >= 0 and sorted(p["isr_nodes"]) == sorted(p["replica_nodes"]) for p in ps) and ps,
            timeout, f"all replicas of {topic} in sync")

    def controller(self) -> int:
        return self.metadata()["controller_id"]


def batch(*values: bytes) -> bytes:
    now = int(time.time() * 1000)
    return records.build_batch([Record(i, now, None, v) for i, v in enumerate(values)])


def produce(client: RawClient, topic: str, partition: int, data: bytes, acks: int = -1,
            timeout_ms: int = 5000) -> dict:
    """One Produce request; its partition response."""
    response = client.request(PRODUCE, 9, {"acks": acks, "timeout_ms": timeout_ms, "topic_data": [
        {"name": topic, "partition_data": [{"index": partition, "records": data}]}]})
    return response["responses"][0]["partition_responses"][0]


def fetch_values(client: RawClient, topic: str, partition: int, offset: int = 0) -> list[bytes]:
    """Every record value a consumer can read from the leader ``client`` talks to."""
    values = []
    while True:
        response = client.request(FETCH, 11, {
            "replica_id": -1, "max_wait_ms": 0, "min_bytes": 0, "max_bytes": 1 << 24, "isolation_level": 0,
            "session_id": 0, "session_epoch": -1, "forgotten_topics_data": [], "rack_id": "",
            "topics": [{"topic": topic, "partitions": [{"partition": partition, "current_leader_epoch": -1,
                                                        "fetch_offset": offset, "log_start_offset": -1,
                                                        "partition_max_bytes": 1 << 24}]}]})
        result = response["responses"][0]["partitions"][0]
        assert result["error_code"] == ErrorCode.NONE, result
        data = result["records"]
        decoded = [r for pos, _, _ in records.batch_spans(data) for r in records.decode_records(data, pos)
                   if r.offset >= offset]
        if not decoded:
            return values
        values += [r.value for r in decoded]
        offset = decoded[-1].offset + 1
