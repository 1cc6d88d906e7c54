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
# Kafka's controller refuses a whole request that adds more partitions
# (MAX_PARTITIONS_PER_BATCH) or writes more metadata records
# (MAX_RECORDS_PER_USER_OP) than this.
MAX_PARTITIONS_PER_REQUEST = 10_000
MAX_RECORDS_PER_REQUEST = 10_000


def check_topic_name(name: str | None) -> None:
    """Kafka's Topic.validate, raising INVALID_TOPIC_EXCEPTION."""
    if not name:
        problem = "the empty string is not allowed"
    elif name in (".", ".."):
        problem = f"'{name}' is not allowed"
    elif len(name) > MAX_NAME_LENGTH:
        problem = f"the length of '{name}' is longer than the max allowed length {MAX_NAME_LENGTH}"
    elif not _LEGAL_NAME.fullmatch(name):
        problem = f"'{name}' contains one or more characters other than ASCII alphanumerics, '.', '_' and '-'"
    else:
        return
    raise KafkaError(ErrorCode.INVALID_TOPIC_EXCEPTION, f"Topic name is invalid: {problem}")


def is_internal(name: str) -> bool:
    return name in INTERNAL_TOPICS


class TopicAdmin:
    def __init__(self, broker: Any):
        self.broker = broker

    @property
    def metadata(self):
        return self.broker.store.metadata

    # --- create --------------------------------------------------------------------
    def check_new_partitions(self, topics: list[tuple[int, int]]) -> None:
        """Kafka's limit on the partitions one CreateTopics request asks for;
        ``topics`` holds each topic's (num_partitions, number of manual assignments)."""
        total = 0
        for num_partitions, assigned in topics:
            if assigned:
                total += assigned
            elif num_partitions == -1:
                total += self.broker.config.get("num.partitions")
            else:
                total += max(num_partitions, 0)
        if total > MAX_PARTITIONS_PER_REQUEST:
            raise KafkaError(ErrorCode.POLICY_VIOLATION, "Excessively large number of partitions per request.")

    @staticmethod
    def check_records(commands: list[dict[str, Any]]) -> None:
        """Kafka's limit on the metadata records of one request: per topic one,
        one per config override and one per partition."""
        if sum(1 + len(c["configs"]) + len(c["assignments"]) for c in commands) > MAX_RECORDS_PER_REQUEST:
            raise KafkaError(ErrorCode.POLICY_VIOLATION, "Unable to perform excessively large batch operation.")

    def plan_topic(self, name: str, num_partitions: int, replication_factor: int,
                   assignments: list[tuple[int, list[int]]] | None, configs: dict[str, str | None]) -> dict[str, Any]:
        """Validate a new topic in the order of Kafka's controller; returns the
        metadata command that creates it. ``assignments``: (partition, replicas)."""
        check_topic_name(name)
        if name in self.metadata.topics:
            raise KafkaError(ErrorCode.TOPIC_ALREADY_EXISTS, f"Topic '{name}' already exists.")
        # Only existing topics count: a request may create "a.b" and "a_b" together, as in Kafka.
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
            placed = self._manual_assignment(num_partitions, replication_factor, assignments)
        else:
            placed = self._automatic_assignment(num_partitions, replication_factor)
        return {"type": "create_topic", "name": name, "topic_id": uuid_str(new_uuid()),
                "assignments": placed, "configs": dict(configs)}

    def _manual_assignment(self, num_partitions: int, replication_factor: int,
                           assignments: list[tuple[int, list[int]]]) -> list[list[int]]:
        if replication_factor != -1:
            raise KafkaError(ErrorCode.INVALID_REQUEST, "A manual partition assignment was specified, but "
                             "replication factor was not set to -1.")
        if num_partitions != -1:
            raise KafkaError(ErrorCode.INVALID_REQUEST, "A manual partition assignment was specified, but "
                             "numPartitions was not set to -1.")
        by_index: dict[int, list[int]] = {}
        replication = None  # that of the partitions before: all must have the same
        for index, replicas in assignments:
            if index in by_index:
                raise KafkaError(ErrorCode.INVALID_REPLICA_ASSIGNMENT,
                                 f"Found multiple manual partition assignments for partition {index}")
            self._check_replicas(replicas, replication)
            replication = len(replicas)
            by_index[index] = replicas
        if sorted(by_index) != list(range(len(by_index))):
            raise KafkaError(ErrorCode.INVALID_REPLICA_ASSIGNMENT,
                             "partitions should be a consecutive 0-based integer sequence")
        return [by_index[i] for i in range(len(by_index))]

    def _automatic_assignment(self, num_partitions: int, replication_factor: int) -> list[list[int]]:
        if replication_factor < -1 or replication_factor == 0:
            raise KafkaError(ErrorCode.INVALID_REPLICATION_FACTOR, "Replication factor must be larger than 0, "
                             "or -1 to use the default value.")
        if num_partitions < -1 or num_partitions == 0:
            raise KafkaError(ErrorCode.INVALID_PARTITIONS, "Number of partitions was set to an invalid "
                             "non-positive value.")
        if num_partitions == -1:
            num_partitions = self.broker.config.get("num.partitions")
        if replication_factor == -1:
            replication_factor = self.broker.config.get("default.replication.factor")
        try:
            return self.place_replicas(num_partitions, replication_factor)
        except KafkaError as e:
            raise KafkaError(e.code, f"Unable to replicate the partition {replication_factor} time(s): "
                                     f"{e.message}") from None

    async def create(self, name: str, num_partitions: int = -1, replication_factor: int = -1,
                     configs: dict[str, str] | None = None) -> TopicRegistration:
        """Create a topic placed by the broker (auto-creation, internal topics)."""
        return await self.submit_topic(self.plan_topic(name, num_partitions, replication_factor, None,
                                                       configs or {}))

    async def submit_topic(self, command: dict[str, Any]) -> TopicRegistration:
        """Create a topic planned by plan_topic."""
        if await self.broker.store.submit(command) == ErrorCode.TOPIC_ALREADY_EXISTS:
            raise KafkaError(ErrorCode.TOPIC_ALREADY_EXISTS, f"Topic '{command['name']}' already exists.")
        return self.metadata.topics[command["name"]]

    def place_replicas(self, num_partitions: int, replication_factor: int,
                       first_partition: int = 0) -> list[list[int]]:
        """Kafka's rack-unaware placement: leaders round-robin from a random
        broker, followers shifted so that replicas spread evenly."""
        brokers = [b.node_id for b in self.metadata.live_brokers()]
        if replication_factor > len(brokers):
            raise KafkaError(ErrorCode.INVALID_REPLICATION_FACTOR,
                             f"The target replication factor of {replication_factor} cannot be reached because "
                             f"only {len(brokers)} broker(s) are registered or some brokers have all their log "
                             f"directories cordoned.")
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

    def _check_replicas(self, replicas: list[int], replication_factor: int | None) -> None:
        """Kafka's validateManualPartitionAssignment, for CreateTopics and CreatePartitions."""
        if not replicas:
            raise KafkaError(ErrorCode.INVALID_REPLICA_ASSIGNMENT,
                             "The manual partition assignment includes an empty replica list.")
        previous = None
        for broker_id in sorted(replicas):
            if broker_id not in self.metadata.brokers:
                raise KafkaError(ErrorCode.INVALID_REPLICA_ASSIGNMENT,
                                 f"The manual partition assignment includes broker {broker_id}, but no such "
                                 f"broker is registered.")
            if broker_id == previous:
                raise KafkaError(ErrorCode.INVALID_REPLICA_ASSIGNMENT,
                                 f"The manual partition assignment includes the broker {broker_id} more than once.")
            previous = broker_id
        if replication_factor is not None and len(replicas) != replication_factor:
            raise KafkaError(ErrorCode.INVALID_REPLICA_ASSIGNMENT,
                             f"The manual partition assignment includes a partition with {len(replicas)} "
                             f"replica(s), but this is not consistent with previous partitions, which have "
                             f"{replication_factor} replica(s).")

    # --- delete ----------------------------------------------------------------------
    async def delete(self, name: str) -> None:
        if not self.broker.config.get("delete.topic.enable"):
            raise KafkaError(ErrorCode.TOPIC_DELETION_DISABLED, "Topic deletion is disabled.")
        if name not in self.metadata.topics:
            raise KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
                             "This server does not host this topic-partition.")
        await self.broker.store.submit({"type": "delete_topic", "name": name})

    # --- partitions --------------------------------------------------------------------
    def check_additional_partitions(self, requests: list[tuple[str, int]]) -> None:
        """Kafka's limit on the partitions one CreatePartitions request adds;
        ``requests`` holds each topic's (name, new partition count)."""
        added = sum(max(count - len(self.metadata.topics[name].partitions), 0)
                    for name, count in requests if name in self.metadata.topics)
        if added > MAX_PARTITIONS_PER_REQUEST:
            raise KafkaError(ErrorCode.POLICY_VIOLATION,
                             "Excessively large number of additional partitions per request.")

    async def add_partitions(self, name: str, count: int, assignments: list[list[int]] | None,
                             validate_only: bool) -> None:
        topic = self.metadata.topics.get(name)
        if topic is None:
            raise KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)  # with no message, as Kafka
        current = len(topic.partitions)
        if count < current:
            raise KafkaError(ErrorCode.INVALID_PARTITIONS,
                             f"The topic {name} currently has {current} partition(s); {count} would not "
                             f"be an increase.")
        if count == current:
            raise KafkaError(ErrorCode.INVALID_PARTITIONS, f"Topic already has {current} partition(s).")
        added = count - current
        replication = len(topic.partitions[0].replicas)
        if assignments is not None:
            if len(assignments) != added:
                raise KafkaError(ErrorCode.INVALID_REPLICA_ASSIGNMENT,
                                 f"Attempted to add {added} additional partition(s), but only "
                                 f"{len(assignments)} assignment(s) were specified.")
            for replicas in assignments:
                self._check_replicas(replicas, replication)
        else:
            assignments = self.place_replicas(added, replication, current)
        if not validate_only:
            code = await self.broker.store.submit({"type": "add_partitions", "name": name, "from": current,
                                                   "assignments": assignments})
            if code is not None:
                raise KafkaError(code, f"Topic {name} changed while its partitions were being added.")

    # --- configs -------------------------------------------------------------------------
    async def set_configs(self, name: str, configs: dict[str, str], validate_only: bool) -> None:
        """Replace the topic's config overrides; checked in the order of Kafka's
        controller: the name, the configs, then that the topic exists."""
        if name == "":
            raise KafkaError(ErrorCode.INVALID_REQUEST, "Default topic resources are not allowed.")
        check_topic_name(name)
        try:
            validate_topic_configs(configs.items())
        except ConfigError as e:
            raise KafkaError(ErrorCode.INVALID_CONFIG, str(e)) from None
        if name not in self.metadata.topics:
            raise KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, f"The topic '{name}' does not exist.")
        if not validate_only:
            await self.broker.store.submit({"type": "alter_topic_configs", "name": name, "configs": configs})

    # --- auto-creation ----------------------------------------------------------------------
    async def auto_create(self, name: str) -> TopicRegistration:
        """Create a topic on first use with the broker defaults (Metadata with
        auto-creation allowed and auto.create.topics.enable)."""
        return await self.create(name)
