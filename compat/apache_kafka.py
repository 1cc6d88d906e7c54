"""A single-node KRaft Apache Kafka (broker and controller in one JVM), started
from the Maven Central jars the way a developer starts the binary distribution:
format the storage with kafka-storage, then ``kafka.Kafka server.properties``.

    with ApacheKafka() as kafka:
        run("kafka-topics", ["--bootstrap-server", kafka.bootstrap_servers, "--list"])

    python -m compat.apache_kafka [--port 9092] [--version 4.4.0]   # in the foreground
"""
from __future__ import annotations

import argparse
import atexit
import base64
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from . import kafka_cli, kafka_jars
from .jvm import java

# kafka-run-class.sh's KAFKA_JVM_PERFORMANCE_OPTS.
PERFORMANCE_OPTIONS = ("-server", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
                       "-XX:InitiatingHeapOccupancyPercent=35", "-XX:+ExplicitGCInvokesConcurrent",
                       "-Djava.awt.headless=true")

# What the distribution's single-node config/server.properties sets besides
# listeners, quorum and log.dirs. It leaves group.initial.rebalance.delay.ms at
# its default (3000 ms); pass properties={...} to change that or anything else.
SHIPPED_PROPERTIES = {
    "num.network.threads": "3",
    "num.io.threads": "8",
    "socket.send.buffer.bytes": "102400",
    "socket.receive.buffer.bytes": "102400",
    "socket.request.max.bytes": "104857600",
    "num.partitions": "1",
    "num.recovery.threads.per.data.dir": "1",
    "offsets.topic.replication.factor": "1",
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
    "share.coordinator.state.topic.replication.factor": "1",
    "share.coordinator.state.topic.min.isr": "1",
    "log.retention.hours": "168",
    "log.segment.bytes": "1073741824",
    "log.retention.check.interval.ms": "300000",
}


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


class ApacheKafka:
    def __init__(self, port: int = 0, log_dir: str | None = None,
                 version: str = kafka_jars.DEFAULT_VERSION, heap: str = "1G",
                 properties: dict[str, str] | None = None, host: str = "127.0.0.1"):
        """``port`` 0 picks a free one at the first start (kept across restarts);
        ``log_dir`` None keeps the data in the temporary run directory that close()
        (or leaving the with block) removes;
        ``heap`` is KAFKA_HEAP_OPTS' -Xmx/-Xms; ``properties`` override server.properties."""
        self.version = version
        self.host = host
        self.port = port
        self.heap = heap
        self.properties = dict(properties or {})
        self.run_dir = Path(tempfile.mkdtemp(prefix="apache-kafka-"))
        self.log_dir = Path(log_dir) if log_dir else self.run_dir / "data"
        self.server_log = self.run_dir / "server.log"
        self.controller_port = 0
        self._process: subprocess.Popen | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self, timeout: float = 120) -> "ApacheKafka":
        if self._process is not None:
            return self
        # Picked once: a restart finds the same address (and the quorum its voter).
        self.port = self.port or free_port(self.host)
        self.controller_port = self.controller_port or free_port(self.host)
        config = self.run_dir / "server.properties"
        config.write_text("".join(f"{key}={value}\n" for key, value in self._server_properties().items()))
        self._format(config, timeout)
        with open(self.server_log, "ab") as log:
            self._process = subprocess.Popen(
                [java(), f"-Xmx{self.heap}", f"-Xms{self.heap}", *PERFORMANCE_OPTIONS,
                 f"-Dkafka.logs.dir={self.run_dir}",
                 *kafka_jars.logging_options(self.version, "server"),
                 "-cp", kafka_jars.classpath(self.version), "kafka.Kafka", str(config)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)  # a terminal's Ctrl-C reaches only us; we stop Kafka in order
        atexit.register(self.close)
        try:
            self._wait_until_serving(time.monotonic() + timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM (Kafka's controlled shutdown), then SIGKILL past ``timeout``."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the JVM to exit on its own; its exit code."""
        return self._process.wait(timeout)

    def close(self) -> None:
        """Stop and remove the temporary directory (with the data, unless log_dir was given)."""
        self.stop()
        atexit.unregister(self.close)
        shutil.rmtree(self.run_dir, ignore_errors=True)

    def __enter__(self) -> "ApacheKafka":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def _server_properties(self) -> dict[str, str]:
        controller = f"{self.host}:{self.controller_port}"
        properties = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "listeners": f"PLAINTEXT://{self.bootstrap_servers},CONTROLLER://{controller}",
            "advertised.listeners": f"PLAINTEXT://{self.bootstrap_servers},CONTROLLER://{controller}",
            "inter.broker.listener.name": "PLAINTEXT",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(self.log_dir),
            **SHIPPED_PROPERTIES,
        }
        # 4.x ships a dynamic quorum (formatted with --standalone), 3.x a static one.
        if self._dynamic_quorum():
            properties["controller.quorum.bootstrap.servers"] = controller
        else:
            properties["controller.quorum.voters"] = f"1@{controller}"
        properties.update(self.properties)
        return properties

    def _dynamic_quorum(self) -> bool:
        return int(self.version.split(".")[0]) >= 4

    def _format(self, config: Path, timeout: float) -> None:
        """kafka-storage format, once: a restart finds the directory formatted."""
        if (self.log_dir / "meta.properties").exists():
            return
        arguments = ["format", "-t", _cluster_id(), "-c", str(config)]
        if self._dynamic_quorum():
            arguments.append("--standalone")
        result = kafka_cli.run("kafka-storage", arguments, timeout=timeout, version=self.version)
        if result.returncode != 0:
            raise RuntimeError(f"kafka-storage format failed:\n{result.stdout}{result.stderr}")

    def _wait_until_serving(self, deadline: float) -> None:
        """Until a Metadata request lists this broker: the listener is open and
        the broker has caught up with the quorum and been unfenced."""
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"Apache Kafka exited with {self._process.returncode}:\n{self._log_excerpt()}")
            if _lists_a_broker(self.host, self.port):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"Apache Kafka not serving on {self.bootstrap_servers}:\n{self._log_excerpt()}")
            try:
                self._process.wait(0.1)  # the poll interval, woken early if it dies
            except subprocess.TimeoutExpired:
                pass

    def _log_excerpt(self) -> str:
        """The errors the server logged, then its last lines (mostly its shutdown)."""
        try:
            lines = self.server_log.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        errors = [line for line in lines if " ERROR " in line or " FATAL " in line][:10]
        return "\n".join([*errors, "...", *lines[-10:]])


