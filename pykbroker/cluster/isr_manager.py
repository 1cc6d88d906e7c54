"""ISR changes of the partitions this broker leads (Kafka's
AlterPartitionManager and the leader's ISR expiration): followers lagging
past replica.lag.time.max.ms are dropped, followers that caught up are
added, each change committed through the metadata quorum, where it is
refused if the partition's leader or partition epoch moved meanwhile."""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from ..errors import ErrorCode, KafkaError
from .metadata import uuid_str
from .replication_control import is_active

log = logging.getLogger("pykbroker.isr")

# After a refused change, the leader waits this long before proposing again.
RETRY_BACKOFF_SECONDS = 1.0


class IsrManager:
    def __init__(self, node_id: int, store: Any, replicas: Any, lag_time_max_ms: int):
        self.node_id = node_id
        self.store = store
        self.replicas = replicas
        self.lag_time_max_ms = lag_time_max_ms
        self._backoff: dict[tuple[str, int], float] = {}
        self._tasks: set[asyncio.Task] = set()

    def propose(self, partition: Any, isr: list[int]) -> None:
        """The partition's IsrChanger: validate locally, then ask the quorum."""
        key = (partition.topic, partition.index)
        metadata = self.store.metadata
        added = [r for r in isr if r not in partition.registration.isr]
        if time.monotonic() < self._backoff.get(key, 0) or not all(is_active(metadata, r) for r in added):
            partition.pending_isr = None
            return
        task = asyncio.get_running_loop().create_task(self._alter(partition, list(isr)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _alter(self, partition: Any, isr: list[int]) -> None:
        registration = partition.registration
        before = list(registration.isr)
        command = {"type": "alter_partition", "topic": partition.topic, "topic_id": uuid_str(partition.topic_id),
                   "partition": partition.index, "node_id": self.node_id,
                   "leader_epoch": registration.leader_epoch, "partition_epoch": registration.partition_epoch,
                   "isr": isr}
        try:
            result = await self.store.submit(command, timeout=self.lag_time_max_ms / 1000)
            code = result["error_code"]
        except KafkaError as e:
            code = e.code
        if code == ErrorCode.NONE:
            log.info("ISR of %s-%d changed from %s to %s", partition.topic, partition.index, before, isr)
            self._backoff.pop((partition.topic, partition.index), None)
        else:
            log.info("ISR change of %s-%d to %s refused: %s", partition.topic, partition.index, isr,
                     ErrorCode(code).name)
            self._backoff[(partition.topic, partition.index)] = time.monotonic() + RETRY_BACKOFF_SECONDS
        if partition.pending_isr == isr:
            partition.pending_isr = None

    async def run(self) -> None:
        """Shrink ISRs every replica.lag.time.max.ms / 2, as Kafka does."""
        while True:
            await asyncio.sleep(self.lag_time_max_ms / 2000)
            for partition in list(self.replicas.partitions.values()):
                if partition.pending_isr is not None:
                    continue
                lagging = partition.out_of_sync_followers()
                if lagging:
                    log.info("%s-%d: followers %s fell behind", partition.topic, partition.index, lagging)
                    partition.propose_isr([r for r in partition.registration.isr if r not in lagging])

    def close(self) -> None:
        for task in self._tasks:
            task.cancel()
