"""v2 record batches: validation of produced batches, building and decoding.

kafka-python (pure Python) and aiokafka (Cython) are independent encoders and
decoders of the same format: batches go both ways between them and us.
"""
import struct

import aiokafka.record.default_records as aio_records
import cramjam
import kafka.codec
import pytest
from crc32c import crc32c
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder

from wire import compression
from wire.records import (
    ABORT, COMMIT, CORRUPT_MESSAGE, HEADER_SIZE, INVALID_RECORD, INVALID_TIMESTAMP, MESSAGE_TOO_LARGE,
    UNSUPPORTED_COMPRESSION_TYPE, Record, RecordsError, build_batch, build_control_batch, check_produce_records,
    crc_matches, decode_records, parse_control_record, parse_header, set_base_offset, set_log_append_time,
    set_partition_leader_epoch, validate_produce,
)

CODECS = [compression.NONE, compression.GZIP, compression.SNAPPY, compression.LZ4, compression.ZSTD]


class _RawSnappy:
    """What kafka-python wants from python-snappy; its xerial framing stays its own."""
    compress = staticmethod(lambda data: bytes(cramjam.snappy.compress_raw(data)))
    decompress = staticmethod(lambda data: bytes(cramjam.snappy.decompress_raw(data)))


@pytest.fixture(scope="module", autouse=True)
def kafka_python_snappy():
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(kafka.codec, "snappy", _RawSnappy)
        yield


headers_st = st.lists(st.tuples(st.text(max_size=8), st.none() | st.binary(max_size=16)), max_size=3)
record_fields_st = st.tuples(
    st.integers(0, 2**41),  # timestamp
    st.none() | st.binary(max_size=40),  # key
    st.none() | st.binary(max_size=200),  # value
    headers_st,
)
records_st = st.lists(record_fields_st, min_size=1, max_size=12)
hypothesis_settings = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def make_records(fields, base_offset=0):
    return [Record(base_offset + i, ts, key, value, tuple(headers))
            for i, (ts, key, value, headers) in enumerate(fields)]


def sample_records(count=20, base_offset=0):
    # Repetitive values so that every codec actually compresses.
    return [
        Record(base_offset + i, 1_700_000_000_000 + i, None if i % 3 == 0 else b"key-%d" % i,
               None if i % 5 == 4 else b"value " * (i + 10),
               (("trace", b"id-%d" % i), ("empty", None)) if i % 2 else ())
        for i in range(count)
    ]


def as_tuples(records):
    return [(r.offset, r.timestamp, r.key, r.value, list(r.headers)) for r in records]


def reference_records(batch):
    return [(r.offset, r.timestamp, r.key, r.value, list(r.headers)) for r in batch]


def rewrite(batch, fmt, offset, value, *, fix_crc=True):
    """``batch`` with one header field replaced, CRC recomputed unless told."""
    out = bytearray(batch)
    struct.pack_into(fmt, out, offset, value)
    if fix_crc:
        struct.pack_into(">I", out, 17, crc32c(bytes(out[21:])))
    return bytes(out)


# --- building and decoding ---------------------------------------------------

@pytest.mark.parametrize("codec", CODECS)
@hypothesis_settings
@given(fields=records_st)
def test_round_trip(codec, fields):
    records = make_records(fields)
    batch = build_batch(records, compression=codec, producer_id=7, producer_epoch=2, base_sequence=11)
    header = validate_produce(batch)
    assert header.compression == codec
    assert (header.records_count, header.last_offset_delta) == (len(records), len(records) - 1)
    assert header.base_timestamp == records[0].timestamp
    assert header.max_timestamp == max(r.timestamp for r in records)
    assert (header.producer_id, header.producer_epoch, header.base_sequence) == (7, 2, 11)
    assert decode_records(batch) == records


@pytest.mark.parametrize("codec", CODECS)
@hypothesis_settings
@given(fields=records_st)
def test_reference_decoders_read_our_batches(codec, fields):
    records = make_records(fields, base_offset=1000)
    batch = build_batch(records, base_offset=1000, compression=codec, transactional=True,
                        producer_id=3, producer_epoch=1, base_sequence=0)
    for reader in (DefaultRecordBatch(bytearray(batch)), aio_records.DefaultRecordBatch(batch)):
        assert reader.validate_crc()
        assert reader.compression_type == codec
        assert reader.is_transactional and not reader.is_control_batch
        assert reference_records(reader) == as_tuples(records)


@pytest.mark.parametrize("builder_class", [DefaultRecordBatchBuilder, aio_records.DefaultRecordBatchBuilder])
@pytest.mark.parametrize("codec", CODECS)
def test_we_read_reference_batches(builder_class, codec):
    records = sample_records()
    builder = builder_class(2, codec, 0, -1, -1, -1, 1 << 20)
    for r in records:
        builder.append(r.offset, r.timestamp, r.key, r.value, list(r.headers))
    batch = bytes(builder.build())
    header = validate_produce(batch)
    assert header.compression == codec
    assert as_tuples(decode_records(batch)) == as_tuples(records)


