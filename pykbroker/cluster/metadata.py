"""The cluster metadata state machine: brokers, topics, partitions, configs.

Pure state and deterministic command application, nothing else: a single
broker persists it locally (``store.LocalMetadataStore``), several brokers
replicate the same commands through Raft. Commands are plain dicts so that
they serialise to JSON for either.
"""
from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass, field
from typing import Any

from ..errors import ErrorCode
from . import replication_control

ZERO_UUID = bytes(16)


def new_uuid() -> bytes:
    """A random id as Kafka's Uuid.randomUuid makes it: never zero, never the
    metadata topic's id (1), and never one whose string form starts with '-'."""
    while True:
        value = uuid.uuid4().bytes
        if value != ZERO_UUID and value != bytes(15) + b"\x01" and not uuid_str(value).startswith("-"):
            return value


def uuid_str(value: bytes) -> str:
    """Kafka's Uuid.toString: URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(value).decode().rstrip("=")


def uuid_from_str(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class BrokerRegistration:
    node_id: int
    endpoints: list[tuple[str, str, int]]  # (listener name, host, port)
    rack: str | None = None
    fenced: bool = False
    epoch: int = 0
    # Multi-broker mode: a new one each time the broker process starts, and
    # set while it moves its partitions away before stopping.
    incarnation: str | None = None
    in_controlled_shutdown: bool = False

    def endpoint(self, listener: str) -> tuple[str, int] | None:
        for name, host, port in self.endpoints:
            if name == listener:
                return host, port
        return None


@dataclass
class PartitionRegistration:
    replicas: list[int]
    isr: list[int]
    leader: int
    leader_epoch: int = 0
    # Bumped on every change of the registration (Kafka's partition epoch).
    partition_epoch: int = 0


@dataclass
class TopicRegistration:
    name: str
    topic_id: bytes
    partitions: list[PartitionRegistration]
    # Topic config overrides, as the strings the admin client sent.
    configs: dict[str, str] = field(default_factory=dict)


class ClusterMetadata:
    def __init__(self, cluster_id: str | None = None):
        self.cluster_id = cluster_id
        self.brokers: dict[int, BrokerRegistration] = {}
        self.topics: dict[str, TopicRegistration] = {}
        self.topic_names: dict[bytes, str] = {}
        # Dynamic broker configs: key "" holds the cluster-wide defaults.
        self.broker_configs: dict[str, dict[str, str]] = {}
        self.controller_id: int = -1
        # The first producer id not yet handed out to a broker (Kafka's
        # controller allocates them in blocks: ProducerIdsRecord).
        self.next_producer_id = 0
        self.epoch = 0  # count of applied commands
        # Bumped by every change of brokers' state or partition leadership and
        # ISRs (not persisted): tells hosts of partitions to look again.
        self.leadership_version = 0

    # --- reading -----------------------------------------------------------
    def topic_by_id(self, topic_id: bytes) -> TopicRegistration | None:
        name = self.topic_names.get(topic_id)
        return self.topics.get(name) if name is not None else None

    def live_brokers(self) -> list[BrokerRegistration]:
        return [b for _, b in sorted(self.brokers.items()) if not b.fenced]

    def controller_for_clients(self) -> int:
        """The controller id Metadata and DescribeCluster tell clients: KRaft
        brokers name a live broker (clients send controller requests there);
        the active controller when it is one."""
        live = [b.node_id for b in self.live_brokers()]
        if self.controller_id in live or not live:
            return self.controller_id
        return live[0]

    # --- commands ------------------------------------------------------------
    def apply(self, command: dict[str, Any]) -> Any:
        handler = getattr(self, "_apply_" + command["type"])
        result = handler(command)
        self.epoch += 1
        return result

    def _apply_set_cluster_id(self, c):
        if self.cluster_id is None:
            self.cluster_id = c["cluster_id"]

    def _apply_register_broker(self, c):
        if "incarnation" in c:  # multi-broker mode
            return replication_control.register_broker(self, c)
        self.brokers[c["node_id"]] = BrokerRegistration(
            c["node_id"], [tuple(e) for e in c["endpoints"]], c.get("rack"),
            c.get("fenced", False), c.get("epoch", 0))

    # Broker life cycle and partition leadership: see replication_control.
    def _apply_broker_heartbeat(self, c):
        return replication_control.broker_heartbeat(self, c)

    def _apply_fence_broker(self, c):
        return replication_control.fence_broker(self, c)

    def _apply_controlled_shutdown(self, c):
        return replication_control.controlled_shutdown(self, c)

    def _apply_alter_partition(self, c):
        return replication_control.alter_partition(self, c)

    def _apply_elect_leaders(self, c):
        return replication_control.elect_leaders(self, c)

    def _apply_set_broker_fenced(self, c):
        broker = self.brokers.get(c["node_id"])
        if broker is not None:
            broker.fenced = c["fenced"]

    def _apply_set_controller(self, c):
        self.controller_id = c["node_id"]

    def _apply_create_topic(self, c):
        # With several brokers two may create the same name at once: the first wins.
        if c["name"] in self.topics:
            return ErrorCode.TOPIC_ALREADY_EXISTS
        topic_id = uuid_from_str(c["topic_id"])
        self.topics[c["name"]] = TopicRegistration(
            c["name"], topic_id,
            [PartitionRegistration(list(r), *replication_control.initial_partition(self, r))
             for r in c["assignments"]],
            dict(c.get("configs", {})))
        self.topic_names[topic_id] = c["name"]

    def _apply_delete_topic(self, c):
        topic = self.topics.pop(c["name"], None)
        if topic is not None:
            self.topic_names.pop(topic.topic_id, None)

    def _apply_add_partitions(self, c):
        topic = self.topics.get(c["name"])
        if topic is None:
            return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
        if len(topic.partitions) != c.get("from", len(topic.partitions)):  # grown meanwhile by another request
            return ErrorCode.INVALID_PARTITIONS
        for replicas in c["assignments"]:
            topic.partitions.append(PartitionRegistration(
                list(replicas), *replication_control.initial_partition(self, replicas)))

    def _apply_alter_topic_configs(self, c):
        self.topics[c["name"]].configs = dict(c["configs"])

    def _apply_alter_broker_configs(self, c):
        key = c["resource"]  # "" for the cluster default, else the node id as a string
        configs = dict(c["configs"])
        if configs:
            self.broker_configs[key] = configs
        else:
            self.broker_configs.pop(key, None)

    def _apply_allocate_producer_ids(self, c):
        """A block of ``count`` producer ids for broker ``node_id``; returns its first id."""
        first = self.next_producer_id
        self.next_producer_id += c["count"]
        return first

    def _apply_change_partition(self, c):
        partition = self.topics[c["topic"]].partitions[c["partition"]]
        for key in ("leader", "isr", "replicas"):
            if key in c:
                setattr(partition, key, c[key] if key == "leader" else list(c[key]))
        if c.get("bump_leader_epoch"):
            partition.leader_epoch += 1
        partition.partition_epoch += 1

    # --- persistence ---------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "cluster_id": self.cluster_id,
            "controller_id": self.controller_id,
            "epoch": self.epoch,
            "brokers": [vars(b) for b in self.brokers.values()],
            "topics": [{"name": t.name, "topic_id": uuid_str(t.topic_id), "configs": t.configs,
                        "partitions": [vars(p) for p in t.partitions]} for t in self.topics.values()],
            "broker_configs": self.broker_configs,
            "next_producer_id": self.next_producer_id,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "ClusterMetadata":
        metadata = cls(data["cluster_id"])
        metadata.controller_id = data.get("controller_id", -1)
        metadata.epoch = data.get("epoch", 0)
        for b in data["brokers"]:
            b = dict(b, endpoints=[tuple(e) for e in b["endpoints"]])
            metadata.brokers[b["node_id"]] = BrokerRegistration(**b)
        for t in data["topics"]:
            topic = TopicRegistration(t["name"], uuid_from_str(t["topic_id"]),
                                      [PartitionRegistration(**p) for p in t["partitions"]],
                                      t.get("configs", {}))
            metadata.topics[topic.name] = topic
            metadata.topic_names[topic.topic_id] = topic.name
        metadata.broker_configs = data.get("broker_configs", {})
        metadata.next_producer_id = data.get("next_producer_id", 0)
        return metadata
