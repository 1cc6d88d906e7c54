"""The sans-IO core of a client connection: frames in, requests decoded,
responses encoded. No sockets here; ``server`` moves the bytes.

Like Kafka, which mutes a channel while one of its requests is in flight, a
connection handles its requests one at a time in arrival order, so responses
leave strictly in request order and a request sees the effects of the ones
before it on the same connection. Handlers that complete at once cost nothing
extra when clients pipeline; a parked request (Fetch long-poll, JoinGroup)
holds back only its own connection.
"""
from __future__ import annotations

import logging
import struct
from typing import Any, Awaitable, NamedTuple

from wire import codec

from .handlers import HANDLERS

log = logging.getLogger("pykbroker.request")

_SIZE = struct.Struct(">i")
API_VERSIONS_KEY = 18


class FrameError(Exception):
    """The byte stream cannot be split into frames; the connection must close."""


class FrameReader:
    """Splits a stream into size-prefixed frames."""

    def __init__(self, max_frame_bytes: int):
        self.max_frame_bytes = max_frame_bytes
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        buf = self._buf
        buf += data
        frames = []
        pos = 0
        end = len(buf)
        while end - pos >= 4:
            (size,) = _SIZE.unpack_from(buf, pos)
            if size < 0 or size > self.max_frame_bytes:
                raise FrameError(f"frame size {size} is outside [0, socket.request.max.bytes="
                                 f"{self.max_frame_bytes}]")
            if end - pos - 4 < size:
                break
            frames.append(bytes(buf[pos + 4:pos + 4 + size]))
            pos += 4 + size
        if pos:
            del buf[:pos]
        return frames

    @property
    def buffered(self) -> int:
        return len(self._buf)


class RequestContext(NamedTuple):
    """What a handler knows about the request besides its body."""
    broker: Any
    api_key: int
    api_version: int
    correlation_id: int
    client_id: str | None
    listener: str  # name of the listener the request arrived on
    peer: str


class RequestError(Exception):
    """A request that cannot be served; the connection must close."""


def handle_frame(broker: Any, listener: str, peer: str,
                 frame: bytes) -> bytes | None | Awaitable[bytes | None]:
    """Decode one request frame and run its handler. Returns the encoded
    response frame, None when there is none (acks=0), or an awaitable of
    either. Raises RequestError when the connection must be closed."""
    try:
        header = codec.decode_request_header(frame)
    except codec.DecodeError as e:
        raise RequestError(f"cannot read request header: {e}") from None
    api_key, version = header.api_key, header.api_version
    handler = HANDLERS.get(api_key)
    if handler is None:
        raise RequestError(f"unsupported API key {api_key}")
    if not handler.VERSIONS[0] <= version <= handler.VERSIONS[1]:
        if api_key == API_VERSIONS_KEY:
            # Kafka answers at v0 so that any client can read our range.
            return codec.encode_response(API_VERSIONS_KEY, 0, header.correlation_id,
                                         handler.unsupported_version_response())
        raise RequestError(f"unsupported version {version} of API key {api_key}")
    try:
        request = codec.decode_request(api_key, version, frame, header.body_offset)
    except codec.DecodeError as e:
        raise RequestError(f"cannot decode {handler.__name__.rsplit('.', 1)[-1]} v{version}: {e}") from None
    if log.isEnabledFor(logging.DEBUG):
        log.debug("%s %s v%d corr=%d client=%s: %s", peer, handler.__name__.rsplit(".", 1)[-1], version,
                  header.correlation_id, header.client_id, _abbreviate(request))
    ctx = RequestContext(broker, api_key, version, header.correlation_id, header.client_id, listener, peer)
    result = handler.handle(ctx, request)
    if hasattr(result, "__await__"):
        return _encode_later(ctx, result)
    return _encode(ctx, result)


def _encode(ctx: RequestContext, body: dict | None) -> bytes | None:
    if body is None:
        return None
    return codec.encode_response(ctx.api_key, ctx.api_version, ctx.correlation_id, body)


async def _encode_later(ctx: RequestContext, pending: Awaitable[dict | None]) -> bytes | None:
    return _encode(ctx, await pending)


def _abbreviate(value: Any, depth: int = 0) -> Any:
    """Request bodies for debug logs, with record bytes shown by size only."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"<{len(value)} bytes>"
    if isinstance(value, dict):
        return {k: _abbreviate(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_abbreviate(v, depth + 1) for v in value[:20]] + (["..."] if len(value) > 20 else [])
    return value