def test_idempotent_reference_batch_passes_validation():
    builder = DefaultRecordBatchBuilder(2, compression.LZ4, 0, 42, 3, 17, 1 << 20)
    for r in sample_records(5):
        builder.append(r.offset, r.timestamp, r.key, r.value, list(r.headers))
    header = validate_produce(bytes(builder.build()))
    assert (header.producer_id, header.producer_epoch, header.base_sequence, header.last_sequence) == (42, 3, 17, 21)


def test_offsets_and_leader_epoch_rewritten_without_touching_the_crc():
    batch = bytearray(build_batch(sample_records(4), compression=compression.GZIP))
    set_base_offset(batch, 0, 5000)
    set_partition_leader_epoch(batch, 0, 9)
    header = parse_header(batch)
    assert (header.base_offset, header.partition_leader_epoch, header.last_offset) == (5000, 9, 5003)
    assert crc_matches(batch, 0, header.size)
    reader = DefaultRecordBatch(bytearray(batch))
    assert reader.validate_crc()
    assert [r.offset for r in reader] == [5000, 5001, 5002, 5003]


@pytest.mark.parametrize("codec", CODECS)
def test_log_append_time(codec):
    batch = bytearray(build_batch(sample_records(6), compression=codec))
    now = 1_800_000_000_123
    set_log_append_time(batch, 0, now)
    header = parse_header(batch)
    assert header.log_append_time and header.max_timestamp == now
    assert crc_matches(batch, 0, header.size)
    for reader in (DefaultRecordBatch(bytearray(batch)), aio_records.DefaultRecordBatch(bytes(batch))):
        assert reader.validate_crc()
        assert reader.timestamp_type == 1
        assert [r.timestamp for r in reader] == [now] * 6
    assert [r.timestamp for r in decode_records(batch)] == [now] * 6


def test_build_batch_log_append_time():
    records = sample_records(3)
    batch = build_batch(records, log_append_time=123)
    reader = DefaultRecordBatch(bytearray(batch))
    assert reader.validate_crc() and reader.timestamp_type == 1 and reader.max_timestamp == 123
    assert [r.timestamp for r in reader] == [123] * 3


def test_batch_with_offset_gaps_and_empty_batch():
    # What compaction writes: surviving records keep their offsets, and a batch
    # emptied of records keeps its offset range.
    kept = [Record(102, 5, b"a", b"1"), Record(107, 9, b"b", None)]
    batch = build_batch(kept, base_offset=100, last_offset_delta=9)
    header = parse_header(batch)
    assert (header.base_offset, header.last_offset, header.records_count) == (100, 109, 2)
    assert decode_records(batch) == kept
    empty = build_batch([], base_offset=100, last_offset_delta=9)
    header = parse_header(empty)
    assert (header.records_count, header.last_offset, header.size) == (0, 109, HEADER_SIZE)
    assert decode_records(empty) == []
    assert DefaultRecordBatch(bytearray(empty)).validate_crc()


@pytest.mark.parametrize("commit", [True, False])
def test_control_batch(commit):
    batch = build_control_batch(commit, producer_id=77, producer_epoch=4, coordinator_epoch=12,
                                timestamp=1_700_000_000_000, base_offset=40, partition_leader_epoch=3)
    header = parse_header(batch)
    assert header.is_control and header.is_transactional
    assert (header.producer_id, header.producer_epoch) == (77, 4)
    assert (header.base_offset, header.partition_leader_epoch) == (40, 3)
    reader = DefaultRecordBatch(bytearray(batch))
    assert reader.validate_crc() and reader.is_control_batch
    (marker,) = list(reader)
    assert marker.commit is commit and marker.abort is not commit
    (record,) = decode_records(batch)
    assert record.offset == 40 and record.timestamp == 1_700_000_000_000
    control = parse_control_record(record.key, record.value)
    assert control.type == (COMMIT if commit else ABORT)
    assert control.coordinator_epoch == 12


def test_control_record_of_other_types_and_short_keys():
    assert parse_control_record(struct.pack(">hh", 0, 2), b"whatever").type == 2
    with pytest.raises(RecordsError):
        parse_control_record(b"\x00", None)
    with pytest.raises(RecordsError):
        parse_control_record(struct.pack(">hh", 0, COMMIT), b"\x00\x00")


# --- validation of produced data -------------------------------------------

def good_batch(**kwargs):
    return build_batch(sample_records(5), **kwargs)


def error_of(data, **kwargs):
    with pytest.raises(RecordsError) as info:
        validate_produce(data, **kwargs)
    return info.value.error_code


def test_valid_batch_header_is_returned():
    batch = good_batch(compression=compression.SNAPPY)
    header = validate_produce(batch, max_message_bytes=len(batch))
    assert header.size == len(batch) and header.records_count == 5


def test_corrupt_crc_is_detected():
    batch = bytearray(good_batch(compression=compression.LZ4))
    batch[-3] ^= 0x40
    assert error_of(bytes(batch)) == CORRUPT_MESSAGE
    with pytest.raises(RecordsError) as info:
        validate_produce(bytes(batch))
    assert info.value.corrupt


