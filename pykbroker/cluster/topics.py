"""Topic administration as Kafka's controller does it: name rules, replica
placement, validation of partition counts and configs, then a metadata
command. Used by CreateTopics, DeleteTopics, CreatePartitions, the config
APIs and auto-creation."""
from __future__ import annotations

import random
import re
from typing import Any

from ..config import ConfigError, validate_topic_configs
from ..errors import ErrorCode, KafkaError
from .metadata import TopicRegistration, new_uuid, uuid_str

MAX_NAME_LENGTH = 249
_LEGAL_NAME = re.compile(r"[a-zA-Z0-9._-]+")
INTERNAL_TOPICS = frozenset({"__consumer_offsets", "__transaction_state"})


def check_topic_name(name: str | None) -> None:
    """Kafka's Topic.validate, raising INVALID_TOPIC_EXCEPTION."""
    if not name:
        raise KafkaError(ErrorCode.INVALID_TOPIC_EXCEPTION, "Topic name is illegal, it can't be empty")
    if name in (".", ".."):
        raise KafkaError(ErrorCode.INVALID_TOPIC_EXCEPTION, "Topic name cannot be \".\" or \"..\"")
    if len(name) > MAX_NAME_LENGTH:
        raise KafkaError(ErrorCode.INVALID_TOPIC_EXCEPTION,
                         f"Topic name is illegal, it can't be longer than {MAX_NAME_LENGTH} characters, "
                         f"topic name: {name}")
    if not _LEGAL_NAME.fullmatch(name):
        raise KafkaError(ErrorCode.INVALID_TOPIC_EXCEPTION,
                         f"Topic name \"{name}\" is illegal, it contains a character other than ASCII "
                         f"alphanumerics, '.', '_' and '-'")


def is_internal(name: str) -> bool:
    return name in INTERNAL_TOPICS


