"""The partition log on disk: appends, reads, rolling, retention, truncation,
leader epochs, timestamps, crash recovery and compaction."""
import os
import shutil

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pykbroker.log import LogConfig, OffsetOutOfRange, PartitionLog, UnexpectedAppendOffset
from pykbroker.log.cleaner import prepare_clean
from pykbroker.log.index import OffsetIndex
from wire.compression import LZ4
from wire.records import Record, build_batch, build_control_batch, decode_records, parse_header

NOW = 1_700_000_000_000


def batch(count=1, *, ts=NOW, key=None, value=b"v" * 20, first_key=0, **kwargs):
    """A produced batch of ``count`` records (keys k<first_key>.. unless ``key``
    is given) and its parsed header, as the produce path hands them over."""
    base = kwargs.get("base_offset", 0)
    records = [Record(base + i, ts + i, key if key is not None else b"k%d" % (first_key + i), value)
               for i in range(count)]
    data = bytearray(build_batch(records, **kwargs))
    return data, [parse_header(data)]


def headers_in(data):
    pos, out = 0, []
    while pos < len(data):
        h = parse_header(data, pos)
        out.append(h)
        pos += h.size
    assert pos == len(data), "read returned a partial batch"
    return out


def records_in(data):
    out, pos = [], 0
    for h in headers_in(data):
        out += decode_records(data, pos)
        pos += h.size
    return out


def read_all(log, max_bytes=4096):
    """Every record from the log start, read the way a consumer does."""
    out, offset = [], log.log_start_offset
    while True:
        data = log.read(offset, max_bytes)
        if not data:
            return out
        records = [r for r in records_in(data) if r.offset >= offset]
        out += records
        offset = headers_in(data)[-1].last_offset + 1


def open_log(tmp_path, clock=lambda: NOW, **config):
    return PartitionLog.open(str(tmp_path / "topic-0"), LogConfig(**config), clock=clock)


def reopen(log, **kwargs):
    return PartitionLog.open(log.dir, log.config, clock=lambda: NOW, **kwargs)


# -- appending and reading -----------------------------------------------------

def test_round_trip_across_segments(tmp_path):
    log = open_log(tmp_path, segment_bytes=1000)
    expected = []
    for i in range(60):
        n = 1 + i % 4
        info = log.append(*batch(n, first_key=i * 10), leader_epoch=0)
        assert info.first_offset == len(expected) and info.last_offset == len(expected) + n - 1
        expected += [(len(expected) + j, b"k%d" % (i * 10 + j)) for j in range(n)]
    assert len(log.segments) > 5
    assert all(s.size <= 1000 for s in log.segments)
    # Each segment starts where the previous one ended.
    for seg, nxt in zip(log.segments, log.segments[1:]):
        assert seg.next_offset() == nxt.base_offset
    assert log.log_end_offset == len(expected)
    assert [(r.offset, r.key) for r in read_all(log)] == expected
    assert [(r.offset, r.key) for r in read_all(log, max_bytes=1)] == expected


def test_read_returns_the_batch_containing_the_offset(tmp_path):
    log = open_log(tmp_path)
    log.append(*batch(5), leader_epoch=0)
    log.append(*batch(5), leader_epoch=0)
    data = log.read(7, 1 << 20)
    assert [(h.base_offset, h.last_offset) for h in headers_in(data)] == [(5, 9)]
    assert log.read(10, 1 << 20) == b""


