"""Record batches (magic v2): validation, building, decoding, control records.

Kept apart from the message codec: the ``records`` fields of Produce and Fetch
are opaque bytes there, and are only looked at here. Legacy message sets
(magic 0 and 1) are in ``wire.legacy``, codecs in ``wire.compression``.

v2 RecordBatch header layout (all big-endian), 61 bytes:

    baseOffset int64 | batchLength int32 | partitionLeaderEpoch int32 |
    magic int8 | crc uint32 | attributes int16 | lastOffsetDelta int32 |
    baseTimestamp int64 | maxTimestamp int64 | producerId int64 |
    producerEpoch int16 | baseSequence int32 | recordsCount int32

The CRC-32C covers attributes..end of batch, so the broker may rewrite
baseOffset and partitionLeaderEpoch without recomputing it.

Produce, as Kafka's leader checks it (ProduceRequest.validateRecords, then
UnifiedLog.analyzeAndValidateRecords and LogValidator for AppendOrigin.CLIENT):

    check_produce_records(version, data)      # Produce v3+ only: one v2 batch
    if data[MAGIC_OFFSET] < MAGIC:            # magic 0/1 from Produce v0-v2
        data = legacy.legacy_to_v2(data, max_message_bytes=...)
    header = validate_produce(data, max_message_bytes=...)
    # None: no complete batch, nothing to append. Otherwise append
    # data[:header.size] (Kafka drops a trailing partial batch silently) after
    # set_base_offset / set_partition_leader_epoch / set_log_append_time.

Both look only at batch headers and one CRC per batch; records are decoded
(``decode_records``) only where a caller cannot do without them.
"""
from __future__ import annotations

import struct
from typing import Iterator, NamedTuple, Sequence

from crc32c import crc32c

from wire import compression as _compression
from wire.compression import CompressionError

HEADER_SIZE = 61
# Offset of the magic byte: the same in v2 batches and in legacy message sets.
MAGIC_OFFSET = 16
# Bytes counted by batchLength start after baseOffset and batchLength itself.
LOG_OVERHEAD = 12
MAGIC = 2
# The smallest legacy message: Kafka's framing rejects any shorter length.
RECORD_OVERHEAD_V0 = 14

_HEADER = struct.Struct(">qiiBIhiqqqhii")
_BASE_OFFSET = struct.Struct(">q")
_INT16 = struct.Struct(">h")
_INT32 = struct.Struct(">i")
_UINT32 = struct.Struct(">I")
_INT64 = struct.Struct(">q")
_PARTITION_LEADER_EPOCH = struct.Struct(">i")
_CRC_OFFSET = 17
_ATTRIBUTES_OFFSET = 21
_MAX_TIMESTAMP_OFFSET = 35

# attributes bits
COMPRESSION_MASK = 0x07
TIMESTAMP_TYPE_LOG_APPEND = 0x08
TRANSACTIONAL = 0x10
CONTROL = 0x20
HAS_DELETE_HORIZON = 0x40

NO_PRODUCER_ID = -1
NO_SEQUENCE = -1
NO_TIMESTAMP = -1
NO_PARTITION_LEADER_EPOCH = -1

# Kafka error codes a RecordsError stands for.
CORRUPT_MESSAGE = 2
MESSAGE_TOO_LARGE = 10
INVALID_TIMESTAMP = 32
UNSUPPORTED_COMPRESSION_TYPE = 76
INVALID_RECORD = 87


class RecordsError(ValueError):
    """Bytes that are not a valid record batch; ``corrupt`` tells CORRUPT_MESSAGE
    (bad CRC, size or framing) from INVALID_RECORD (well-formed but not allowed).

    ``error_code`` is the Kafka error code to answer with; it is one of the two
    above unless given (MESSAGE_TOO_LARGE, INVALID_TIMESTAMP, ...)."""

    def __init__(self, message: str, corrupt: bool = True, *, error_code: int | None = None):
        super().__init__(message)
        self.corrupt = corrupt
        if error_code is None:
            error_code = CORRUPT_MESSAGE if corrupt else INVALID_RECORD
        self.error_code = error_code


def _invalid(message: str, error_code: int = INVALID_RECORD) -> RecordsError:
    return RecordsError(message, corrupt=False, error_code=error_code)