class TopicAdmin:
    def __init__(self, broker: Any):
        self.broker = broker

    @property
    def metadata(self):
        return self.broker.store.metadata

    # --- create --------------------------------------------------------------------
    def plan_topic(self, name: str, num_partitions: int, replication_factor: int,
                   assignments: list[list[int]] | None, configs: dict[str, str]) -> dict[str, Any]:
        """Validate a new topic; returns the metadata command that creates it."""
        check_topic_name(name)
        if name in self.metadata.topics:
            raise KafkaError(ErrorCode.TOPIC_ALREADY_EXISTS, f"Topic '{name}' already exists.")
        collision = name.replace(".", "_")
        for existing in self.metadata.topics:
            if existing.replace(".", "_") == collision:
                raise KafkaError(ErrorCode.INVALID_TOPIC_EXCEPTION,
                                 f"Topic '{name}' collides with existing topic: {existing}")
        try:
            validate_topic_configs(configs.items())
        except ConfigError as e:
            raise KafkaError(ErrorCode.INVALID_CONFIG, str(e)) from None
        if assignments:
            if num_partitions != -1 or replication_factor != -1:
                raise KafkaError(ErrorCode.INVALID_REQUEST,
                                 "Both numPartitions or replicationFactor and replicasAssignments were set. "
                                 "Both cannot be used at the same time.")
            self._check_assignments(assignments)
        else:
            if num_partitions == -1:
                num_partitions = self.broker.config.get("num.partitions")
            if replication_factor == -1:
                replication_factor = self.broker.config.get("default.replication.factor")
            if num_partitions <= 0:
                raise KafkaError(ErrorCode.INVALID_PARTITIONS, "Number of partitions was set to an invalid "
                                 f"non-positive value.")
            if replication_factor <= 0:
                raise KafkaError(ErrorCode.INVALID_REPLICATION_FACTOR, "Replication factor must be larger "
                                 f"than 0, or -1 to use the default value.")
            assignments = self.place_replicas(num_partitions, replication_factor)
        return {"type": "create_topic", "name": name, "topic_id": uuid_str(new_uuid()),
                "assignments": assignments, "configs": dict(configs)}

    async def create(self, name: str, num_partitions: int = -1, replication_factor: int = -1,
                     assignments: list[list[int]] | None = None, configs: dict[str, str] | None = None,
                     validate_only: bool = False) -> TopicRegistration | dict[str, Any]:
        command = self.plan_topic(name, num_partitions, replication_factor, assignments, configs or {})
        if validate_only:
            return command
        if await self.broker.store.submit(command) == ErrorCode.TOPIC_ALREADY_EXISTS:
            raise KafkaError(ErrorCode.TOPIC_ALREADY_EXISTS, f"Topic '{name}' already exists.")
        return self.metadata.topics[name]

    def place_replicas(self, num_partitions: int, replication_factor: int,
                       first_partition: int = 0) -> list[list[int]]:
        """Kafka's rack-unaware placement: leaders round-robin from a random
        broker, followers shifted so that replicas spread evenly."""
        brokers = [b.node_id for b in self.metadata.live_brokers()]
        if replication_factor > len(brokers):
            raise KafkaError(ErrorCode.INVALID_REPLICATION_FACTOR,
                             f"Unable to replicate the partition {replication_factor} time(s): The target "
                             f"replication factor of {replication_factor} cannot be reached because only "
                             f"{len(brokers)} broker(s) are registered.")
        count = len(brokers)
        start = random.randrange(count)
        shift = random.randrange(count)
        result = []
        for p in range(first_partition, first_partition + num_partitions):
            if p > 0 and p % count == 0:
                shift += 1
            first = (p + start) % count
            replicas = [brokers[first]]
            for j in range(replication_factor - 1):
                replicas.append(brokers[(first + 1 + (shift + j) % (count - 1)) % count] if count > 1
                                else brokers[first])
            result.append(replicas)
        return result

    def _check_assignments(self, assignments: list[list[int]]) -> None:
        brokers = set(self.metadata.brokers)
        sizes = {len(replicas) for replicas in assignments}
        for replicas in assignments:
            if not replicas:
                raise KafkaError(ErrorCode.INVALID_REPLICA_ASSIGNMENT, "Replica assignment is empty.")
            if len(set(replicas)) != len(replicas):
                raise KafkaError(ErrorCode.INVALID_REPLICA_ASSIGNMENT,
                                 f"Duplicate brokers not allowed in replica assignment: {replicas}.")
            unknown = [r for r in replicas if r not in brokers]
            if unknown:
                raise KafkaError(ErrorCode.INVALID_REPLICA_ASSIGNMENT,
                                 f"The manual partition assignment includes broker {unknown[0]}, but no "
                                 f"such broker is registered.")
        if len(sizes) > 1:
            raise KafkaError(ErrorCode.INVALID_REPLICA_ASSIGNMENT,
                             "All partitions in the manual partition assignment must have the same "
                             "number of replicas.")

    # --- delete ----------------------------------------------------------------------
    async def delete(self, name: str) -> None:
        if not self.broker.config.get("delete.topic.enable"):
            raise KafkaError(ErrorCode.TOPIC_DELETION_DISABLED, "Topic deletion is disabled.")
        if name not in self.metadata.topics:
            raise KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
                             "This server does not host this topic-partition.")
        await self.broker.store.submit({"type": "delete_topic", "name": name})

    # --- partitions --------------------------------------------------------------------
    async def add_partitions(self, name: str, count: int, assignments: list[list[int]] | None,
                             validate_only: bool) -> None:
        topic = self.metadata.topics.get(name)
        if topic is None:
            raise KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
                             "This server does not host this topic-partition.")
        current = len(topic.partitions)
        if count < current:
            raise KafkaError(ErrorCode.INVALID_PARTITIONS,
                             f"The topic {name} currently has {current} partition(s); {count} would not "
                             f"be an increase.")
        if count == current:
            raise KafkaError(ErrorCode.INVALID_PARTITIONS, f"Topic already has {current} partition(s).")
        added = count - current
        if assignments is not None:
            if len(assignments) != added:
                raise KafkaError(ErrorCode.INVALID_REPLICA_ASSIGNMENT,
                                 f"Attempted to add {added} additional partition(s), but only "
                                 f"{len(assignments)} assignment(s) were specified.")
            self._check_assignments(assignments + [topic.partitions[0].replicas])
        else:
            assignments = self.place_replicas(added, len(topic.partitions[0].replicas), current)
        if not validate_only:
            code = await self.broker.store.submit({"type": "add_partitions", "name": name, "from": current,
                                                   "assignments": assignments})
            if code is not None:
                raise KafkaError(code, f"Topic {name} changed while its partitions were being added.")

    # --- configs -------------------------------------------------------------------------
    async def set_configs(self, name: str, configs: dict[str, str], validate_only: bool) -> None:
        """Replace the topic's config overrides."""
        if name not in self.metadata.topics:
            raise KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
                             "This server does not host this topic-partition.")
        try:
            validate_topic_configs(configs.items())
        except ConfigError as e:
            raise KafkaError(ErrorCode.INVALID_CONFIG, str(e)) from None
        if not validate_only:
            await self.broker.store.submit({"type": "alter_topic_configs", "name": name, "configs": configs})

    # --- auto-creation ----------------------------------------------------------------------
    async def auto_create(self, name: str) -> TopicRegistration:
        """Create a topic on first use with the broker defaults (Metadata with
        auto-creation allowed and auto.create.topics.enable)."""
        return await self.create(name)
