"""DescribeConfigs, AlterConfigs and IncrementalAlterConfigs on topics and
brokers: values, sources, synonyms, and that changes take effect."""
import os
import time

import pytest

from pykbroker.errors import ErrorCode
from pykbroker.testing import EmbeddedBroker
from wire import records
from wire.records import Record
from tests.broker.rawapi import (ALTER_CONFIGS, BROKER_LOGGER_RESOURCE, BROKER_RESOURCE, DESCRIBE_CONFIGS,
                                 INCREMENTAL_ALTER_CONFIGS, TOPIC_RESOURCE, batch, batch_headers, create_topic,
                                 decode_all, fetch, produce, produce_ok)
from tests.support.rawclient import RawClient

# ConfigSource
DYNAMIC_TOPIC, DYNAMIC_BROKER, DYNAMIC_DEFAULT_BROKER, STATIC_BROKER, DEFAULT = 1, 2, 3, 4, 5
SET, DELETE, APPEND, SUBTRACT = 0, 1, 2, 3
THE_CONFIGS = ["retention.ms", "retention.bytes", "segment.bytes", "cleanup.policy", "max.message.bytes",
               "message.timestamp.type", "min.insync.replicas"]
# ConfigType
BOOLEAN, INT, LONG = 1, 3, 5
INVALID_NAME = ("Topic name is invalid: 'a b' contains one or more characters other than ASCII alphanumerics, "
                "'.', '_' and '-'")


def describe(client, resource_type, name, keys=None, version=4, synonyms=True):
    response = client.request(DESCRIBE_CONFIGS, version, {
        "resources": [{"resource_type": resource_type, "resource_name": name, "configuration_keys": keys}],
        "include_synonyms": synonyms})
    [result] = response["results"]
    return result


def configs(client, resource_type, name, keys=None, version=4):
    result = describe(client, resource_type, name, keys, version)
    assert result["error_code"] == ErrorCode.NONE, result
    return {c["name"]: c for c in result["configs"]}


def synonyms(entry):
    return [(s["name"], s["value"], s["source"]) for s in entry["synonyms"]]


def incremental(client, resource_type, name, changes, validate_only=False):
    response = client.request(INCREMENTAL_ALTER_CONFIGS, 1, {
        "resources": [{"resource_type": resource_type, "resource_name": name,
                       "configs": [{"name": k, "config_operation": op, "value": v} for k, op, v in changes]}],
        "validate_only": validate_only})
    return response["responses"][0]


def alter(client, resource_type, name, values, version=2, validate_only=False):
    """Legacy AlterConfigs of (name, value) pairs."""
    response = client.request(ALTER_CONFIGS, version, {
        "resources": [{"resource_type": resource_type, "resource_name": name,
                       "configs": [{"name": k, "value": v} for k, v in values]}],
        "validate_only": validate_only})
    return response["responses"][0]


@pytest.fixture
def setup(tmp_path):
    """A broker started with log.retention.ms set, and a topic overriding segment.bytes."""
    with EmbeddedBroker(str(tmp_path / "data"), log_retention_ms="3600000") as broker, \
            RawClient("127.0.0.1", broker.port) as client:
        create_topic(client, "t", configs={"segment.bytes": "2097152"})
        yield broker, client