def _cluster_id() -> str:
    """What kafka-storage random-uuid prints: 16 random bytes, URL-safe base64 without
    padding; Kafka's Uuid.randomUuid() never returns one that starts with '-'."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


def _lists_a_broker(host: str, port: int) -> bool:
    # Metadata v4 (the oldest Kafka 4 still serves), no topics, header v1.
    client_id = b"apache-kafka-probe"
    request = struct.pack(">hhih", 3, 4, 1, len(client_id)) + client_id + struct.pack(">ib", 0, 0)
    try:
        with socket.create_connection((host, port), timeout=2) as connection:
            connection.sendall(struct.pack(">i", len(request)) + request)
            size = struct.unpack(">i", _read_exactly(connection, 4))[0]
            response = _read_exactly(connection, size)
    except OSError:
        return False
    # correlation id, throttle_time_ms, then the brokers array's length
    return len(response) >= 12 and struct.unpack(">i", response[8:12])[0] > 0


def _read_exactly(connection: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = connection.recv(size - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main() -> None:
    parser = argparse.ArgumentParser(description="Run a single-node KRaft Apache Kafka in the foreground.")
    parser.add_argument("--port", type=int, default=9092, help="PLAINTEXT port, 0 for a free one (default: 9092)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--version", default=kafka_jars.DEFAULT_VERSION)
    parser.add_argument("--log-dir", help="data directory (default: temporary, removed on exit)")
    parser.add_argument("--heap", default="1G")
    parser.add_argument("--property", "-p", action="append", default=[], metavar="KEY=VALUE",
                        help="server.properties override, repeatable")
    options = parser.parse_args()
    kafka = ApacheKafka(port=options.port, log_dir=options.log_dir, version=options.version,
                        heap=options.heap, host=options.host,
                        properties=dict(item.split("=", 1) for item in options.property))
    signal.signal(signal.SIGTERM, _interrupt)
    started = time.monotonic()
    try:
        kafka.start()
        print(f"Apache Kafka {options.version} serving on {kafka.bootstrap_servers} "
              f"(pid {kafka.pid}, ready in {time.monotonic() - started:.1f}s; log {kafka.server_log})",
              flush=True)
        code = kafka.wait()
        print(f"Apache Kafka exited with {code}:\n{kafka._log_excerpt()}")
    except KeyboardInterrupt:
        pass
    finally:
        kafka.close()


if __name__ == "__main__":
    main()
