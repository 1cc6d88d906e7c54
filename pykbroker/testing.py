"""An in-process broker for tests: runs on its own event loop in a background
thread, on a free port of 127.0.0.1 and a temporary data directory.

    with EmbeddedBroker() as broker:
        producer = KafkaProducer(bootstrap_servers=broker.bootstrap_servers)

The pytest plugin (``pykbroker.pytest_plugin``) offers it as the
``kafka_broker`` fixture.
"""
from __future__ import annotations

import asyncio
import shutil
import tempfile
import threading
from typing import Any

from .broker import Broker
from .config import BrokerConfig


class EmbeddedBroker:
    def __init__(self, log_dir: str | None = None, **properties: Any):
        """``properties`` are broker properties with '_' for '.', e.g.
        ``num_partitions=6``; or pass a dict as ``properties={...}``."""
        props = {key.replace("_", "."): str(value) for key, value in properties.items() if key != "properties"}
        props.update({k: str(v) for k, v in properties.get("properties", {}).items()})
        self._own_dir = log_dir is None and "log.dirs" not in props and "log.dir" not in props
        if self._own_dir:
            log_dir = tempfile.mkdtemp(prefix="pykbroker-")
        if log_dir is not None:
            props["log.dirs"] = log_dir
        props.setdefault("listeners", "PLAINTEXT://127.0.0.1:0")
        self.config = BrokerConfig(props)
        self.log_dir = self.config.log_dirs[0]
        self.broker: Broker | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def port(self) -> int:
        return next(iter(self.broker.bound_ports.values()))

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> "EmbeddedBroker":
        started = threading.Event()

        def run() -> None:
            self.loop = _new_loop()
            asyncio.set_event_loop(self.loop)
            self.broker = Broker(self.config)
            try:
                self.loop.run_until_complete(self.broker.start())
            except BaseException as e:  # reported to the starting thread
                self._error = e
                started.set()
                return
            started.set()
            self.loop.run_forever()
            self.loop.run_until_complete(self.broker.stop())
            self.loop.close()

        self._thread = threading.Thread(target=run, name="pykbroker", daemon=True)
        self._thread.start()
        started.wait()
        if self._error is not None:
            self._thread.join()
            raise self._error
        return self

    def call(self, function, *args) -> Any:
        """Run ``function(*args)`` (a coroutine function or a plain one) on
        the broker's loop and return its result: for looking inside."""
        async def wrapper():
            result = function(*args)
            return await result if asyncio.iscoroutine(result) else result
        return asyncio.run_coroutine_threadsafe(wrapper(), self.loop).result(timeout=60)

    def stop(self) -> None:
        if self._thread is None:
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=60)
        self._thread = None
        if self._own_dir:
            shutil.rmtree(self.log_dir, ignore_errors=True)

    def __enter__(self) -> "EmbeddedBroker":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
        return uvloop.new_event_loop()
    except ImportError:
        return asyncio.new_event_loop()