# --- describing --------------------------------------------------------------------------
def test_topic_config_values_sources_and_synonyms(setup):
    _, client = setup
    entries = configs(client, TOPIC_RESOURCE, "t", THE_CONFIGS)
    assert sorted(entries) == sorted(THE_CONFIGS)
    described = {name: (e["value"], e["config_source"], synonyms(e)) for name, e in entries.items()}
    assert described == {
        "retention.ms": ("3600000", STATIC_BROKER, [("log.retention.ms", "3600000", STATIC_BROKER),
                                                    ("log.retention.hours", "168", DEFAULT)]),
        "retention.bytes": ("-1", DEFAULT, [("log.retention.bytes", "-1", DEFAULT)]),
        "segment.bytes": ("2097152", DYNAMIC_TOPIC, [("segment.bytes", "2097152", DYNAMIC_TOPIC),
                                                   ("log.segment.bytes", "1073741824", DEFAULT)]),
        "cleanup.policy": ("delete", DEFAULT, [("log.cleanup.policy", "delete", DEFAULT)]),
        "max.message.bytes": ("1048588", DEFAULT, [("message.max.bytes", "1048588", DEFAULT)]),
        "message.timestamp.type": ("CreateTime", DEFAULT, [("log.message.timestamp.type", "CreateTime", DEFAULT)]),
        "min.insync.replicas": ("1", DEFAULT, [("min.insync.replicas", "1", DEFAULT)]),
    }
    for e in entries.values():
        assert not e["read_only"] and not e["is_sensitive"]


def test_describe_all_topic_configs_at_every_version(setup):
    _, client = setup
    for version in range(0, 5):
        entries = configs(client, TOPIC_RESOURCE, "t", None, version)
        assert set(THE_CONFIGS) <= set(entries)
        if version == 0:
            assert entries["retention.bytes"]["is_default"] and not entries["segment.bytes"]["is_default"]
        else:
            assert entries["segment.bytes"]["config_source"] == DYNAMIC_TOPIC
        if version >= 3:
            assert entries["retention.ms"]["config_type"] == 5      # LONG
            assert entries["cleanup.policy"]["config_type"] == 7    # LIST


def test_broker_configs(setup):
    _, client = setup
    entries = configs(client, BROKER_RESOURCE, "1", ["log.retention.ms", "num.partitions", "log.dirs",
                                                     "message.max.bytes", "min.insync.replicas"])
    assert (entries["log.retention.ms"]["value"], entries["log.retention.ms"]["config_source"]) == \
        ("3600000", STATIC_BROKER)
    assert (entries["num.partitions"]["value"], entries["num.partitions"]["config_source"]) == ("1", DEFAULT)
    assert entries["log.dirs"]["read_only"] and not entries["log.retention.ms"]["read_only"]
    assert entries["message.max.bytes"]["value"] == "1048588"


def test_topic_configs_new_in_kafka_4_4(setup):
    """Described and accepted as Kafka 4.4 does (they have no effect here)."""
    _, client = setup
    entries = configs(client, TOPIC_RESOURCE, "t")
    described = {name: (e["value"], e["config_type"], synonyms(e)) for name, e in entries.items()
                 if name.startswith(("errors.", "max.decompressed", "remote.copy", "remote.log"))}
    assert described == {
        "errors.deadletterqueue.group.enable": ("false", BOOLEAN, []),
        "max.decompressed.message.bytes": ("2147483639", INT, [("max.decompressed.message.bytes", "2147483639",
                                                                DEFAULT)]),
        "remote.copy.lag.bytes": ("-1", LONG, [("log.remote.copy.lag.bytes", "-1", DEFAULT)]),
        "remote.copy.lag.ms": ("0", LONG, [("log.remote.copy.lag.ms", "0", DEFAULT)]),
        "remote.log.copy.disable": ("false", BOOLEAN, []),
        "remote.log.delete.on.disable": ("false", BOOLEAN, []),
    }
    assert incremental(client, TOPIC_RESOURCE, "t", [("remote.copy.lag.ms", SET, "5")])["error_code"] == 0
    assert configs(client, TOPIC_RESOURCE, "t", ["remote.copy.lag.ms"])["remote.copy.lag.ms"]["value"] == "5"
    assert incremental(client, TOPIC_RESOURCE, "t", [("max.decompressed.message.bytes", SET, "0")])[
        "error_message"] == "Invalid value 0 for configuration max.decompressed.message.bytes: Value must be at least 1"


