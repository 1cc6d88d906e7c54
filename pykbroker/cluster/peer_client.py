"""A connection from this broker to another one, for the requests a broker
makes itself (a follower's Fetch, OffsetForLeaderEpoch, ListOffsets): the
project's codec over an asyncio stream, one request at a time. ``PeerPool``
keeps one such connection to each other broker for a purpose (transaction
markers, transaction verification)."""
from __future__ import annotations

import asyncio
import struct
from typing import Any

from wire import codec

_SIZE = struct.Struct(">i")


class PeerError(Exception):
    """The peer could not be reached or answered nonsense: reconnect later."""


class UnknownPeer(PeerError):
    """The metadata names no endpoint for the broker on the inter-broker listener."""


class PeerConnection:
    def __init__(self, host: str, port: int, client_id: str, max_response_bytes: int = 1 << 30):
        self.host = host
        self.port = port
        self.client_id = client_id
        self.max_response_bytes = max_response_bytes
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._correlation_id = 0

    async def request(self, api_key: int, version: int, body: dict, timeout: float) -> dict:
        """Send one request and return the decoded response body; PeerError
        (and the connection closed) on any failure or after ``timeout`` seconds."""
        try:
            # asyncio.timeout, not wait_for: Python 3.11's wait_for can swallow
            # a cancellation that coincides with an error, and a fetcher being
            # stopped would then go on forever.
            async with asyncio.timeout(timeout):
                return await self._exchange(api_key, version, body)
        except (OSError, EOFError, asyncio.TimeoutError, asyncio.IncompleteReadError, codec.DecodeError) as e:
            self.close()
            raise PeerError(f"{self.host}:{self.port}: {type(e).__name__}: {e}") from None

    async def _exchange(self, api_key: int, version: int, body: dict) -> dict:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        self._correlation_id = (self._correlation_id + 1) & 0x7FFFFFFF
        self._writer.write(codec.encode_request(api_key, version, self._correlation_id, self.client_id, body))
        (size,) = _SIZE.unpack(await self._reader.readexactly(4))
        if not 0 <= size <= self.max_response_bytes:
            raise EOFError(f"response size {size} out of range")
        correlation_id, response = codec.decode_response(api_key, version, await self._reader.readexactly(size))
        if correlation_id != self._correlation_id:
            raise EOFError(f"correlation id {correlation_id}, expected {self._correlation_id}")
        return response

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


class PeerPool:
    """A connection to each other broker, named ``<purpose>-<our node id>``,
    used by one request at a time, that follows the broker's endpoint."""

    def __init__(self, broker: Any, purpose: str):
        self.broker = broker
        self.client_id = f"{purpose}-{broker.node_id}"
        self._peers: dict[int, tuple[PeerConnection, asyncio.Lock]] = {}

    async def request(self, node_id: int, api_key: int, version: int, body: dict) -> dict:
        """The response of broker ``node_id``, within request.timeout.ms;
        PeerError (UnknownPeer without an endpoint) otherwise."""
        connection, lock = self._peer(node_id)
        async with lock:
            return await connection.request(api_key, version, body,
                                            self.broker.config.get("request.timeout.ms") / 1000)

    def _peer(self, node_id: int) -> tuple[PeerConnection, asyncio.Lock]:
        registration = self.broker.store.metadata.brokers.get(node_id)
        endpoint = registration.endpoint(self.broker.cluster.inter_broker_listener) if registration else None
        if endpoint is None:
            raise UnknownPeer(f"broker {node_id} has no inter-broker endpoint")
        peer = self._peers.get(node_id)
        if peer is None or (peer[0].host, peer[0].port) != endpoint:
            if peer is not None:
                peer[0].close()
            peer = self._peers[node_id] = (PeerConnection(*endpoint, self.client_id), asyncio.Lock())
        return peer

    def close(self) -> None:
        for connection, _ in self._peers.values():
            connection.close()
        self._peers.clear()
