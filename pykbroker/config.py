"""Broker and topic configuration, by Kafka's own property names.

Broker properties come from a ``server.properties`` file, ``--override
name=value`` flags and ``PYKBROKER_*`` environment variables; unknown names
and invalid values are refused at start. Topic configs (``retention.ms``...)
default to their broker synonyms (``log.retention.ms``...), as in Kafka.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable

LONG_MAX = 2**63 - 1
INT_MAX = 2**31 - 1


class ConfigError(ValueError):
    """A property that is unknown or has an invalid value."""


# DescribeConfigs ConfigType codes
TYPE_CODES = {"boolean": 1, "string": 2, "int": 3, "short": 4, "long": 5,
              "double": 6, "list": 7, "class": 8, "password": 9}

# DescribeConfigs ConfigSource codes
SOURCE_DYNAMIC_TOPIC = 1
SOURCE_DYNAMIC_BROKER = 2
SOURCE_DYNAMIC_DEFAULT_BROKER = 3
SOURCE_STATIC_BROKER = 4
SOURCE_DEFAULT = 5


@dataclass(frozen=True)
class ConfigDef:
    name: str
    type: str
    default: Any
    validator: Callable[[Any], str | None] | None = None
    # Broker configs that may be changed at runtime through the admin APIs.
    dynamic: bool = False
    sensitive: bool = False

    def parse(self, raw: Any) -> Any:
        """Kafka's ConfigDef.parseType: strings from files and requests to values."""
        try:
            value = _parse(self.type, raw)
        except (TypeError, ValueError):
            problem = ("Expected value to be either true or false" if self.type == "boolean"
                       else f"Not a number of type {self.type.upper()}")
            raise ConfigError(f"Invalid value {raw} for configuration {self.name}: {problem}") from None
        if value is None:
            return None
        if self.type == "list":
            return self._check_items(value)
        if self.validator is not None and (problem := self.validator(value)):
            raise ConfigError(f"Invalid value {raw} for configuration {self.name}: {problem}")
        return value

    def _check_items(self, items: list[str]) -> list[str]:
        """Kafka's ValidList refuses empty items ("a,,b") and checks each item on
        its own; lists without a validator just skip empty items."""
        if self.validator is None:
            return [item for item in items if item]
        if "" in items:
            raise ConfigError(f"Configuration '{self.name}' values must not be empty.")
        for item in items:
            if problem := self.validator(item):
                raise ConfigError(f"Invalid value {item} for configuration {self.name}: {problem}")
        return items


def _parse(kind: str, raw: Any) -> Any:
    if raw is None:
        return None
    if not isinstance(raw, str):
        return raw
    raw = raw.strip()
    if kind in ("int", "short", "long"):
        value = int(raw)
        limit = {"int": 2**31, "short": 2**15, "long": 2**63}[kind]
        if not -limit <= value < limit:
            raise ValueError(raw)
        return value
    if kind == "double":
        return float(raw)
    if kind == "boolean":
        if raw.lower() not in ("true", "false"):
            raise ValueError(raw)
        return raw.lower() == "true"
    if kind == "list":
        return [item.strip() for item in raw.split(",")] if raw else []  # empty items: see _check_items
    return raw


def format_value(kind: str, value: Any) -> str | None:
    """The string form Kafka shows in DescribeConfigs."""
    if value is None:
        return None
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "list":
        return ",".join(value)
    return str(value)


def at_least(minimum: int | float) -> Callable[[Any], str | None]:
    return lambda v: None if v >= minimum else f"Value must be at least {minimum}"


def one_of(*choices: str) -> Callable[[Any], str | None]:
    """Kafka's ValidString; its message lists the choices in the order given here."""
    return lambda v: None if v in choices else f"String must be one of: {', '.join(choices)}"


def _in_range(low: float, high: float) -> Callable[[Any], str | None]:
    return lambda v: None if low <= v <= high else f"Value must be in [{low}, {high}]"


COMPRESSION_TYPES = ("uncompressed", "zstd", "lz4", "snappy", "gzip", "producer")
TIMESTAMP_TYPES = ("CreateTime", "LogAppendTime")


