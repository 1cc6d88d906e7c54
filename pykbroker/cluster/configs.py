"""Describing and altering topic and broker configs, shared by
DescribeConfigs, AlterConfigs, IncrementalAlterConfigs and CreateTopics."""
from __future__ import annotations

import logging
from typing import Any

from ..config import (BROKER_CONFIGS, SOURCE_DEFAULT, SOURCE_DYNAMIC_BROKER, SOURCE_DYNAMIC_DEFAULT_BROKER,
                      SOURCE_DYNAMIC_TOPIC, SOURCE_STATIC_BROKER, TOPIC_CONFIGS, TOPIC_SYNONYMS, TYPE_CODES,
                      ConfigError, effective_topic_configs, format_value)
from ..errors import ErrorCode, KafkaError

TOPIC, BROKER, BROKER_LOGGER = 2, 4, 8
SET, DELETE, APPEND, SUBTRACT = 0, 1, 2, 3


def _entry(name, kind, value, source, read_only, synonyms, sensitive=False):
    return {"name": name, "value": None if sensitive else format_value(kind, value), "read_only": read_only,
            "is_default": source == SOURCE_DEFAULT, "config_source": source, "is_sensitive": sensitive,
            "synonyms": synonyms, "config_type": TYPE_CODES.get(kind, 0), "documentation": None}


def describe_topic(broker: Any, name: str, keys: list[str] | None, include_synonyms: bool) -> list[dict]:
    topic = broker.store.metadata.topics.get(name)
    if topic is None:
        raise KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, f"Topic {name} does not exist")
    effective = effective_topic_configs(broker.config, topic.configs)
    entries = []
    for config_name, (value, source, _) in effective.items():
        if keys is not None and config_name not in keys:
            continue
        kind = TOPIC_CONFIGS[config_name].type
        synonyms = []
        if include_synonyms:
            if config_name in topic.configs:
                synonyms.append({"name": config_name, "value": topic.configs[config_name],
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
        check_broker_resource(broker, resource_name)
        names = sorted(BROKER_CONFIGS)
    entries = []
    for name in names:
        if keys is not None and name not in keys:
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


def describe_loggers(keys: list[str] | None) -> list[dict]:
    names = ["root"] + sorted(n for n in logging.root.manager.loggerDict if n.startswith("pykbroker"))
    entries = []
    for name in names:
        if keys is not None and name not in keys:
            continue
        logger = logging.getLogger() if name == "root" else logging.getLogger(name)
        level = logging.getLevelName(logger.getEffectiveLevel())
        entries.append(_entry(name, "string", "WARN" if level == "WARNING" else level, SOURCE_DEFAULT
                              if logger.level == logging.NOTSET else SOURCE_DYNAMIC_BROKER, False, []))
    return entries


def check_broker_resource(broker: Any, resource_name: str) -> None:
    try:
        node_id = int(resource_name)
    except ValueError:
        raise KafkaError(ErrorCode.INVALID_REQUEST, f"Invalid broker name {resource_name}") from None
    if node_id != broker.node_id:
        raise KafkaError(ErrorCode.INVALID_REQUEST,
                         f"Unexpected broker id, expected {broker.node_id} but received {node_id}")


# --- altering ------------------------------------------------------------------------
def altered(current: dict[str, str], changes: list[dict], definitions: dict, incremental: bool) -> dict[str, str]:
    """Apply AlterConfigs (replace all) or IncrementalAlterConfigs (per-key
    SET/DELETE/APPEND/SUBTRACT) changes to string configs, validating each."""
    result = dict(current) if incremental else {}
    for change in changes:
        name, value = change["name"], change["value"]
        definition = definitions.get(name)
        if definition is None:
            raise KafkaError(ErrorCode.INVALID_CONFIG, f"Unknown config name: {name}")
        operation = change.get("config_operation", SET) if incremental else SET
        if operation == DELETE:
            result.pop(name, None)
            continue
        if value is None:
            raise KafkaError(ErrorCode.INVALID_REQUEST, f"Null value not supported for : {name}")
        if operation in (APPEND, SUBTRACT):
            if definition.type != "list":
                raise KafkaError(ErrorCode.INVALID_CONFIG,
                                 f"Config value append is not allowed for config key: {name}")
            existing = definition.parse(result[name]) if name in result else list(definition.default or [])
            items = definition.parse(value)
            if operation == APPEND:
                existing += [item for item in items if item not in existing]
            else:
                existing = [item for item in existing if item not in items]
            value = ",".join(existing)
        elif operation != SET:
            raise KafkaError(ErrorCode.INVALID_REQUEST, f"Unknown operation {operation} for config {name}")
        try:
            definition.parse(value)
        except ConfigError as e:
            raise KafkaError(ErrorCode.INVALID_CONFIG, str(e)) from None
        result[name] = value
    return result


async def alter_resources(broker: Any, request: dict, incremental: bool) -> dict:
    """The AlterConfigs / IncrementalAlterConfigs response: each resource
    altered on its own, its error beside it."""
    responses = []
    for resource in request["resources"]:
        response = {"error_code": ErrorCode.NONE, "error_message": None,
                    "resource_type": resource["resource_type"], "resource_name": resource["resource_name"]}
        try:
            await alter(broker, resource["resource_type"], resource["resource_name"], resource["configs"],
                        request["validate_only"], incremental)
        except KafkaError as e:
            response["error_code"], response["error_message"] = e.code, e.message
        responses.append(response)
    return {"responses": responses}


async def alter(broker: Any, resource_type: int, resource_name: str, changes: list[dict],
                validate_only: bool, incremental: bool) -> None:
    metadata = broker.store.metadata
    if resource_type == TOPIC:
        topic = metadata.topics.get(resource_name)
        if topic is None:
            raise KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, f"Topic {resource_name} does not exist")
        configs = altered(topic.configs, changes, TOPIC_CONFIGS, incremental)
        await broker.topics.set_configs(resource_name, configs, validate_only)
    elif resource_type == BROKER:
        if resource_name != "":
            check_broker_resource(broker, resource_name)
        static = [change["name"] for change in changes
                  if change["name"] in BROKER_CONFIGS and not BROKER_CONFIGS[change["name"]].dynamic]
        if static:  # Kafka 4's words and error code (a Java list's brackets)
            raise KafkaError(ErrorCode.INVALID_REQUEST,
                             f"Cannot update these configs dynamically: [{', '.join(static)}]")
        configs = altered(metadata.broker_configs.get(resource_name, {}), changes, BROKER_CONFIGS, incremental)
        if not validate_only:
            await broker.store.submit({"type": "alter_broker_configs", "resource": resource_name,
                                       "configs": configs})
    elif resource_type == BROKER_LOGGER:
        check_broker_resource(broker, resource_name)
        for change in changes:
            level = (change["value"] or "").upper()
            operation = change.get("config_operation", SET)
            if operation not in (SET, DELETE) or (operation == SET and level not in _LEVELS):
                raise KafkaError(ErrorCode.INVALID_CONFIG,
                                 f"Cannot set the log level of {change['name']} to {change['value']}")
            if not validate_only:
                logger = logging.getLogger() if change["name"] == "root" else logging.getLogger(change["name"])
                logger.setLevel(_LEVELS[level] if operation == SET else logging.NOTSET)
    else:
        raise KafkaError(ErrorCode.INVALID_REQUEST, f"Unsupported resource type {resource_type}")


_LEVELS = {"TRACE": logging.DEBUG, "DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARN": logging.WARNING,
           "ERROR": logging.ERROR, "FATAL": logging.CRITICAL, "OFF": logging.CRITICAL + 10}
