"""Producer state in the partition log: duplicates, sequence and epoch
checks, snapshots beside the segments, rebuilding from the log, expiry."""
import os

import pytest

from pykbroker.log import LogConfig, PartitionLog
from pykbroker.log.producer_state import (CLIENT, InvalidProducerEpoch, OutOfOrderSequence, read_snapshot)
from wire.records import Record, build_batch, parse_header

NOW = 1_700_000_000_000


def produced(seq, count=1, *, pid=7, epoch=0, ts=NOW, value=b"v", transactional=False):
    data = bytearray(build_batch([Record(i, ts, None, value) for i in range(count)], producer_id=pid,
                                 producer_epoch=epoch, base_sequence=seq, transactional=transactional))
    return data, [parse_header(data)]


def append(log, *args, **kwargs):
    return log.append(*produced(*args, **kwargs), leader_epoch=0, origin=CLIENT)


def open_log(path, now=NOW, **config):
    return PartitionLog.open(str(path / "t-0"), LogConfig(**config), clock=lambda: now)


def reopen(log, now=NOW, **kwargs):
    log.close()
    return PartitionLog.open(log.dir, log.config, clock=lambda: now, **kwargs)


def snapshots(log):
    return sorted(n for n in os.listdir(log.dir) if n.endswith(".snapshot"))


def test_a_retried_batch_gets_its_first_offsets_and_is_not_written(tmp_path):
    log = open_log(tmp_path)
    for seq in range(0, 10, 2):
        append(log, seq, 2)                        # five batches: offsets 0-1, 2-3, ... 8-9
    again = append(log, 4, 2)
    assert (again.first_offset, again.last_offset, again.duplicate) == (4, 5, True)
    assert log.log_end_offset == 10
    # Only the last five batches are remembered; one older still is out of order.
    append(log, 10, 2)
    with pytest.raises(OutOfOrderSequence):
        append(log, 0, 2)


def test_sequence_gaps_and_old_epochs_are_refused(tmp_path):
    log = open_log(tmp_path)
    append(log, 0, 3)
    with pytest.raises(OutOfOrderSequence):
        append(log, 4)                             # 3 is missing
    with pytest.raises(OutOfOrderSequence):
        append(log, 5, epoch=1)                    # a new epoch starts at 0
    append(log, 0, epoch=1)
    with pytest.raises(InvalidProducerEpoch):
        append(log, 3, epoch=0)                    # fenced by epoch 1
    assert log.log_end_offset == 4


def test_an_unknown_producer_may_start_at_any_sequence(tmp_path):
    """KIP-360: the broker may have forgotten a producer (expiry, deleted
    segments); the producer carries on with its next sequence."""
    log = open_log(tmp_path)
    append(log, 0, pid=1)
    assert append(log, 41).first_offset == 1
    append(log, 42)
    with pytest.raises(OutOfOrderSequence):
        append(log, 44)


def test_a_partition_never_written_to_takes_sequence_0_first(tmp_path):
    """KAFKA-15591: with nothing ever written, no state can have been lost; a
    later sequence first means a batch overtook the producer's first one
    (sent to another leader), which must not be skipped. Once the log held
    records, emptied or not, any sequence goes again."""
    log = open_log(tmp_path)
    with pytest.raises(OutOfOrderSequence):
        append(log, 41)
    assert log.log_end_offset == 0
    append(log, 0, 2)
    log.truncate_to(0)                             # a follower's log truncated away: never written again
    with pytest.raises(OutOfOrderSequence):
        append(log, 2, pid=8)
    append(log, 0, pid=8)
    log.delete_records_before(1)                   # emptied, but it held records
    assert append(log, 41, pid=9).first_offset == 1


def test_sequences_wrap_around(tmp_path):
    log = open_log(tmp_path)
    append(log, 0, pid=1)
    append(log, 2**31 - 2, 2)
    assert append(log, 0).first_offset == 3


def test_state_survives_a_clean_restart_from_the_shutdown_snapshot(tmp_path):
    log = open_log(tmp_path)
    append(log, 0, 2)
    append(log, 2, 2)
    log = reopen(log, clean_shutdown=True)
    assert snapshots(log) == ["00000000000000000004.snapshot"]
    assert append(log, 2, 2).duplicate            # Kafka's snapshots keep the last batch
    with pytest.raises(OutOfOrderSequence):
        append(log, 5)
    assert append(log, 4).first_offset == 4


def test_state_is_rebuilt_from_the_log_without_snapshots(tmp_path):
    log = open_log(tmp_path, segment_bytes=300)
    for seq in range(12):
        append(log, seq)
    assert len(log.segments) > 2
    # Rolls left a snapshot at each segment's base offset.
    assert snapshots(log) == ["%020d.snapshot" % s.base_offset for s in log.segments[1:]]
    log.close()
    for name in snapshots(log):
        os.unlink(os.path.join(log.dir, name))
    log = PartitionLog.open(log.dir, log.config, clock=lambda: NOW)   # a crash: recovery, no snapshot
    for seq in range(7, 12):                       # the whole last five, read back from the log
        assert append(log, seq).first_offset == seq
    with pytest.raises(OutOfOrderSequence):
        append(log, 13)


def test_a_corrupt_snapshot_is_replaced_by_replaying_the_log(tmp_path):
    log = open_log(tmp_path)
    append(log, 0, 2)
    log.close()
    path = os.path.join(log.dir, snapshots(log)[-1])
    with open(path, "r+b") as f:
        f.seek(10)
        f.write(b"\xff")
    log = PartitionLog.open(log.dir, log.config, clock=lambda: NOW, clean_shutdown=True)
    assert append(log, 0, 2).duplicate
    assert append(log, 2).first_offset == 2


def test_snapshot_format_is_kafkas(tmp_path):
    log = open_log(tmp_path)
    append(log, 0, 3, pid=1234, epoch=5, ts=NOW + 9)
    log.close()
    with open(os.path.join(log.dir, snapshots(log)[0]), "rb") as f:
        data = f.read()
    # version 1, crc, one entry of 46 bytes
    assert data[:2] == b"\x00\x01" and len(data) == 2 + 4 + 4 + 46
    (entry,) = read_snapshot(os.path.join(log.dir, snapshots(log)[0]))
    assert (entry.producer_id, entry.epoch, entry.last_seq, entry.last_data_offset, entry.last_timestamp) == \
        (1234, 5, 2, 2, NOW + 9)


def test_truncation_reloads_the_state_before_the_cut(tmp_path):
    log = open_log(tmp_path, segment_bytes=300)
    for seq in range(10):
        append(log, seq)
    log.truncate_to(6)
    assert append(log, 6).first_offset == 6        # the state as of offset 6: last sequence 5


def test_idle_producers_expire_unless_in_a_transaction(tmp_path):
    log = open_log(tmp_path, producer_id_expiration_ms=1000)
    append(log, 0, pid=1)
    append(log, 0, pid=2, transactional=True)
    log.remove_expired_producers(NOW + 999)
    with pytest.raises(OutOfOrderSequence):
        append(log, 5, pid=1)
    log.remove_expired_producers(NOW + 1000)
    assert append(log, 5, pid=1).first_offset == 2   # forgotten: any sequence goes
    with pytest.raises(OutOfOrderSequence):
        append(log, 5, pid=2, transactional=True)
