"""Legacy message sets (magic 0 and 1) for clients that only speak old versions.

Produce v0-v1 carry magic 0 and Produce v2 magic 1; the broker stores v2 only,
so those are up-converted on append (``legacy_to_v2``). Fetch v0-v1 read magic
0 and Fetch v2-v3 magic 1 (``fetch_magic``), down-converted from the stored v2
batches on the way out (``v2_to_legacy``), as Kafka 3.x does.

A legacy message (its framing is the same as a v2 batch's up to the magic byte):

    offset int64 | messageSize int32 | crc uint32 | magic int8 | attributes int8 |
    [timestamp int64, magic 1 only] | key bytes | value bytes

The CRC-32 (zlib's) covers magic..end. A compressed message is a wrapper whose
value is a compressed message set of inner messages; in magic 1 the inner
offsets are relative and the wrapper carries the last absolute offset.
"""
from __future__ import annotations

import struct
import zlib
from typing import Iterator, NamedTuple

from wire import compression
from wire.compression import CompressionError
from wire.records import (
    INVALID_TIMESTAMP, MESSAGE_TOO_LARGE, NO_TIMESTAMP, TIMESTAMP_TYPE_LOG_APPEND, UNSUPPORTED_COMPRESSION_TYPE,
    Record, RecordsError, batch_spans, build_batch, decode_records, parse_header,
)

_PREFIX = struct.Struct(">qiIbb")  # offset, size, crc, magic, attributes
_INT32 = struct.Struct(">i")
_INT64 = struct.Struct(">q")
_CRC_START = 16  # the magic byte: the CRC covers magic..end


def fetch_magic(fetch_version: int) -> int:
    """The message format a Fetch response of this version may carry."""
    if fetch_version <= 1:
        return 0
    if fetch_version <= 3:
        return 1
    return 2


class _Message(NamedTuple):
    offset: int
    magic: int
    attributes: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    size: int

    @property
    def codec(self) -> int:
        return self.attributes & 0x07

    @property
    def log_append_time(self) -> bool:
        return self.magic > 0 and bool(self.attributes & TIMESTAMP_TYPE_LOG_APPEND)


def _messages(view) -> Iterator[_Message]:
    """The complete messages of a legacy set, each CRC-checked."""
    for pos, size, magic in batch_spans(view):
        if magic > 1:
            raise RecordsError("a legacy message set holds a batch of magic 2", corrupt=False)
        yield _parse_message(view, pos, size)


def _parse_message(view, pos: int, size: int) -> _Message:
    end = pos + size
    offset, _, crc, magic, attributes = _PREFIX.unpack_from(view, pos)
    if zlib.crc32(view[pos + _CRC_START:end]) != crc:
        raise RecordsError(f"message is corrupt (stored crc = {crc})")
    cursor = pos + _PREFIX.size
    timestamp = NO_TIMESTAMP
    try:
        if magic == 1:
            (timestamp,) = _INT64.unpack_from(view, cursor)
            cursor += 8
        key, cursor = _read_bytes(view, cursor, end)
        value, cursor = _read_bytes(view, cursor, end)
    except struct.error as exc:
        raise RecordsError(f"truncated message: {exc}") from exc
    if cursor != end:
        raise RecordsError(f"message of {size} bytes has {end - cursor} bytes after its value")
    return _Message(offset, magic, attributes & 0xFF, timestamp, key, value, size)


def _read_bytes(view, pos: int, end: int) -> tuple[bytes | None, int]:
    (length,) = _INT32.unpack_from(view, pos)
    pos += 4
    if length < 0:
        return None, pos
    if pos + length > end:
        raise RecordsError("message field runs past the end of the message")
    return bytes(view[pos:pos + length]), pos + length


def _inner_messages(wrapper: _Message) -> list[_Message]:
    if wrapper.codec not in (compression.GZIP, compression.SNAPPY, compression.LZ4):
        if wrapper.codec == compression.ZSTD:
            raise RecordsError("invalid wrapper compression type zstd in a legacy message", corrupt=False)
        raise RecordsError(f"unknown compression type id {wrapper.codec}")
    try:
        data = compression.decompress(wrapper.codec, wrapper.value or b"", magic=wrapper.magic)
    except CompressionError as exc:
        raise RecordsError(str(exc)) from exc
    inner = list(_messages(memoryview(data)))
    for message in inner:
        if message.magic != wrapper.magic:
            raise RecordsError(f"compressed message magic {message.magic} does not match wrapper magic "
                               f"{wrapper.magic}", corrupt=False)
        if message.codec != compression.NONE:
            raise RecordsError("compressed outer record should not have an inner record with a compression "
                               "attribute set", corrupt=False)
    return inner


