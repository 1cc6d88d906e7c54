"""Record batches (magic v2) and legacy message sets (magic 0 and 1).

Kept apart from the message codec: the ``records`` fields of Produce and Fetch
are opaque bytes there, and are only looked at here.

v2 RecordBatch header layout (all big-endian), 61 bytes:

    baseOffset int64 | batchLength int32 | partitionLeaderEpoch int32 |
    magic int8 | crc uint32 | attributes int16 | lastOffsetDelta int32 |
    baseTimestamp int64 | maxTimestamp int64 | producerId int64 |
    producerEpoch int16 | baseSequence int32 | recordsCount int32

The CRC-32C covers attributes..end of batch, so the broker may rewrite
baseOffset and partitionLeaderEpoch without recomputing it.
"""
from __future__ import annotations

import struct
from typing import NamedTuple

HEADER_SIZE = 61
# Offset of the magic byte: the same in v2 batches and in legacy message sets.
MAGIC_OFFSET = 16
# Bytes counted by batchLength start after baseOffset and batchLength itself.
LOG_OVERHEAD = 12

_HEADER = struct.Struct(">qiiBIhiqqqhii")
_BASE_OFFSET = struct.Struct(">q")
_PARTITION_LEADER_EPOCH = struct.Struct(">i")

# attributes bits
COMPRESSION_MASK = 0x07
TIMESTAMP_TYPE_LOG_APPEND = 0x08
TRANSACTIONAL = 0x10
CONTROL = 0x20
HAS_DELETE_HORIZON = 0x40

NO_PRODUCER_ID = -1
NO_SEQUENCE = -1


class RecordsError(ValueError):
    """Bytes that are not a valid record batch; ``corrupt`` tells CORRUPT_MESSAGE
    (bad CRC, size or framing) from INVALID_RECORD (well-formed but not allowed)."""

    def __init__(self, message: str, corrupt: bool = True):
        super().__init__(message)
        self.corrupt = corrupt


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