# Topic-level configs: (definition, broker synonyms in order of precedence).
# The broker synonym supplies the default unless the topic overrides it.
# Those of tiered storage (remote.*), dead-letter queues and
# max.decompressed.message.bytes are accepted and shown, without effect here.
_TOPIC_CONFIGS: list[tuple[ConfigDef, tuple[str, ...]]] = [
    (ConfigDef("cleanup.policy", "list", ["delete"], one_of("compact", "delete")), ("log.cleanup.policy",)),
    (ConfigDef("compression.type", "string", "producer", one_of(*COMPRESSION_TYPES)), ("compression.type",)),
    (ConfigDef("compression.gzip.level", "int", -1, _in_range(-1, 9)), ("compression.gzip.level",)),
    (ConfigDef("compression.lz4.level", "int", 9, _in_range(1, 17)), ("compression.lz4.level",)),
    (ConfigDef("compression.zstd.level", "int", 3, _in_range(-131072, 22)), ("compression.zstd.level",)),
    (ConfigDef("delete.retention.ms", "long", 86400000, at_least(0)), ("log.cleaner.delete.retention.ms",)),
    (ConfigDef("errors.deadletterqueue.group.enable", "boolean", False), ()),
    (ConfigDef("file.delete.delay.ms", "long", 60000, at_least(0)), ("log.segment.delete.delay.ms",)),
    (ConfigDef("flush.messages", "long", LONG_MAX, at_least(1)), ("log.flush.interval.messages",)),
    (ConfigDef("flush.ms", "long", LONG_MAX, at_least(0)), ("log.flush.interval.ms",)),
    (ConfigDef("follower.replication.throttled.replicas", "list", []), ()),
    (ConfigDef("index.interval.bytes", "int", 4096, at_least(0)), ("log.index.interval.bytes",)),
    (ConfigDef("leader.replication.throttled.replicas", "list", []), ()),
    (ConfigDef("local.retention.bytes", "long", -2, at_least(-2)), ("log.local.retention.bytes",)),
    (ConfigDef("local.retention.ms", "long", -2, at_least(-2)), ("log.local.retention.ms",)),
    (ConfigDef("max.compaction.lag.ms", "long", LONG_MAX, at_least(1)), ("log.cleaner.max.compaction.lag.ms",)),
    (ConfigDef("max.decompressed.message.bytes", "int", 2147483639, at_least(1)),
     ("max.decompressed.message.bytes",)),
    (ConfigDef("max.message.bytes", "int", 1048588, at_least(0)), ("message.max.bytes",)),
    # Kafka 4.0 (KIP-1030) refuses timestamps more than an hour ahead by default.
    (ConfigDef("message.timestamp.after.max.ms", "long", 3_600_000, at_least(0)),
     ("log.message.timestamp.after.max.ms",)),
    (ConfigDef("message.timestamp.before.max.ms", "long", LONG_MAX, at_least(0)),
     ("log.message.timestamp.before.max.ms",)),
    (ConfigDef("message.timestamp.type", "string", "CreateTime", one_of(*TIMESTAMP_TYPES)),
     ("log.message.timestamp.type",)),
    (ConfigDef("min.cleanable.dirty.ratio", "double", 0.5, _in_range(0, 1)), ("log.cleaner.min.cleanable.ratio",)),
    (ConfigDef("min.compaction.lag.ms", "long", 0, at_least(0)), ("log.cleaner.min.compaction.lag.ms",)),
    (ConfigDef("min.insync.replicas", "int", 1, at_least(1)), ("min.insync.replicas",)),
    (ConfigDef("preallocate", "boolean", False), ("log.preallocate",)),
    (ConfigDef("remote.copy.lag.bytes", "long", -1, at_least(-1)), ("log.remote.copy.lag.bytes",)),
    (ConfigDef("remote.copy.lag.ms", "long", 0, at_least(-1)), ("log.remote.copy.lag.ms",)),
    (ConfigDef("remote.log.copy.disable", "boolean", False), ()),
    (ConfigDef("remote.log.delete.on.disable", "boolean", False), ()),
    (ConfigDef("remote.storage.enable", "boolean", False), ()),
    (ConfigDef("retention.bytes", "long", -1), ("log.retention.bytes",)),
    (ConfigDef("retention.ms", "long", 604800000, at_least(-1)),
     ("log.retention.ms", "log.retention.minutes", "log.retention.hours")),
    # Kafka 4 refuses segments under 1 MiB, at the topic and the broker alike.
    (ConfigDef("segment.bytes", "int", 1073741824, at_least(1048576)), ("log.segment.bytes",)),
    (ConfigDef("segment.index.bytes", "int", 10485760, at_least(4)), ("log.index.size.max.bytes",)),
    (ConfigDef("segment.jitter.ms", "long", 0, at_least(0)), ("log.roll.jitter.ms", "log.roll.jitter.hours")),
    (ConfigDef("segment.ms", "long", 604800000, at_least(1)), ("log.roll.ms", "log.roll.hours")),
    (ConfigDef("unclean.leader.election.enable", "boolean", False), ("unclean.leader.election.enable",)),
]
TOPIC_CONFIGS: dict[str, ConfigDef] = {d.name: d for d, _ in _TOPIC_CONFIGS}
TOPIC_SYNONYMS: dict[str, tuple[str, ...]] = {d.name: s for d, s in _TOPIC_CONFIGS}

