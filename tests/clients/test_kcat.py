"""kcat against the broker: metadata listing, keyed produce, consume from the beginning."""
import shutil
import subprocess
import zlib

import pytest

from tests.broker.rawapi import create_topic
from tests.support.rawclient import RawClient

pytestmark = pytest.mark.skipif(shutil.which("kcat") is None,
                                reason="kcat is not installed (tools/run-tests installs it)")


def kcat(broker, *args, stdin=None):
    result = subprocess.run(["kcat", "-b", broker.bootstrap_servers, *args], input=stdin, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_list_metadata(broker):
    with RawClient("127.0.0.1", broker.port) as client:
        create_topic(client, "listed", partitions=3)
    listing = kcat(broker, "-L")
    assert f"broker 1 at 127.0.0.1:{broker.port} (controller)" in listing
    assert 'topic "listed" with 3 partitions:' in listing
    for p in range(3):
        assert f"partition {p}, leader 1, replicas: 1, isrs: 1" in listing


def test_produce_keyed_then_consume_from_the_beginning(broker):
    with RawClient("127.0.0.1", broker.port) as client:
        create_topic(client, "lines", partitions=3)
    lines = [f"key-{i % 7}:value {i}" for i in range(500)]
    kcat(broker, "-P", "-t", "lines", "-K:", stdin="\n".join(lines) + "\n")
    consumed = kcat(broker, "-C", "-t", "lines", "-o", "beginning", "-e", "-f", "%p\t%o\t%k\t%s\n").splitlines()
    rows = [line.split("\t") for line in consumed]
    assert sorted(f"{key}:{value}" for _, _, key, value in rows) == sorted(lines)
    by_partition = {}
    for partition, offset, key, value in rows:
        # librdkafka's default partitioner puts a key where its CRC-32 says.
        assert int(partition) == zlib.crc32(key.encode()) % 3
        by_partition.setdefault(int(partition), []).append((int(offset), int(value.split()[1])))
    for records in by_partition.values():
        assert [o for o, _ in records] == list(range(len(records)))
        assert [i for _, i in records] == sorted(i for _, i in records)   # produce order kept per partition


def test_produce_to_an_auto_created_topic(broker):
    kcat(broker, "-P", "-t", "fresh", stdin="one\ntwo\nthree\n")
    consumed = kcat(broker, "-C", "-t", "fresh", "-o", "beginning", "-e")
    assert consumed.splitlines() == ["one", "two", "three"]
