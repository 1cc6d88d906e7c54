"""Describing and altering topic and broker configs, shared by
DescribeConfigs, AlterConfigs, IncrementalAlterConfigs and CreateTopics."""
from __future__ import annotations

import logging
import re
from collections import Counter
from typing import Any

from ..config import (BROKER_CONFIGS, SOURCE_DEFAULT, SOURCE_DYNAMIC_BROKER, SOURCE_DYNAMIC_DEFAULT_BROKER,
                      SOURCE_DYNAMIC_TOPIC, SOURCE_STATIC_BROKER, TOPIC_CONFIGS, TOPIC_SYNONYMS, TYPE_CODES,
                      ConfigError, effective_topic_configs, format_value)
from ..errors import ErrorCode, KafkaError
from .topics import check_topic_name

TOPIC, BROKER, BROKER_LOGGER = 2, 4, 8
SET, DELETE, APPEND, SUBTRACT = 0, 1, 2, 3


def _entry(name, kind, value, source, read_only, synonyms, sensitive=False):
    return {"name": name, "value": None if sensitive else format_value(kind, value), "read_only": read_only,
            "is_default": source == SOURCE_DEFAULT, "config_source": source, "is_sensitive": sensitive,
            "synonyms": synonyms, "config_type": TYPE_CODES.get(kind, 0), "documentation": None}


def _wanted(name: str, keys: list[str] | None) -> bool:
    """DescribeConfigs' ConfigurationKeys: null or empty mean every config."""
    return not keys or name in keys


def describe_topic(broker: Any, name: str, keys: list[str] | None, include_synonyms: bool) -> list[dict]:
    check_topic_name(name)
    topic = broker.store.metadata.topics.get(name)
    if topic is None:
        raise KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, "")  # Kafka gives no message here
    return describe_topic_configs(broker, topic.configs, keys, include_synonyms)


def describe_topic_configs(broker: Any, overrides: dict[str, str], keys: list[str] | None,
                           include_synonyms: bool) -> list[dict]:
    """Every config of a topic with these overrides (CreateTopics describes a
    topic it is only validating too)."""
    entries = []
    for config_name, (value, source, _) in effective_topic_configs(broker.config, overrides).items():
        if not _wanted(config_name, keys):
            continue
        kind = TOPIC_CONFIGS[config_name].type
        synonyms = []
        if include_synonyms:
            if config_name in overrides:
                synonyms.append({"name": config_name, "value": overrides[config_name],
                                 "source": SOURCE_DYNAMIC_TOPIC})
            synonyms += _broker_synonyms(broker.config, TOPIC_SYNONYMS[config_name])
        entries.append(_entry(config_name, kind, value, source, False, synonyms))
    return entries


def _broker_synonyms(config, names) -> list[dict]:
    """The broker properties a value may come from, in precedence order, each
    with every layer it is set in (per-broker, cluster default, static, default)."""
    synonyms = []
    for name in names:
        definition = BROKER_CONFIGS[name]
        for layer, source in ((config.dynamic_broker, SOURCE_DYNAMIC_BROKER),
                              (config.dynamic_default, SOURCE_DYNAMIC_DEFAULT_BROKER),
                              (config.static, SOURCE_STATIC_BROKER)):
            if name in layer:
                synonyms.append({"name": name, "value": format_value(definition.type, layer[name]),
                                 "source": source})
        if definition.default is not None:
            synonyms.append({"name": name, "value": format_value(definition.type, definition.default),
                             "source": SOURCE_DEFAULT})
    return synonyms


def describe_broker(broker: Any, resource_name: str, keys: list[str] | None,
                    include_synonyms: bool) -> list[dict]:
    config = broker.config
    if resource_name == "":
        # The cluster-wide default resource shows only what was set on it.
        names = sorted(config.dynamic_default)
    else:
        _check_node(broker, resource_name, "Broker",
                    "Unexpected broker id, expected {expected} or empty string, but received {received}")
        names = sorted(BROKER_CONFIGS)
    entries = []
    for name in names:
        if not _wanted(name, keys):
            continue
        definition = BROKER_CONFIGS[name]
        if resource_name == "":
            value, source = config.dynamic_default[name], SOURCE_DYNAMIC_DEFAULT_BROKER
        else:
            value, source = config.get(name), config.source(name)
        synonyms = _broker_synonyms(config, _SYNONYM_GROUPS.get(name, [name])) if include_synonyms else []
        if resource_name == "":
            # As Kafka (ConfigHelper.createBrokerConfigEntry): only the cluster-default layer.
            synonyms = [s for s in synonyms if s["source"] == SOURCE_DYNAMIC_DEFAULT_BROKER]
        entries.append(_entry(name, definition.type, value, source, not definition.dynamic, synonyms,
                              definition.sensitive))
    return entries