class BatchHeader(NamedTuple):
    base_offset: int
    batch_length: int
    partition_leader_epoch: int
    magic: int
    crc: int
    attributes: int
    last_offset_delta: int
    base_timestamp: int
    max_timestamp: int
    producer_id: int
    producer_epoch: int
    base_sequence: int
    records_count: int

    @property
    def size(self) -> int:
        """Bytes the whole batch occupies, header included."""
        return self.batch_length + LOG_OVERHEAD

    @property
    def last_offset(self) -> int:
        return self.base_offset + self.last_offset_delta

    @property
    def compression(self) -> int:
        return self.attributes & COMPRESSION_MASK

    @property
    def is_transactional(self) -> bool:
        return bool(self.attributes & TRANSACTIONAL)

    @property
    def is_control(self) -> bool:
        return bool(self.attributes & CONTROL)

    @property
    def log_append_time(self) -> bool:
        return bool(self.attributes & TIMESTAMP_TYPE_LOG_APPEND)

    @property
    def last_sequence(self) -> int:
        if self.base_sequence == NO_SEQUENCE:
            return NO_SEQUENCE
        return (self.base_sequence + self.last_offset_delta) & 0x7FFFFFFF


def parse_header(buf, pos: int = 0) -> BatchHeader:
    """Decode the 61-byte v2 header at ``pos``; the caller checks there is room."""
    return BatchHeader._make(_HEADER.unpack_from(buf, pos))


def set_base_offset(buf: bytearray, pos: int, base_offset: int) -> None:
    _BASE_OFFSET.pack_into(buf, pos, base_offset)


def set_partition_leader_epoch(buf: bytearray, pos: int, epoch: int) -> None:
    _PARTITION_LEADER_EPOCH.pack_into(buf, pos + 12, epoch)


def set_log_append_time(buf: bytearray, pos: int, now_ms: int) -> None:
    """Mark the batch at ``pos`` LogAppendTime with maxTimestamp ``now_ms``.

    As Kafka does for a topic with message.timestamp.type=LogAppendTime: the
    records are left alone (readers take maxTimestamp as every record's
    timestamp) and the CRC is recomputed, attributes being covered by it."""
    (attributes,) = _INT16.unpack_from(buf, pos + _ATTRIBUTES_OFFSET)
    _INT16.pack_into(buf, pos + _ATTRIBUTES_OFFSET, attributes | TIMESTAMP_TYPE_LOG_APPEND)
    _INT64.pack_into(buf, pos + _MAX_TIMESTAMP_OFFSET, now_ms)
    (length,) = _INT32.unpack_from(buf, pos + 8)
    _write_crc(buf, pos, length + LOG_OVERHEAD)


def _write_crc(buf: bytearray, pos: int, size: int) -> None:
    crc = crc32c(memoryview(buf)[pos + _ATTRIBUTES_OFFSET:pos + size])
    _UINT32.pack_into(buf, pos + _CRC_OFFSET, crc)


def crc_matches(buf, pos: int, size: int) -> bool:
    """Whether the v2 batch of ``size`` bytes at ``pos`` has a valid CRC-32C."""
    view = memoryview(buf)
    (stored,) = _UINT32.unpack_from(view, pos + _CRC_OFFSET)
    return crc32c(view[pos + _ATTRIBUTES_OFFSET:pos + size]) == stored


def batch_spans(buf, pos: int = 0) -> Iterator[tuple[int, int, int]]:
    """``(position, size, magic)`` of each complete batch (or legacy message).

    Kafka's framing rules: a length below the smallest message or an unknown
    magic is corrupt; a trailing partial batch ends the walk without error."""
    end = len(buf)
    while end - pos >= LOG_OVERHEAD:
        (length,) = _INT32.unpack_from(buf, pos + 8)
        if length < RECORD_OVERHEAD_V0:
            raise RecordsError(
                f"record size {length} is less than the minimum record overhead {RECORD_OVERHEAD_V0}")
        if end - pos <= MAGIC_OFFSET:
            return
        magic = buf[pos + MAGIC_OFFSET]
        if magic > MAGIC:
            raise RecordsError(f"invalid magic found in record: {magic - 256 if magic > 127 else magic}")
        size = length + LOG_OVERHEAD
        if end - pos < size:
            return
        yield pos, size, magic
        pos += size