def test_empty_configuration_keys_mean_every_config(setup):
    _, client = setup
    for resource_type, name in ((TOPIC_RESOURCE, "t"), (BROKER_RESOURCE, "1")):
        everything = describe(client, resource_type, name, None)
        assert describe(client, resource_type, name, []) == everything
        # Kafka's ErrorMessage on success is "", not null.
        assert (everything["error_code"], everything["error_message"]) == (ErrorCode.NONE, "")
        assert len(everything["configs"]) > 30


def test_describe_errors_in_kafkas_words(setup):
    _, client = setup
    cases = [
        (TOPIC_RESOURCE, "nope", ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ""),
        (TOPIC_RESOURCE, "a b", ErrorCode.INVALID_TOPIC_EXCEPTION, INVALID_NAME),
        (TOPIC_RESOURCE, "", ErrorCode.INVALID_TOPIC_EXCEPTION,
         "Topic name is invalid: the empty string is not allowed"),
        (BROKER_RESOURCE, "7", ErrorCode.INVALID_REQUEST,
         "Unexpected broker id, expected 1 or empty string, but received 7"),
        (BROKER_RESOURCE, "abc", ErrorCode.INVALID_REQUEST, "Broker id must be an integer, but it is: abc"),
        (BROKER_LOGGER_RESOURCE, "7", ErrorCode.INVALID_REQUEST, "Unexpected broker id, expected 1 but received 7"),
        (BROKER_LOGGER_RESOURCE, "", ErrorCode.INVALID_REQUEST, "Broker id must not be empty"),
        (99, "x", ErrorCode.INVALID_REQUEST, "This most likely occurs because of a request being malformed by the "
         "client library or the message was sent to an incompatible broker. See the broker logs for more details."),
    ]
    for resource_type, name, code, message in cases:
        result = describe(client, resource_type, name)
        assert (result["error_code"], result["error_message"], result["configs"]) == (code, message, []), name


# --- altering ------------------------------------------------------------------------------
def test_incremental_alter_topic_configs(setup):
    _, client = setup
    assert incremental(client, TOPIC_RESOURCE, "t", [("retention.ms", SET, "5000"),
                                                     ("cleanup.policy", APPEND, "compact"),
                                                     ("segment.bytes", DELETE, None)])["error_code"] == 0
    entries = configs(client, TOPIC_RESOURCE, "t", THE_CONFIGS)
    assert (entries["retention.ms"]["value"], entries["retention.ms"]["config_source"]) == ("5000", DYNAMIC_TOPIC)
    assert synonyms(entries["retention.ms"])[0] == ("retention.ms", "5000", DYNAMIC_TOPIC)
    assert entries["cleanup.policy"]["value"] == "delete,compact"
    assert (entries["segment.bytes"]["value"], entries["segment.bytes"]["config_source"]) == ("1073741824", DEFAULT)
    assert incremental(client, TOPIC_RESOURCE, "t", [("cleanup.policy", SUBTRACT, "delete")])["error_code"] == 0
    assert configs(client, TOPIC_RESOURCE, "t", ["cleanup.policy"])["cleanup.policy"]["value"] == "compact"


def test_legacy_alter_configs_replaces_every_override(setup):
    _, client = setup
    for version in range(0, 3):
        assert alter(client, TOPIC_RESOURCE, "t", [("retention.ms", "7000")], version)["error_code"] == 0
        entries = configs(client, TOPIC_RESOURCE, "t", ["retention.ms", "segment.bytes"])
        assert entries["retention.ms"]["value"] == "7000"
        # segment.bytes was not in the request: its override is gone.
        assert entries["segment.bytes"]["config_source"] == DEFAULT


def test_validate_only_changes_nothing(setup):
    _, client = setup
    assert incremental(client, TOPIC_RESOURCE, "t", [("retention.ms", SET, "5")], validate_only=True)["error_code"] == 0
    assert alter(client, TOPIC_RESOURCE, "t", [("retention.ms", "5")], validate_only=True)["error_code"] == 0
    assert configs(client, TOPIC_RESOURCE, "t", ["retention.ms"])["retention.ms"]["value"] == "3600000"


