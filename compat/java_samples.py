"""Build and run the classic Java samples in compat/java/ against any broker:
SimpleProducer ("login" to click_log, no key), ProducerWithKey (key "1") and
SimpleConsumer (group click_log_group, prints each value), once per kafka-clients
line: "3.9" (3.9.1, poll(long)) and "4" (4.4.0, poll(Duration)).

    with ConsumerSample(kafka.bootstrap_servers, max_records=1) as consumer:
        consumer.wait_for_assignment()
        produce(kafka.bootstrap_servers)
        assert consumer.wait() == ["login"]

    python -m compat.java_samples SimpleProducer 127.0.0.1:9092 [--line 3.9]
"""
from __future__ import annotations

import argparse
import fcntl
import hashlib
import os
import re
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from .jvm import FAST_START, java

JAVA_DIR = Path(__file__).parent / "java"
LINES = ("3.9", "4")
SAMPLES = ("SimpleProducer", "ProducerWithKey", "SimpleConsumer")

# The consumer logs (slf4j-simple, INFO, stderr) its assignment and then, per
# partition, the position it starts from; only after that is a record sent now
# sure to be read, since the sample starts at the latest offset.
ASSIGNED = re.compile(r"Adding newly assigned partitions: \[?([^\]\n]*)")
POSITIONED = re.compile(r"(?:Resetting|Setting) offset for partition (\S+) to ")


def build() -> None:
    """mvn package both modules, unless their sources are unchanged since the last build."""
    stamp = JAVA_DIR / "target" / "sources.sha256"
    digest = _sources_digest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    stamp.parent.mkdir(exist_ok=True)
    with open(stamp.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.exists() and stamp.read_text() == digest:
            return
        result = subprocess.run(["mvn", "-q", "-B", "package"], cwd=JAVA_DIR, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"mvn package failed in {JAVA_DIR}:\n{result.stdout[-4000:]}{result.stderr[-4000:]}")
        stamp.write_text(digest)


def classpath(line: str = "4") -> str:
    build()
    target = JAVA_DIR / f"clients-{line}" / "target"
    return os.pathsep.join([*map(str, target.glob("kafka-samples-*.jar")), str(target / "lib" / "*")])


def command(sample: str, bootstrap_servers: str, args: Sequence[object] = (), line: str = "4") -> list[str]:
    if sample not in SAMPLES or line not in LINES:
        raise ValueError(f"samples: {SAMPLES}, lines: {LINES}")
    return [java(), *FAST_START, f"-Dbootstrap.servers={bootstrap_servers}",
            "-cp", classpath(line), f"samples.{sample}", *map(str, args)]


def produce(bootstrap_servers: str, keyed: bool = False, line: str = "4",
            timeout: float = 60) -> subprocess.CompletedProcess:
    """Run SimpleProducer (or ProducerWithKey) once: one "login" record to click_log."""
    sample = "ProducerWithKey" if keyed else "SimpleProducer"
    return subprocess.run(command(sample, bootstrap_servers, line=line), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout)


class ConsumerSample:
    """SimpleConsumer in the background until it has printed ``max_records``
    values or ``seconds`` have passed (its own two optional arguments)."""

    def __init__(self, bootstrap_servers: str, max_records: int, seconds: int = 60, line: str = "4"):
        self.argv = command("SimpleConsumer", bootstrap_servers, (max_records, seconds), line)
        self.values: list[str] = []
        self.log: list[str] = []
        self._changed = threading.Condition()
        self._process: subprocess.Popen | None = None
        self._readers: list[threading.Thread] = []

    def start(self) -> "ConsumerSample":
        self._process = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, text=True)
        self._readers = [threading.Thread(target=self._read, args=(stream, lines), daemon=True)
                         for stream, lines in ((self._process.stdout, self.values),
                                               (self._process.stderr, self.log))]
        for reader in self._readers:
            reader.start()
        return self

    def wait_for_assignment(self, timeout: float = 60) -> set[str]:
        """Until every partition assigned has its starting position; the partitions."""
        def positioned() -> set[str] | None:
            text = "\n".join(self.log)
            assigned = {p for match in ASSIGNED.findall(text) for p in match.split(", ") if p}
            if assigned and assigned <= set(POSITIONED.findall(text)):
                return assigned
            if self._process.poll() is not None:
                raise RuntimeError(f"SimpleConsumer exited with {self._process.returncode}:\n{text[-4000:]}")
            return None

        with self._changed:
            partitions = self._changed.wait_for(positioned, timeout)
        if not partitions:
            raise TimeoutError(f"SimpleConsumer got no assignment in {timeout}s:\n" + "\n".join(self.log[-40:]))
        return partitions

    def wait(self, timeout: float | None = None) -> list[str]:
        """Wait for the sample to exit; the values it printed."""
        self._process.wait(timeout)
        for reader in self._readers:
            reader.join()
        return self.values

    @property
    def returncode(self) -> int | None:
        return self._process.returncode if self._process else None

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    def __enter__(self) -> "ConsumerSample":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _read(self, stream, lines: list[str]) -> None:
        for line in stream:
            with self._changed:
                lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()  # an exit wakes wait_for_assignment too


def _sources_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(JAVA_DIR.rglob("*")):
        if path.is_file() and "target" not in path.relative_to(JAVA_DIR).parts:
            digest.update(str(path.relative_to(JAVA_DIR)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def main() -> int:
    parser = argparse.ArgumentParser(description="Run one of the classic Java samples.")
    parser.add_argument("sample", choices=SAMPLES)
    parser.add_argument("bootstrap_servers", nargs="?", default="localhost:9092")
    parser.add_argument("args", nargs="*", help="SimpleConsumer: [max_records [seconds]]")
    parser.add_argument("--line", choices=LINES, default="4", help="kafka-clients line")
    options = parser.parse_args()
    return subprocess.call(command(options.sample, options.bootstrap_servers, options.args, options.line))


if __name__ == "__main__":
    sys.exit(main())