def check_produce_records(version: int, data) -> None:
    """ProduceRequest.validateRecords: from Produce v3 a partition's records must
    be exactly one batch of magic 2, and zstd needs Produce v7 or later.
    Older versions are not checked, as in Kafka."""
    if version < 3:
        return
    spans = batch_spans(memoryview(data))
    first = next(spans, None)
    if first is None:
        raise _invalid(f"Produce requests with version {version} must have at least one record batch per partition")
    pos, _, magic = first
    if magic != MAGIC:
        raise _invalid(f"Produce requests with version {version} are only allowed to contain record batches "
                       "with magic version 2")
    (attributes,) = _INT16.unpack_from(data, pos + _ATTRIBUTES_OFFSET)
    if version < 7 and attributes & COMPRESSION_MASK == _compression.ZSTD:
        raise _invalid(f"Produce requests with version {version} are not allowed to use ZStandard compression",
                       UNSUPPORTED_COMPRESSION_TYPE)
    if next(spans, None) is not None:
        raise _invalid(f"Produce requests with version {version} are only allowed to contain exactly one record "
                       "batch per partition")


def validate_produce(data, *, max_message_bytes: int | None = None) -> BatchHeader | None:
    """Check a produced v2 ``records`` field the way Kafka's leader does, header
    and CRC only; returns the header of its one batch, or None if ``data``
    holds no complete batch (Kafka appends nothing then).

    Raises RecordsError: CORRUPT_MESSAGE (framing, CRC), MESSAGE_TOO_LARGE
    (batch above ``max_message_bytes``), INVALID_RECORD (more than one batch,
    baseOffset not 0, count/offset mismatch, control batch, producer id
    without sequence), INVALID_TIMESTAMP (producer claims LogAppendTime)."""
    view = memoryview(data)
    headers = []
    for pos, size, magic in batch_spans(view):
        if magic != MAGIC:
            raise _invalid(f"batch magic {magic} is not the same as the first batch's magic byte {MAGIC}")
        if size < HEADER_SIZE:
            raise RecordsError(f"record batch size {size} is smaller than the minimum allowed overhead {HEADER_SIZE}")
        header = parse_header(view, pos)
        if header.base_offset != 0:
            raise _invalid(f"the baseOffset of the record batch should be 0, but it is {header.base_offset}")
        if max_message_bytes is not None and size > max_message_bytes:
            raise _invalid(f"the record batch size is {size} bytes which exceeds the maximum configured value "
                           f"of {max_message_bytes}", MESSAGE_TOO_LARGE)
        if not crc_matches(view, pos, size):
            raise RecordsError(f"record is corrupt (stored crc = {header.crc})")
        if header.compression not in _compression.CODEC_NAMES:
            raise RecordsError(f"unknown compression type id {header.compression}")
        headers.append(header)
    if not headers:
        return None
    if len(headers) > 1:
        raise _invalid("a produced partition may hold only one record batch of magic 2")
    header = headers[0]
    _check_client_batch(header)
    return header


def _check_client_batch(header: BatchHeader) -> None:
    # LogValidator.validateBatch for AppendOrigin.CLIENT, then the timestamp
    # type check it makes per record (every record of the batch shares it).
    count = header.records_count
    count_from_offsets = header.last_offset_delta + 1
    if count_from_offsets <= 0:
        raise _invalid(f"batch has an invalid offset range: [0, {header.last_offset_delta}]")
    if count <= 0:
        raise _invalid(f"invalid reported count for record batch: {count}")
    if count_from_offsets != count:
        raise _invalid(f"inconsistent batch offset range [0, {header.last_offset_delta}] and count of records {count}")
    if header.is_control:
        raise _invalid("clients are not allowed to write control records")
    if header.producer_id > NO_PRODUCER_ID and header.base_sequence < 0:
        raise _invalid(f"invalid sequence number {header.base_sequence} in record batch with producerId "
                       f"{header.producer_id}")
    if header.log_append_time:
        raise _invalid("producer should not set timestamp type to LogAppendTime", INVALID_TIMESTAMP)


class Record(NamedTuple):
    """One record with absolute offset and timestamp; headers are (key, value)
    pairs, a header value may be None, key and value may be None. Any sequence
    of headers is accepted when building; decoding gives tuples."""
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...] = ()


