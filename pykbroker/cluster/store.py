"""Where the cluster metadata lives on a single broker: a JSON snapshot in the
first log dir, rewritten atomically on every change (changes are rare: topic
creation, deletion, configs). Several brokers use the Raft store instead; both
offer ``submit`` and call the same listeners after each applied command."""
from __future__ import annotations

import json
import os
from typing import Any, Callable

from .metadata import ClusterMetadata

Listener = Callable[[dict[str, Any]], None]


class LocalMetadataStore:
    FILE_NAME = "pykbroker-metadata.json"

    def __init__(self, directory: str):
        os.makedirs(directory, exist_ok=True)
        self.path = os.path.join(directory, self.FILE_NAME)
        if os.path.exists(self.path):
            with open(self.path, encoding="utf-8") as f:
                self.metadata = ClusterMetadata.from_json(json.load(f))
        else:
            self.metadata = ClusterMetadata()
        self.listeners: list[Listener] = []

    @property
    def is_controller(self) -> bool:
        return True

    async def submit(self, command: dict[str, Any], timeout: float | None = None) -> Any:
        """Apply and persist ``command`` (at once: ``timeout`` is for the Raft store's sake)."""
        result = self.metadata.apply(command)
        self._persist()
        for listener in self.listeners:
            listener(command)
        return result

    def _persist(self) -> None:
        tmp = self.path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(self.metadata.to_json(), f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        dir_fd = os.open(os.path.dirname(self.path) or ".", os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def close(self) -> None:
        pass
