"""Consumer group members in their own processes (group_member.py for the
Python clients, java/GroupMember.java for the Java client), and the checks
the group tests make of what they report."""
from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.broker.rawapi import wait_for

ROOT = Path(__file__).resolve().parents[2]
JAVA_SOURCE = Path(__file__).parent / "java" / "GroupMember.java"


def java_classpath() -> str:
    """kafka-clients (4.x, from compat.kafka_jars) and GroupMember compiled
    once per source, in the cache next to Kafka's jars."""
    from compat import kafka_jars
    classpath = kafka_jars.classpath()
    digest = hashlib.sha256(JAVA_SOURCE.read_bytes() + classpath.encode()).hexdigest()[:16]
    classes = kafka_jars.cache_dir() / f"group-member-{digest}"
    if not (classes / "GroupMember.class").exists():
        partial = classes.with_suffix(f".{os.getpid()}")
        partial.mkdir(parents=True, exist_ok=True)
        subprocess.run(["javac", "-d", str(partial), "-cp", classpath, str(JAVA_SOURCE)], check=True,
                       capture_output=True)
        shutil.rmtree(classes, ignore_errors=True)
        partial.rename(classes)
    return f"{classpath}{os.pathsep}{classes}"


class Member:
    """One member process. ``owned`` follows its ASSIGNED/REVOKED/LOST
    reports; ``intervals`` keeps when it owned each partition."""

    def __init__(self, client: str, bootstrap: str, topic: str, group: str, *configs: str):
        if client == "java":
            from compat.jvm import java
            command = [java(), "-cp", java_classpath(), "GroupMember", bootstrap, topic, group, *configs]
        else:
            command = [sys.executable, "-m", "tests.clients.group_member", client, bootstrap, topic, group, *configs]
        self.name = f"{client}:{group}"
        self.process = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, text=True)
        self.records: list[tuple[int, int, str]] = []
        self.owned: set[int] = set()
        self.intervals: list[tuple[int, float, float | None]] = []  # (partition, from ms, to ms)
        self.events: list[str] = []
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            words = line.split()
            if not words:
                continue
            with self.lock:
                self.events.append(words[0])
                if words[0] == "RECORD":
                    self.records.append((int(words[1]), int(words[2]), words[3]))
                elif words[0] in ("ASSIGNED", "REVOKED", "LOST"):
                    at = int(words[1])
                    partitions = {int(p) for p in words[2].split(",")} if len(words) > 2 else set()
                    if words[0] == "ASSIGNED":
                        self.owned |= partitions
                        self.intervals += [(p, at, None) for p in sorted(partitions)]
                    else:
                        self.owned -= partitions
                        self._close_intervals(partitions, at)

    def _close_intervals(self, partitions, at: float) -> None:
        self.intervals = [(p, start, at if end is None and p in partitions else end)
                          for p, start, end in self.intervals]

    def values(self) -> list[str]:
        with self.lock:
            return [value for _, _, value in self.records]

    def idle_and_committed(self) -> bool:
        """Everything it processed is committed: its last report after a record is COMMITTED."""
        with self.lock:
            if "RECORD" not in self.events:
                return True
            last_record = len(self.events) - 1 - self.events[::-1].index("RECORD")
            return "COMMITTED" in self.events[last_record:]

    def close(self, timeout: float = 60) -> None:
        if self.process.poll() is None:
            self.process.stdin.write("close\n")
            self.process.stdin.flush()
            self.process.wait(timeout)
        self.reader.join(timeout)

    def kill(self) -> float:
        """SIGKILL: no LeaveGroup, no commit. Returns when (ms) it died."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        died = time.time() * 1000
        with self.lock:
            self._close_intervals(set(self.owned), died)
            self.owned = set()
        return died

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def wait_for_balance(members: list[Member], partitions: int, timeout: float = 60) -> None:
    """Until every partition is owned by exactly one member, as evenly as possible."""
    def balanced():
        owned = [m.owned for m in members]
        counts = sorted(len(o) for o in owned)
        return (sum(counts) == partitions and set().union(*owned) == set(range(partitions))
                and counts[-1] - counts[0] <= 1)
    wait_for(balanced, timeout=timeout, interval=0.1,
             message=f"{partitions} partitions shared by {len(members)} members")


def assert_one_owner_at_a_time(members: list[Member]) -> None:
    """No partition was ever owned by two members at once (by their own
    clocks: the processes share this machine's)."""
    by_partition: dict[int, list[tuple[float, float, str]]] = {}
    now = time.time() * 1000
    for member in members:
        for partition, start, end in member.intervals:
            by_partition.setdefault(partition, []).append((start, now if end is None else end, member.name))
    for partition, intervals in by_partition.items():
        intervals.sort()
        for (_, end, owner), (start, _, successor) in zip(intervals, intervals[1:]):
            assert start >= end, f"partition {partition}: {successor} got it at {start} before {owner} " \
                                 f"gave it up at {end}"
