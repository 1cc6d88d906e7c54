"""The sans-IO frame reader: frames of every size, however the bytes arrive."""
import struct

import pytest
from hypothesis import given, settings, strategies as st

from pykbroker.connection import FrameError, FrameReader


def framed(payloads):
    return b"".join(struct.pack(">i", len(p)) + p for p in payloads)


def receive(reader, data, chunk_sizes):
    """Deliver data as a socket would: into get_buffer(), in chunks."""
    frames, pos, sizes = [], 0, iter(chunk_sizes)
    while pos < len(data):
        buffer = reader.get_buffer()
        n = min(len(buffer), len(data) - pos, next(sizes, len(data)))
        buffer[:n] = data[pos:pos + n]
        pos += n
        frames += reader.buffer_updated(n)
    return frames


@settings(max_examples=200, deadline=None)
@given(sizes=st.lists(st.one_of(st.integers(0, 300), st.integers(60_000, 140_000)), max_size=6),
       chunks=st.lists(st.integers(1, 100_000), max_size=50))
def test_frames_come_out_whole_and_in_order(sizes, chunks):
    payloads = [bytes([i % 256]) * size + bytes([255 - i]) for i, size in enumerate(sizes)]
    reader = FrameReader(max_frame_bytes=1 << 20)
    assert [bytes(f) for f in receive(reader, framed(payloads), chunks)] == payloads


def test_a_large_frame_is_received_into_its_own_buffer():
    reader = FrameReader(max_frame_bytes=1 << 22)
    payload = bytes(range(256)) * 8192  # 2 MiB
    data = framed([payload])
    first = reader.get_buffer()
    first[:100] = data[:100]
    assert reader.buffer_updated(100) == []
    rest = reader.get_buffer()
    assert len(rest) == len(payload) - 96  # the frame's own buffer, not the scratch one
    rest[:] = data[100:]
    [frame] = reader.buffer_updated(len(rest))
    assert frame == payload


@pytest.mark.parametrize("size", [-1, (1 << 20) + 1])
def test_a_size_outside_the_limit_is_refused(size):
    reader = FrameReader(max_frame_bytes=1 << 20)
    with pytest.raises(FrameError, match="socket.request.max.bytes"):
        reader.feed(struct.pack(">i", size))