# A broker config's synonyms are the group it shares a topic config with:
# log.retention.ms, log.retention.minutes and log.retention.hours, as in Kafka.
_SYNONYM_GROUPS = {name: list(group) for group in TOPIC_SYNONYMS.values() for name in group}


def describe_loggers(broker: Any, resource_name: str, keys: list[str] | None) -> list[dict]:
    if resource_name == "":
        raise KafkaError(ErrorCode.INVALID_REQUEST, "Broker id must not be empty")
    _check_node(broker, resource_name, "Broker", "Unexpected broker id, expected {expected} but received {received}")
    names = ["root"] + sorted(n for n in logging.root.manager.loggerDict if n.startswith("pykbroker"))
    entries = []
    for name in names:
        if not _wanted(name, keys):
            continue
        logger = logging.getLogger() if name == "root" else logging.getLogger(name)
        level = logging.getLevelName(logger.getEffectiveLevel())
        entries.append(_entry(name, "string", "WARN" if level == "WARNING" else level, SOURCE_DEFAULT
                              if logger.level == logging.NOTSET else SOURCE_DYNAMIC_BROKER, False, []))
    return entries


def _check_node(broker: Any, resource_name: str, noun: str, mismatch: str) -> None:
    """That a BROKER or BROKER_LOGGER resource names this node. Kafka words it
    differently when describing and altering, hence ``noun`` and ``mismatch``."""
    if not re.fullmatch(r"[+-]?[0-9]+", resource_name):  # Java's Integer.parseInt
        raise KafkaError(ErrorCode.INVALID_REQUEST, f"{noun} id must be an integer, but it is: {resource_name}")
    if int(resource_name) != broker.node_id:
        raise KafkaError(ErrorCode.INVALID_REQUEST, mismatch.format(expected=broker.node_id, received=resource_name))


# --- altering ------------------------------------------------------------------------
async def alter_resources(broker: Any, request: dict, incremental: bool) -> dict:
    """The AlterConfigs / IncrementalAlterConfigs response: each resource
    altered on its own, its error beside it."""
    occurrences = Counter((r["resource_type"], r["resource_name"]) for r in request["resources"])
    responses = []
    for resource in request["resources"]:
        kind, name = resource["resource_type"], resource["resource_name"]
        response = {"error_code": ErrorCode.NONE, "error_message": None, "resource_type": kind, "resource_name": name}
        try:
            if occurrences[kind, name] > 1:
                raise KafkaError(ErrorCode.INVALID_REQUEST, "Each resource must appear at most once.")
            await alter(broker, kind, name, resource["configs"], request["validate_only"], incremental)
        except KafkaError as e:
            response["error_code"], response["error_message"] = e.code, e.message
        responses.append(response)
    return {"responses": responses}


async def alter(broker: Any, resource_type: int, resource_name: str, changes: list[dict],
                validate_only: bool, incremental: bool) -> None:
    # The checks of the request's shape Kafka's brokers make first (ConfigAdminManager.preprocess).
    names = [change["name"] for change in changes]
    if len(set(names)) != len(names):
        raise KafkaError(ErrorCode.INVALID_REQUEST, "Error due to duplicate config keys")
    nulls = [change["name"] for change in changes
             if change["value"] is None and change.get("config_operation", SET) != DELETE]
    if nulls:
        raise KafkaError(ErrorCode.INVALID_REQUEST, f"Null value not supported for : {', '.join(nulls)}")
    metadata = broker.store.metadata
    if resource_type == TOPIC:
        topic = metadata.topics.get(resource_name)
        configs = _altered(topic.configs if topic else {}, changes, TOPIC, incremental)
        await broker.topics.set_configs(resource_name, configs, validate_only)
    elif resource_type == BROKER:
        if resource_name != "":
            _check_node(broker, resource_name, "Node",
                        "Unexpected broker id, expected {expected}, but received {received}")
        configs = _altered(metadata.broker_configs.get(resource_name, {}), changes, BROKER, incremental)
        _check_broker_configs(configs)
        if not validate_only:
            await broker.store.submit({"type": "alter_broker_configs", "resource": resource_name,
                                       "configs": configs})
    elif resource_type == BROKER_LOGGER and incremental:
        _check_node(broker, resource_name, "Node",
                    "Unexpected node id. Expected {expected}, but received {received}")
        for change in changes:
            level = (change["value"] or "").upper()
            operation = change["config_operation"]
            if operation not in (SET, DELETE) or (operation == SET and level not in _LEVELS):
                raise KafkaError(ErrorCode.INVALID_CONFIG,
                                 f"Cannot set the log level of {change['name']} to {change['value']}")
            if not validate_only:
                logger = logging.getLogger() if change["name"] == "root" else logging.getLogger(change["name"])
                logger.setLevel(_LEVELS[level] if operation == SET else logging.NOTSET)
    else:  # AlterConfigs has no BROKER_LOGGER
        raise KafkaError(ErrorCode.INVALID_REQUEST, f"Unknown resource type {resource_type}")