def test_every_covered_byte_is_covered_by_the_crc():
    batch = good_batch()
    for pos in range(21, len(batch)):
        flipped = bytearray(batch)
        flipped[pos] ^= 0x01
        assert not crc_matches(flipped, 0, len(batch))


def test_truncated_data():
    batch = good_batch()
    for cut in (1, 11, 12, 20, 60, len(batch) - 1):
        assert validate_produce(batch[:cut]) is None
        with pytest.raises(RecordsError) as info:
            check_produce_records(3, batch[:cut])
        assert info.value.error_code == INVALID_RECORD
    # Kafka ignores a trailing partial batch: the complete one is what is appended.
    header = validate_produce(batch + batch[:30])
    assert header.size == len(batch)


def test_framing_errors_are_corrupt():
    batch = good_batch()
    assert error_of(rewrite(batch, ">i", 8, 13, fix_crc=False)) == CORRUPT_MESSAGE  # below the minimum
    assert error_of(rewrite(batch, ">b", 16, 3, fix_crc=False)) == CORRUPT_MESSAGE  # unknown magic
    assert error_of(rewrite(batch, ">b", 16, -1, fix_crc=False)) == CORRUPT_MESSAGE
    short = rewrite(batch, ">i", 8, 40, fix_crc=False)[:52]  # smaller than a v2 header
    assert error_of(short) == CORRUPT_MESSAGE


def test_batch_above_max_message_bytes():
    batch = good_batch()
    assert error_of(batch, max_message_bytes=len(batch) - 1) == MESSAGE_TOO_LARGE


@pytest.mark.parametrize("mutation", [
    pytest.param(dict(fmt=">q", offset=0, value=5, fix_crc=False), id="base offset not 0"),
    pytest.param(dict(fmt=">i", offset=57, value=4), id="count below offset range"),
    pytest.param(dict(fmt=">i", offset=23, value=-1), id="negative last offset delta"),
])
def test_inconsistent_batches_are_invalid(mutation):
    assert error_of(rewrite(good_batch(), **mutation)) == INVALID_RECORD


def test_empty_batch_is_invalid():
    assert error_of(build_batch([], last_offset_delta=-1)) == INVALID_RECORD
    assert error_of(build_batch([])) == INVALID_RECORD


def test_control_batch_from_a_client_is_invalid():
    control = build_control_batch(True, producer_id=1, producer_epoch=0, coordinator_epoch=0, timestamp=0)
    with pytest.raises(RecordsError) as info:
        validate_produce(control)
    assert info.value.error_code == INVALID_RECORD and not info.value.corrupt


def test_producer_id_without_sequence_is_invalid():
    assert error_of(good_batch(producer_id=5, producer_epoch=0)) == INVALID_RECORD


def test_producer_claiming_log_append_time_is_rejected():
    assert error_of(good_batch(log_append_time=1)) == INVALID_TIMESTAMP


def test_more_than_one_batch_is_invalid():
    batch = good_batch()
    assert error_of(batch + batch) == INVALID_RECORD
    with pytest.raises(RecordsError) as info:
        check_produce_records(3, batch + batch)
    assert info.value.error_code == INVALID_RECORD


def test_produce_request_version_rules():
    batch = good_batch()
    check_produce_records(3, batch)
    zstd = good_batch(compression=compression.ZSTD)
    check_produce_records(7, zstd)
    with pytest.raises(RecordsError) as info:
        check_produce_records(6, zstd)
    assert info.value.error_code == UNSUPPORTED_COMPRESSION_TYPE
    legacy = rewrite(batch, ">b", 16, 1, fix_crc=False)
    with pytest.raises(RecordsError) as info:
        check_produce_records(3, legacy)
    assert info.value.error_code == INVALID_RECORD
    check_produce_records(2, legacy)  # old versions are not checked, as in Kafka
    check_produce_records(0, b"")


def test_decode_reports_damaged_records():
    batch = good_batch(compression=compression.GZIP)
    damaged = bytearray(batch)
    damaged[-6] ^= 0xFF  # inside the gzip trailer's CRC-32
    with pytest.raises(RecordsError):
        decode_records(bytes(damaged))
    more_records_claimed = rewrite(good_batch(), ">i", 57, 6)
    with pytest.raises(RecordsError):
        decode_records(more_records_claimed)
    fewer_records_claimed = rewrite(good_batch(), ">i", 57, 4)
    with pytest.raises(RecordsError):
        decode_records(fewer_records_claimed)
    with pytest.raises(RecordsError):
        decode_records(batch[:-1])


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=200), prefix=st.sampled_from([b"", bytes(good_batch())[:61]]))
def test_hostile_bytes_raise_only_records_error(data, prefix):
    blob = prefix + data
    for call in (lambda: validate_produce(blob), lambda: check_produce_records(9, blob), lambda: decode_records(blob)):
        try:
            call()
        except RecordsError:
            pass