def test_read_max_bytes_gives_whole_batches(tmp_path):
    log = open_log(tmp_path)
    size = len(batch()[0])
    for _ in range(10):
        log.append(*batch(), leader_epoch=0)
    data = log.read(0, size * 3 + size // 2)
    assert [h.base_offset for h in headers_in(data)] == [0, 1, 2]
    # The first batch comes whole even when larger than max_bytes...
    assert [h.base_offset for h in headers_in(log.read(4, 10))] == [4]
    # ...unless the caller does not want that.
    assert log.read(4, 10, min_one_batch=False) == b""


def test_read_never_crosses_max_offset(tmp_path):
    log = open_log(tmp_path)
    for _ in range(4):
        log.append(*batch(3), leader_epoch=0)      # batches 0-2, 3-5, 6-8, 9-11
    assert [h.base_offset for h in headers_in(log.read(0, 1 << 20, max_offset=6))] == [0, 3]
    # A batch straddling the bound is withheld entirely.
    assert [h.base_offset for h in headers_in(log.read(0, 1 << 20, max_offset=8))] == [0, 3]
    assert log.read(6, 1 << 20, max_offset=6) == b""
    assert log.read(7, 1 << 20, max_offset=8) == b""


def test_out_of_range(tmp_path):
    log = open_log(tmp_path)
    log.append(*batch(3), leader_epoch=0)
    log.append(*batch(3), leader_epoch=0)
    assert log.read(6, 100) == b""                 # the log end offset itself is in range
    with pytest.raises(OffsetOutOfRange) as e:
        log.read(7, 100)
    assert (e.value.log_start_offset, e.value.log_end_offset) == (0, 6)
    log.delete_records_before(4)
    with pytest.raises(OffsetOutOfRange):
        log.read(3, 100)
    assert [h.base_offset for h in headers_in(log.read(4, 1 << 20))] == [3]


def test_sequential_and_random_reads_agree(tmp_path):
    log = open_log(tmp_path, index_interval_bytes=100, segment_bytes=5000)
    for i in range(200):
        log.append(*batch(1 + i % 3), leader_epoch=0)
    full = {r.offset: r for r in read_all(log)}
    for offset in [0, 398, 5, 123, 124, 7, 300, 1, 0, 250]:
        data = log.read(offset, 700)
        first = headers_in(data)[0]
        assert first.base_offset <= offset <= first.last_offset
        assert all(full[r.offset] == r for r in records_in(data))


# -- rolling --------------------------------------------------------------------

def test_roll_by_size(tmp_path):
    log = open_log(tmp_path, segment_bytes=500)
    size = len(batch()[0])
    for _ in range(20):
        log.append(*batch(), leader_epoch=0)
    per_segment = 500 // size
    assert [s.size for s in log.segments[:-1]] == [per_segment * size] * (len(log.segments) - 1)
    # A batch larger than segment.bytes still goes in, alone.
    log.append(*batch(value=b"x" * 600), leader_epoch=0)
    assert log.segments[-1].size > 500 and log.segments[-1].base_offset == 20


def test_roll_by_time_from_first_batch_timestamp(tmp_path):
    log = open_log(tmp_path, segment_ms=1000)
    log.append(*batch(ts=NOW), leader_epoch=0)
    log.append(*batch(ts=NOW + 1000), leader_epoch=0)       # not more than segment.ms later
    assert len(log.segments) == 1
    log.append(*batch(ts=NOW + 1001), leader_epoch=0)
    assert [s.base_offset for s in log.segments] == [0, 2]


def test_roll_by_time_without_timestamps_uses_the_clock(tmp_path):
    clock = [NOW]
    log = open_log(tmp_path, clock=lambda: clock[0], segment_ms=1000)
    log.append(*batch(ts=-1), leader_epoch=0)
    clock[0] += 500
    log.append(*batch(ts=-1), leader_epoch=0)
    assert len(log.segments) == 1
    log.append(*batch(ts=-1), leader_epoch=0, now_ms=NOW + 1001)
    assert [s.base_offset for s in log.segments] == [0, 2]


def test_roll_when_the_index_is_full(tmp_path):
    log = open_log(tmp_path, segment_index_bytes=24, index_interval_bytes=0)    # 3 offset, 2 time entries
    for i in range(12):
        log.append(*batch(ts=NOW + i), leader_epoch=0)
    assert len(log.segments) > 1
    assert all(len(s.offset_index) <= 3 and len(s.time_index) <= 2 for s in log.segments)
    assert len(read_all(log)) == 12


def test_roll_on_relative_offset_overflow(tmp_path):
    log = open_log(tmp_path)
    log.append_replicated(*batch(base_offset=0))
    far = (1 << 31) + 5
    log.append_replicated(*batch(base_offset=far))
    assert [s.base_offset for s in log.segments] == [0, far]
    assert log.log_end_offset == far + 1


# -- retention and deletion -------------------------------------------------------

def test_retention_by_time_deletes_old_segments_then_the_active_one(tmp_path):
    log = open_log(tmp_path, segment_bytes=300, retention_ms=10_000)
    for i in range(9):
        log.append(*batch(ts=NOW + i * 1000), leader_epoch=0)
    sizes = len(log.segments)
    assert sizes >= 3
    # Nothing is old enough yet.
    assert log.delete_old_segments(now_ms=NOW + 10_000) == 0
    # The first segment's newest record is now more than retention.ms old.
    newest_first = log.segments[0].max_timestamp
    deleted = log.delete_old_segments(now_ms=newest_first + 10_001)
    assert deleted >= 1 and len(log.segments) == sizes - deleted
    assert log.log_start_offset == log.segments[0].base_offset
    assert read_all(log)[0].offset == log.log_start_offset
    # Everything expired: the active segment goes too, after a roll.
    log.delete_old_segments(now_ms=NOW + 100_000)
    assert log.log_start_offset == log.log_end_offset == 9
    assert [s.base_offset for s in log.segments] == [9] and log.size_in_bytes == 0
    assert log.read(9, 100) == b""
    assert log.append(*batch(), leader_epoch=0).first_offset == 9
    remaining = [n for n in os.listdir(log.dir) if n.endswith(".log")]
    assert remaining == ["00000000000000000009.log"]


def test_retention_stops_at_the_high_watermark(tmp_path):
    log = open_log(tmp_path, segment_bytes=300, retention_ms=1)
    for _ in range(9):
        log.append(*batch(), leader_epoch=0)
    second = log.segments[1].base_offset
    log.delete_old_segments(now_ms=NOW + 100_000, high_watermark=second + 1)
    assert log.log_start_offset == second


def test_retention_by_bytes(tmp_path):
    log = open_log(tmp_path, segment_bytes=300, retention_bytes=700, retention_ms=-1)
    for _ in range(20):
        log.append(*batch(), leader_epoch=0)
    assert log.delete_old_segments(now_ms=NOW + 10**12) > 0
    # As in Kafka, whole segments go while what remains stays at least retention.bytes.
    assert 700 <= log.size_in_bytes < 700 + log.segments[0].size
    assert read_all(log)[-1].offset == 19


def test_no_time_retention_with_compact_policy(tmp_path):
    log = open_log(tmp_path, segment_bytes=300, retention_ms=1, cleanup_policy="compact")
    for _ in range(9):
        log.append(*batch(), leader_epoch=0)
    assert log.delete_old_segments(now_ms=NOW + 10**9) == 0


def test_delete_records_before(tmp_path):
    log = open_log(tmp_path, segment_bytes=300)
    for _ in range(12):
        log.append(*batch(2), leader_epoch=0)
    bases = [s.base_offset for s in log.segments]
    target = bases[2] + 1                               # inside the third segment
    assert log.delete_records_before(target) == target
    assert [s.base_offset for s in log.segments] == bases[2:]
    assert read_all(log)[0].offset == target
    assert log.delete_records_before(1) == target       # never moves back
    with pytest.raises(OffsetOutOfRange):
        log.delete_records_before(log.log_end_offset + 1)
    log.close()
    again = reopen(log, log_start_offset=target, clean_shutdown=True)
    assert again.log_start_offset == target


# -- truncation and leader epochs --------------------------------------------------

def test_truncate_to(tmp_path):
    log = open_log(tmp_path, segment_bytes=300, index_interval_bytes=50)
    for epoch in (1, 1, 2, 2, 2, 3, 3, 3, 3, 4):
        log.append(*batch(2), leader_epoch=epoch)
    assert log.leader_epochs.entries == [(1, 0), (2, 4), (3, 10), (4, 18)]
    log.truncate_to(9)              # 9 is in the batch 8-9: drops it and everything after
    assert log.log_end_offset == 8
    assert [r.offset for r in read_all(log)] == list(range(8))
    assert log.leader_epochs.entries == [(1, 0), (2, 4)]
    assert all(s.base_offset + k < 8 for s in log.segments for k in s.offset_index.keys)
    assert log.append(*batch(), leader_epoch=5).first_offset == 8
    assert [r.offset for r in read_all(log)] == list(range(9))
    log.truncate_to(100)             # beyond the end: nothing happens
    assert log.log_end_offset == 9


def test_truncate_fully_and_start_at(tmp_path):
    log = open_log(tmp_path, segment_bytes=300)
    for _ in range(8):
        log.append(*batch(), leader_epoch=2)
    log.truncate_fully_and_start_at(500)
    assert (log.log_start_offset, log.log_end_offset) == (500, 500)
    assert log.leader_epochs.entries == []
    assert log.append(*batch(), leader_epoch=3).first_offset == 500
    assert [n for n in os.listdir(log.dir) if n.endswith(".log")] == ["00000000000000000500.log"]


def test_leader_epoch_checkpoint(tmp_path):
    log = open_log(tmp_path)
    log.append(*batch(2), leader_epoch=1)
    log.append(*batch(3), leader_epoch=1)
    log.append(*batch(1), leader_epoch=4)
    with open(os.path.join(log.dir, "leader-epoch-checkpoint")) as f:
        assert f.read() == "0\n2\n1 0\n4 5\n"
    assert log.latest_epoch == 4
    assert log.end_offset_for_epoch(1) == (1, 5)
    assert log.end_offset_for_epoch(3) == (1, 5)        # unknown epoch: the one before it
    assert log.end_offset_for_epoch(4) == (4, 6)        # the latest: the log end offset
    assert log.end_offset_for_epoch(0) == (0, 0)
    assert log.end_offset_for_epoch(7) == (-1, -1)
    assert log.epoch_for_offset(4) == 1 and log.epoch_for_offset(5) == 4
    assert open_log(tmp_path / "empty").epoch_for_offset(0) == -1
    # Every batch carries the epoch it was appended in.
    assert [h.partition_leader_epoch for h in headers_in(log.read(0, 1 << 20))] == [1, 1, 4]
    log.close()
    assert reopen(log, clean_shutdown=True).leader_epochs.entries == [(1, 0), (4, 5)]


def test_append_replicated_keeps_offsets(tmp_path):
    log = open_log(tmp_path)
    log.append_replicated(*batch(3, base_offset=0, partition_leader_epoch=1))
    log.append_replicated(*batch(2, base_offset=10, partition_leader_epoch=2))    # a compacted gap
    assert log.log_end_offset == 12
    assert [r.offset for r in read_all(log)] == [0, 1, 2, 10, 11]
    assert log.leader_epochs.entries == [(1, 0), (2, 10)]
    with pytest.raises(UnexpectedAppendOffset):
        log.append_replicated(*batch(1, base_offset=11))
    assert log.log_end_offset == 12


# -- timestamps -----------------------------------------------------------------

def test_offset_for_timestamp(tmp_path):
    log = open_log(tmp_path, segment_bytes=400, index_interval_bytes=100)
    for i in range(20):
        log.append(*batch(3, ts=NOW + i * 100), leader_epoch=0)     # records at +100i, +100i+1, +100i+2
    assert log.offset_for_timestamp(0) == (0, NOW, 0)
    assert log.offset_for_timestamp(NOW + 1001) == (31, NOW + 1001, 0)
    assert log.offset_for_timestamp(NOW + 1003) == (33, NOW + 1100, 0)
    assert log.offset_for_timestamp(NOW + 1902) == (59, NOW + 1902, 0)
    assert log.offset_for_timestamp(NOW + 1903) is None
    log.delete_records_before(32)
    assert log.offset_for_timestamp(0) == (32, NOW + 1002, 0)


def test_max_timestamp_offset(tmp_path):
    log = open_log(tmp_path, segment_bytes=300)
    assert log.max_timestamp_offset() is None
    for epoch, ts in enumerate((NOW, NOW + 50, NOW + 10)):
        log.append(*batch(3, ts=ts), leader_epoch=epoch)
    log.append(*batch(4, ts=NOW - 5), leader_epoch=3)     # max record ts: NOW + 52 at offset 5, epoch 1
    assert log.max_timestamp_offset() == (5, NOW + 52, 1)


def test_log_append_time(tmp_path):
    log = open_log(tmp_path, message_timestamp_type="LogAppendTime")
    info = log.append(*batch(3, ts=5), leader_epoch=0, now_ms=NOW + 7)
    assert info.log_append_time == NOW + 7 and info.max_timestamp == NOW + 7
    data = log.read(0, 1 << 20)
    h = headers_in(data)[0]
    assert h.log_append_time and h.max_timestamp == NOW + 7
    assert [r.timestamp for r in records_in(data)] == [NOW + 7] * 3
    assert log.offset_for_timestamp(NOW) == (0, NOW + 7, 0)
    assert log.max_timestamp_offset() == (0, NOW + 7, 0)


# -- durability and recovery ------------------------------------------------------

class Deferred:
    """A run_blocking that keeps work until told to run it."""

    def __init__(self):
        self.queue = []

    def __call__(self, work, done):
        self.queue.append((work, done))

    def run_all(self):
        while self.queue:
            work, done = self.queue.pop(0)
            done(work())


def test_flush_advances_the_recovery_point_when_done(tmp_path):
    deferred = Deferred()
    log = PartitionLog.open(str(tmp_path / "t-0"), LogConfig(segment_bytes=300), run_blocking=deferred)
    for _ in range(3):
        log.append(*batch(), leader_epoch=0)
    log.flush()
    assert log.recovery_point == 0 and log.unflushed_messages == 3
    deferred.run_all()
    assert log.recovery_point == 3
    # A roll flushes the finished segment by itself.
    while len(log.segments) == 1:
        log.append(*batch(), leader_epoch=0)
    deferred.run_all()
    assert log.recovery_point == log.segments[-1].base_offset


def test_flush_messages(tmp_path):
    log = open_log(tmp_path, flush_messages=2)
    log.append(*batch(), leader_epoch=0)
    assert log.recovery_point == 0
    log.append(*batch(), leader_epoch=0)
    assert log.recovery_point == 2


def test_a_flush_racing_a_truncation_does_not_move_the_recovery_point(tmp_path):
    deferred = Deferred()
    log = PartitionLog.open(str(tmp_path / "t-0"), LogConfig(), run_blocking=deferred)
    for _ in range(4):
        log.append(*batch(), leader_epoch=0)
    log.flush()
    log.truncate_to(2)
    log.append(*batch(), leader_epoch=0)
    deferred.run_all()
    assert log.recovery_point == 0


def test_recovery_cuts_a_torn_tail(tmp_path):
    log = open_log(tmp_path, segment_bytes=500)
    for i in range(12):
        log.append(*batch(first_key=i), leader_epoch=0)
    expected = read_all(log)
    active = log.segments[-1].log_path
    # Crash mid-append: half a batch reaches the disk.
    torn = batch(first_key=99)[0]
    with open(active, "ab") as f:
        f.write(torn[:len(torn) // 2])
    size_before = os.path.getsize(active) - len(torn) // 2
    recovered = reopen(log, recovery_point=0)
    assert recovered.log_end_offset == 12
    assert read_all(recovered) == expected
    assert os.path.getsize(active) == size_before
    assert recovered.append(*batch(), leader_epoch=0).first_offset == 12


def test_recovery_cuts_from_a_corrupt_batch(tmp_path):
    log = open_log(tmp_path)
    for i in range(6):
        log.append(*batch(first_key=i), leader_epoch=0)
    size = len(batch()[0])
    with open(log.segments[-1].log_path, "r+b") as f:     # flip a byte in the 4th batch's records
        f.seek(3 * size + size - 3)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0xFF]))
    recovered = reopen(log)
    assert recovered.log_end_offset == 3
    assert [r.key for r in read_all(recovered)] == [b"k0", b"k1", b"k2"]