def test_alter_errors_in_kafkas_words(setup):
    _, client = setup
    not_list = "because its type is not LIST."
    cleanup_policies = "String must be one of: compact, delete"
    cases = [
        (TOPIC_RESOURCE, "t", [("no.such.config", SET, "1")], ErrorCode.INVALID_CONFIG,
         "Unknown topic config name: no.such.config"),
        (TOPIC_RESOURCE, "t", [("log.retention.ms", SET, "1")], ErrorCode.INVALID_CONFIG,
         "Unknown topic config name: log.retention.ms"),
        (TOPIC_RESOURCE, "t", [("retention.ms", SET, "soon")], ErrorCode.INVALID_CONFIG,
         "Invalid value soon for configuration retention.ms: Not a number of type LONG"),
        (TOPIC_RESOURCE, "t", [("segment.bytes", SET, "1000")], ErrorCode.INVALID_CONFIG,
         "Invalid value 1000 for configuration segment.bytes: Value must be at least 1048576"),
        (TOPIC_RESOURCE, "t", [("message.timestamp.type", SET, "WallClock")], ErrorCode.INVALID_CONFIG,
         "Invalid value WallClock for configuration message.timestamp.type: String must be one of: CreateTime, "
         "LogAppendTime"),
        (TOPIC_RESOURCE, "t", [("compression.type", SET, "zip")], ErrorCode.INVALID_CONFIG,
         "Invalid value zip for configuration compression.type: String must be one of: uncompressed, zstd, lz4, "
         "snappy, gzip, producer"),
        (TOPIC_RESOURCE, "t", [("cleanup.policy", SET, "compact,shred")], ErrorCode.INVALID_CONFIG,
         f"Invalid value shred for configuration cleanup.policy: {cleanup_policies}"),
        (TOPIC_RESOURCE, "t", [("cleanup.policy", APPEND, "bogus")], ErrorCode.INVALID_CONFIG,
         f"Invalid value bogus for configuration cleanup.policy: {cleanup_policies}"),
        (TOPIC_RESOURCE, "t", [("cleanup.policy", SET, "compact,,delete")], ErrorCode.INVALID_CONFIG,
         "Configuration 'cleanup.policy' values must not be empty."),
        (TOPIC_RESOURCE, "t", [("retention.ms", APPEND, "1")], ErrorCode.INVALID_CONFIG,
         f"Can't APPEND to key retention.ms {not_list}"),
        (TOPIC_RESOURCE, "t", [("retention.ms", SUBTRACT, "1")], ErrorCode.INVALID_CONFIG,
         f"Can't SUBTRACT to key retention.ms {not_list}"),
        (TOPIC_RESOURCE, "t", [("retention.ms", SET, "1"), ("retention.ms", SET, "2")], ErrorCode.INVALID_REQUEST,
         "Error due to duplicate config keys"),
        (TOPIC_RESOURCE, "t", [("retention.ms", SET, None), ("segment.ms", APPEND, None)], ErrorCode.INVALID_REQUEST,
         "Null value not supported for : retention.ms, segment.ms"),
        (TOPIC_RESOURCE, "t", [("retention.ms", 7, "1")], ErrorCode.UNKNOWN_SERVER_ERROR, None),
        (TOPIC_RESOURCE, "nope", [("retention.ms", SET, "1")], ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
         "The topic 'nope' does not exist."),
        (TOPIC_RESOURCE, "a b", [("retention.ms", SET, "1")], ErrorCode.INVALID_TOPIC_EXCEPTION, INVALID_NAME),
        (TOPIC_RESOURCE, "", [("retention.ms", SET, "1")], ErrorCode.INVALID_REQUEST,
         "Default topic resources are not allowed."),
        (BROKER_RESOURCE, "7", [("log.retention.ms", SET, "1")], ErrorCode.INVALID_REQUEST,
         "Unexpected broker id, expected 1, but received 7"),
        (BROKER_RESOURCE, "abc", [("log.retention.ms", SET, "1")], ErrorCode.INVALID_REQUEST,
         "Node id must be an integer, but it is: abc"),
        (BROKER_RESOURCE, "1", [("log.retention.ms", SET, "soon")], ErrorCode.INVALID_REQUEST,
         "Invalid value soon for configuration log.retention.ms: Not a number of type LONG"),
        (BROKER_RESOURCE, "1", [("log.retention.ms", 7, "1")], ErrorCode.INVALID_REQUEST, "Unknown operations type 7"),
        (BROKER_RESOURCE, "", [("num.partitions", SET, "3")], ErrorCode.INVALID_REQUEST,
         "Cannot update these configs dynamically: [num.partitions]"),
        (BROKER_LOGGER_RESOURCE, "7", [("root", SET, "INFO")], ErrorCode.INVALID_REQUEST,
         "Unexpected node id. Expected 1, but received 7"),
        (99, "x", [("a", SET, "1")], ErrorCode.INVALID_REQUEST, "Unknown resource type 99"),
    ]
    for resource_type, name, changes, code, message in cases:
        response = incremental(client, resource_type, name, changes)
        assert (response["error_code"], response["error_message"]) == (code, message), (name, changes)
    entries = configs(client, TOPIC_RESOURCE, "t", ["retention.ms", "cleanup.policy"])
    assert (entries["retention.ms"]["value"], entries["cleanup.policy"]["value"]) == ("3600000", "delete")


