"""The Java client (kafka-clients 3.9 and 4.x) produces with its defaults
(idempotent, acks=all) and reads back with assign() and seek()."""
import pytest

from tests.broker.rawapi import create_topic
from tests.clients.roundtrip import murmur2
from tests.clients.java import programs
from tests.support.rawclient import RawClient

COUNT = 300


@pytest.mark.parametrize("version", programs.VERSIONS)
def test_produce_then_assign_and_seek(kafka_broker, version):
    with RawClient("127.0.0.1", kafka_broker.port) as client:
        create_topic(client, "assigned", partitions=3)
    lines = programs.run("AssignSeek", version, kafka_broker.bootstrap_servers, "assigned", str(COUNT))
    sent = {}  # (partition, offset) -> key, as the producer's metadata said
    got = []
    for line in lines:
        word, *fields = line.split()
        if word == "sent":
            sent[(int(fields[0]), int(fields[1]))] = fields[2]
        elif word == "got":
            got.append((int(fields[0]), int(fields[1]), fields[2], fields[3]))
    assert len(sent) == COUNT
    # Every record back once, where the producer was told it went, in order per partition.
    assert sorted((p, o) for p, o, _, _ in got) == sorted(sent)
    for p, o, key, value in got:
        assert sent[(p, o)] == key and value == "v" + key[1:]
    for partition in {p for p, _ in sent}:
        offsets = [o for p, o, _, _ in got if p == partition]
        assert offsets == sorted(offsets)
    # Keys land where the Java partitioner (murmur2) puts them.
    assert all(p == (murmur2(key.encode()) & 0x7FFFFFFF) % 3 for (p, _), key in sent.items())
    sought = [line.split() for line in lines if line.startswith("sought")]
    assert sought and int(sought[0][2]) == 1
