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

from .errors import RequestError
from .handlers import HANDLERS

log = logging.getLogger("pykbroker.request")

_SIZE = struct.Struct(">i")
API_VERSIONS_KEY = 18


class FrameError(Exception):
    """The byte stream cannot be split into frames; the connection must close."""


class FrameReader:
    """Splits a stream into size-prefixed frames, for a buffered protocol:
    the network writes straight into ``get_buffer()``.

    Small frames are read into a reusable scratch buffer and copied out once;
    a frame larger than that gets a buffer of its own that the socket fills
    directly, so a 1 MB produce request is never copied in user space. Frames
    come out as bytearrays, which the codec slices without copying."""

    SCRATCH_BYTES = 64 * 1024

    def __init__(self, max_frame_bytes: int):
        self.max_frame_bytes = max_frame_bytes
        self._scratch = bytearray(self.SCRATCH_BYTES)
        self._view = memoryview(self._scratch)
        self._start = 0  # first unconsumed byte in the scratch buffer
        self._end = 0  # end of the bytes received into it
        self._large: bytearray | None = None  # a large frame being filled
        self._large_filled = 0

    def get_buffer(self) -> memoryview:
        if self._large is not None:
            return memoryview(self._large)[self._large_filled:]
        if self._end == len(self._scratch):  # move the partial frame to the front
            pending = self._end - self._start
            self._scratch[:pending] = self._view[self._start:self._end]
            self._start, self._end = 0, pending
        return self._view[self._end:]

    def buffer_updated(self, nbytes: int) -> list[bytearray]:
        """Account for ``nbytes`` written into the last buffer; returns the
        frames completed. Raises FrameError on an impossible size."""
        if self._large is not None:
            self._large_filled += nbytes
            if self._large_filled < len(self._large):
                return []
            frame, self._large = self._large, None
            return [frame]
        self._end += nbytes
        frames = []
        view, pos, end = self._view, self._start, self._end
        while end - pos >= 4:
            (size,) = _SIZE.unpack_from(view, pos)
            if size < 0 or size > self.max_frame_bytes:
                raise FrameError(f"frame size {size} is outside [0, socket.request.max.bytes="
                                 f"{self.max_frame_bytes}]")
            available = end - pos - 4
            if available >= size:
                frames.append(bytearray(view[pos + 4:pos + 4 + size]))
                pos += 4 + size
            elif 4 + size > len(self._scratch):
                self._large = bytearray(size)
                self._large[:available] = view[pos + 4:end]
                self._large_filled = available
                pos = end
                break
            else:
                break
        if pos == end:
            pos = end = 0
        self._start, self._end = pos, end
        return frames

    def feed(self, data: bytes) -> list[bytearray]:
        """Frames completed by ``data`` (for callers that receive bytes)."""
        frames = []
        data = memoryview(data)
        while data:
            buffer = self.get_buffer()
            n = min(len(buffer), len(data))
            buffer[:n] = data[:n]
            data = data[n:]
            frames += self.buffer_updated(n)
        return frames


class RequestContext(NamedTuple):
    """What a handler knows about the request besides its body."""
    broker: Any
    api_key: int
    api_version: int
    correlation_id: int
    client_id: str | None
    listener: str  # name of the listener the request arrived on
    peer: str


def handle_frame(broker: Any, listener: str, peer: str,
                 frame: bytearray) -> list | None | Awaitable[list | None]:
    """Decode one request frame and run its handler. Returns the encoded
    response frame as the parts to write back to back, None when there is
    none (acks=0), or an awaitable of either. Raises RequestError when the
    connection must be closed."""
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
            return codec.encode_response_parts(API_VERSIONS_KEY, 0, header.correlation_id,
                                               handler.unsupported_version_response())
        raise RequestError(f"unsupported version {version} of API key {api_key}")
    try:
        # A view, so that records fields are slices of the frame, not copies.
        request = codec.decode_request(api_key, version, memoryview(frame), header.body_offset)
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


def _encode(ctx: RequestContext, body: dict | None) -> list | None:
    if body is None:
        return None
    return codec.encode_response_parts(ctx.api_key, ctx.api_version, ctx.correlation_id, body)


async def _encode_later(ctx: RequestContext, pending: Awaitable[dict | None]) -> list | None:
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