def test_legacy_alter_errors_in_kafkas_words(setup):
    _, client = setup
    cases = [
        (TOPIC_RESOURCE, "t", [("retention.ms", "1"), ("retention.ms", "2")], ErrorCode.INVALID_REQUEST,
         "Error due to duplicate config keys"),
        (TOPIC_RESOURCE, "t", [("retention.ms", None), ("segment.ms", None)], ErrorCode.INVALID_REQUEST,
         "Null value not supported for : retention.ms, segment.ms"),
        (TOPIC_RESOURCE, "t", [("no.such", "1")], ErrorCode.INVALID_CONFIG, "Unknown topic config name: no.such"),
        (TOPIC_RESOURCE, "nope", [("retention.ms", "1")], ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
         "The topic 'nope' does not exist."),
        (TOPIC_RESOURCE, "a b", [("retention.ms", "1")], ErrorCode.INVALID_TOPIC_EXCEPTION, INVALID_NAME),
        (BROKER_RESOURCE, "7", [("log.retention.ms", "1")], ErrorCode.INVALID_REQUEST,
         "Unexpected broker id, expected 1, but received 7"),
        # Log levels can be changed by IncrementalAlterConfigs only.
        (BROKER_LOGGER_RESOURCE, "1", [("root", "INFO")], ErrorCode.INVALID_REQUEST, "Unknown resource type 8"),
    ]
    for resource_type, name, values, code, message in cases:
        response = alter(client, resource_type, name, values)
        assert (response["error_code"], response["error_message"]) == (code, message), (name, values)
    entries = configs(client, TOPIC_RESOURCE, "t", ["retention.ms", "segment.bytes"])
    assert (entries["retention.ms"]["value"], entries["segment.bytes"]["value"]) == ("3600000", "2097152")


