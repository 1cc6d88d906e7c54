"""The few raw Kafka requests the benchmarks send themselves, encoded with the
project's codec: probes that time a broker's start, and the request bodies of
the many-connections client. Versions are ones both brokers serve."""
from __future__ import annotations

import socket
import struct
import time

from wire import codec, records
from wire.records import Record

PRODUCE, FETCH, METADATA, API_VERSIONS = 0, 1, 3, 18
PRODUCE_VERSION, FETCH_VERSION, METADATA_VERSION, API_VERSIONS_VERSION = 9, 12, 12, 3
ZERO_UUID = bytes(16)
_SIZE = struct.Struct(">i")


def batch(value: bytes, count: int = 1) -> bytes:
    """A v2 batch of ``count`` records with ``value``, timestamped now, as a producer sends it."""
    now = int(time.time() * 1000)
    return records.build_batch([Record(i, now, None, value) for i in range(count)])


def produce_body(topic: str, partition: int, data: bytes, acks: int = 1) -> dict:
    return {"acks": acks, "timeout_ms": 30_000,
            "topic_data": [{"name": topic, "partition_data": [{"index": partition, "records": data}]}]}


def fetch_body(topic: str, partition: int, offset: int, max_wait_ms: int, min_bytes: int = 1) -> dict:
    return {"replica_id": -1, "max_wait_ms": max_wait_ms, "min_bytes": min_bytes, "max_bytes": 1 << 20,
            "topics": [{"topic": topic, "partitions": [
                {"partition": partition, "fetch_offset": offset, "partition_max_bytes": 1 << 20}]}]}


def metadata_body(topic: str) -> dict:
    return {"topics": [{"topic_id": ZERO_UUID, "name": topic}], "allow_auto_topic_creation": True}


class BlockingClient:
    """One connection, one request at a time."""

    def __init__(self, host: str, port: int, timeout: float):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.correlation_id = 0

    def request(self, api_key: int, version: int, body: dict) -> dict:
        self.correlation_id += 1
        self.sock.sendall(codec.encode_request(api_key, version, self.correlation_id, "bench", body))
        (size,) = _SIZE.unpack(self._read(4))
        return codec.decode_response(api_key, version, self._read(size))[1]

    def _read(self, size: int) -> bytes:
        chunks = []
        while size:
            chunk = self.sock.recv(size)
            if not chunk:
                raise ConnectionError("closed by the broker")
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        self.sock.close()


def time_startup(host: str, port: int, launched: float, alive, timeout: float = 120,
                 interval: float = 0.005) -> tuple[float, float]:
    """Seconds from ``launched`` (time.monotonic) to the first successful
    ApiVersions, and to the first acknowledged acks=1 produce (to an
    auto-created topic). ``alive()`` says whether the broker process still runs."""
    deadline = launched + timeout

    def retry(what: str) -> None:
        if not alive():
            raise RuntimeError(f"the broker exited before {what}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {what} within {timeout} s")
        time.sleep(interval)

    client = None
    while client is None:
        try:
            client = BlockingClient(host, port, timeout=5)
            if client.request(API_VERSIONS, API_VERSIONS_VERSION,
                              {"client_software_name": "bench", "client_software_version": "1"})["error_code"]:
                client.close()
                client = None
        except OSError:
            client = None
        if client is None:
            retry("ApiVersions")
    api_versions = time.monotonic() - launched
    try:
        topic = "bench-startup"
        while not _leader_known(client.request(METADATA, METADATA_VERSION, metadata_body(topic))):
            retry("topic leader")
        while client.request(PRODUCE, PRODUCE_VERSION, produce_body(topic, 0, batch(b"ready")))[
                "responses"][0]["partition_responses"][0]["error_code"]:
            retry("acknowledged produce")
    finally:
        client.close()
    return api_versions, time.monotonic() - launched


def _leader_known(response: dict) -> bool:
    topic = response["topics"][0]
    return topic["error_code"] == 0 and bool(topic["partitions"]) and topic["partitions"][0]["leader_id"] >= 0
