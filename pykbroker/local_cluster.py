"""``pykbroker cluster``: a cluster of several brokers on this machine in one
command, each broker its own process (so that one can be killed, paused or
restarted on its own), with its own ports, data directory and
``server.properties`` under one directory.

Node ids are 1..N. Broker i listens on PORT+i-1 and its metadata quorum
voter on PORT+100+i-1 (combined mode, as Kafka's quickstart runs
process.roles=broker,controller). With ``--controllers C`` the quorum is
instead C dedicated controller processes, ids N+1..N+C, on PORT+100+N..
Running the command again with the same directory restarts the same
cluster with its data.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time

from .cluster.metadata import new_uuid, uuid_str


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="pykbroker cluster",
        description="Start a multi-broker cluster on this machine, one process per node.")
    parser.add_argument("--brokers", type=int, default=3, help="number of brokers (default 3)")
    parser.add_argument("--controllers", type=int, default=0,
                        help="dedicated controller processes (default 0: the brokers are the quorum voters)")
    parser.add_argument("--port", type=int, default=9092, help="first broker port (default 9092)")
    parser.add_argument("--host", default="localhost", help="host to listen on and advertise (default localhost)")
    parser.add_argument("--dir", default="pykbroker-cluster", help="data directory (default ./pykbroker-cluster)")
    parser.add_argument("--override", action="append", default=[], metavar="NAME=VALUE",
                        help="a property for every node (repeatable)")
    parser.add_argument("--log-level", default=None, help="passed to every node")
    args = parser.parse_args(argv)
    if args.brokers < 1 or args.controllers < 0:
        parser.error("--brokers must be at least 1 and --controllers at least 0")
    return args


def node_properties(args: argparse.Namespace, cluster_id: str) -> dict[int, dict[str, str]]:
    """The server.properties of every node, by node id."""
    brokers = list(range(1, args.brokers + 1))
    controllers = list(range(args.brokers + 1, args.brokers + args.controllers + 1)) if args.controllers else brokers
    quorum_port = {node: args.port + 100 + node - 1 for node in set(brokers) | set(controllers)}
    voters = ",".join(f"{node}@{args.host}:{quorum_port[node]}" for node in controllers)
    factor = str(min(3, args.brokers))
    nodes = {}
    for node in sorted(set(brokers) | set(controllers)):
        roles = [role for role, members in (("broker", brokers), ("controller", controllers)) if node in members]
        listeners = []
        if node in brokers:
            listeners.append(f"PLAINTEXT://{args.host}:{args.port + node - 1}")
        if node in controllers:
            listeners.append(f"CONTROLLER://{args.host}:{quorum_port[node]}")
        props = {
            "node.id": str(node), "process.roles": ",".join(roles), "listeners": ",".join(listeners),
            "controller.listener.names": "CONTROLLER", "controller.quorum.voters": voters,
            "log.dirs": os.path.abspath(os.path.join(args.dir, f"node-{node}", "data")), "cluster.id": cluster_id,
            # Replicated by default, as a production cluster is (Kafka's defaults are for one broker).
            "default.replication.factor": factor, "offsets.topic.replication.factor": factor,
            "transaction.state.log.replication.factor": factor,
            "transaction.state.log.min.isr": str(min(2, int(factor))),
        }
        for item in args.override:
            name, sep, value = item.partition("=")
            if not sep:
                raise SystemExit(f"pykbroker cluster: --override expects NAME=VALUE, got {item!r}")
            props[name.strip()] = value
        nodes[node] = props
    return nodes


def _cluster_id(directory: str) -> str:
    path = os.path.join(directory, "cluster.id")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            return f.read().strip()
    cluster_id = uuid_str(new_uuid())
    with open(path, "w", encoding="utf-8") as f:
        f.write(cluster_id + "\n")
    return cluster_id


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    os.makedirs(args.dir, exist_ok=True)
    nodes = node_properties(args, _cluster_id(args.dir))
    commands = {}
    for node, props in nodes.items():
        node_dir = os.path.join(args.dir, f"node-{node}")
        os.makedirs(node_dir, exist_ok=True)
        path = os.path.join(node_dir, "server.properties")
        with open(path, "w", encoding="utf-8") as f:
            f.write("".join(f"{k}={v}\n" for k, v in props.items()))
        commands[node] = [sys.executable, "-m", "pykbroker", path] + (
            ["--log-level", args.log_level] if args.log_level else [])
    processes = {node: subprocess.Popen(command) for node, command in commands.items()}
    bootstrap = ",".join(f"{args.host}:{args.port + n - 1}" for n in range(1, args.brokers + 1))
    print(f"pykbroker cluster: {args.brokers} brokers, bootstrap servers {bootstrap}", flush=True)
    for node, process in processes.items():
        print(f"  node {node} (pid {process.pid}, {nodes[node]['process.roles']}): "
              f"{' '.join(commands[node][1:])}", flush=True)

    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not stopping:
        for node, process in list(processes.items()):
            if process.poll() is not None:
                print(f"pykbroker cluster: node {node} exited with status {process.returncode}; restart it "
                      f"with: {' '.join(commands[node][1:])}", flush=True)
                del processes[node]
        time.sleep(0.2)
    # Brokers first, so that their controlled shutdown finds the quorum up.
    for group in ([n for n in processes if "broker" in nodes[n]["process.roles"]],
                  [n for n in processes if "broker" not in nodes[n]["process.roles"]]):
        for node in group:
            processes[node].send_signal(signal.SIGTERM)
        for node in group:
            processes[node].wait()
    return 0
