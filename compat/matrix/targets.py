"""The brokers the matrix runs against, each started fresh on a free port of
127.0.0.1: pykbroker as its command line starts it (a separate process, as a
user runs it), Apache Kafka from the Maven jars (compat.apache_kafka), or a
broker someone else runs (--bootstrap).

Both started brokers run with group.initial.rebalance.delay.ms=0, so that each
scenario's fresh group forms at once instead of after Kafka's 3 s default.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .. import kafka_jars
from ..apache_kafka import ApacheKafka, _lists_a_broker, free_port

BROKER_PROPERTIES = {"group.initial.rebalance.delay.ms": "0"}
REPOSITORY = Path(__file__).resolve().parents[2]


class PykbrokerTarget:
    name = "pykbroker"

    def __init__(self, properties: dict[str, str] | None = None):
        self.properties = {**BROKER_PROPERTIES, **(properties or {})}
        self.run_dir = Path(tempfile.mkdtemp(prefix="matrix-pykbroker-"))
        self.log_path = self.run_dir / "broker.log"
        self.port = 0
        self._process: subprocess.Popen | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def version(self) -> str:
        from pykbroker import __version__
        def git(*args: str) -> str:
            return subprocess.run(["git", *args], cwd=REPOSITORY, capture_output=True, text=True).stdout.strip()
        commit = git("rev-parse", "--short", "HEAD")
        # The broker's code only: the results this run writes do not count.
        dirty = " + uncommitted changes" if git("status", "--porcelain", "--", "pykbroker", "wire") else ""
        return f"pykbroker {__version__}" + (f" ({commit}{dirty})" if commit else "")

    def start(self, timeout: float = 60) -> "PykbrokerTarget":
        self.port = self.port or free_port()
        overrides = {"listeners": f"PLAINTEXT://{self.bootstrap_servers}",
                     "log.dirs": str(self.run_dir / "data"), **self.properties}
        argv = [sys.executable, "-m", "pykbroker"]
        for name, value in overrides.items():
            argv += ["--override", f"{name}={value}"]
        with open(self.log_path, "ab") as log:
            self._process = subprocess.Popen(argv, cwd=REPOSITORY, stdin=subprocess.DEVNULL, stdout=log,
                                             stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while not _lists_a_broker("127.0.0.1", self.port):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"pykbroker did not start:\n{self.log_tail()}")
            try:
                self._process.wait(0.1)
            except subprocess.TimeoutExpired:
                pass
        return self

    def for_version(self, kafka_version: str | None) -> "PykbrokerTarget":
        return self

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def log_size(self) -> int:
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def log_since(self, position: int) -> str:
        """What the broker logged after ``position``: its warnings, errors and tracebacks."""
        with open(self.log_path, "rb") as log:
            log.seek(position)
            text = log.read().decode(errors="replace")
        keep = [line for line in text.splitlines()
                if any(word in line for word in ("WARNING", "ERROR", "Traceback", "Error", "    "))]
        return "\n".join(keep[-40:])

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.run_dir, ignore_errors=True)


class KafkaTarget:
    name = "kafka"

    def __init__(self, version: str = kafka_jars.DEFAULT_VERSION):
        self.kafka = ApacheKafka(version=version, properties=dict(BROKER_PROPERTIES))
        self._older: dict[str, KafkaTarget] = {}

    @property
    def bootstrap_servers(self) -> str:
        return self.kafka.bootstrap_servers

    @property
    def version(self) -> str:
        return f"Apache Kafka {self.kafka.version}"

    def start(self) -> "KafkaTarget":
        self.kafka.start()
        return self

    def for_version(self, kafka_version: str | None) -> "KafkaTarget":
        """This broker, or one of ``kafka_version`` started beside it on first use."""
        if kafka_version is None or kafka_version == self.kafka.version:
            return self
        if kafka_version not in self._older:
            self._older[kafka_version] = KafkaTarget(kafka_version).start()
        return self._older[kafka_version]

    def alive(self) -> bool:
        return self.kafka.pid is not None and self.kafka._process.poll() is None

    def log_size(self) -> int:
        return 0

    def log_since(self, position: int) -> str:
        return ""

    def log_tail(self, lines: int = 30) -> str:
        return self.kafka._log_excerpt()

    def close(self) -> None:
        for older in self._older.values():
            older.close()
        self.kafka.close()


class ExternalTarget:
    """A broker already running at ``bootstrap_servers``: nothing to start or stop."""
    name = "external"

    def __init__(self, bootstrap_servers: str, name: str = "external"):
        self.bootstrap_servers = bootstrap_servers
        self.name = name
        self.version = f"{name} at {bootstrap_servers}"

    def start(self) -> "ExternalTarget":
        return self

    def for_version(self, kafka_version: str | None) -> "ExternalTarget":
        return self

    def alive(self) -> bool:
        return True

    def log_size(self) -> int:
        return 0

    def log_since(self, position: int) -> str:
        return ""

    def log_tail(self, lines: int = 30) -> str:
        return ""

    def close(self) -> None:
        pass


def make(name: str):
    if name == "pykbroker":
        return PykbrokerTarget()
    if name == "kafka":
        return KafkaTarget()
    raise ValueError(f"unknown target {name!r}: pykbroker or kafka")