@pytest.mark.parametrize("api, version, change", [
    (INCREMENTAL_ALTER_CONFIGS, 1, {"name": "retention.ms", "config_operation": SET, "value": "1000"}),
    (ALTER_CONFIGS, 2, {"name": "retention.ms", "value": "1000"}),
])
def test_a_resource_twice_in_one_request_is_refused(setup, api, version, change):
    _, client = setup
    resource = {"resource_type": TOPIC_RESOURCE, "resource_name": "t", "configs": [change]}
    response = client.request(api, version, {"resources": [resource, resource], "validate_only": False})
    assert [(r["error_code"], r["error_message"]) for r in response["responses"]] == \
        [(ErrorCode.INVALID_REQUEST, "Each resource must appear at most once.")] * 2
    assert configs(client, TOPIC_RESOURCE, "t", ["retention.ms"])["retention.ms"]["value"] == "3600000"


def test_removing_what_is_not_there_succeeds(setup):
    """As Kafka: DELETE of an unknown or unset config, SUBTRACT of a value not in the list."""
    _, client = setup
    assert incremental(client, TOPIC_RESOURCE, "t", [("no.such.config", DELETE, None),
                                                     ("retention.bytes", DELETE, None),
                                                     ("cleanup.policy", SUBTRACT, "bogus")])["error_code"] == 0
    entries = configs(client, TOPIC_RESOURCE, "t", ["retention.bytes", "cleanup.policy"])
    assert (entries["retention.bytes"]["value"], entries["cleanup.policy"]["value"]) == ("-1", "delete")


def test_dynamic_broker_configs_and_their_sources(setup):
    _, client = setup
    assert incremental(client, BROKER_RESOURCE, "", [("log.retention.bytes", SET, "5000")])["error_code"] == 0
    assert incremental(client, BROKER_RESOURCE, "1", [("log.cleanup.policy", SET, "compact")])["error_code"] == 0
    entries = configs(client, TOPIC_RESOURCE, "t", ["retention.bytes", "cleanup.policy"])
    assert (entries["retention.bytes"]["value"], entries["retention.bytes"]["config_source"]) == \
        ("5000", DYNAMIC_DEFAULT_BROKER)
    assert synonyms(entries["retention.bytes"]) == [("log.retention.bytes", "5000", DYNAMIC_DEFAULT_BROKER),
                                                    ("log.retention.bytes", "-1", DEFAULT)]
    assert (entries["cleanup.policy"]["value"], entries["cleanup.policy"]["config_source"]) == \
        ("compact", DYNAMIC_BROKER)
    # The cluster-default resource describes what was set on it, with only its own layer as synonyms.
    defaults = configs(client, BROKER_RESOURCE, "")
    assert list(defaults) == ["log.retention.bytes"]
    assert synonyms(defaults["log.retention.bytes"]) == [("log.retention.bytes", "5000", DYNAMIC_DEFAULT_BROKER)]
    broker = configs(client, BROKER_RESOURCE, "1", ["log.cleanup.policy"])["log.cleanup.policy"]
    assert (broker["value"], broker["config_source"]) == ("compact", DYNAMIC_BROKER)


def test_dynamic_configs_survive_a_restart(setup):
    broker, client = setup
    incremental(client, TOPIC_RESOURCE, "t", [("retention.ms", SET, "4242")])
    incremental(client, BROKER_RESOURCE, "", [("log.retention.bytes", SET, "5000")])
    broker.stop()
    broker.start()
    with RawClient("127.0.0.1", broker.port) as again:
        entries = configs(again, TOPIC_RESOURCE, "t", ["retention.ms", "retention.bytes"])
    assert entries["retention.ms"]["value"] == "4242"
    assert (entries["retention.bytes"]["value"], entries["retention.bytes"]["config_source"]) == \
        ("5000", DYNAMIC_DEFAULT_BROKER)


