"""Compression codecs of record batches, written the way the Java client writes them.

Codec ids are the low three bits of the batch (or legacy message) attributes.
Readers are lenient where Kafka's are: snappy may be xerial-framed (Java) or raw
(librdkafka), zstd may hold several frames without a content size.

LZ4 in magic 0 messages has a bug of old Kafka kept for compatibility: the frame
descriptor checksum (HC byte) was computed over the magic number too. Kafka
writes it that way for magic 0 and ignores HC when reading magic 0.
"""
from __future__ import annotations

import gzip
import struct

import cramjam
import lz4.frame

NONE = 0
GZIP = 1
SNAPPY = 2
LZ4 = 3
ZSTD = 4
CODEC_NAMES = {NONE: "none", GZIP: "gzip", SNAPPY: "snappy", LZ4: "lz4", ZSTD: "zstd"}

# Java's defaults: GZIPOutputStream's deflate level, zstd-jni's level.
_GZIP_LEVEL = 6
_ZSTD_LEVEL = 3

# snappy-java's SnappyOutputStream stream header and its default block size.
_XERIAL_MAGIC = b"\x82SNAPPY\x00"
_XERIAL_HEADER = _XERIAL_MAGIC + struct.pack(">ii", 1, 1)
_XERIAL_BLOCK = 32 * 1024
_BLOCK_LENGTH = struct.Struct(">i")


class CompressionError(ValueError):
    """Unknown codec id, or bytes the codec cannot decompress."""


def compress(codec: int, data, *, magic: int = 2) -> bytes:
    """Compress ``data`` as a Kafka producer of message format ``magic`` would."""
    if codec == NONE:
        return bytes(data)
    if codec == GZIP:
        return gzip.compress(data, compresslevel=_GZIP_LEVEL, mtime=0)
    if codec == SNAPPY:
        return _xerial_compress(data)
    if codec == LZ4:
        # Kafka's own LZ4 frame writer: 64 KB independent blocks, no content size
        # and no content checksum; its reader rejects dependent blocks.
        frame = lz4.frame.compress(
            data,
            block_size=lz4.frame.BLOCKSIZE_MAX64KB,
            block_linked=False,
            content_checksum=False,
            store_size=False,
        )
        if magic == 0:
            frame = bytearray(frame)
            frame[6] = _lz4_header_checksum(frame[0:6])
            frame = bytes(frame)
        return frame
    if codec == ZSTD:
        return bytes(cramjam.zstd.compress(data, level=_ZSTD_LEVEL))
    raise CompressionError(f"unknown compression codec {codec}")


def decompress(codec: int, data, *, magic: int = 2) -> bytes:
    """Inverse of :func:`compress`; raises :class:`CompressionError` on bad input."""
    try:
        if codec == NONE:
            return bytes(data)
        if codec == GZIP:
            return gzip.decompress(data)
        if codec == SNAPPY:
            if bytes(data[:8]) == _XERIAL_MAGIC:
                return _xerial_decompress(data)
            return bytes(cramjam.snappy.decompress_raw(data))
        if codec == LZ4:
            if magic == 0:
                data = _with_correct_lz4_header_checksum(data)
            return lz4.frame.decompress(data)
        if codec == ZSTD:
            return bytes(cramjam.zstd.decompress(data))
    except CompressionError:
        raise
    except Exception as exc:  # each library raises its own types
        raise CompressionError(f"cannot decompress {CODEC_NAMES[codec]} data: {exc}") from exc
    raise CompressionError(f"unknown compression codec {codec}")


def _xerial_compress(data) -> bytes:
    view = memoryview(data)
    out = bytearray(_XERIAL_HEADER)
    for start in range(0, len(view), _XERIAL_BLOCK):
        block = cramjam.snappy.compress_raw(view[start:start + _XERIAL_BLOCK])
        out += _BLOCK_LENGTH.pack(len(block))
        out += block
    return bytes(out)


def _xerial_decompress(data) -> bytes:
    # The version fields after the magic are not checked: some writers get
    # their byte order wrong, and there has only ever been one version.
    view = memoryview(data)
    out = bytearray()
    pos = len(_XERIAL_HEADER)
    while pos < len(view):
        (length,) = _BLOCK_LENGTH.unpack_from(view, pos)
        pos += 4
        if length < 0 or pos + length > len(view):
            raise CompressionError("truncated xerial snappy block")
        out += cramjam.snappy.decompress_raw(view[pos:pos + length])
        pos += length
    return bytes(out)


# LZ4 frame header: magic (4) | FLG | BD | [content size (8)] | HC.
def _lz4_descriptor_end(frame) -> int:
    if len(frame) < 7:
        raise CompressionError("truncated lz4 frame header")
    return 14 if frame[4] & 0x08 else 6


def _with_correct_lz4_header_checksum(frame) -> bytes:
    end = _lz4_descriptor_end(frame)
    if len(frame) <= end:
        raise CompressionError("truncated lz4 frame header")
    fixed = bytearray(frame)
    fixed[end] = _lz4_header_checksum(fixed[4:end])
    return bytes(fixed)


def _lz4_header_checksum(descriptor) -> int:
    return (xxh32(bytes(descriptor)) >> 8) & 0xFF


_P1, _P2, _P3, _P4, _P5 = 2654435761, 2246822519, 3266489917, 668265263, 374761393
_M32 = 0xFFFFFFFF


def xxh32(data: bytes, seed: int = 0) -> int:
    """XXH32 of a short input (< 16 bytes: an LZ4 frame descriptor).

    Neither lz4 nor cramjam exposes xxHash, and only a few header bytes need it.
    """
    if len(data) >= 16:
        raise ValueError("xxh32 here handles inputs shorter than 16 bytes only")
    h = (seed + _P5 + len(data)) & _M32
    pos = 0
    while pos + 4 <= len(data):
        (word,) = struct.unpack_from("<I", data, pos)
        h = (h + word * _P3) & _M32
        h = (((h << 17) | (h >> 15)) & _M32) * _P4 & _M32
        pos += 4
    for byte in data[pos:]:
        h = (h + byte * _P5) & _M32
        h = (((h << 11) | (h >> 21)) & _M32) * _P1 & _M32
    h ^= h >> 15
    h = (h * _P2) & _M32
    h ^= h >> 13
    h = (h * _P3) & _M32
    h ^= h >> 16
    return h
