"""Legacy message sets (magic 0 and 1): up-conversion of what old producers send,
down-conversion of stored batches for old consumers.

kafka-python (pure Python) and aiokafka (Cython) build and read the legacy
format independently of us.
"""
import struct
import zlib

import aiokafka.record.legacy_records as aio_legacy
import aiokafka.record.memory_records as aio_memory
import cramjam
import kafka.codec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kafka.record.legacy_records import LegacyRecordBatchBuilder
from kafka.record.memory_records import MemoryRecords

from wire import compression
from wire.legacy import decode_legacy, fetch_magic, legacy_to_v2, v2_to_legacy
from wire.records import (
    CORRUPT_MESSAGE, INVALID_RECORD, INVALID_TIMESTAMP, MESSAGE_TOO_LARGE, UNSUPPORTED_COMPRESSION_TYPE, Record,
    RecordsError, build_batch, build_control_batch, decode_records, set_log_append_time,
    validate_produce,
)

LEGACY_CODECS = [compression.NONE, compression.GZIP, compression.SNAPPY, compression.LZ4]


class _RawSnappy:
    """What kafka-python wants from python-snappy; its xerial framing stays its own."""
    compress = staticmethod(lambda data: bytes(cramjam.snappy.compress_raw(data)))
    decompress = staticmethod(lambda data: bytes(cramjam.snappy.decompress_raw(data)))


@pytest.fixture(scope="module", autouse=True)
def kafka_python_snappy():
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(kafka.codec, "snappy", _RawSnappy)
        yield


def sample_records(count=8, base_offset=0, headers=()):
    return [
        Record(base_offset + i, 1_700_000_000_000 + 7 * i, None if i % 3 == 0 else b"key-%d" % i,
               None if i % 4 == 3 else b"value " * (i + 10), headers)
        for i in range(count)
    ]


def reference_set(builder_class, magic, codec, records):
    builder = builder_class(magic, codec, 1 << 20)
    for i, r in enumerate(records):
        builder.append(i, r.timestamp, r.key, r.value)
    return bytes(builder.build())


def read_with(memory_records_class, data):
    """(offset, timestamp, timestamp type, key, value) of every record, CRCs checked."""
    records = memory_records_class(data)
    out = []
    while records.has_next():
        batch = records.next_batch()
        assert batch.validate_crc()
        for r in batch:
            out.append((r.offset, r.timestamp, r.timestamp_type, r.key, r.value))
    return out


def producible(magic, codec):
    # Neither reference writes magic 0 LZ4 without the xxhash package.
    return not (magic == 0 and codec == compression.LZ4)


CASES = [(m, c) for m in (0, 1) for c in LEGACY_CODECS if producible(m, c)]


@pytest.mark.parametrize("builder_class", [LegacyRecordBatchBuilder, aio_legacy.LegacyRecordBatchBuilder])
@pytest.mark.parametrize("magic, codec", CASES)
def test_old_producer_data_is_up_converted(builder_class, magic, codec):
    records = sample_records()
    data = reference_set(builder_class, magic, codec, records)
    expected_timestamps = [r.timestamp if magic else -1 for r in records]
    decoded = decode_legacy(data)
    assert [(r.offset, r.timestamp, r.key, r.value) for r in decoded] == [
        (i, ts, r.key, r.value) for i, (ts, r) in enumerate(zip(expected_timestamps, records))]

    batch = legacy_to_v2(data)
    header = validate_produce(batch)
    assert header.compression == codec
    assert not header.log_append_time
    assert header.max_timestamp == max(expected_timestamps)
    assert [(r.offset, r.timestamp, r.key, r.value, r.headers) for r in decode_records(batch)] == [
        (i, ts, r.key, r.value, ()) for i, (ts, r) in enumerate(zip(expected_timestamps, records))]


def test_nothing_to_up_convert():
    assert legacy_to_v2(b"") == b""
    data = reference_set(LegacyRecordBatchBuilder, 1, compression.NONE, sample_records(2))
    # A trailing partial message is left out, as Kafka does.
    assert [r.offset for r in decode_records(legacy_to_v2(data[:-1]))] == [0]