def _records_of(wrapper: _Message) -> list[Record]:
    """A shallow message's records with absolute offsets, Kafka's reading rules."""
    if wrapper.codec == compression.NONE:
        return [Record(wrapper.offset, wrapper.timestamp, wrapper.key, wrapper.value)]
    inner = _inner_messages(wrapper)
    # Magic 1 inner offsets are relative to the wrapper's (last) offset; a
    # wrapper offset of 0 (produce data of kafka-python, some librdkafka
    # versions) leaves them as they are, as Kafka does.
    shift = 0
    if wrapper.magic == 1 and wrapper.offset > 0 and inner:
        shift = wrapper.offset - inner[-1].offset
    return [
        Record(m.offset + shift, wrapper.timestamp if wrapper.log_append_time else m.timestamp, m.key, m.value)
        for m in inner
    ]


def decode_legacy(data) -> list[Record]:
    """Every record of a legacy message set, compressed wrappers unpacked; a
    trailing partial message is ignored as old consumers do."""
    return [record for wrapper in _messages(memoryview(data)) for record in _records_of(wrapper)]


def legacy_to_v2(data, *, max_message_bytes: int | None = None) -> bytes:
    """Validate a produced legacy message set as Kafka's leader does and
    convert it to one v2 batch (base offset 0); b"" when it holds no record.

    Record timestamps are kept (magic 0 has none: -1) and so is the codec. The
    result is a batch as a v2 producer would send it, for ``validate_produce``
    (which re-checks its size, as Kafka does after a conversion) and the same
    append path: a LogAppendTime topic stamps it with ``set_log_append_time``."""
    wrappers = []
    for wrapper in _messages(memoryview(data)):
        if wrappers and wrapper.magic != wrappers[0].magic:
            raise RecordsError(f"batch magic {wrapper.magic} is not the same as the first batch's magic byte "
                               f"{wrappers[0].magic}", corrupt=False)
        if max_message_bytes is not None and wrapper.size > max_message_bytes:
            raise RecordsError(f"the message size is {wrapper.size} bytes which exceeds the maximum configured "
                               f"value of {max_message_bytes}", corrupt=False, error_code=MESSAGE_TOO_LARGE)
        wrappers.append(wrapper)
    codec = next((w.codec for w in reversed(wrappers) if w.codec != compression.NONE), compression.NONE)
    if codec != compression.NONE and len(wrappers) > 1:
        raise RecordsError("compressed outer record has more than one batch", corrupt=False)
    if any(w.log_append_time for w in wrappers):
        raise RecordsError("producer should not set timestamp type to LogAppendTime", corrupt=False,
                           error_code=INVALID_TIMESTAMP)
    records = [
        Record(index, record.timestamp, record.key, record.value)
        for index, record in enumerate(r for w in wrappers for r in _records_of(w))
    ]
    if not records:
        return b""
    return build_batch(records, compression=codec)


def v2_to_legacy(data, magic: int, *, first_offset: int = 0) -> bytes:
    """Down-convert stored v2 batches to a magic 0 or 1 message set, as Kafka's
    RecordsUtil.downConvert does: control batches are skipped, each batch keeps
    its codec (one compressed wrapper per batch), headers are dropped, and
    records of an uncompressed batch below ``first_offset`` (the fetch offset)
    are left out. zstd cannot be down-converted: UNSUPPORTED_COMPRESSION_TYPE."""
    out = bytearray()
    view = memoryview(data)
    for pos, _, batch_magic in batch_spans(view):
        if batch_magic != 2:
            raise RecordsError(f"expected stored batches of magic 2, found magic {batch_magic}", corrupt=False)
        header = parse_header(view, pos)
        if header.is_control:
            continue
        if header.compression == compression.ZSTD:
            raise RecordsError("down-conversion of zstandard-compressed batches is not supported",
                               corrupt=False, error_code=UNSUPPORTED_COMPRESSION_TYPE)
        records = decode_records(view, pos)
        if header.compression == compression.NONE:
            records = [r for r in records if r.offset >= first_offset]
        if not records:
            continue
        attributes = TIMESTAMP_TYPE_LOG_APPEND if magic == 1 and header.log_append_time else 0
        if header.compression == compression.NONE:
            for record in records:
                out += _encode_message(record.offset, magic, attributes, record.timestamp, record.key, record.value)
            continue
        base = records[0].offset if magic == 1 else 0
        inner = bytearray()
        for record in records:
            inner += _encode_message(record.offset - base, magic, attributes, record.timestamp,
                                     record.key, record.value)
        wrapper_timestamp = (header.max_timestamp if header.log_append_time
                             else max(r.timestamp for r in records))
        out += _encode_message(records[-1].offset, magic, attributes | header.compression, wrapper_timestamp,
                               None, compression.compress(header.compression, inner, magic=magic))
    return bytes(out)


def _encode_message(offset: int, magic: int, attributes: int, timestamp: int, key, value) -> bytes:
    body = bytearray((magic, attributes))
    if magic == 1:
        body += _INT64.pack(timestamp)
    for field in (key, value):
        if field is None:
            body += _INT32.pack(-1)
        else:
            body += _INT32.pack(len(field))
            body += field
    return _INT64.pack(offset) + _INT32.pack(len(body) + 4) + struct.pack(">I", zlib.crc32(body)) + bytes(body)