def decode_records(buf, pos: int = 0) -> list[Record]:
    """The records of the v2 batch at ``pos``, decompressed, with absolute
    offsets and timestamps (maxTimestamp for all of a LogAppendTime batch).
    Does not check the CRC: see ``crc_matches``."""
    view = memoryview(buf)
    if len(view) - pos < HEADER_SIZE:
        raise RecordsError("truncated record batch header")
    header = parse_header(view, pos)
    if header.magic != MAGIC:
        raise RecordsError(f"expected a batch of magic 2, found magic {header.magic}")
    end = pos + header.size
    if header.size < HEADER_SIZE or end > len(view):
        raise RecordsError(f"record batch of {header.size} bytes does not fit the {len(view) - pos} bytes given")
    payload = view[pos + HEADER_SIZE:end]
    if header.compression != _compression.NONE:
        try:
            payload = _compression.decompress(header.compression, payload)
        except CompressionError as exc:
            raise RecordsError(str(exc)) from exc
    log_append_time = header.max_timestamp if header.log_append_time else None
    try:
        return _decode_records(payload, header, log_append_time)
    except (IndexError, struct.error, UnicodeDecodeError) as exc:
        raise RecordsError(f"found invalid record structure: {exc}") from exc


def _decode_records(payload, header: BatchHeader, log_append_time: int | None) -> list[Record]:
    records = []
    pos = 0
    base_offset = header.base_offset
    base_timestamp = header.base_timestamp
    for _ in range(header.records_count):
        length, pos = _read_varint(payload, pos)
        start = pos
        if length < 0 or start + length > len(payload):
            raise RecordsError(f"invalid record size {length}")
        pos += 1  # attributes: no bits are defined for records
        timestamp_delta, pos = _read_varint(payload, pos)
        offset_delta, pos = _read_varint(payload, pos)
        key, pos = _read_bytes(payload, pos)
        value, pos = _read_bytes(payload, pos)
        count, pos = _read_varint(payload, pos)
        if count < 0:
            raise RecordsError(f"found invalid number of record headers {count}")
        headers = []
        for _ in range(count):
            header_key, pos = _read_bytes(payload, pos)
            if header_key is None:
                raise RecordsError("invalid null header key found in headers")
            header_value, pos = _read_bytes(payload, pos)
            headers.append((header_key.decode("utf-8", "surrogateescape"), header_value))
        if pos - start != length:
            raise RecordsError(f"invalid record size: expected to read {length} bytes in record payload, "
                               f"but instead read {pos - start}")
        timestamp = log_append_time if log_append_time is not None else base_timestamp + timestamp_delta
        records.append(Record(base_offset + offset_delta, timestamp, key, value, tuple(headers)))
    if pos != len(payload):
        raise RecordsError("incorrect declared batch size, records still remaining in file")
    return records


def _read_varint(buf, pos: int) -> tuple[int, int]:
    """A zigzag varint (Kafka's varint and varlong alike) at ``pos``."""
    byte = buf[pos]
    pos += 1
    value = byte & 0x7F
    shift = 7
    while byte & 0x80:
        if shift > 63:
            raise RecordsError("varint is too long")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
    return (value >> 1) ^ -(value & 1), pos


def _read_bytes(buf, pos: int) -> tuple[bytes | None, int]:
    length, pos = _read_varint(buf, pos)
    if length < 0:
        return None, pos
    end = pos + length
    if end > len(buf):
        raise RecordsError("record field runs past the end of the batch")
    return bytes(buf[pos:end]), end


def _write_varint(out: bytearray, value: int) -> None:
    value = (value << 1) ^ (value >> 63)
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def _write_bytes(out: bytearray, data) -> None:
    if data is None:
        out.append(1)  # zigzag(-1)
    else:
        _write_varint(out, len(data))
        out += data


def _encode_record(out: bytearray, offset_delta: int, timestamp_delta: int, record: Record) -> None:
    body = bytearray(b"\x00")  # attributes
    _write_varint(body, timestamp_delta)
    _write_varint(body, offset_delta)
    _write_bytes(body, record.key)
    _write_bytes(body, record.value)
    _write_varint(body, len(record.headers))
    for header_key, header_value in record.headers:
        _write_bytes(body, header_key.encode("utf-8", "surrogateescape"))
        _write_bytes(body, header_value)
    _write_varint(out, len(body))
    out += body


