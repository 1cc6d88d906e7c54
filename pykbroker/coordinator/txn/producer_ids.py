"""Producer ids, unique in the cluster and across restarts.

As Kafka's brokers do, each broker takes blocks of ids from the cluster
metadata (the controller's ProducerIdsRecord: a metadata command here) and
hands them out one by one; ids of a block unused when the broker stops are
never reused.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from ...errors import ErrorCode, KafkaError

log = logging.getLogger("pykbroker.txn")

BLOCK_SIZE = 1000


class ProducerIdManager:
    def __init__(self, node_id: int, store: Any):
        self.node_id = node_id
        self.store = store
        self._next = 0
        self._end = 0              # the current block is [_next, _end)
        self._allocating: asyncio.Future | None = None

    async def generate(self) -> int:
        """A new producer id; KafkaError COORDINATOR_LOAD_IN_PROGRESS (which
        producers retry) while no block can be had from the metadata quorum."""
        while self._next >= self._end:
            if self._allocating is None:
                self._allocating = asyncio.ensure_future(self._allocate())
            await asyncio.shield(self._allocating)
        producer_id = self._next
        self._next += 1
        return producer_id

    async def _allocate(self) -> None:
        try:
            first = await self.store.submit({"type": "allocate_producer_ids", "node_id": self.node_id,
                                             "count": BLOCK_SIZE})
        except Exception as e:   # the quorum is unavailable, or this broker is stopping
            log.warning("cannot allocate producer ids: %s", e)
            raise KafkaError(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, "No producer ids available yet") from None
        finally:
            self._allocating = None
        self._next, self._end = first, first + BLOCK_SIZE