def test_recovery_garbage_tail_and_rebuilt_indexes(tmp_path):
    log = open_log(tmp_path, index_interval_bytes=100)
    for i in range(30):
        log.append(*batch(first_key=i), leader_epoch=0)
    seg = log.segments[-1]
    entries = (list(seg.offset_index.keys), list(seg.offset_index.values))
    with open(seg.log_path, "ab") as f:
        f.write(b"\x00" * 300)             # zeroes a crash can leave at the end of a file
    os.unlink(seg.index_path)
    recovered = reopen(log)
    assert recovered.log_end_offset == 30
    index = OffsetIndex.load(seg.index_path, 0)
    assert (list(index.keys), list(index.values)) == entries
    assert len(read_all(recovered)) == 30


def test_recovery_starts_at_the_recovery_point(tmp_path):
    log = open_log(tmp_path, segment_bytes=300)
    for i in range(12):
        log.append(*batch(first_key=i), leader_epoch=0)
    first = log.segments[0]
    first_end = first.next_offset()
    # Damage below the recovery point is not looked for (it was fsynced)...
    with open(first.log_path, "r+b") as f:
        f.seek(first.size - 3)
        f.write(b"\xff")
    recovered = reopen(log, recovery_point=log.segments[1].base_offset)
    assert recovered.log_end_offset == 12
    # ...while a full recovery finds it and drops everything after it.
    recovered = reopen(log, recovery_point=0)
    assert recovered.log_end_offset == first_end - 1
    assert len(recovered.segments) == 1


