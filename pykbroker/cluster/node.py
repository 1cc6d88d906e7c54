"""A node of a multi-broker cluster, configured as KRaft nodes are:
``process.roles`` (broker, controller or both), ``node.id``,
``controller.quorum.voters`` (id@host:port of every metadata quorum voter),
``controller.listener.names`` (the listener the quorum binds; it is not a
client listener). Without controller.quorum.voters a broker is a cluster of
one and none of this runs.

A broker registers with a new incarnation each time it starts (the quorum
then counts the previous one as gone), sends heartbeats every
broker.heartbeat.interval.ms (the first one unfences it), follows the
partitions led elsewhere (``replica_fetcher``), keeps the ISRs of those it
leads (``isr_manager``) and, on a clean stop, moves its leaderships away
first (controlled shutdown). A voter also takes the controller's duties
when it leads the quorum (``controller``).
"""
from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from ..config import BrokerConfig, ConfigError, split_listener
from ..errors import ErrorCode, KafkaError
from .controller import Controller
from .isr_manager import IsrManager
from .metadata import new_uuid, uuid_str
from .raft_store import RaftMetadataStore
from .replica_fetcher import ReplicaFetchers

log = logging.getLogger("pykbroker.cluster")

CONTROLLED_SHUTDOWN_SECONDS = 5


def quorum_voters(config: BrokerConfig) -> dict[int, tuple[str, int]]:
    """controller.quorum.voters as {node id: (host, port)}."""
    voters = {}
    for entry in config.get("controller.quorum.voters"):
        node, sep, address = entry.partition("@")
        host, _, port = address.rpartition(":")
        try:
            voters[int(node)] = (host.strip("[]"), int(port))
        except ValueError:
            raise ConfigError(f"Invalid value {entry!r} in controller.quorum.voters: expected id@host:port") from None
        if not sep or not host:
            raise ConfigError(f"Invalid value {entry!r} in controller.quorum.voters: expected id@host:port")
    return voters


def check_roles(config: BrokerConfig) -> tuple[bool, bool]:
    """(is a broker, is a controller), refusing the combinations Kafka refuses."""
    roles = set(config.get("process.roles"))
    voters = quorum_voters(config)
    node_id = config.node_id
    if not roles:
        raise ConfigError("process.roles must name broker, controller or both")
    if "controller" in roles and node_id not in voters:
        raise ConfigError(f"node.id {node_id} must be one of controller.quorum.voters "
                          f"({','.join(map(str, sorted(voters)))}) since process.roles contains controller")
    if "controller" not in roles and node_id in voters:
        raise ConfigError(f"node.id {node_id} is in controller.quorum.voters, so process.roles must contain controller")
    if "broker" in roles and not config.broker_listeners():
        raise ConfigError("a broker needs a listener that is not in controller.listener.names")
    if "controller" in roles and not _controller_listener(config):
        raise ConfigError("controller.listener.names must name a listener of 'listeners' when process.roles "
                          "contains controller")
    return "broker" in roles, "controller" in roles


def _controller_listener(config: BrokerConfig) -> tuple[str, int] | None:
    """(host, port) of the first listener named in controller.listener.names."""
    names = [n.strip() for n in (config.get("controller.listener.names") or "").split(",") if n.strip()]
    for item in config.listeners:
        name, host, port = split_listener(item)
        if name in names:
            return host or "0.0.0.0", port
    return None


def create_store(config: BrokerConfig, voter: bool) -> RaftMetadataStore:
    voters = quorum_voters(config)
    directory = config.get("metadata.log.dir") or config.log_dirs[0]
    return RaftMetadataStore(config.node_id, voters, directory, voter=voter,
                             bind=_controller_listener(config) if voter else None,
                             election_timeout_ms=config.get("controller.quorum.election.timeout.ms"),
                             request_timeout_ms=config.get("request.timeout.ms"))


