"""Transactions in the partition log: the first unstable offset, the
aborted-transaction index (.txnindex) and its rebuilding, truncation,
markers from stale coordinators, and compaction held below open transactions."""
import os

import pytest

from pykbroker.log import LogConfig, PartitionLog
from pykbroker.log.cleaner import prepare_clean
from pykbroker.log.producer_state import CLIENT, CoordinatorFenced, InvalidProducerEpoch
from pykbroker.log.txn_index import AbortedTxn
from wire.records import Record, build_batch, build_control_batch, parse_header

NOW = 1_700_000_000_000


class Producer:
    def __init__(self, log, pid, epoch=0):
        self.log, self.pid, self.epoch, self.seq = log, pid, epoch, 0

    def send(self, count=1, key=b"k"):
        data = bytearray(build_batch([Record(i, NOW, key, b"v") for i in range(count)], producer_id=self.pid,
                                     producer_epoch=self.epoch, base_sequence=self.seq, transactional=True))
        self.seq += count
        return self.log.append(data, [parse_header(data)], leader_epoch=0, origin=CLIENT).first_offset

    def end(self, commit, coordinator_epoch=0, epoch=None):
        marker = bytearray(build_control_batch(commit, self.pid, self.epoch if epoch is None else epoch,
                                               coordinator_epoch, NOW))
        return self.log.append(marker, [parse_header(marker)], leader_epoch=0).first_offset


def open_log(tmp_path, **config):
    return PartitionLog.open(str(tmp_path / "t-0"), LogConfig(**config), clock=lambda: NOW)


def aborted(log, start=0, end=None):
    return log.collect_aborted_transactions(start, log.log_end_offset if end is None else end)


def test_first_unstable_offset_follows_the_oldest_open_transaction(tmp_path):
    log = open_log(tmp_path)
    a, b = Producer(log, 1), Producer(log, 2)
    assert log.first_unstable_offset is None
    a.send()                       # 0
    b.send()                       # 1
    assert log.first_unstable_offset == 0
    a.end(commit=True)             # 2
    # The marker must reach the high watermark before the LSO passes it.
    assert log.first_unstable_offset == 0
    log.on_high_watermark(3)
    assert log.first_unstable_offset == 1
    b.end(commit=False)            # 3
    log.on_high_watermark(4)
    assert log.first_unstable_offset is None
    assert aborted(log) == [AbortedTxn(2, 1, 3, 4)]


def test_the_index_entry_records_the_lso_after_the_abort(tmp_path):
    log = open_log(tmp_path)
    a, b = Producer(log, 1), Producer(log, 2)
    a.send()                       # 0
    b.send()                       # 1
    a.end(commit=False)            # 2: b still open from 1
    b.end(commit=True)             # 3
    assert aborted(log) == [AbortedTxn(1, 0, 2, 1)]


def test_aborted_transactions_are_found_across_segments(tmp_path):
    log = open_log(tmp_path, segment_bytes=200)
    a, b = Producer(log, 1), Producer(log, 2)
    a.send()                       # 0
    for _ in range(6):
        b.send()                   # 1-6: b's transaction stays open, segments roll
    a.end(commit=False)            # 7
    b.send()
    b.end(commit=False)
    assert len(log.segments) > 2
    marker_b = log.log_end_offset - 1
    assert aborted(log, 0, 2) == [AbortedTxn(1, 0, 7, 1), AbortedTxn(2, 1, marker_b, marker_b + 1)]
    assert aborted(log, 8, marker_b) == [AbortedTxn(2, 1, marker_b, marker_b + 1)]
    # Indexed in the segment holding the marker.
    files = sorted(n for n in os.listdir(log.dir) if n.endswith(".txnindex"))
    assert files and all(os.path.getsize(os.path.join(log.dir, n)) % 34 == 0 for n in files)


def test_the_index_and_open_transactions_survive_restarts(tmp_path):
    log = open_log(tmp_path)
    a, b = Producer(log, 1), Producer(log, 2)
    a.send()
    a.end(commit=False)
    b.send()                        # 2: open
    log.close()
    log = PartitionLog.open(log.dir, log.config, clock=lambda: NOW, clean_shutdown=True)
    assert log.first_unstable_offset == 2 and aborted(log) == [AbortedTxn(1, 0, 1, 2)]
    # A crash that lost the snapshots and the index: both rebuilt from the log.
    log.close()
    for name in os.listdir(log.dir):
        if name.endswith((".snapshot", ".txnindex")):
            os.unlink(os.path.join(log.dir, name))
    log = PartitionLog.open(log.dir, log.config, clock=lambda: NOW)
    log.on_high_watermark(log.log_end_offset)      # as the partition does once it leads
    assert log.first_unstable_offset == 2 and aborted(log) == [AbortedTxn(1, 0, 1, 2)]


def test_truncation_drops_index_entries_and_reopens_transactions(tmp_path):
    log = open_log(tmp_path)
    a = Producer(log, 1)
    a.send()
    a.end(commit=False)             # 1
    a.send()                        # 2
    a.end(commit=False)             # 3
    log.on_high_watermark(4)
    log.truncate_to(3)
    assert aborted(log) == [AbortedTxn(1, 0, 1, 2)]
    assert log.first_unstable_offset == 2   # the second transaction is open again


def test_stale_markers_are_refused(tmp_path):
    log = open_log(tmp_path)
    a = Producer(log, 1, epoch=3)
    a.send()
    a.end(commit=True, coordinator_epoch=5)
    a.send()
    with pytest.raises(CoordinatorFenced):
        a.end(commit=True, coordinator_epoch=4)
    with pytest.raises(InvalidProducerEpoch):
        a.end(commit=True, coordinator_epoch=5, epoch=2)
    assert a.end(commit=True, coordinator_epoch=5, epoch=4) == 3   # a coordinator's fencing bump


def test_compaction_stays_below_open_transactions(tmp_path):
    log = open_log(tmp_path, segment_bytes=300, cleanup_policy="compact")
    a = Producer(log, 1)
    a.send()                        # 0: open
    for i in range(12):
        data = bytearray(build_batch([Record(0, NOW, b"k", b"%d" % i)]))
        log.append(data, [parse_header(data)], leader_epoch=0)
    assert len(log.segments) > 2
    assert prepare_clean(log, 0, NOW) is None      # everything lies after the open transaction
    a.end(commit=True)
    assert prepare_clean(log, 0, NOW) is not None