def test_clean_shutdown_skips_recovery(tmp_path):
    log = open_log(tmp_path, segment_bytes=300)
    for i in range(12):
        log.append(*batch(first_key=i), leader_epoch=0)
    log.close()
    middle = log.segments[1]
    last_in_middle = log.segments[2].base_offset - 1
    with open(middle.log_path, "r+b") as f:    # a CRC no clean start will check
        f.seek(middle.size - 3)
        f.write(b"\xff")
    assert reopen(log, clean_shutdown=True).log_end_offset == 12
    assert reopen(log, clean_shutdown=False).log_end_offset == last_in_middle


def test_a_full_disk_leaves_no_partial_batch(tmp_path, monkeypatch):
    log = open_log(tmp_path, index_interval_bytes=0)
    log.append(*batch(), leader_epoch=0)
    log.append(*batch(), leader_epoch=0)
    seg = log.segments[-1]
    size, entries = seg.size, len(seg.offset_index)
    real_write = os.write

    def half_then_enospc(fd, data):
        if fd == seg.fd:
            real_write(fd, bytes(data[:len(data) // 2]))
            raise OSError(28, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", half_then_enospc)
    with pytest.raises(OSError):
        log.append(*batch(), leader_epoch=0)
    monkeypatch.undo()
    assert (log.log_end_offset, os.path.getsize(seg.log_path), len(seg.offset_index)) == (2, size, entries)
    assert log.append(*batch(), leader_epoch=0).first_offset == 2
    assert len(read_all(reopen(log))) == 3


# -- a model --------------------------------------------------------------------

operations = st.lists(st.one_of(
    st.tuples(st.just("append"), st.integers(1, 5), st.integers(0, 200)),
    st.tuples(st.just("read"), st.integers(0, 60), st.integers(1, 800)),
    st.tuples(st.just("truncate"), st.integers(0, 60), st.just(0)),
    st.tuples(st.just("delete_before"), st.integers(0, 60), st.just(0)),
    st.tuples(st.just("reopen"), st.booleans(), st.just(0)),
), max_size=40)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations)
def test_behaves_like_a_list_of_batches(tmp_path_factory, ops):
    dir = tmp_path_factory.mktemp("model")
    config = LogConfig(segment_bytes=400, index_interval_bytes=150)
    log = PartitionLog.open(str(dir / "t-0"), config)
    model = []          # (base offset, last offset, values, size) per batch
    start = 0
    for op, a, b in ops:
        end = model[-1][1] + 1 if model else start
        if op == "append":
            values = [b"%d-%d" % (b, i) for i in range(a)]
            data = bytearray(build_batch([Record(i, NOW, b"k", v) for i, v in enumerate(values)]))
            assert log.append(data, [parse_header(data)], leader_epoch=0).first_offset == end
            model.append((end, end + a - 1, values, len(data)))
        elif op == "read":
            if not start <= a <= end:
                with pytest.raises(OffsetOutOfRange):
                    log.read(a, b)
                continue
            # Batches from the one holding offset a, whole, within b bytes but at least one.
            expected, total = [], 0
            for base, last, _, size in model:
                if last < a:
                    continue
                if expected and total + size > b:
                    break
                expected.append((base, last))
                total += size
            got = [(h.base_offset, h.last_offset) for h in headers_in(log.read(a, b))]
            # A read stops at the end of a segment: what it returns is a prefix.
            assert got == expected[:len(got)] and (got or not expected)
        elif op == "truncate":
            log.truncate_to(a)
            if a < start:
                model, start = [], a
            else:
                model = [m for m in model if m[1] < a]
        elif op == "delete_before":
            if a > end:
                with pytest.raises(OffsetOutOfRange):
                    log.delete_records_before(a)
                continue
            start = max(start, a)
            log.delete_records_before(a)
        elif op == "reopen":
            log.close()
            log = PartitionLog.open(log.dir, config, clean_shutdown=a, log_start_offset=log.log_start_offset)
        end = model[-1][1] + 1 if model else start
        assert (log.log_start_offset, log.log_end_offset) == (start, end)
    contents = [(r.offset, r.value) for r in read_all(log, max_bytes=300)]
    assert contents == [(base + i, v) for base, _, values, _ in model for i, v in enumerate(values)
                        if base + i >= start]
    log.close()


# -- compaction -----------------------------------------------------------------

def clean(log, first_dirty=0, now=NOW):
    job = prepare_clean(log, first_dirty, now)
    assert job is not None
    assert job.commit(log, job.run())
    return job.end_offset


def keyed(log, key, value, ts=NOW, **kwargs):
    data = bytearray(build_batch([Record(0, ts, key, value)], **kwargs))
    return log.append(data, [parse_header(data)], leader_epoch=0).first_offset


def test_compaction_keeps_the_latest_value_per_key_at_its_offset(tmp_path):
    log = open_log(tmp_path, segment_bytes=300, cleanup_policy="compact")
    latest = {}
    for i in range(40):
        key = b"key%d" % (i % 5)
        latest[key] = (keyed(log, key, b"value%d" % i), b"value%d" % i)
    before = read_all(log)
    end = clean(log)
    assert end == log.segments[-1].base_offset
    after = read_all(log)
    # Below the cleaned point each key appears once, with its last value there;
    # nothing moved: every record kept has its original offset and value.
    cleaned = [r for r in after if r.offset < end]
    assert len({r.key for r in cleaned}) == len(cleaned)
    original = {r.offset: r for r in before}
    assert all(original[r.offset] == r for r in after)
    assert {r.key: (r.offset, r.value) for r in after} == latest
    assert [r.offset for r in after if r.offset >= end] == [r.offset for r in before if r.offset >= end]
    assert log.size_in_bytes < sum(1 for _ in before) * 60
    # The cleaned log survives a restart.
    log.close()
    assert read_all(reopen(log)) == after


def test_compaction_keeps_tombstones_for_delete_retention(tmp_path):
    log = open_log(tmp_path, segment_bytes=200, cleanup_policy="compact", delete_retention_ms=1000)
    keyed(log, b"a", b"1", ts=NOW)
    keyed(log, b"a", None, ts=NOW)                 # tombstone
    for i in range(8):
        keyed(log, b"b", b"%d" % i, ts=NOW + 5000)
    end = clean(log, now=NOW + 6000)
    assert [(r.key, r.value) for r in read_all(log) if r.key == b"a"] == [(b"a", None)]
    # Once a segment newer than delete.retention.ms exists on the clean side, the tombstone goes.
    for i in range(8):
        keyed(log, b"c", b"%d" % i, ts=NOW + 9000)
    clean(log, first_dirty=end, now=NOW + 10_000)
    assert [r for r in read_all(log) if r.key == b"a"] == []


def test_compaction_and_transactions(tmp_path):
    log = open_log(tmp_path, segment_bytes=250, cleanup_policy="compact")
    keyed(log, b"k", b"committed-old")
    for value, commit in ((b"aborted", False), (b"committed-new", True)):
        keyed(log, b"k", value, producer_id=7, producer_epoch=0, base_sequence=0, transactional=True)
        marker = bytearray(build_control_batch(commit, 7, 0, 0, NOW))
        log.append(marker, [parse_header(marker)], leader_epoch=0)
    for i in range(6):
        keyed(log, b"other", b"%d" % i)
    clean(log)
    values = [r.value for r in read_all(log) if r.key == b"k"]
    # The aborted value neither survives nor shadows the committed one.
    assert values == [b"committed-new"]
    markers = [h for seg in log.segments for _, h in seg.read_batch_headers() if h.is_control]
    assert [h.base_offset for h in markers] == [2, 4]


def test_compaction_keeps_compression_and_offsets_of_rebuilt_batches(tmp_path):
    log = open_log(tmp_path, segment_bytes=400, cleanup_policy="compact")
    records = [Record(i, NOW, b"k%d" % (i % 3), b"v%d" % i) for i in range(6)]
    data = bytearray(build_batch(records, compression=LZ4))
    log.append(data, [parse_header(data)], leader_epoch=0)
    for i in range(10):
        keyed(log, b"k0", b"newer%d" % i)
    clean(log)
    first = headers_in(log.read(0, 1 << 20))[0]
    assert (first.base_offset, first.last_offset, first.compression) == (0, 5, LZ4)
    assert [(r.offset, r.value) for r in decode_records(log.read(0, 1 << 20))] == [(4, b"v4"), (5, b"v5")]


def test_an_interrupted_swap_is_completed_on_open(tmp_path):
    log = open_log(tmp_path, segment_bytes=300, cleanup_policy="compact")
    for i in range(30):
        keyed(log, b"key%d" % (i % 3), b"%d" % i)
    job = prepare_clean(log, 0, NOW)
    result = job.run()
    log.close()
    # Crash right after the commit point: cleaned files renamed to .swap, old segments still there.
    for _, _, base in result.groups:
        for suffix in (".index", ".timeindex", ".log"):
            path = os.path.join(log.dir, f"{base:020d}{suffix}")
            os.rename(path + ".cleaned", path + ".swap")
    recovered = reopen(log)
    assert not [n for n in os.listdir(log.dir) if n.endswith((".swap", ".cleaned", ".deleted"))]
    after = read_all(recovered)
    assert {r.key: r.value for r in after} == {b"key0": b"27", b"key1": b"28", b"key2": b"29"}
    assert [r.offset for r in after] == sorted(r.offset for r in after)


def test_a_stale_cleaning_is_discarded(tmp_path):
    log = open_log(tmp_path, segment_bytes=300, cleanup_policy="compact")
    for i in range(30):
        keyed(log, b"key%d" % (i % 3), b"%d" % i)
    job = prepare_clean(log, 0, NOW)
    result = job.run()
    log.truncate_to(5)
    assert not job.commit(log, result)
    assert not [n for n in os.listdir(log.dir) if n.endswith(".cleaned")]
    assert [r.offset for r in read_all(log)] == [0, 1, 2, 3, 4]


def test_nothing_to_clean(tmp_path):
    log = open_log(tmp_path, cleanup_policy="compact", min_compaction_lag_ms=60_000)
    for i in range(30):
        keyed(log, b"k", b"%d" % i)
    assert prepare_clean(log, 0, NOW) is None            # one segment: the active one
    log.roll()
    keyed(log, b"k", b"x")
    assert prepare_clean(log, 0, NOW) is None            # younger than min.compaction.lag.ms
    assert prepare_clean(log, 0, NOW + 60_001) is not None


def test_copying_a_live_log_dir_is_a_crash(tmp_path):
    """What a power cut leaves: files as they were, no clean shutdown."""
    log = open_log(tmp_path, segment_bytes=300)
    for i in range(10):
        log.append(*batch(first_key=i), leader_epoch=1)
    snapshot = str(tmp_path / "copy-0")
    shutil.copytree(log.dir, snapshot)
    copy = PartitionLog.open(snapshot, log.config)
    assert copy.log_end_offset == 10 and read_all(copy) == read_all(log)
    assert copy.leader_epochs.entries == [(1, 0)]


def test_compaction_keeps_the_last_batch_of_a_producer_empty(tmp_path):
    log = open_log(tmp_path, segment_bytes=250, cleanup_policy="compact")
    idempotent = dict(producer_id=5, producer_epoch=1, base_sequence=0)
    keyed(log, b"k", b"old", **idempotent)                                   # offset 0
    keyed(log, b"j", b"old", producer_id=6, producer_epoch=1, base_sequence=0)   # offset 1
    keyed(log, b"j", b"newer", producer_id=6, producer_epoch=1, base_sequence=1)   # offset 2
    for i in range(8):
        keyed(log, b"k", b"new%d" % i)
    clean(log)
    batches = {h.base_offset: h for seg in log.segments for _, h in seg.read_batch_headers()}
    # Producer 5 has no later batch: its emptied batch stays so its sequence is known after a restart.
    assert (batches[0].records_count, batches[0].producer_id, batches[0].base_sequence) == (0, 5, 0)
    # Producer 6 wrote again later: its superseded batch simply goes.
    assert 1 not in batches
    assert [(r.offset, r.key) for r in read_all(log)][:2] == [(2, b"j"), (8, b"k")]