class ClusterNode:
    """The multi-broker part of a ``Broker``."""

    def __init__(self, broker: Any):
        self.broker = broker
        self.config = broker.config
        self.node_id = broker.node_id
        _, voter = check_roles(self.config)
        self.store = create_store(self.config, voter)
        self.controller = Controller(self.node_id, self.store, self.config) if voter else None
        self.broker_epoch = -1
        self.fetchers: ReplicaFetchers | None = None
        self.isr: IsrManager | None = None
        self._tasks: list[asyncio.Task] = []

    @property
    def inter_broker_listener(self) -> str:
        return self.config.get("inter.broker.listener.name") or self.config.broker_listeners()[0][0]

    def start_store(self) -> None:
        self.store.start()
        if self.controller is not None:
            self._tasks.append(asyncio.get_running_loop().create_task(self.controller.run()))

    async def start(self) -> None:
        """Register (waiting for the quorum as long as it takes), then host
        partitions, replicate and send heartbeats."""
        replicas = self.broker.replicas
        await self._register()
        self.broker._apply_dynamic_configs()
        self.isr = IsrManager(self.node_id, self.store, replicas, self.config.get("replica.lag.time.max.ms"))
        self.fetchers = ReplicaFetchers(self)
        replicas.isr_changer = self.isr.propose
        replicas.on_reconciled.append(self.fetchers.update)
        replicas.ready = True
        self.broker._on_metadata({"type": "broker_ready"})  # host partitions, load coordinators
        loop = asyncio.get_running_loop()
        self._tasks += [loop.create_task(self._heartbeats()), loop.create_task(self.isr.run())]

    async def _register(self) -> None:
        metadata = self.store.metadata
        configured = self.config.get("cluster.id")
        incarnation = uuid.uuid4().hex
        endpoints = [[name, host, port] for name, host, port in self.broker.advertised_endpoints()]
        while True:
            try:
                if metadata.cluster_id is None:
                    await self.store.submit({"type": "set_cluster_id", "cluster_id": configured or uuid_str(new_uuid())})
                if configured and metadata.cluster_id != configured:
                    raise ConfigError(f"cluster.id {configured} does not match the cluster's id {metadata.cluster_id}")
                result = await self.store.submit({"type": "register_broker", "node_id": self.node_id,
                                                  "endpoints": endpoints, "rack": self.broker.rack,
                                                  "incarnation": incarnation})
                self.broker_epoch = result["broker_epoch"]
                log.info("node %d registered with broker epoch %d", self.node_id, self.broker_epoch)
                return
            except KafkaError as e:
                log.info("node %d waiting for the metadata quorum: %s", self.node_id, e.message)

    async def _heartbeats(self) -> None:
        interval = self.config.get("broker.heartbeat.interval.ms") / 1000
        session = self.config.get("broker.session.timeout.ms") / 1000
        fenced = True
        while True:
            try:
                result = await self.store.submit({"type": "broker_heartbeat", "node_id": self.node_id,
                                                  "broker_epoch": self.broker_epoch}, timeout=session)
                if result["error_code"] == ErrorCode.STALE_BROKER_EPOCH:
                    log.error("node %d: the cluster knows a newer registration of this node id", self.node_id)
                elif fenced != result["fenced"]:
                    fenced = result["fenced"]
                    log.info("node %d is %s", self.node_id, "fenced" if fenced else "unfenced")
            except KafkaError as e:
                log.debug("heartbeat not committed: %s", e)
            await asyncio.sleep(interval)

    async def stop(self) -> None:
        """Controlled shutdown (controlled.shutdown.enable), then stop replicating."""
        for task in self._tasks:
            task.cancel()
        if self.broker_epoch >= 0 and self.config.get("controlled.shutdown.enable"):
            try:
                # Long enough for a quorum election; a node stopping last
                # (the whole cluster stopping) finds no quorum and gives up.
                timeout = min(self.config.get("broker.session.timeout.ms") / 1000, CONTROLLED_SHUTDOWN_SECONDS)
                result = await self.store.submit({"type": "controlled_shutdown", "node_id": self.node_id,
                                                  "broker_epoch": self.broker_epoch}, timeout=timeout)
                log.info("controlled shutdown of node %d: leadership moved away (%d partitions had no other "
                         "in-sync replica)", self.node_id, result["leaderships"])
            except KafkaError as e:
                log.warning("controlled shutdown of node %d failed: %s", self.node_id, e.message)
        if self.fetchers is not None:
            self.fetchers.close()
        if self.isr is not None:
            self.isr.close()
        self.store.close()


class ControllerNode:
    """process.roles=controller: a quorum voter that is no broker."""

    def __init__(self, config: BrokerConfig):
        self.config = config
        check_roles(config)
        self.store = create_store(config, True)
        self.controller = Controller(config.node_id, self.store, config)
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        self.store.start()
        self._task = asyncio.get_running_loop().create_task(self.controller.run())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self.store.close()


async def run_controller_until_signalled(config: BrokerConfig) -> None:
    """Run a dedicated controller until SIGTERM or SIGINT."""
    import signal
    from ..broker import StartupError
    try:
        node = ControllerNode(config)
        await node.start()
    except (ConfigError, OSError) as e:
        raise StartupError(str(e)) from None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    node.stop()
