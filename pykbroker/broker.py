"""The broker: owns the configuration, the logs, the cluster metadata, the
hosted partitions and the listeners, and runs the periodic housekeeping.
One asyncio event loop owns all of it."""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from .cluster.metadata import new_uuid, uuid_str
from .cluster.replica_manager import ReplicaManager, log_config
from .cluster.store import LocalMetadataStore
from .cluster.topics import TopicAdmin
from .config import BrokerConfig, ConfigError
from .coordinator.group_coordinator import GroupCoordinator
from .coordinator.txn.coordinator import TransactionCoordinator
from .coordinator.txn.producer_ids import ProducerIdManager
from .fetch_sessions import FetchSessionCache
from .log.errors import LogDirLocked
from .log.log_config import LogConfig
from .log.manager import LogManager, executor_runner
from .server import start_listeners

log = logging.getLogger("pykbroker")


class StartupError(Exception):
    """The broker cannot start: data directory locked, port in use..."""


class Broker:
    def __init__(self, config: BrokerConfig):
        self.config = config
        self.node_id = config.node_id
        self.connections: set = set()
        self.bound_ports: dict[str, int] = {}
        self.log_manager: LogManager | None = None
        self.store: LocalMetadataStore | None = None
        self.replicas: ReplicaManager | None = None
        self.topics: TopicAdmin | None = None
        self.txn_coordinator: TransactionCoordinator | None = None
        self.group_coordinator: GroupCoordinator | None = None
        self.cluster = None  # a ClusterNode in multi-broker mode (controller.quorum.voters set)
        self.fetch_sessions = FetchSessionCache(config.get("max.incremental.fetch.session.cache.slots"))
        self._servers: list[asyncio.AbstractServer] = []
        self._tasks: list[asyncio.Task] = []
        self.started = asyncio.Event()
        self.stopped = False

    # --- life cycle --------------------------------------------------------------
    async def start(self) -> None:
        started = time.monotonic()
        loop = asyncio.get_running_loop()
        try:
            self.log_manager = LogManager(
                self.config.log_dirs, config_for=self._log_config_for, run_blocking=executor_runner(loop),
                checkpoint_interval_ms=self.config.get("log.flush.offset.checkpoint.interval.ms"),
                cleaner_backoff_ms=self.config.get("log.cleaner.backoff.ms"),
                cleaner_enabled=self.config.get("log.cleaner.enable"),
                producer_expiration_check_ms=self.config.get("producer.id.expiration.check.interval.ms"))
        except LogDirLocked as e:
            raise StartupError(str(e)) from None
        if self.config.get("controller.quorum.voters"):
            # Imported here: a single broker needs no Raft (and starts faster).
            from .cluster.node import ClusterNode
            try:
                self.cluster = ClusterNode(self)
                self.cluster.start_store()
            except (ConfigError, OSError) as e:
                self.log_manager.shutdown()
                raise StartupError(str(e)) from None
            self.store = self.cluster.store
        else:
            self.store = LocalMetadataStore(self.config.log_dirs[0])
        self.store.listeners.append(self._on_metadata)
        self.producer_ids = ProducerIdManager(self.node_id, self.store)
        self.replicas = ReplicaManager(self.node_id, self.config, self.log_manager, self.store.metadata)
        self.topics = TopicAdmin(self)
        self.txn_coordinator = TransactionCoordinator(self)
        self.group_coordinator = GroupCoordinator(self)
        if self.cluster is None:
            await self._register()
            self._apply_dynamic_configs()
            self.replicas.reconcile()
        else:
            self.replicas.ready = False  # until registered: see ClusterNode
        try:
            self._servers = await start_listeners(self, self.config.broker_listeners())
        except OSError as e:
            self.log_manager.shutdown()
            if self.cluster is not None:
                self.cluster.store.close()
            raise StartupError(f"cannot listen on {self.config.listeners}: {e.strerror or e}") from None
        if self.cluster is None:
            await self._register()  # now with the bound ports
        else:
            try:
                await self.cluster.start()
            except ConfigError as e:  # this node does not belong to the cluster it found
                await self.stop()
                raise StartupError(str(e)) from None
        self._tasks = [asyncio.create_task(self._housekeeping())]
        self.txn_coordinator.start()
        self.group_coordinator.start()
        self.started.set()
        log.info("pykbroker node %d started in %.0f ms (cluster id %s), %d partitions",
                 self.node_id, (time.monotonic() - started) * 1000, self.cluster_id,
                 len(self.replicas.partitions))

    def _log_config_for(self, topic: str) -> LogConfig:
        registration = self.store.metadata.topics.get(topic) if self.store else None
        return log_config(self.config, registration.configs if registration else {})

    async def _register(self) -> None:
        metadata = self.store.metadata
        if metadata.cluster_id is None:
            await self.store.submit({"type": "set_cluster_id",
                                     "cluster_id": self.config.get("cluster.id") or uuid_str(new_uuid())})
        endpoints = [[name, host, port] for name, host, port in self.advertised_endpoints()]
        current = metadata.brokers.get(self.node_id)
        if current is None or [list(e) for e in current.endpoints] != endpoints or current.rack != self.rack:
            await self.store.submit({"type": "register_broker", "node_id": self.node_id,
                                     "endpoints": endpoints, "rack": self.rack})
        if metadata.controller_id != self.node_id:
            await self.store.submit({"type": "set_controller", "node_id": self.node_id})

    async def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        if self.cluster is not None:
            await self.cluster.stop()
        for server in self._servers:
            server.close()
        for connection in list(self.connections):
            connection.close(None)
        for task in self._tasks:
            task.cancel()
        if self.txn_coordinator is not None:
            self.txn_coordinator.stop()
        if self.group_coordinator is not None:
            self.group_coordinator.stop()
        for server in self._servers:
            await server.wait_closed()
        if self.log_manager is not None:
            self.log_manager.shutdown()
        log.info("pykbroker node %d stopped", self.node_id)

    # --- identity ----------------------------------------------------------------
    @property
    def cluster_id(self) -> str:
        return self.store.metadata.cluster_id

    @property
    def rack(self) -> str | None:
        return self.config.get("broker.rack")

    def advertised_endpoints(self) -> list[tuple[str, str, int]]:
        """Advertised (name, host, port); port 0 listeners show the bound port."""
        return [(name, host, self.bound_ports.get(name, port) if port == 0 else port)
                for name, host, port in self.config.advertised()]

    # --- metadata ----------------------------------------------------------------
    def _on_metadata(self, command: dict[str, Any]) -> None:
        if command["type"] == "alter_broker_configs":
            self._apply_dynamic_configs()
        if command["type"] == "delete_topic" and self.group_coordinator is not None:
            self.group_coordinator.on_topic_deleted(command["name"])
        if command["type"] in ("create_topic", "delete_topic", "add_partitions", "alter_topic_configs",
                               "alter_broker_configs", "change_partition") or self.replicas.leadership_changed():
            self.replicas.reconcile()
            self.txn_coordinator.runtime.sync_leadership()
            self.group_coordinator.runtime.sync_leadership()

    def _apply_dynamic_configs(self) -> None:
        configs = self.store.metadata.broker_configs
        self.config.set_dynamic(configs.get(str(self.node_id), {}), configs.get("", {}))
        self.log_manager.cleaner_backoff_ms = self.config.get("log.cleaner.backoff.ms")

    # --- housekeeping --------------------------------------------------------------
    async def _housekeeping(self) -> None:
        """Retention, time-based segment rolls, flushes and checkpoints."""
        next_retention = 0.0
        while True:
            now = time.time()
            if now >= next_retention:
                self.log_manager.enforce_retention(int(now * 1000), self._high_watermark)
                next_retention = now + self.config.get("log.retention.check.interval.ms") / 1000
            self.log_manager.periodic(int(now * 1000))
            await asyncio.sleep(1.0)

    def _high_watermark(self, topic: str, index: int) -> int | None:
        partition = self.replicas.get(topic, index)
        return partition.high_watermark if partition is not None else None


async def run_until_signalled(config: BrokerConfig) -> None:
    """Run a broker until SIGTERM or SIGINT, then shut it down cleanly."""
    import signal
    broker = Broker(config)
    await broker.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await broker.stop()