# Broker synonyms given in coarser units than the topic config they feed.
_UNIT_SCALE = {"log.retention.minutes": 60_000, "log.retention.hours": 3_600_000,
               "log.roll.hours": 3_600_000, "log.roll.jitter.hours": 3_600_000}


def _listeners_check(item: str) -> str | None:
    if not re.fullmatch(r"[A-Za-z0-9_]+://(\[[0-9a-fA-F:]*\]|[^:/\s]*):\d+", item):
        return f"'{item}' is not of the form NAME://host:port"
    return None


def _broker_defs() -> list[ConfigDef]:
    d = ConfigDef
    defs = [
        # Identity and networking
        d("node.id", "int", 1, at_least(0)),
        d("broker.id", "int", None),
        d("process.roles", "list", ["broker", "controller"], one_of("broker", "controller")),
        d("listeners", "list", ["PLAINTEXT://localhost:9092"], _listeners_check),
        d("advertised.listeners", "list", None, _listeners_check),
        d("listener.security.protocol.map", "list",
          ["PLAINTEXT:PLAINTEXT", "CONTROLLER:PLAINTEXT", "SSL:SSL", "SASL_PLAINTEXT:SASL_PLAINTEXT",
           "SASL_SSL:SASL_SSL"]),
        d("inter.broker.listener.name", "string", None),
        d("controller.listener.names", "string", None),
        d("controller.quorum.voters", "list", []),
        d("controller.quorum.bootstrap.servers", "list", []),
        d("broker.rack", "string", None),
        d("cluster.id", "string", None),
        d("socket.request.max.bytes", "int", 104857600, at_least(1)),
        # How long the broker's own writes (transaction state, markers) wait for replication.
        d("request.timeout.ms", "int", 30000, at_least(0)),
        d("connections.max.idle.ms", "long", 600000),
        # Logs
        d("log.dirs", "list", None),
        d("log.dir", "string", "./pykbroker-data"),
        d("log.retention.check.interval.ms", "long", 300000, at_least(1)),
        d("log.flush.scheduler.interval.ms", "long", LONG_MAX),
        d("log.flush.offset.checkpoint.interval.ms", "int", 60000, at_least(0)),
        d("log.cleaner.enable", "boolean", True),
        d("log.cleaner.backoff.ms", "long", 15000, at_least(0), dynamic=True),
        # Topics
        d("num.partitions", "int", 1, at_least(1)),  # read-only in Kafka 4
        d("default.replication.factor", "int", 1, at_least(1)),
        d("auto.create.topics.enable", "boolean", True),
        d("delete.topic.enable", "boolean", True),
        # Fetch
        d("fetch.max.bytes", "int", 57671680, at_least(1024)),
        d("replica.lag.time.max.ms", "long", 30000),
        d("replica.fetch.max.bytes", "int", 1048576),
        d("replica.fetch.wait.max.ms", "int", 500),
        d("replica.fetch.response.max.bytes", "int", 10485760),
        d("replica.fetch.min.bytes", "int", 1, at_least(1)),
        d("replica.fetch.backoff.ms", "int", 1000, at_least(0)),
        d("replica.socket.timeout.ms", "int", 30000, at_least(1)),
        d("max.incremental.fetch.session.cache.slots", "int", 1000, at_least(0)),
        # Groups and offsets
        d("offsets.topic.num.partitions", "int", 50, at_least(1)),
        d("offsets.topic.replication.factor", "short", 1, at_least(1)),  # 1 as in Kafka's shipped file
        d("offsets.topic.segment.bytes", "int", 104857600, at_least(1)),
        d("offsets.retention.minutes", "int", 10080, at_least(1)),
        d("offsets.retention.check.interval.ms", "long", 600000, at_least(1)),
        d("offsets.commit.timeout.ms", "int", 5000, at_least(1)),
        # The batch compression of the coordinator's writes: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd.
        d("offsets.topic.compression.codec", "int", 0, _in_range(0, 4)),
        d("offset.metadata.max.bytes", "int", 4096),
        d("group.initial.rebalance.delay.ms", "int", 3000),
        d("group.min.session.timeout.ms", "int", 6000),
        d("group.max.session.timeout.ms", "int", 1800000),
        d("group.max.size", "int", INT_MAX, at_least(1)),
        d("group.coordinator.rebalance.protocols", "list", ["classic", "consumer"]),
        d("group.consumer.session.timeout.ms", "int", 45000),
        d("group.consumer.min.session.timeout.ms", "int", 45000),
        d("group.consumer.max.session.timeout.ms", "int", 60000),
        d("group.consumer.heartbeat.interval.ms", "int", 5000),
        d("group.consumer.min.heartbeat.interval.ms", "int", 5000),
        d("group.consumer.max.heartbeat.interval.ms", "int", 15000),
        d("group.consumer.max.size", "int", INT_MAX),
        d("group.consumer.assignors", "list", ["uniform", "range"]),
        # Transactions
        d("transaction.state.log.num.partitions", "int", 50, at_least(1)),
        d("transaction.state.log.replication.factor", "short", 1, at_least(1)),
        d("transaction.state.log.min.isr", "int", 1, at_least(1)),
        d("transaction.state.log.segment.bytes", "int", 104857600, at_least(1)),
        d("transaction.max.timeout.ms", "int", 900000, at_least(1)),
        d("transactional.id.expiration.ms", "int", 604800000, at_least(1)),
        d("transaction.abort.timed.out.transaction.cleanup.interval.ms", "int", 10000, at_least(1)),
        d("transaction.remove.expired.transaction.cleanup.interval.ms", "int", 3600000, at_least(1)),
        d("producer.id.expiration.ms", "int", 86400000, at_least(1)),
        d("producer.id.expiration.check.interval.ms", "int", 600000, at_least(1)),
        d("transaction.partition.verification.enable", "boolean", True),
        d("add.partitions.to.txn.retry.backoff.ms", "int", 20, at_least(1)),
        d("add.partitions.to.txn.retry.backoff.max.ms", "int", 100, at_least(0)),
        # Metadata quorum (multi-broker mode)
        d("metadata.log.dir", "string", None),
        d("broker.session.timeout.ms", "int", 9000),
        d("controller.quorum.election.timeout.ms", "int", 1000, at_least(1)),
        d("broker.heartbeat.interval.ms", "int", 2000),
        d("controlled.shutdown.enable", "boolean", True),
        d("auto.leader.rebalance.enable", "boolean", True),
        d("leader.imbalance.check.interval.seconds", "long", 300),
    ]
    # Broker synonyms of topic configs: they supply the topic defaults and can
    # be changed at runtime cluster-wide, as in Kafka. Where several synonyms
    # exist (log.retention.ms/minutes/hours) only the coarsest has a default.
    for topic_def, synonyms in _TOPIC_CONFIGS:
        for name in synonyms:
            coarsest = name == synonyms[-1]
            scale = _UNIT_SCALE.get(name, 1)
            default = (topic_def.default // scale if scale > 1 else topic_def.default) if coarsest else None
            kind = "int" if scale > 1 else topic_def.type
            defs.append(d(name, kind, default, topic_def.validator if scale == 1 else at_least(-1),
                          dynamic=True))
    return defs


BROKER_CONFIGS: dict[str, ConfigDef] = {}
for _def in _broker_defs():
    BROKER_CONFIGS.setdefault(_def.name, _def)

# Properties a stock Kafka server.properties sets that have no effect here:
# accepted so that such a file starts the broker unchanged.
ACCEPTED_WITHOUT_EFFECT = frozenset("""
num.network.threads num.io.threads num.replica.fetchers num.recovery.threads.per.data.dir
socket.send.buffer.bytes socket.receive.buffer.bytes queued.max.requests background.threads
log.cleaner.threads log.cleaner.dedupe.buffer.size log.cleaner.io.buffer.size
zookeeper.connect zookeeper.connection.timeout.ms group.share.enable share.coordinator.state.topic.replication.factor
share.coordinator.state.topic.min.isr sasl.enabled.mechanisms sasl.mechanism.inter.broker.protocol
sasl.mechanism.controller.protocol security.inter.broker.protocol authorizer.class.name
metric.reporters confluent.support.metrics.enable
""".split())


def parse_properties(text: str) -> dict[str, str]:
    """Java .properties: key=value or key: value, # and ! comments, \\ continuations."""
    props: dict[str, str] = {}
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped[0] in "#!"):
            continue
        if stripped.endswith("\\") and not stripped.endswith("\\\\"):
            pending += stripped[:-1]
            continue
        stripped = pending + stripped
        pending = ""
        match = re.match(r"([^=:\s]+)\s*[=:\s]\s*(.*)", stripped)
        if match:
            props[match.group(1)] = match.group(2)
        else:
            props[stripped] = ""
    return props


