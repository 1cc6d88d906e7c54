"""The partitions this broker hosts, kept in step with the cluster metadata:
logs are created, reconfigured and deleted as topics come and go."""
from __future__ import annotations

import dataclasses
import logging
from typing import Any

from ..config import effective_topic_configs
from ..errors import ErrorCode, KafkaError
from ..log.log_config import LogConfig
from .metadata import ClusterMetadata, TopicRegistration
from .partition import Partition

log = logging.getLogger("pykbroker.replicas")

_LOG_CONFIG_FIELDS = {f.name for f in dataclasses.fields(LogConfig)}


def log_config(broker_config: Any, overrides: dict[str, str]) -> LogConfig:
    """The log settings of a topic: its overrides over the broker defaults."""
    values = {name.replace(".", "_"): value
              for name, (value, _, _) in effective_topic_configs(broker_config, overrides).items()}
    values["producer_id_expiration_ms"] = broker_config.get("producer.id.expiration.ms")
    return LogConfig(**{k: v for k, v in values.items() if k in _LOG_CONFIG_FIELDS})


class ReplicaManager:
    def __init__(self, node_id: int, broker_config: Any, log_manager: Any, metadata: ClusterMetadata):
        self.node_id = node_id
        self.broker_config = broker_config
        self.log_manager = log_manager
        self.metadata = metadata
        self.partitions: dict[tuple[str, int], Partition] = {}
        # Multi-broker mode: off until this broker's registration is applied,
        # so that it never acts on the metadata it replays meanwhile; then the
        # partitions' way to propose ISR changes, and who learns of
        # partitions changing (the replica fetchers).
        self.ready = True
        self.isr_changer = None
        self.on_reconciled: list = []
        self._reconciled_version = -1

    def get(self, topic: str, index: int) -> Partition | None:
        return self.partitions.get((topic, index))

    def leader_partition(self, topic: str, index: int) -> Partition:
        """The partition if this broker leads it, else the error to answer."""
        partition = self.partitions.get((topic, index))
        if partition is None:
            if topic in self.metadata.topics and 0 <= index < len(self.metadata.topics[topic].partitions):
                raise KafkaError(ErrorCode.NOT_LEADER_OR_FOLLOWER,
                                 f"This broker is not a replica of {topic}-{index}")
            raise KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
                             "This server does not host this topic-partition.")
        if not partition.is_leader:
            raise KafkaError(ErrorCode.NOT_LEADER_OR_FOLLOWER,
                             f"This broker is not the leader of {topic}-{index}")
        return partition

    def hosted_partition(self, topic: str, index: int) -> Partition:
        """The partition if this broker holds a replica of it, leader or not."""
        partition = self.partitions.get((topic, index))
        if partition is None:
            raise KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
                             "This server does not host this topic-partition.")
        return partition

    def leader_and_epoch(self, topic: str, index: int) -> dict:
        """The CurrentLeader tagged field of NOT_LEADER_OR_FOLLOWER answers."""
        registration = self.metadata.topics.get(topic)
        if registration is None or not 0 <= index < len(registration.partitions):
            return {"leader_id": -1, "leader_epoch": -1}
        p = registration.partitions[index]
        return {"leader_id": p.leader, "leader_epoch": p.leader_epoch}


    def leadership_changed(self) -> bool:
        """Whether brokers' state or partition leadership or ISRs changed
        since the last reconcile (multi-broker mode)."""
        return self.metadata.leadership_version != self._reconciled_version

    def reconcile(self) -> None:
        """Bring hosted partitions in line with the metadata: called at start
        and after every metadata change (changes are rare, so the whole
        comparison is cheap enough and has no incremental special cases)."""
        if not self.ready:
            return
        self._reconciled_version = self.metadata.leadership_version
        wanted: dict[tuple[str, int], tuple[TopicRegistration, Any]] = {}
        for topic in self.metadata.topics.values():
            for index, registration in enumerate(topic.partitions):
                if self.node_id in registration.replicas:
                    wanted[(topic.name, index)] = (topic, registration)
        for key in [k for k in self.partitions if k not in wanted]:
            partition = self.partitions.pop(key)
            partition.wake_waiters()
            self.log_manager.delete_log(*key)
            log.info("deleted partition %s-%d", *key)
        for topic_name, index in self.log_manager.stray_logs(set(wanted)):
            self.log_manager.delete_log(topic_name, index)
            log.info("deleted stray log %s-%d", topic_name, index)
        for key, (topic, registration) in wanted.items():
            config = log_config(self.broker_config, topic.configs)
            partition = self.partitions.get(key)
            if partition is not None and partition.topic_id != topic.topic_id:
                # The topic was deleted and created again under the same name.
                self.partitions.pop(key).wake_waiters()
                self.log_manager.delete_log(*key)
                partition = None
            if partition is None:
                partition_log = self.log_manager.get_or_create_log(key[0], key[1], config)
                partition_log.config = config  # a log found at start was opened before the metadata was read
                partition = self.partitions[key] = Partition(key[0], key[1], topic.topic_id, partition_log,
                                                             self.node_id, registration)
                partition.isr_changer = self.isr_changer
                partition.replica_lag_time_max_ms = self.broker_config.get("replica.lag.time.max.ms")
            else:
                partition.log.config = config
                partition.update_registration(registration)
        for hook in self.on_reconciled:
            hook(self.partitions)
