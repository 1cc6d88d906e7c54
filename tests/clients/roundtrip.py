"""What the client round-trip tests share: the records they send, the
partitioners they expect, and the check of what came back."""
from __future__ import annotations

import time
import zlib
from typing import NamedTuple

RECORDS = 100_000
PARTITIONS = 6
COMPRESSIONS = ["none", "gzip", "snappy", "lz4", "zstd"]
BASE_TIMESTAMP = int(time.time() * 1000) - RECORDS


class Sent(NamedTuple):
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]
    timestamp: int


class Received(NamedTuple):
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]
    timestamp: int


def records(count: int = RECORDS) -> list[Sent]:
    """Every other record keyed (from 5,000 keys), all with headers and their
    own timestamp; the value starts with the record's number."""
    out = []
    for i in range(count):
        key = b"key-%d" % (i % 5000) if i % 2 == 0 else None
        headers = (("seq", b"%d" % i), ("kind", b"keyed" if key else b"unkeyed"))
        out.append(Sent(key, b"%07d|payload of record %d" % (i, i), headers, BASE_TIMESTAMP + i))
    return out


def number(value: bytes) -> int:
    return int(value[:7])


def murmur2(data: bytes) -> int:
    """Kafka's Utils.murmur2, the hash of the Java client's (and kafka-python's,
    aiokafka's) default partitioner, as a signed 32-bit int."""
    m, mask = 0x5BD1E995, 0xFFFFFFFF
    length = len(data)
    h = (0x9747B28C ^ length) & mask
    for i in range(0, length - length % 4, 4):
        k = int.from_bytes(data[i:i + 4], "little")
        k = (k * m) & mask
        k ^= k >> 24
        k = (k * m) & mask
        h = ((h * m) & mask) ^ k
    tail = length % 4
    if tail:
        rest = data[length - tail:]
        if tail == 3:
            h ^= rest[2] << 16
        if tail >= 2:
            h ^= rest[1] << 8
        h ^= rest[0]
        h = (h * m) & mask
    h ^= h >> 13
    h = (h * m) & mask
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def java_partition(key: bytes) -> int:
    return (murmur2(key) & 0x7FFFFFFF) % PARTITIONS


def librdkafka_partition(key: bytes) -> int:
    """librdkafka's default partitioner (consistent_random) for a key: CRC-32."""
    return zlib.crc32(key) % PARTITIONS


def check(sent: list[Sent], reported: list[tuple[int, int]], received: list[Received], key_partition) -> None:
    """``reported[i]``: the (partition, offset) the client's delivery report
    gave record i; ``received``: everything consumed, in consumption order.
    Every record comes back exactly once, where it was reported, in order
    per partition, with key, value, headers and timestamp intact; keyed
    records sit where ``key_partition`` puts their key."""
    assert len(reported) == len(sent)
    for record, (partition, _) in zip(sent, reported):
        if record.key is not None:
            assert partition == key_partition(record.key), record
    assert len({(r.partition, r.offset) for r in received}) == len(received), "a record was consumed twice"
    assert sorted(number(r.value) for r in received) == list(range(len(sent))), "records missing or extra"
    last_offset = {}
    for r in received:
        i = number(r.value)
        assert (r.partition, r.offset) == reported[i], (i, r, reported[i])
        assert (r.key, r.value, r.headers, r.timestamp) == sent[i][:4], (r, sent[i])
        assert r.offset > last_offset.get(r.partition, -1), "out of order within a partition"
        last_offset[r.partition] = r.offset
    # Send order within a partition is offset order.
    by_partition: dict[int, list[int]] = {}
    for i, (partition, offset) in enumerate(reported):
        by_partition.setdefault(partition, []).append(offset)
    for offsets in by_partition.values():
        assert offsets == sorted(offsets)
    assert len(by_partition) == PARTITIONS, "some partition got nothing"


CODEC_IDS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}


def assert_stored_with(port: int, topic: str, compression: str) -> None:
    """The stored batches (first fetch of each partition) use the codec, as
    the client sent them (kafka-python sends a batch that does not shrink
    uncompressed)."""
    from tests.broker.rawapi import batch_headers, fetch
    from tests.support.rawclient import RawClient
    with RawClient("127.0.0.1", port) as client:
        codecs = [h.compression for p in range(PARTITIONS)
                  for h in batch_headers(fetch(client, topic, p, 0)["records"])]
    expected = CODEC_IDS[compression]
    assert expected in codecs and set(codecs) <= {0, expected}, codecs