def env_properties(environ: dict[str, str] | None = None) -> dict[str, str]:
    """PYKBROKER_LOG_DIRS=... -> log.dirs; as in Kafka's Docker images, '_' is
    '.', '__' is '_' and '___' is '-'."""
    props = {}
    for key, value in (os.environ if environ is None else environ).items():
        if not key.startswith("PYKBROKER_") or key == "PYKBROKER_LOG_LEVEL":
            continue
        name = key[len("PYKBROKER_"):].lower()
        name = name.replace("___", "\0").replace("__", "\1").replace("_", ".")
        props[name.replace("\0", "-").replace("\1", "_")] = value
    return props


class BrokerConfig:
    """Validated broker properties. ``static`` holds what the broker was started
    with; ``dynamic`` holds runtime changes (per-broker or cluster default)."""

    def __init__(self, props: dict[str, str] | None = None):
        props = dict(props or {})
        unknown = sorted(name for name in props
                         if name not in BROKER_CONFIGS and name not in ACCEPTED_WITHOUT_EFFECT)
        if unknown:
            raise ConfigError("Unknown configuration(s): " + ", ".join(unknown))
        if props.get("authorizer.class.name", "").strip():
            # Started anyway, the broker would let everyone do everything.
            raise ConfigError(f"authorizer.class.name is {props['authorizer.class.name'].strip()}: "
                              f"pykbroker has no authorizer and enforces no ACLs")
        self.static: dict[str, Any] = {}
        for name, raw in props.items():
            if name in BROKER_CONFIGS:
                self.static[name] = BROKER_CONFIGS[name].parse(raw)
        # Runtime changes made through the admin APIs, kept in the cluster
        # metadata: for this broker, and cluster-wide defaults.
        self.dynamic_broker: dict[str, Any] = {}
        self.dynamic_default: dict[str, Any] = {}
        self._check()

    def _check(self) -> None:
        names = [listener.split("://")[0] for listener in self.listeners]
        if len(set(names)) != len(names):
            raise ConfigError("Invalid value for configuration listeners: each listener must have a distinct name")
        for listener in self.advertised_listeners:
            if listener.split("://")[0] not in names:
                raise ConfigError(f"Invalid value for configuration advertised.listeners: "
                                  f"{listener} names no listener in listeners")
        protocols = dict(entry.split(":", 1) for entry in self.get("listener.security.protocol.map")
                         if ":" in entry)
        for name in names:
            protocol = protocols.get(name)
            if protocol is None:
                raise ConfigError(f"No security protocol defined for listener {name} "
                                  f"(listener.security.protocol.map)")
            if protocol != "PLAINTEXT":
                # Served as plaintext, an SSL or SASL client would fail obscurely.
                raise ConfigError(f"Listener {name} uses security protocol {protocol}: "
                                  f"pykbroker serves PLAINTEXT listeners only")

    def set_dynamic(self, broker: dict[str, str], default: dict[str, str]) -> None:
        """Install dynamic configs (strings, already validated when altered)."""
        self.dynamic_broker = {k: BROKER_CONFIGS[k].parse(v) for k, v in broker.items() if k in BROKER_CONFIGS}
        self.dynamic_default = {k: BROKER_CONFIGS[k].parse(v) for k, v in default.items() if k in BROKER_CONFIGS}

    def get(self, name: str) -> Any:
        for layer in (self.dynamic_broker, self.dynamic_default, self.static):
            if name in layer:
                return layer[name]
        return BROKER_CONFIGS[name].default

    def source(self, name: str) -> int:
        if name in self.dynamic_broker:
            return SOURCE_DYNAMIC_BROKER
        if name in self.dynamic_default:
            return SOURCE_DYNAMIC_DEFAULT_BROKER
        if name in self.static:
            return SOURCE_STATIC_BROKER
        return SOURCE_DEFAULT

    def is_set(self, name: str) -> bool:
        return name in self.dynamic_broker or name in self.dynamic_default or name in self.static

    @property
    def node_id(self) -> int:
        broker_id = self.get("broker.id")
        return self.get("node.id") if broker_id is None or self.is_set("node.id") else broker_id

    @property
    def log_dirs(self) -> list[str]:
        return self.get("log.dirs") or [self.get("log.dir")]

    @property
    def listeners(self) -> list[str]:
        return self.get("listeners")

    @property
    def advertised_listeners(self) -> list[str]:
        return self.get("advertised.listeners") or []

    def broker_listeners(self) -> list[tuple[str, str, int]]:
        """(name, host, port) of the client-facing listeners, controller ones excluded."""
        controller = {n.strip() for n in (self.get("controller.listener.names") or "").split(",") if n.strip()}
        return [split_listener(item) for item in self.listeners if split_listener(item)[0] not in controller]

    def advertised(self) -> list[tuple[str, str, int]]:
        """What Metadata tells clients: advertised.listeners, falling back per
        listener name to listeners (a wildcard host becomes this host's name)."""
        advertised = {split_listener(item)[0]: split_listener(item) for item in self.advertised_listeners}
        result = []
        for name, host, port in self.broker_listeners():
            if name in advertised:
                result.append(advertised[name])
            else:
                result.append((name, host if host not in ("", "0.0.0.0", "::") else _hostname(), port))
        return result

    def topic_default(self, topic_config: str) -> tuple[Any, int, str | None]:
        """A topic config's value when the topic does not override it:
        (value, ConfigSource, the broker synonym it came from)."""
        for synonym in TOPIC_SYNONYMS[topic_config]:
            if self.is_set(synonym):
                value = self.get(synonym)
                return value * _UNIT_SCALE.get(synonym, 1), self.source(synonym), synonym
        synonyms = TOPIC_SYNONYMS[topic_config]
        if synonyms and BROKER_CONFIGS[synonyms[-1]].default is not None:
            value = BROKER_CONFIGS[synonyms[-1]].default
            return value * _UNIT_SCALE.get(synonyms[-1], 1), SOURCE_DEFAULT, synonyms[-1]
        return TOPIC_CONFIGS[topic_config].default, SOURCE_DEFAULT, None


