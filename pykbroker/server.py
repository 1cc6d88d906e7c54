"""The asyncio shell: listening sockets and connections that move bytes
between the network and the sans-IO core in ``connection``."""
from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any

from .connection import FrameError, FrameReader, handle_frame
from .errors import RequestError

log = logging.getLogger("pykbroker.server")

# A connection stops reading while this many requests wait behind the one in
# flight: a client pipelining faster than we answer is slowed, not buffered.
MAX_QUEUED_REQUESTS = 64
# Responses up to this size are joined and written at once: cheaper than
# handing the transport many small pieces. Larger ones (record data) go out
# uncopied.
JOIN_LIMIT = 64 * 1024


class KafkaConnection(asyncio.BufferedProtocol):
    def __init__(self, broker: Any, listener: str):
        self.broker = broker
        self.listener = listener
        self.transport: asyncio.Transport | None = None
        self.peer = "?"
        self.reader = FrameReader(broker.config.get("socket.request.max.bytes"))
        self.queue: deque[bytearray] = deque()
        self.in_flight: asyncio.Future | None = None
        self.reading_paused = False
        self.writing_paused = False
        self.closed = False

    # --- asyncio.BufferedProtocol ----------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        peername = transport.get_extra_info("peername")
        self.peer = f"{peername[0]}:{peername[1]}" if peername else "?"
        self.broker.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.queue.clear()
        self.broker.connections.discard(self)
        if self.in_flight is not None:
            self.in_flight.cancel()

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.reader.get_buffer()

    def buffer_updated(self, nbytes: int) -> None:
        try:
            frames = self.reader.buffer_updated(nbytes)
        except FrameError as e:
            self.close(str(e))
            return
        if frames:
            self.queue.extend(frames)
            if len(self.queue) > MAX_QUEUED_REQUESTS and not self.reading_paused:
                self.reading_paused = True
                self.transport.pause_reading()
            self._process()

    def eof_received(self) -> bool:
        return False  # close our side too

    def pause_writing(self) -> None:
        self.writing_paused = True

    def resume_writing(self) -> None:
        self.writing_paused = False
        self._process()

    # --- request processing ----------------------------------------------------
    def _process(self) -> None:
        # Responses of requests handled in one go leave in one write.
        out = []
        while self.queue and self.in_flight is None and not self.writing_paused and not self.closed:
            frame = self.queue.popleft()
            try:
                result = handle_frame(self.broker, self.listener, self.peer, frame)
            except RequestError as e:
                self._write(out)
                self.close(str(e))
                return
            except Exception:
                log.exception("closing connection from %s: unexpected error handling a request", self.peer)
                self._write(out)
                self.close(None)
                return
            if isinstance(result, list):
                out += result
            elif result is not None:
                self.in_flight = asyncio.ensure_future(result)
                self.in_flight.add_done_callback(self._completed)
        self._write(out)
        if self.reading_paused and len(self.queue) <= MAX_QUEUED_REQUESTS // 2 and not self.closed:
            self.reading_paused = False
            self.transport.resume_reading()

    def _write(self, parts: list) -> None:
        if len(parts) == 1:
            self.transport.write(parts[0])
        elif parts:
            if sum(map(len, parts)) <= JOIN_LIMIT:
                self.transport.write(b"".join(parts))
            else:
                self.transport.writelines(parts)

    def _completed(self, task: asyncio.Future) -> None:
        self.in_flight = None
        if task.cancelled() or self.closed:
            return
        exc = task.exception()
        if isinstance(exc, RequestError):
            self.close(str(exc))
            return
        if exc is not None:
            log.error("closing connection from %s: unexpected error handling a request", self.peer,
                      exc_info=exc)
            self.close(None)
            return
        response = task.result()
        if response is not None:
            self.transport.writelines(response)
        self._process()

    def close(self, reason: str | None) -> None:
        if reason:
            log.warning("closing connection from %s: %s", self.peer, reason)
        self.closed = True
        if self.transport is not None:
            self.transport.close()


async def start_listeners(broker: Any, listeners: list[tuple[str, str, int]]) -> list[asyncio.AbstractServer]:
    """Bind every (name, host, port) listener; port 0 picks a free port, and
    the bound port is written back into ``broker.bound_ports``."""
    loop = asyncio.get_running_loop()
    servers = []
    for name, host, port in listeners:
        server = await loop.create_server(lambda name=name: KafkaConnection(broker, name),
                                          host or None, port, reuse_address=True, backlog=1024)
        bound = server.sockets[0].getsockname()[1]
        broker.bound_ports[name] = bound
        log.info("listening on %s://%s:%d", name, host, bound)
        servers.append(server)
    return servers
