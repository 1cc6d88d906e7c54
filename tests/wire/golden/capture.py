"""Capture the request frames a real Kafka client sends (see README.md).

    python tests/wire/golden/capture.py NAME UNTIL_API -- COMMAND...

Listens on a free 127.0.0.1 port, runs COMMAND with "{port}" replaced by that
port, answers ApiVersions, Metadata, InitProducerId and Produce with
wire.codec (a one-broker cluster leading partition 0 of every topic asked
for), and once a request of UNTIL_API (e.g. Produce, Fetch) has arrived stops
the client and saves the first frame of each API and version as
NAME-Api-vN.bin, size prefix included.
"""
from __future__ import annotations

import socket
import struct
import subprocess
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from wire import codec  # noqa: E402

HERE = Path(__file__).resolve().parent
UNSUPPORTED_VERSION = 35


class CaptureBroker:
    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.frames: list[bytes] = []
        self.arrived = threading.Condition()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            conn, _ = self.listener.accept()
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        with conn, conn.makefile("rb") as stream:
            while size_prefix := stream.read(4):
                frame = size_prefix + stream.read(struct.unpack(">i", size_prefix)[0])
                with self.arrived:
                    self.frames.append(frame)
                    self.arrived.notify_all()
                reply = self._respond(frame[4:])
                if reply:
                    conn.sendall(reply)

    def _respond(self, frame: bytes) -> bytes | None:
        header = codec.decode_request_header(frame)
        key, version, cid = header.api_key, header.api_version, header.correlation_id
        low, high = codec.supported_versions(key)
        if key == 18:  # ApiVersions
            api_keys = [{"api_key": k, "min_version": codec.supported_versions(k)[0],
                         "max_version": codec.supported_versions(k)[1]} for k in codec.API_KEYS]
            if version > high:
                return codec.encode_response(18, 0, cid, {"error_code": UNSUPPORTED_VERSION, "api_keys": api_keys})
            return codec.encode_response(18, version, cid, {"api_keys": api_keys})
        if not low <= version <= high:
            return None
        request = codec.decode_request(key, version, frame, header.body_offset)
        if key == 3:  # Metadata
            names = [t["name"] for t in request["topics"] or []] or ["golden-topic"]
            partition = {"partition_index": 0, "leader_id": 0, "replica_nodes": [0], "isr_nodes": [0]}
            body = {"brokers": [{"node_id": 0, "host": "127.0.0.1", "port": self.port}],
                    "cluster_id": "golden-cluster", "controller_id": 0,
                    "topics": [{"name": n, "topic_id": b"\x01" * 16, "partitions": [partition]} for n in names]}
            return codec.encode_response(3, version, cid, body)
        if key == 22:  # InitProducerId
            return codec.encode_response(22, version, cid, {"producer_id": 1000})
        if key == 0 and request["acks"] != 0:  # Produce
            body = {"responses": [{"name": t["name"], "partition_responses": [
                {"index": p["index"], "log_append_time_ms": -1} for p in t["partition_data"]]}
                for t in request["topic_data"]]}
            return codec.encode_response(0, version, cid, body)
        return None

    def wait_for(self, api_name: str, timeout: float) -> bool:
        def seen():
            return any(codec.API_KEYS[codec.decode_request_header(f[4:]).api_key][0] == api_name
                       for f in self.frames)
        with self.arrived:
            return self.arrived.wait_for(seen, timeout)

    def save(self, name: str) -> None:
        saved = set()
        for frame in list(self.frames):
            header = codec.decode_request_header(frame[4:])
            path = HERE / f"{name}-{codec.API_KEYS[header.api_key][0]}-v{header.api_version}.bin"
            if path not in saved:
                saved.add(path)
                path.write_bytes(frame)
                print("saved", path.name)


def main(argv: list[str]) -> int:
    name, until, separator, *command = argv
    assert separator == "--" and command, __doc__
    broker = CaptureBroker()
    client = subprocess.Popen([part.replace("{port}", str(broker.port)) for part in command])
    try:
        arrived = broker.wait_for(until, timeout=60)
    finally:
        client.kill()
        client.wait()
    broker.save(name)
    return 0 if arrived else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