def split_listener(listener: str) -> tuple[str, str, int]:
    name, rest = listener.split("://", 1)
    host, _, port = rest.rpartition(":")
    return name, host.strip("[]"), int(port)


def _hostname() -> str:
    import socket
    return socket.getfqdn()


def validate_topic_configs(configs: Iterable[tuple[str, str | None]]) -> dict[str, Any]:
    """Parse topic config overrides from a request; ConfigError names the bad one."""
    configs = list(configs)
    nulls = [name for name, raw in configs if raw is None]
    if nulls:  # all named at once, before any other check, as Kafka's controller does
        raise ConfigError(f"Null value not supported for topic configs: {','.join(nulls)}")
    parsed = {}
    for name, raw in configs:
        definition = TOPIC_CONFIGS.get(name)
        if definition is None:
            raise ConfigError(f"Unknown topic config name: {name}")
        parsed[name] = definition.parse(raw)
    return parsed


def effective_topic_configs(broker: BrokerConfig, overrides: dict[str, str]) -> dict[str, tuple[Any, int, str | None]]:
    """Every topic config of a topic: name -> (value, ConfigSource, broker synonym)."""
    result = {}
    for name, definition in TOPIC_CONFIGS.items():
        if name in overrides:
            result[name] = (definition.parse(overrides[name]), SOURCE_DYNAMIC_TOPIC, None)
        else:
            result[name] = broker.topic_default(name)
    return result
