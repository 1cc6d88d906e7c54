"""tools/gen_schema.py and the table it writes (wire/schema.py)."""
from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from wire.schema import MESSAGES

REPO = Path(__file__).resolve().parents[2]
GENERATOR = REPO / "tools" / "gen_schema.py"
SPECS = REPO.parent / "shared" / "kafka-message-specs"
needs_specs = pytest.mark.skipif(not SPECS.is_dir(), reason="Kafka message specs not found beside the repo")


def load_generator():
    spec = importlib.util.spec_from_file_location("gen_schema", GENERATOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def field(message: str, *path: str):
    fields = MESSAGES[message].fields
    for name in path:
        found = next(f for f in fields if f.name == name)
        fields = found.fields
    return found


@needs_specs
def test_committed_schema_is_up_to_date():
    result = subprocess.run([sys.executable, str(GENERATOR), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@needs_specs
def test_check_fails_when_a_spec_changes(tmp_path):
    specs = tmp_path / "specs"
    shutil.copytree(SPECS, specs)
    path = specs / "SaslHandshakeRequest.json"
    path.write_text(path.read_text().replace('"validVersions": "0-1"', '"validVersions": "0-2"'))
    result = subprocess.run([sys.executable, str(GENERATOR), "--check", str(specs)], capture_output=True, text=True)
    assert result.returncode == 1
    assert "stale" in result.stderr


@pytest.mark.parametrize(("camel", "snake"), [
    ("ThrottleTimeMs", "throttle_time_ms"), ("TopicId", "topic_id"), ("leaderEpoch", "leader_epoch"),
    ("ISRNodes", "isr_nodes"), ("KRaftVersion", "kraft_version"), ("isKRaftController", "is_kraft_controller"),
    ("V3AndBelowTopics", "v3_and_below_topics"), ("ApiKey", "api_key"),
])
def test_snake_case(camel, snake):
    assert load_generator().snake_case(camel) == snake


def test_comments_are_stripped_but_not_inside_strings():
    text = '{ // a comment\n "about": "see http://x//y", // trailing\n "n": 1 }'
    assert json.loads(load_generator().strip_comments(text)) == {"about": "see http://x//y", "n": 1}


def test_table_facts():
    # v12, released after the specs' snapshot, is v11's layout (LATER_SAME_VERSIONS).
    assert MESSAGES["ProduceRequest"][1:5] == ("request", 0, (0, 12), 9)
    assert MESSAGES["TxnOffsetCommitResponse"].valid_versions == (0, 5)
    assert MESSAGES["SaslHandshakeRequest"].flexible_versions is None
    assert MESSAGES["GroupMetadataValue"][1:5] == ("data", None, (0, 4), 4)
    client_id = field("RequestHeader", "client_id")
    assert (client_id.versions, client_id.nullable_versions, client_id.flexible_versions) == ((1, None), (1, None), "none")
    epoch = field("ApiVersionsResponse", "finalized_features_epoch")
    assert (epoch.tagged_versions, epoch.tag, epoch.default) == ((3, None), 1, -1)
    # defaults parsed to Python values
    assert field("FetchRequest", "max_bytes").default == 0x7FFFFFFF
    assert field("FetchRequest", "cluster_id").default is None
    assert field("JoinGroupRequest", "rebalance_timeout_ms").default == -1
    assert field("ApiVersionsResponse", "zk_migration_ready").default is False
    assert field("FetchRequest", "topics", "topic_id").default == bytes(16)
    # a field without "versions" exists in its tagged versions
    assert field("TransactionLogValue", "previous_producer_id").versions == (1, None)
    # common structs are resolved in place
    assert [f.name for f in field("GroupMetadataValue", "members").fields][:2] == ["member_id", "group_instance_id"]


def test_table_holds_no_prose():
    text = (REPO / "wire" / "schema.py").read_text()
    assert "about" not in text
    assert "Apache License 2.0" in text.splitlines()[1]