@pytest.mark.parametrize("reader", [MemoryRecords, aio_memory.MemoryRecords])
@pytest.mark.parametrize("magic, codec", CASES)
def test_down_conversion_is_read_by_old_clients(reader, magic, codec):
    first = sample_records(5, base_offset=100, headers=(("dropped", b"in v0 and v1"),))
    second = sample_records(3, base_offset=105)
    stored = build_batch(first, base_offset=100, compression=codec) + build_batch(second, base_offset=105)
    data = v2_to_legacy(stored, magic)
    timestamp_type = 0 if magic else None
    assert read_with(reader, data) == [
        (r.offset, r.timestamp if magic else None, timestamp_type, r.key, r.value) for r in first + second]
    assert [r.offset for r in decode_legacy(data)] == list(range(100, 108))


def test_down_conversion_of_magic_0_lz4_uses_the_broken_header_checksum():
    stored = build_batch(sample_records(4, base_offset=10), base_offset=10, compression=compression.LZ4)
    data = v2_to_legacy(stored, 0)
    wrapper_value = data[12 + 4 + 2 + 4:]  # offset, size | crc, magic, attributes | null key
    frame = wrapper_value[4:]
    assert frame[:4] == b"\x04\x22\x4d\x18"
    assert compression.decompress(compression.LZ4, frame, magic=0)
    with pytest.raises(compression.CompressionError):
        compression.decompress(compression.LZ4, frame, magic=1)
    assert [(r.offset, r.key) for r in decode_legacy(data)] == [(r.offset, r.key) for r in sample_records(4, 10)]


def test_magic_0_lz4_against_kafka_python():
    pytest.importorskip("xxhash")  # kafka-python's only way to the broken checksum
    records = sample_records(6)
    data = reference_set(LegacyRecordBatchBuilder, 0, compression.LZ4, records)
    assert [r.value for r in decode_records(legacy_to_v2(data))] == [r.value for r in records]
    stored = build_batch(records, compression=compression.LZ4)
    assert [v for *_, v in read_with(MemoryRecords, v2_to_legacy(stored, 0))] == [r.value for r in records]


@pytest.mark.parametrize("codec", LEGACY_CODECS)
def test_down_conversion_of_log_append_time(codec):
    stored = bytearray(build_batch(sample_records(4, base_offset=50), base_offset=50, compression=codec))
    set_log_append_time(stored, 0, 1_888_000_000_000)
    assert read_with(MemoryRecords, v2_to_legacy(stored, 1)) == [
        (r.offset, 1_888_000_000_000, 1, r.key, r.value) for r in sample_records(4, base_offset=50)]


def test_down_conversion_skips_control_batches_and_records_before_the_fetch_offset():
    data = (build_batch(sample_records(4, base_offset=0))
            + build_control_batch(True, producer_id=1, producer_epoch=0, coordinator_epoch=0, timestamp=5,
                                  base_offset=4)
            + build_batch(sample_records(3, base_offset=5), base_offset=5, compression=compression.GZIP))
    # Uncompressed batches are cut at the fetch offset; a compressed wrapper is whole.
    assert [r.offset for r in decode_legacy(v2_to_legacy(data, 1, first_offset=2))] == [2, 3, 5, 6, 7]
    assert [r.offset for r in decode_legacy(v2_to_legacy(data, 1, first_offset=6))] == [5, 6, 7]
    # Stored data read up to a size limit may end in a partial batch.
    assert [r.offset for r in decode_legacy(v2_to_legacy(data[:-1], 0))] == [0, 1, 2, 3]


def test_zstd_cannot_be_down_converted():
    with pytest.raises(RecordsError) as info:
        v2_to_legacy(build_batch(sample_records(2), compression=compression.ZSTD), 1)
    assert info.value.error_code == UNSUPPORTED_COMPRESSION_TYPE


@settings(max_examples=40, deadline=None)
@given(
    fields=st.lists(st.tuples(st.integers(0, 2**41), st.none() | st.binary(max_size=30),
                              st.none() | st.binary(max_size=100)), min_size=1, max_size=10),
    codec=st.sampled_from(LEGACY_CODECS),
    magic=st.sampled_from([0, 1]),
    base_offset=st.integers(0, 2**40),
)
def test_down_then_up_conversion_keeps_records(fields, codec, magic, base_offset):
    records = [Record(base_offset + i, ts, k, v) for i, (ts, k, v) in enumerate(fields)]
    legacy = v2_to_legacy(build_batch(records, base_offset=base_offset, compression=codec), magic)
    expected = [(r.offset, r.timestamp if magic else -1, r.key, r.value) for r in records]
    assert [(r.offset, r.timestamp, r.key, r.value) for r in decode_legacy(legacy)] == expected
    again = decode_records(legacy_to_v2(legacy))
    assert [(r.timestamp, r.key, r.value) for r in again] == [e[1:] for e in expected]


