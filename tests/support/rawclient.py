"""A minimal blocking Kafka protocol client for tests: sends one request at a
time with the project's codec and returns the decoded response."""
from __future__ import annotations

import socket
import struct

from wire import codec


class RawClient:
    def __init__(self, host: str, port: int, client_id: str = "rawclient", timeout: float = 30.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.client_id = client_id
        self.correlation_id = 0

    def send(self, api_key: int, version: int, body: dict) -> int:
        self.correlation_id += 1
        self.sock.sendall(codec.encode_request(api_key, version, self.correlation_id, self.client_id, body))
        return self.correlation_id

    def receive(self, api_key: int, version: int) -> tuple[int, dict]:
        size = struct.unpack(">i", self.recv_exact(4))[0]
        return codec.decode_response(api_key, version, self.recv_exact(size))

    def request(self, api_key: int, version: int, body: dict) -> dict:
        correlation_id = self.send(api_key, version, body)
        received, response = self.receive(api_key, version)
        assert received == correlation_id, (received, correlation_id)
        return response

    def recv_exact(self, n: int) -> bytes:
        chunks = []
        while n:
            chunk = self.sock.recv(n)
            if not chunk:
                raise ConnectionError("connection closed by the broker")
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)

    def is_closed(self, timeout: float = 10.0) -> bool:
        """Whether the broker closed the connection (waits up to timeout)."""
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False

    def close(self) -> None:
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
