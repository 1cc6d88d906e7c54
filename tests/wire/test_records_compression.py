"""Compression codecs: round trips, and the framings other Kafka clients write."""
import gzip
import struct

import aiokafka.codec as aio_codec
import cramjam
import kafka.codec
import lz4.frame
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from wire import compression
from wire.compression import CompressionError, compress, decompress, xxh32

CODECS = [compression.NONE, compression.GZIP, compression.SNAPPY, compression.LZ4, compression.ZSTD]
# Compressible and incompressible parts, longer than one snappy / lz4 block.
LARGE = b"".join(b"record %d " % i for i in range(30_000)) + bytes(range(256)) * 300


class _RawSnappy:
    """What kafka-python wants from python-snappy; its xerial framing stays its own."""
    compress = staticmethod(lambda data: bytes(cramjam.snappy.compress_raw(data)))
    decompress = staticmethod(lambda data: bytes(cramjam.snappy.decompress_raw(data)))


@pytest.fixture(scope="module", autouse=True)
def kafka_python_snappy():
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(kafka.codec, "snappy", _RawSnappy)
        yield


@pytest.mark.parametrize("magic", [0, 1, 2])
@pytest.mark.parametrize("codec", CODECS)
@settings(max_examples=30, deadline=None)
@given(data=st.binary(max_size=3000))
def test_round_trip(codec, magic, data):
    assert decompress(codec, compress(codec, data, magic=magic), magic=magic) == data


@pytest.mark.parametrize("codec", CODECS)
def test_large_round_trip(codec):
    packed = compress(codec, LARGE)
    assert decompress(codec, packed) == LARGE
    if codec != compression.NONE:
        assert len(packed) < len(LARGE)


# (codec, kafka-python encoder, kafka-python decoder, aiokafka encoder, aiokafka decoder)
REFERENCES = [
    (compression.GZIP, kafka.codec.gzip_encode, kafka.codec.gzip_decode, aio_codec.gzip_encode, aio_codec.gzip_decode),
    (compression.SNAPPY, kafka.codec.snappy_encode, kafka.codec.snappy_decode,
     aio_codec.snappy_encode, aio_codec.snappy_decode),
    (compression.LZ4, kafka.codec.lz4_encode, kafka.codec.lz4_decode, aio_codec.lz4_encode, aio_codec.lz4_decode),
    (compression.ZSTD, kafka.codec.zstd_encode, kafka.codec.zstd_decode, aio_codec.zstd_encode, aio_codec.zstd_decode),
]


@pytest.mark.parametrize("codec, kp_encode, kp_decode, aio_encode, aio_decode", REFERENCES)
def test_reference_clients_both_ways(codec, kp_encode, kp_decode, aio_encode, aio_decode):
    ours = compress(codec, LARGE)
    assert kp_decode(ours) == LARGE
    assert aio_decode(ours) == LARGE
    assert decompress(codec, kp_encode(LARGE)) == LARGE
    assert decompress(codec, aio_encode(LARGE)) == LARGE


def test_snappy_is_xerial_framed_and_raw_snappy_is_read():
    packed = compress(compression.SNAPPY, LARGE)
    assert packed[:16] == b"\x82SNAPPY\x00" + struct.pack(">ii", 1, 1)
    (first_block,) = struct.unpack_from(">i", packed, 16)
    assert len(cramjam.snappy.decompress_raw(packed[20:20 + first_block])) == 32 * 1024
    raw = bytes(cramjam.snappy.compress_raw(LARGE))  # as librdkafka writes it
    assert decompress(compression.SNAPPY, raw) == LARGE
    # Some writers put the xerial version fields in little-endian order.
    little_endian = packed[:8] + struct.pack("<ii", 1, 1) + packed[16:]
    assert decompress(compression.SNAPPY, little_endian) == LARGE


def test_lz4_frame_is_written_like_kafka():
    packed = compress(compression.LZ4, LARGE)
    flags, block_descriptor = packed[4], packed[5]
    assert flags & 0x20, "blocks must be independent: Kafka's reader rejects linked blocks"
    assert not flags & 0x08, "no content size"
    assert block_descriptor >> 4 == 4, "64 KB blocks"


def test_lz4_frames_of_other_writers_are_read():
    for options in ({}, {"block_linked": True, "content_checksum": True, "store_size": True},
                    {"block_size": lz4.frame.BLOCKSIZE_MAX4MB, "block_checksum": True}):
        assert decompress(compression.LZ4, lz4.frame.compress(LARGE, **options)) == LARGE


def test_xxh32_known_values_and_lz4_header_checksums():
    assert xxh32(b"") == 0x02CC5D05
    assert xxh32(b"a") == 0x550D7456
    assert xxh32(b"abc") == 0x32D153FF
    for options in ({"store_size": False}, {"store_size": True}, {"content_checksum": True, "store_size": True}):
        frame = lz4.frame.compress(b"x" * 1000, **options)
        end = 14 if frame[4] & 0x08 else 6
        assert frame[end] == (xxh32(frame[4:end]) >> 8) & 0xFF


def test_magic_0_lz4_has_kafkas_broken_header_checksum():
    packed = compress(compression.LZ4, LARGE, magic=0)
    # Old Kafka hashed the magic number along with the frame descriptor.
    assert packed[6] == (xxh32(packed[0:6]) >> 8) & 0xFF
    assert packed[6] != (xxh32(packed[4:6]) >> 8) & 0xFF
    with pytest.raises(RuntimeError):
        lz4.frame.decompress(packed)
    assert decompress(compression.LZ4, packed, magic=0) == LARGE
    # Kafka ignores the header checksum of magic 0 altogether.
    assert decompress(compression.LZ4, compress(compression.LZ4, LARGE), magic=0) == LARGE
    with pytest.raises(CompressionError):
        decompress(compression.LZ4, packed, magic=1)


def test_zstd_frames_without_content_size_and_several_frames():
    streamed = zstandard.ZstdCompressor(write_content_size=False).compress(LARGE)
    assert decompress(compression.ZSTD, streamed) == LARGE
    assert decompress(compression.ZSTD, streamed + streamed) == LARGE + LARGE


def test_gzip_with_several_members():
    assert decompress(compression.GZIP, gzip.compress(b"abc") + gzip.compress(b"def")) == b"abcdef"


@pytest.mark.parametrize("codec", CODECS[1:])
def test_garbage_raises_compression_error(codec):
    with pytest.raises(CompressionError):
        decompress(codec, b"\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01\x7f\xff\xff\xffgarbage" * 3)
    with pytest.raises(CompressionError):
        decompress(codec, compress(codec, LARGE)[:-7] + b"\x01\x02\x03")


def test_unknown_codec():
    with pytest.raises(CompressionError):
        compress(5, b"x")
    with pytest.raises(CompressionError):
        decompress(7, b"x")