def test_magic_1_wrapper_offsets():
    inner = b"".join(message(1, 0, b"k", b"v%d" % i, offset=i) for i in range(3))
    value = compression.compress(compression.GZIP, inner)
    # The wrapper carries the absolute offset of its last inner message...
    assert [r.offset for r in decode_legacy(message(1, compression.GZIP, None, value, offset=12))] == [10, 11, 12]
    # ...except in the produce data of some clients (kafka-python, old librdkafka), where it is 0.
    assert [r.offset for r in decode_legacy(message(1, compression.GZIP, None, value, offset=0))] == [0, 1, 2]


def test_fetch_versions_map_to_message_formats():
    assert [fetch_magic(v) for v in range(6)] == [0, 0, 1, 1, 2, 2]


# --- validation of produced legacy data ------------------------------------

def message(magic, attributes, key, value, *, offset=0, timestamp=0, crc=None):
    """A legacy message written by hand, to build what no client would send."""
    body = bytes((magic, attributes)) + (struct.pack(">q", timestamp) if magic else b"")
    for field in (key, value):
        body += struct.pack(">i", -1) if field is None else struct.pack(">i", len(field)) + field
    crc = zlib.crc32(body) if crc is None else crc
    return struct.pack(">qiI", offset, len(body) + 4, crc) + body


def produce_error(data, **kwargs):
    with pytest.raises(RecordsError) as info:
        legacy_to_v2(data, **kwargs)
    return info.value.error_code


def test_corrupt_outer_message():
    data = bytearray(reference_set(LegacyRecordBatchBuilder, 1, compression.NONE, sample_records(3)))
    data[40] ^= 0x10
    assert produce_error(bytes(data)) == CORRUPT_MESSAGE


def test_corrupt_inner_message():
    inner = message(1, 0, b"k", b"v") + message(1, 0, b"k", b"v", offset=1, crc=12345)
    wrapper = message(1, compression.GZIP, None, compression.compress(compression.GZIP, inner), offset=1)
    assert produce_error(wrapper) == CORRUPT_MESSAGE


def test_inner_message_must_not_be_compressed_nor_of_another_magic():
    nested = message(1, compression.GZIP, None, b"whatever")
    wrapper = message(1, compression.GZIP, None, compression.compress(compression.GZIP, nested))
    assert produce_error(wrapper) == INVALID_RECORD
    other_magic = message(0, 0, b"k", b"v")
    wrapper = message(1, compression.GZIP, None, compression.compress(compression.GZIP, other_magic))
    assert produce_error(wrapper) == INVALID_RECORD


def test_only_one_compressed_wrapper_per_request():
    data = reference_set(LegacyRecordBatchBuilder, 1, compression.GZIP, sample_records(3))
    assert produce_error(data + data) == INVALID_RECORD


def test_zstd_wrapper_is_invalid():
    wrapper = message(1, compression.ZSTD, None, compression.compress(compression.ZSTD, message(1, 0, b"k", b"v")))
    assert produce_error(wrapper) == INVALID_RECORD


def test_mixed_magic_is_invalid():
    assert produce_error(message(0, 0, b"k", b"v") + message(1, 0, b"k", b"v")) == INVALID_RECORD


def test_producer_claiming_log_append_time():
    assert produce_error(message(1, 0x08, b"k", b"v")) == INVALID_TIMESTAMP


def test_message_above_max_message_bytes():
    data = message(1, 0, b"k", b"v" * 100)
    assert produce_error(data, max_message_bytes=len(data) - 1) == MESSAGE_TOO_LARGE
    assert legacy_to_v2(data, max_message_bytes=len(data))


def test_truncated_fields_are_corrupt():
    good = message(1, 0, b"key", b"value")
    body = good[16:-5]  # value length claims more bytes than the message has
    bad = good[:8] + struct.pack(">iI", len(body) + 4, zlib.crc32(body)) + body
    assert produce_error(bad) == CORRUPT_MESSAGE


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=120), prefix=st.sampled_from([b"", message(1, 1, None, b"\x1f\x8b")[:26]]))
def test_hostile_bytes_raise_only_records_error(data, prefix):
    for call in (lambda: legacy_to_v2(prefix + data), lambda: decode_legacy(prefix + data)):
        try:
            call()
        except RecordsError:
            pass