# --- effects --------------------------------------------------------------------------------
def test_lowering_max_message_bytes_refuses_larger_batches(setup):
    _, client = setup
    big = batch([b"x" * 2000])
    produce_ok(client, "t", 0, big)
    incremental(client, TOPIC_RESOURCE, "t", [("max.message.bytes", SET, "1000")])
    assert produce(client, "t", 0, big)["error_code"] == ErrorCode.MESSAGE_TOO_LARGE
    produce_ok(client, "t", 0, batch([b"small"]))
    # The broker-wide synonym governs topics that do not override it.
    create_topic(client, "other")
    produce_ok(client, "other", 0, big)
    incremental(client, BROKER_RESOURCE, "", [("message.max.bytes", SET, "1000")])
    assert produce(client, "other", 0, big)["error_code"] == ErrorCode.MESSAGE_TOO_LARGE


def test_log_append_time(setup):
    _, client = setup
    incremental(client, TOPIC_RESOURCE, "t", [("message.timestamp.type", SET, "LogAppendTime")])
    before = int(time.time() * 1000)
    response = produce(client, "t", 0, batch([b"a", b"b"], timestamp=1000))
    after = int(time.time() * 1000)
    assert response["error_code"] == ErrorCode.NONE
    assert before <= response["log_append_time_ms"] <= after
    data = fetch(client, "t", 0, 0)["records"]
    [header] = batch_headers(data)
    assert header.log_append_time and header.max_timestamp == response["log_append_time_ms"]
    assert [r.timestamp for r in decode_all(data)] == [response["log_append_time_ms"]] * 2


def test_small_segment_bytes_rolls_segments(setup):
    broker, client = setup
    incremental(client, TOPIC_RESOURCE, "t", [("segment.bytes", SET, "1048576")])
    for i in range(10):
        produce_ok(client, "t", 0, batch([b"%d" % i * 400_000]))
    segments = [n for n in os.listdir(os.path.join(broker.log_dir, "t-0")) if n.endswith(".log")]
    assert len(segments) >= 4
    values = [r.value for r in decode_all(fetch(client, "t", 0, 0, partition_max_bytes=1 << 20)["records"])]
    assert values[:1] == [b"0" * 400_000]


def test_min_insync_replicas_refuses_acks_all(setup):
    _, client = setup
    incremental(client, TOPIC_RESOURCE, "t", [("min.insync.replicas", SET, "2")])
    assert produce(client, "t", 0, batch([b"x"]), acks=-1)["error_code"] == ErrorCode.NOT_ENOUGH_REPLICAS
    incremental(client, TOPIC_RESOURCE, "t", [("min.insync.replicas", DELETE, None)])
    assert produce(client, "t", 0, batch([b"x"]), acks=-1)["error_code"] == ErrorCode.NONE


def test_compacted_topics_need_keys(setup):
    _, client = setup
    incremental(client, TOPIC_RESOURCE, "t", [("cleanup.policy", SET, "compact")])
    refused = produce(client, "t", 0, batch([b"keyed", b"no key"], keys=[b"k", None]))
    assert refused["error_code"] == ErrorCode.INVALID_RECORD
    # The record without a key is named by its index in the batch, as Kafka does.
    assert [e["batch_index"] for e in refused["record_errors"]] == [1]
    assert "without key in topic partition t-0" in refused["record_errors"][0]["batch_index_error_message"]
    assert refused["error_message"].startswith("One or more records have been rejected due to 1 record errors")
    produce_ok(client, "t", 0, batch([b"keyed"], keys=[b"k"]))


def test_timestamps_out_of_range_are_refused_record_by_record(setup):
    _, client = setup
    incremental(client, TOPIC_RESOURCE, "t", [("message.timestamp.before.max.ms", SET, "3600000")])
    now = int(time.time() * 1000)
    data = records.build_batch([Record(0, now, None, b"now"), Record(1, now - 7_200_000, None, b"old")])
    refused = produce(client, "t", 0, bytearray(data))
    assert refused["error_code"] == ErrorCode.INVALID_TIMESTAMP
    assert refused["error_message"] == "One or more records have been rejected due to invalid timestamp"
    assert [e["batch_index"] for e in refused["record_errors"]] == [1]
    produce_ok(client, "t", 0, batch([b"now"]))
