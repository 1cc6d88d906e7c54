"""The active controller: the node leading the metadata quorum (as in KRaft)
does what needs a clock. It fences brokers whose heartbeats stopped for
broker.session.timeout.ms (their partitions move to other ISR members),
moves leadership back to preferred replicas every
leader.imbalance.check.interval.seconds (auto.leader.rebalance.enable), and
runs unclean elections for leaderless partitions of topics that allow them.

The decisions themselves are commands judged where they are applied
(``replication_control``), so one taken by a controller that was just
deposed, or from a view that is already stale, cannot undo newer state.
A node that becomes controller first commits ``set_controller``: once that
is applied it has applied everything its predecessors committed. It then
gives every broker a fresh session, as Kafka does on failover.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from ..config import effective_topic_configs
from ..errors import KafkaError
from .replication_control import NO_LEADER, PREFERRED, UNCLEAN, is_active

log = logging.getLogger("pykbroker.controller")

CHECK_SECONDS = 0.1


class Controller:
    def __init__(self, node_id: int, store: Any, config: Any):
        self.node_id = node_id
        self.store = store
        self.config = config
        self.active = False
        self.last_seen: dict[int, float] = {}
        self._next_rebalance = 0.0
        store.listeners.append(self._on_command)

    def _on_command(self, command: dict) -> None:
        if command["type"] in ("broker_heartbeat", "register_broker"):
            self.last_seen[command["node_id"]] = time.monotonic()

    async def run(self) -> None:
        while True:
            await asyncio.sleep(CHECK_SECONDS)
            try:
                await self._step()
            except KafkaError as e:  # the quorum did not commit: next round
                log.debug("controller: %s", e)

    async def _step(self) -> None:
        if not self.store.is_controller:
            if self.active:
                log.info("node %d is no longer the active controller", self.node_id)
                self.active = False
            return
        if not self.active:
            await self.store.submit({"type": "set_controller", "node_id": self.node_id}, timeout=5)
            now = time.monotonic()
            self.last_seen = {node_id: now for node_id in self.store.metadata.brokers}
            self._next_rebalance = now + self.config.get("leader.imbalance.check.interval.seconds")
            self.active = True
            log.info("node %d is the active controller", self.node_id)
        await self._fence_stale_broker()
        await self._unclean_elections()
        if self.config.get("auto.leader.rebalance.enable") and time.monotonic() >= self._next_rebalance:
            self._next_rebalance = time.monotonic() + self.config.get("leader.imbalance.check.interval.seconds")
            await self._balance_leaders()

    async def _fence_stale_broker(self) -> None:
        """One at a time, as Kafka does, so each fencing is visible before the next."""
        session = self.config.get("broker.session.timeout.ms") / 1000
        now = time.monotonic()
        for broker in self.store.metadata.brokers.values():
            if not broker.fenced and now - self.last_seen.get(broker.node_id, now) > session:
                log.info("fencing broker %d: no heartbeat for %.1f s", broker.node_id,
                         now - self.last_seen[broker.node_id])
                await self.store.submit({"type": "fence_broker", "node_id": broker.node_id,
                                         "broker_epoch": broker.epoch}, timeout=session)
                return

    def _partitions(self):
        for topic in self.store.metadata.topics.values():
            for index, p in enumerate(topic.partitions):
                yield topic, index, p

    async def _balance_leaders(self) -> None:
        metadata = self.store.metadata
        imbalanced = [[t.name, i] for t, i, p in self._partitions()
                      if p.replicas and p.leader != p.replicas[0] and p.replicas[0] in p.isr
                      and is_active(metadata, p.replicas[0])]
        if imbalanced:
            log.info("moving leadership of %d partitions back to their preferred replicas", len(imbalanced))
            await self.store.submit({"type": "elect_leaders", "election_type": PREFERRED, "partitions": imbalanced})

    async def _unclean_elections(self) -> None:
        metadata = self.store.metadata
        wanted = [[t.name, i] for t, i, p in self._partitions()
                  if p.leader == NO_LEADER and any(is_active(metadata, r) for r in p.replicas)
                  and effective_topic_configs(self.config, t.configs)["unclean.leader.election.enable"][0]]
        if wanted:
            log.warning("unclean leader election for %s", wanted)
            await self.store.submit({"type": "elect_leaders", "election_type": UNCLEAN, "partitions": wanted})