def _altered(current: dict[str, str], changes: list[dict], resource_type: int, incremental: bool) -> dict[str, str]:
    """The configs after AlterConfigs (which replaces them all) or
    IncrementalAlterConfigs (SET, DELETE, APPEND, SUBTRACT per key), before
    any value is validated: Kafka validates the outcome as a whole. Its
    controller (topics) and brokers (broker configs) word the errors apart."""
    if not incremental:
        return {change["name"]: change["value"] for change in changes}
    on_broker = resource_type == BROKER
    for change in changes:
        if change["config_operation"] not in (SET, DELETE, APPEND, SUBTRACT):
            if on_broker:
                raise KafkaError(ErrorCode.INVALID_REQUEST, f"Unknown operations type {change['config_operation']}")
            raise KafkaError(ErrorCode.UNKNOWN_SERVER_ERROR)  # Kafka's controller fails on it, with no message
    definitions = BROKER_CONFIGS if on_broker else TOPIC_CONFIGS
    result = dict(current)
    for change in changes:
        name, operation, value = change["name"], change["config_operation"], change["value"]
        if operation == SET:
            result[name] = value
        elif operation == DELETE:
            result.pop(name, None)
        else:
            definition = definitions.get(name)
            if definition is None or definition.type != "list":
                verb = "APPEND" if operation == APPEND else "SUBTRACT"
                if on_broker:
                    raise KafkaError(ErrorCode.INVALID_REQUEST,
                                     f"Config value {verb.lower()} is not allowed for config key: {name}")
                raise KafkaError(ErrorCode.INVALID_CONFIG, f"Can't {verb} to key {name} because its type is not LIST.")
            items = [item for item in result.get(name, format_value("list", definition.default or [])).split(",")
                     if item]
            for item in _java_split(value):
                if operation == SUBTRACT and item in items:
                    items.remove(item)
                elif operation == APPEND and item not in items:
                    items.append(item)
            result[name] = ",".join(items)
    return result


def _java_split(value: str) -> list[str]:
    """Java's value.split(","): trailing empty items are dropped, but "" is [""]."""
    items = value.split(",")
    while len(items) > 1 and items[-1] == "":
        items.pop()
    return items


def _check_broker_configs(configs: dict[str, str]) -> None:
    """Kafka's broker-side validation of dynamic broker configs, answered as INVALID_REQUEST."""
    unknown = [name for name in configs if name not in BROKER_CONFIGS]
    if unknown:
        raise KafkaError(ErrorCode.INVALID_CONFIG, f"Unknown config name: {unknown[0]}")
    static = [name for name in configs if not BROKER_CONFIGS[name].dynamic]
    if static:  # Kafka 4's words (a Java list's brackets)
        raise KafkaError(ErrorCode.INVALID_REQUEST, f"Cannot update these configs dynamically: [{', '.join(static)}]")
    for name, value in configs.items():
        try:
            BROKER_CONFIGS[name].parse(value)
        except ConfigError as e:
            raise KafkaError(ErrorCode.INVALID_REQUEST, str(e)) from None


_LEVELS = {"TRACE": logging.DEBUG, "DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARN": logging.WARNING,
           "ERROR": logging.ERROR, "FATAL": logging.CRITICAL, "OFF": logging.CRITICAL + 10}
