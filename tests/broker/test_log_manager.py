"""Log directories: locking, loading, clean and unclean restarts, deletion,
checkpoints and the periodic work the broker drives."""
import asyncio
import os
import subprocess
import sys
import textwrap
import time

import pytest

from pykbroker.log import LogConfig, LogDirLocked, LogManager, executor_runner
from wire.records import Record, build_batch, parse_header

NOW = 1_700_000_000_000
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def append(log, key=b"k", value=b"v" * 20, ts=NOW, epoch=0):
    data = bytearray(build_batch([Record(0, ts, key, value)]))
    return log.append(data, [parse_header(data)], leader_epoch=epoch).first_offset


def values(log):
    out, offset = [], log.log_start_offset
    while data := log.read(offset, 1 << 20):
        pos = 0
        while pos < len(data):
            h = parse_header(data, pos)
            out.append(h.base_offset)
            pos += h.size
        offset = h.last_offset + 1
    return out


def python(code, *args, **kwargs):
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], cwd=REPO,
                            env={**os.environ, "PYTHONPATH": REPO}, text=True, **kwargs)


def test_a_second_broker_cannot_use_the_same_log_dir(tmp_path):
    d = str(tmp_path / "data")
    holder = python("""
        import sys
        from pykbroker.log import LogManager
        manager = LogManager([sys.argv[1]])
        print("locked", flush=True)
        sys.stdin.read()
        manager.shutdown()
        """, d, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline() == "locked\n"
        with pytest.raises(LogDirLocked, match=d):
            LogManager([d])
    finally:
        holder.stdin.close()
        assert holder.wait(timeout=30) == 0
    LogManager([d]).shutdown()


def test_clean_restart(tmp_path):
    dirs = [str(tmp_path / "a"), str(tmp_path / "b")]
    manager = LogManager(dirs, clock=lambda: NOW)
    logs = [manager.get_or_create_log("orders", p, LogConfig(segment_bytes=300)) for p in range(4)]
    assert sorted(os.path.dirname(l.dir) for l in logs) == sorted(dirs * 2)    # spread over the dirs
    assert manager.get_or_create_log("orders", 0, LogConfig()) is logs[0]
    for i in range(10):
        append(logs[i % 4])
    logs[0].delete_records_before(2)
    manager.shutdown()
    for d in dirs:
        assert os.path.exists(os.path.join(d, ".kafka_cleanshutdown"))
    with open(os.path.join(os.path.dirname(logs[0].dir), "log-start-offset-checkpoint")) as f:
        lines = f.read().splitlines()
    assert lines[:2] == ["0", "2"] and "orders 0 2" in lines[2:]
    with open(os.path.join(os.path.dirname(logs[0].dir), "recovery-point-offset-checkpoint")) as f:
        assert "orders 0 3" in f.read().splitlines()

    again = LogManager(dirs, config_for=lambda topic: LogConfig(segment_bytes=300))
    assert sorted(again.logs) == [("orders", p) for p in range(4)]
    assert [values(again.get_log("orders", p)) for p in range(4)] == [[2], [0, 1, 2], [0, 1], [0, 1]]
    assert again.get_log("orders", 0).log_start_offset == 2
    assert again.get_log("orders", 9) is None
    assert again.stray_logs({("orders", 0), ("orders", 2)}) == [("orders", 1), ("orders", 3)]
    assert [again.get_log("orders", p).in_dir(dirs[0]) for p in range(4)].count(True) == 2
    for d in dirs:
        assert not os.path.exists(os.path.join(d, ".kafka_cleanshutdown"))
    again.shutdown()


def test_restart_after_a_crash(tmp_path):
    d = str(tmp_path / "data")
    crashed = python("""
        import os, sys
        from pykbroker.log import LogConfig, LogManager
        from wire.records import Record, build_batch, parse_header
        manager = LogManager([sys.argv[1]])
        log = manager.get_or_create_log("t", 0, LogConfig(segment_bytes=300))
        def append(i):
            data = bytearray(build_batch([Record(0, 1, b"k%d" % i, b"v" * 20)]))
            log.append(data, [parse_header(data)], leader_epoch=3)
        for i in range(8):
            append(i)
        log.flush()
        manager.write_checkpoints()
        for i in range(8, 12):
            append(i)
        # A torn write: the start of a batch reaches the file, then the process dies.
        torn = build_batch([Record(0, 1, b"torn", b"v" * 20)])
        os.write(log.segments[-1].fd, torn[:40])
        os._exit(1)
        """, d)
    assert crashed.wait(timeout=30) == 1
    manager = LogManager([d])
    log = manager.get_log("t", 0)
    assert log.log_end_offset == 12
    assert values(log) == list(range(12))
    assert log.leader_epochs.entries == [(3, 0)]
    assert log.recovery_point == 8
    manager.shutdown()


def test_delete_log(tmp_path):
    d = str(tmp_path / "data")
    clock = [NOW]
    manager = LogManager([d], clock=lambda: clock[0])
    log = manager.get_or_create_log("gone", 0, LogConfig(file_delete_delay_ms=1000))
    append(log)
    manager.delete_log("gone", 0)
    assert manager.get_log("gone", 0) is None
    [renamed] = [n for n in os.listdir(d) if n.startswith("gone-0.")]
    assert renamed.endswith("-delete") and len(renamed) == len("gone-0.") + 32 + len("-delete")
    manager.delete_expired_files(NOW + 999)
    assert os.path.exists(os.path.join(d, renamed))
    manager.delete_expired_files(NOW + 1000)
    assert not os.path.exists(os.path.join(d, renamed))
    # The same topic can come back, empty.
    assert manager.get_or_create_log("gone", 0, LogConfig()).log_end_offset == 0
    manager.shutdown()


def test_a_deletion_interrupted_by_a_crash_is_finished_at_start(tmp_path):
    d = str(tmp_path / "data")
    manager = LogManager([d])
    append(manager.get_or_create_log("gone", 0, LogConfig(file_delete_delay_ms=60_000)))
    manager.delete_log("gone", 0)
    manager.shutdown()            # before the delay is over
    assert any(n.endswith("-delete") for n in os.listdir(d))
    LogManager([d]).shutdown()
    assert not any(n.endswith("-delete") for n in os.listdir(d))


def test_periodic_work(tmp_path):
    d = str(tmp_path / "data")
    clock = [NOW]
    manager = LogManager([d], clock=lambda: clock[0], checkpoint_interval_ms=60_000)
    config = LogConfig(segment_bytes=200, retention_ms=10_000, flush_ms=5_000, file_delete_delay_ms=0)
    log = manager.get_or_create_log("t", 0, config)
    for _ in range(9):
        append(log)
    first_segment = log.segments[0].log_path
    # Retention: the high watermark holds everything back...
    assert manager.enforce_retention(NOW + 20_000, high_watermark=lambda topic, partition: 0) == 0
    # ...until it has moved on.
    assert manager.enforce_retention(NOW + 20_000, high_watermark=lambda topic, partition: 9) > 0
    assert log.log_start_offset == 9
    manager.periodic(NOW + 20_000)           # runs the deletions that are due
    assert not os.path.exists(first_segment) and not os.path.exists(first_segment + ".deleted")

    # flush.ms
    append(log)
    clock[0] = NOW + 30_000
    manager.periodic()
    assert log.recovery_point == 10 and log.last_flush_ms == NOW + 30_000
    append(log)
    manager.periodic(NOW + 34_999)
    assert log.recovery_point == 10
    manager.periodic(NOW + 35_000)
    assert log.recovery_point == 11

    # Checkpoints, every checkpoint_interval_ms.
    checkpoint = os.path.join(d, "recovery-point-offset-checkpoint")
    assert not os.path.exists(checkpoint)
    manager.periodic(NOW + 60_000)
    with open(checkpoint) as f:
        assert f.read() == "0\n1\nt 0 11\n"
    manager.shutdown()


def test_compaction_runs_in_a_thread(tmp_path):
    d = str(tmp_path / "data")

    async def scenario():
        manager = LogManager([d], run_blocking=executor_runner(asyncio.get_running_loop()))
        log = manager.get_or_create_log("__consumer_offsets", 0, LogConfig(segment_bytes=300, cleanup_policy="compact"))
        for i in range(60):
            append(log, key=b"group%d" % (i % 4), value=b"offset%d" % i, ts=int(time.time() * 1000))
        size = log.size_in_bytes
        assert manager.clean_logs() == 1
        assert manager.clean_logs() == 0          # one cleaning per log at a time
        deadline = time.monotonic() + 10
        while log.size_in_bytes == size and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        cleaned_up_to = log.segments[-1].base_offset
        manager.shutdown()
        return cleaned_up_to

    cleaned_up_to = asyncio.run(scenario())
    manager = LogManager([d])
    kept = values(manager.get_log("__consumer_offsets", 0))
    manager.shutdown()
    # Below the cleaned point one record per group is left, the latest there.
    assert [o for o in kept if o < cleaned_up_to] == list(range(cleaned_up_to - 4, cleaned_up_to))
    assert [o for o in kept if o >= cleaned_up_to] == list(range(cleaned_up_to, 60))
    with open(os.path.join(d, "cleaner-offset-checkpoint")) as f:
        assert f.read().splitlines()[2] == f"__consumer_offsets 0 {cleaned_up_to}"


def test_log_config_from_topic_configs():
    config = LogConfig.from_topic_config({"retention.ms": 5, "cleanup.policy": ["compact", "delete"],
                                          "preallocate": True}, LogConfig(segment_bytes=7))
    assert (config.retention_ms, config.segment_bytes, config.compact, config.delete) == (5, 7, True, True)
    assert config.cleanup_policy == "compact,delete" and not hasattr(config, "preallocate")
    assert not LogConfig().compact and LogConfig().delete