def build_batch(
    records: Sequence[Record],
    *,
    base_offset: int = 0,
    compression: int = _compression.NONE,
    producer_id: int = NO_PRODUCER_ID,
    producer_epoch: int = -1,
    base_sequence: int = NO_SEQUENCE,
    transactional: bool = False,
    control: bool = False,
    partition_leader_epoch: int = NO_PARTITION_LEADER_EPOCH,
    log_append_time: int | None = None,
    base_timestamp: int | None = None,
    last_offset_delta: int | None = None,
) -> bytes:
    """A v2 batch holding ``records`` at their own offsets (``record.offset`` is
    absolute and must not be below ``base_offset``).

    baseTimestamp is the first record's timestamp unless given; maxTimestamp is
    the largest record timestamp, or ``log_append_time`` when that is given
    (which also marks the batch LogAppendTime). ``last_offset_delta`` defaults
    to the last record's; compaction passes the original to keep an emptied
    batch's offset range."""
    if base_timestamp is None:
        base_timestamp = records[0].timestamp if records else NO_TIMESTAMP
    if last_offset_delta is None:
        last_offset_delta = records[-1].offset - base_offset if records else 0
    body = bytearray()
    max_timestamp = NO_TIMESTAMP
    for record in records:
        _encode_record(body, record.offset - base_offset, record.timestamp - base_timestamp, record)
        if record.timestamp > max_timestamp:
            max_timestamp = record.timestamp
    attributes = compression
    if log_append_time is not None:
        attributes |= TIMESTAMP_TYPE_LOG_APPEND
        max_timestamp = log_append_time
    if transactional:
        attributes |= TRANSACTIONAL
    if control:
        attributes |= CONTROL
    if compression != _compression.NONE:
        body = _compression.compress(compression, body)
    batch = bytearray(HEADER_SIZE)
    _HEADER.pack_into(
        batch, 0, base_offset, HEADER_SIZE - LOG_OVERHEAD + len(body), partition_leader_epoch, MAGIC, 0,
        attributes, last_offset_delta, base_timestamp, max_timestamp, producer_id, producer_epoch,
        base_sequence, len(records))
    batch += body
    _write_crc(batch, 0, len(batch))
    return bytes(batch)


# Control records (KIP-98): key = version int16 | type int16; the value of a
# transaction marker = version int16 | coordinatorEpoch int32.
ABORT = 0
COMMIT = 1
_CONTROL_KEY = struct.Struct(">hh")
_END_TXN_MARKER = struct.Struct(">hi")


class ControlRecord(NamedTuple):
    type: int  # ABORT, COMMIT, or another control type (KRaft's)
    coordinator_epoch: int | None  # transaction markers only


def build_control_batch(
    commit: bool,
    producer_id: int,
    producer_epoch: int,
    coordinator_epoch: int,
    timestamp: int,
    *,
    base_offset: int = 0,
    partition_leader_epoch: int = NO_PARTITION_LEADER_EPOCH,
) -> bytes:
    """The transaction marker batch a partition leader writes on WriteTxnMarkers."""
    marker = Record(
        base_offset, timestamp,
        _CONTROL_KEY.pack(0, COMMIT if commit else ABORT),
        _END_TXN_MARKER.pack(0, coordinator_epoch))
    return build_batch(
        [marker], base_offset=base_offset, producer_id=producer_id, producer_epoch=producer_epoch,
        transactional=True, control=True, partition_leader_epoch=partition_leader_epoch)


def parse_control_record(key: bytes | None, value: bytes | None) -> ControlRecord:
    if key is None or len(key) < _CONTROL_KEY.size:
        raise RecordsError("control record key is too short")
    _, kind = _CONTROL_KEY.unpack_from(key)
    if kind not in (ABORT, COMMIT):
        return ControlRecord(kind, None)
    if value is None or len(value) < _END_TXN_MARKER.size:
        raise RecordsError("transaction marker value is too short")
    _, coordinator_epoch = _END_TXN_MARKER.unpack_from(value)
    return ControlRecord(kind, coordinator_epoch)
