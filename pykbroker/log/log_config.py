"""Topic-level settings of a partition log.

Like Kafka's LogConfig: the topic configs the log obeys, plus the few the
produce and replication paths read from the same place (compression.type,
max.message.bytes, message.timestamp.*, min.insync.replicas). Attribute
names are Kafka's topic config names with dots turned into underscores
(``retention.ms`` -> ``retention_ms``); defaults are Kafka's. The broker
maps broker-level properties (``log.retention.hours``...) and per-topic
overrides onto this; the log only reads it.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping

LONG_MAX = (1 << 63) - 1


@dataclass
class LogConfig:
    segment_bytes: int = 1 << 30
    segment_ms: int = 7 * 24 * 3600 * 1000
    segment_index_bytes: int = 10 * 1024 * 1024
    index_interval_bytes: int = 4096
    retention_ms: int = 7 * 24 * 3600 * 1000      # -1: unlimited
    retention_bytes: int = -1                      # -1: unlimited
    cleanup_policy: str = "delete"                 # "delete", "compact" or "compact,delete"
    flush_messages: int = LONG_MAX                 # Kafka's default: leave flushing to the OS
    flush_ms: int = LONG_MAX
    file_delete_delay_ms: int = 60_000
    delete_retention_ms: int = 24 * 3600 * 1000
    min_compaction_lag_ms: int = 0
    max_compaction_lag_ms: int = LONG_MAX
    min_cleanable_dirty_ratio: float = 0.5
    message_timestamp_type: str = "CreateTime"     # or "LogAppendTime"
    message_timestamp_before_max_ms: int = LONG_MAX
    message_timestamp_after_max_ms: int = 3_600_000
    compression_type: str = "producer"
    max_message_bytes: int = 1024 * 1024 + 12
    min_insync_replicas: int = 1
    # A broker setting, carried here for the producer state of each log.
    producer_id_expiration_ms: int = 24 * 3600 * 1000

    def __post_init__(self) -> None:
        # Config tables hold list-typed values as lists.
        if not isinstance(self.cleanup_policy, str):
            self.cleanup_policy = ",".join(self.cleanup_policy)

    @property
    def compact(self) -> bool:
        return "compact" in self._policies()

    @property
    def delete(self) -> bool:
        return "delete" in self._policies()

    @property
    def log_append_time(self) -> bool:
        return self.message_timestamp_type == "LogAppendTime"

    def _policies(self) -> set[str]:
        return {p.strip() for p in self.cleanup_policy.split(",")}

    @classmethod
    def from_topic_config(cls, values: Mapping[str, Any], base: LogConfig | None = None) -> LogConfig:
        """Build from typed values keyed by Kafka topic config names
        (``{"retention.ms": 1000, "cleanup.policy": ["compact"]}``); names the
        log does not use are ignored, missing ones come from ``base``."""
        fields = {f.name for f in dataclasses.fields(cls)}
        changes = {}
        for name, value in values.items():
            attr = name.replace(".", "_")
            if attr in fields:
                changes[attr] = value
        return dataclasses.replace(base or cls(), **changes)
