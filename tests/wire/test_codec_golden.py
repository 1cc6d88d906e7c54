"""Request frames captured from real clients (see golden/README.md) decode to
what those clients meant, and re-encode to the very same bytes."""
from __future__ import annotations

import re
import struct
from pathlib import Path

import pytest

from wire.codec import API_KEYS, decode_request, decode_request_header, encode_request

GOLDEN = Path(__file__).parent / "golden"
FRAMES = sorted(GOLDEN.glob("*.bin"))
CLIENT_IDS = {"java-3.9.1": "golden-java", "kafka-python": "golden-kafka-python", "librdkafka": "golden-librdkafka"}
TOPIC = "golden-topic"
NO_TOPIC_ID = bytes(16)
CAPTURE_TOPIC_ID = b"\x01" * 16  # what capture.py's Metadata answer said


def load(name: str):
    frame = (GOLDEN / name).read_bytes()
    header = decode_request_header(frame[4:])
    return header, decode_request(header.api_key, header.api_version, frame[4:], header.body_offset)


def test_all_three_clients_were_captured():
    assert {re.match(r"(java-3\.9\.1|kafka-python|librdkafka)", p.name).group(1) for p in FRAMES} == set(CLIENT_IDS)
    assert len(FRAMES) >= 20


@pytest.mark.parametrize("path", FRAMES, ids=[p.stem for p in FRAMES])
def test_frame_decodes_and_re_encodes_identically(path):
    client, api, version = re.fullmatch(r"(java-3\.9\.1|kafka-python|librdkafka)(?:-consumer)?-(\w+)-v(\d+)", path.stem).groups()
    frame = path.read_bytes()
    assert struct.unpack(">i", frame[:4])[0] == len(frame) - 4
    header = decode_request_header(frame[4:])
    assert (API_KEYS[header.api_key][0], header.api_version) == (api, int(version))
    assert header.client_id == CLIENT_IDS[client]
    body = decode_request(header.api_key, header.api_version, frame[4:], header.body_offset)
    assert encode_request(header.api_key, header.api_version, header.correlation_id, header.client_id, body) == frame


@pytest.mark.parametrize(("name", "software", "version"), [
    ("java-3.9.1-ApiVersions-v4.bin", "apache-kafka-java", "3.9.1"),
    ("kafka-python-ApiVersions-v4.bin", "kafka-python", "3.0.12"),
    ("librdkafka-ApiVersions-v3.bin", "confluent-kafka-python", "2.16.1-rdkafka-2.16.0"),
])
def test_api_versions_names_the_client_software(name, software, version):
    header, body = load(name)
    assert header.correlation_id in (0, 1)  # the first request on the connection
    assert body == {"client_software_name": software, "client_software_version": version}


@pytest.mark.parametrize(("name", "topics", "auto_create"), [
    ("java-3.9.1-Metadata-v12.bin", [{"name": TOPIC, "topic_id": NO_TOPIC_ID}], True),
    ("librdkafka-Metadata-v12.bin", [{"name": TOPIC, "topic_id": NO_TOPIC_ID}], True),
    ("librdkafka-consumer-Metadata-v12.bin", [{"name": TOPIC, "topic_id": NO_TOPIC_ID}], False),
    ("kafka-python-Metadata-v12.bin", [], True),  # bootstrap: brokers only, no topics
])
def test_metadata_asks_for_the_topic(name, topics, auto_create):
    _, body = load(name)
    assert body["topics"] == topics
    assert body["allow_auto_topic_creation"] is auto_create
    assert body["include_topic_authorized_operations"] is False


@pytest.mark.parametrize(("name", "value"), [
    ("java-3.9.1-Produce-v11.bin", b"hello from kafka-clients"),
    ("kafka-python-Produce-v9.bin", b"hello from kafka-python"),
    ("librdkafka-Produce-v10.bin", b"hello from librdkafka"),
])
def test_produce_carries_one_v2_batch(name, value):
    _, body = load(name)
    assert (body["transactional_id"], body["acks"], body["timeout_ms"]) == (None, -1, 30000)
    [topic] = body["topic_data"]
    [partition] = topic["partition_data"]
    assert (topic["name"], partition["index"]) == (TOPIC, 0)
    records = partition["records"]
    base_offset, batch_length, _, magic = struct.unpack_from(">qiib", records)
    assert (base_offset, magic, batch_length + 12) == (0, 2, len(records))
    assert records.endswith(value + b"\x00")  # uncompressed: the value, then no headers


@pytest.mark.parametrize(("name", "timeout_ms"), [
    ("java-3.9.1-InitProducerId-v5.bin", 0x7FFFFFFF),
    ("kafka-python-InitProducerId-v4.bin", 0),
])
def test_idempotent_producers_ask_for_a_producer_id(name, timeout_ms):
    _, body = load(name)
    assert body == {"transactional_id": None, "transaction_timeout_ms": timeout_ms,
                    "producer_id": -1, "producer_epoch": -1}


@pytest.mark.parametrize(("name", "topic", "topic_id", "isolation_level"), [
    ("java-3.9.1-consumer-Fetch-v17.bin", "", CAPTURE_TOPIC_ID, 0),  # v13+: by topic id
    ("librdkafka-consumer-Fetch-v16.bin", "", CAPTURE_TOPIC_ID, 1),
    ("kafka-python-consumer-Fetch-v12.bin", TOPIC, NO_TOPIC_ID, 0),
], ids=["java", "librdkafka", "kafka-python"])
def test_fetch_from_offset_zero(name, topic, topic_id, isolation_level):
    _, body = load(name)
    assert (body["replica_id"], body["isolation_level"], body["cluster_id"]) == (-1, isolation_level, None)
    [fetch_topic] = body["topics"]
    assert (fetch_topic["topic"], fetch_topic["topic_id"]) == (topic, topic_id)
    [partition] = fetch_topic["partitions"]
    assert (partition["partition"], partition["fetch_offset"]) == (0, 0)
    # v15+ tagged ReplicaState absent: Kafka's defaults
    assert body["replica_state"] == {"replica_id": -1, "replica_epoch": -1}


def test_librdkafka_consumer_finds_its_group_coordinator():
    _, body = load("librdkafka-consumer-FindCoordinator-v2.bin")
    assert (body["key"], body["key_type"]) == ("golden-group", 0)
