"""The two brokers under test, started the way a developer starts them, each
on a free port of 127.0.0.1 with a fresh data directory:

- pykbroker: ``python -m pykbroker --override listeners=... --override log.dirs=...``
  from this source tree, with its defaults;
- Apache Kafka: single-node KRaft from the Maven jars (``compat.apache_kafka``),
  the distribution's server.properties and KAFKA_HEAP_OPTS' -Xmx1G -Xms1G.

``start()`` returns when the broker has acknowledged a first produce, with the
start-up timings; ``pid`` is the process whose memory and CPU are measured.
"""
from __future__ import annotations

import compileall
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import NamedTuple

from compat import kafka_jars
from compat.apache_kafka import ApacheKafka, free_port

from .protocol import time_startup

HOST = "127.0.0.1"
REPO = Path(__file__).resolve().parent.parent


class Startup(NamedTuple):
    """Seconds from the broker process's launch to serving."""
    api_versions: float
    first_produce: float


class Pykbroker:
    name = "pykbroker"

    def __init__(self):
        self.port = 0
        self.process: subprocess.Popen | None = None
        self.run_dir: Path | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def start(self) -> Startup:
        # Timed as pip leaves an installed broker, its bytecode compiled: with
        # PYTHONDONTWRITEBYTECODE set, every start would compile what changed.
        for package in ("pykbroker", "wire"):
            compileall.compile_dir(REPO / package, quiet=1)
        self.port = free_port(HOST)
        self.run_dir = Path(tempfile.mkdtemp(prefix="bench-pykbroker-"))
        with open(self.run_dir / "broker.log", "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "pykbroker",
                 "--override", f"listeners=PLAINTEXT://{self.bootstrap_servers}",
                 "--override", f"log.dirs={self.run_dir / 'data'}"],
                cwd=REPO, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        launched = time.monotonic()
        try:
            return Startup(*time_startup(HOST, self.port, launched, lambda: self.process.poll() is None))
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self.run_dir is not None:
            shutil.rmtree(self.run_dir, ignore_errors=True)
            self.run_dir = None


class Kafka:
    name = "kafka"

    def __init__(self, heap: str = "1G", version: str = kafka_jars.DEFAULT_VERSION):
        self.heap = heap
        self.version = version
        self.kafka: ApacheKafka | None = None

    @property
    def bootstrap_servers(self) -> str:
        return self.kafka.bootstrap_servers

    @property
    def pid(self) -> int:
        return self.kafka.pid

    def start(self) -> Startup:
        """Timed from the launch of the broker JVM: kafka-storage format, a
        one-off step before a new data directory's first start, comes before."""
        kafka = self.kafka = ApacheKafka(port=free_port(HOST), heap=self.heap, version=self.version, host=HOST)
        failure: list[BaseException] = []

        def start() -> None:
            try:
                kafka.start()
            except BaseException as e:
                failure.append(e)

        starter = threading.Thread(target=start, daemon=True)
        starter.start()
        # ApacheKafka.start formats, launches, then polls Metadata; the probe
        # below times the same moments as for pykbroker from the launch on.
        while kafka.pid is None and starter.is_alive():
            time.sleep(0.001)
        launched = time.monotonic()
        if kafka.pid is None:
            raise RuntimeError(f"Apache Kafka did not start: {failure[0] if failure else '?'}")
        try:
            startup = Startup(*time_startup(HOST, kafka.port, launched, lambda: _running(kafka.pid)))
            starter.join()
            if failure:
                raise failure[0]
            return startup
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self.kafka is not None:
            self.kafka.close()
            self.kafka = None


def _running(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def make(name: str, kafka_heap: str = "1G"):
    return Pykbroker() if name == "pykbroker" else Kafka(heap=kafka_heap)


def rss_mb(pid: int) -> float:
    """Resident memory of a process (VmRSS), MB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User and system CPU time the process has used so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def run_queue_seconds(pid: int) -> float:
    """Time the process's threads have spent runnable but waiting for a CPU (schedstat)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            pass  # a thread that ended meanwhile
    return total / 1e9


def machine_busy_seconds() -> float:
    """CPU time all cores of the machine have spent busy so far (from /proc/stat)."""
    with open("/proc/stat") as stat:
        fields = [int(x) for x in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / _TICKS


class ProcessMeter:
    """While open: the peak resident memory of ``pid`` (sampled every 50 ms), its
    CPU time and the time it waited for a CPU (a sign of a machine busy with
    other work, or of clients and broker competing for the cores)."""

    def __init__(self, pid: int, interval: float = 0.05):
        self.pid = pid
        self.interval = interval
        self.peak_rss_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> "ProcessMeter":
        self.started = time.monotonic()
        self.cpu_start = cpu_seconds(self.pid)
        self.waited_start = run_queue_seconds(self.pid)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.seconds = time.monotonic() - self.started
        self.cpu = cpu_seconds(self.pid) - self.cpu_start
        self.waited = run_queue_seconds(self.pid) - self.waited_start

    def _sample(self) -> None:
        while True:
            try:
                self.peak_rss_mb = max(self.peak_rss_mb, rss_mb(self.pid))
            except (OSError, RuntimeError):
                return
            if self._stop.wait(self.interval):
                return
