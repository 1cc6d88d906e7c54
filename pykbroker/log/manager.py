"""The broker's log directories and every partition log in them.

Each directory is locked (``.lock``, flock) so two brokers cannot share it,
holds one ``<topic>-<partition>`` directory per log, and the checkpoints
Kafka keeps there: ``recovery-point-offset-checkpoint``,
``log-start-offset-checkpoint`` and ``cleaner-offset-checkpoint``. A clean
shutdown leaves ``.kafka_cleanshutdown`` so the next start skips recovery.

The broker calls from its event loop ``enforce_retention`` every
log.retention.check.interval.ms and ``periodic`` often (every second): it
flushes logs by flush.ms, writes the checkpoints every
log.flush.offset.checkpoint.interval.ms, starts compaction every
log.cleaner.backoff.ms, forgets idle producers every
producer.id.expiration.check.interval.ms and runs the file deletions
file.delete.delay.ms postponed. The steps are public too, for callers that
schedule them apart.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import fcntl
import logging
import os
import re
import shutil
import uuid
from typing import Any, Callable

from .checkpoints import CheckpointError, fsync_dir, read_offsets, write_offsets
from .cleaner import prepare_clean
from .errors import LogDirLocked
from .log_config import LogConfig
from .partition_log import PartitionLog, RunBlocking, time_ms, parse_partition_dir, run_inline, unlink_all

log = logging.getLogger(__name__)

LOCK_FILE = ".lock"
CLEAN_SHUTDOWN_FILE = ".kafka_cleanshutdown"
RECOVERY_POINT_CHECKPOINT = "recovery-point-offset-checkpoint"
LOG_START_OFFSET_CHECKPOINT = "log-start-offset-checkpoint"
CLEANER_CHECKPOINT = "cleaner-offset-checkpoint"
_DELETED_DIR = re.compile(r"^(.+)-(\d+)\.([0-9a-f]{32})-delete$")

TopicPartition = tuple[str, int]


def executor_runner(loop: asyncio.AbstractEventLoop,
                    executor: concurrent.futures.Executor | None = None) -> RunBlocking:
    """A ``run_blocking`` that runs work in ``executor`` (the loop's default
    if None) and its completion back on ``loop``."""
    def run(work: Callable[[], Any], done: Callable[[Any], None]) -> None:
        def finished(future: asyncio.Future) -> None:
            if future.cancelled():
                return
            if future.exception() is not None:
                log.error("background log work failed", exc_info=future.exception())
                return
            done(future.result())

        loop.run_in_executor(executor, work).add_done_callback(finished)
    return run


def _read_offsets_or_empty(path: str) -> dict[TopicPartition, int]:
    try:
        return read_offsets(path)
    except CheckpointError as e:
        log.warning("ignoring %s", e)
        return {}


class LogManager:
    def __init__(self, log_dirs: list[str], *, config_for: Callable[[str], LogConfig] = lambda topic: LogConfig(),
                 run_blocking: RunBlocking = run_inline, clock: Callable[[], int] = time_ms,
                 checkpoint_interval_ms: int = 60_000, cleaner_backoff_ms: int = 15_000,
                 cleaner_enabled: bool = True, producer_expiration_check_ms: int = 600_000):
        """Lock ``log_dirs`` and load every log in them. ``config_for(topic)``
        gives the configuration of logs found there (the broker sets
        ``log.config`` on each afterwards if it knows better)."""
        self.log_dirs = [os.path.abspath(d) for d in log_dirs]
        self._config_for = config_for
        self._run_blocking = run_blocking
        self._clock = clock
        self.checkpoint_interval_ms = checkpoint_interval_ms
        self.cleaner_backoff_ms = cleaner_backoff_ms
        self.cleaner_enabled = cleaner_enabled
        self.producer_expiration_check_ms = producer_expiration_check_ms
        self._next_producer_expiry_ms = clock() + producer_expiration_check_ms
        self._next_checkpoint_ms = clock() + checkpoint_interval_ms
        self._next_clean_ms = clock()
        self._lock_fds: list[int] = []
        self._logs: dict[TopicPartition, PartitionLog] = {}
        self._cleaner_offsets: dict[TopicPartition, int] = {}
        self._cleaning: set[TopicPartition] = set()
        self._checkpointing: set[str] = set()
        self._pending_deletes: list[tuple[int, Callable[[], None]]] = []
        try:
            for d in self.log_dirs:
                os.makedirs(d, exist_ok=True)
                self._lock(d)
            for d in self.log_dirs:
                self._load_dir(d)
        except BaseException:
            self._release_locks()
            raise

    def _lock(self, d: str) -> None:
        fd = os.open(os.path.join(d, LOCK_FILE), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise LogDirLocked(f"log directory {d} is in use by another process (it holds {d}/{LOCK_FILE}); "
                               "is another broker running on it?") from None
        self._lock_fds.append(fd)

    def _release_locks(self) -> None:
        for fd in self._lock_fds:
            os.close(fd)
        self._lock_fds.clear()

    def _load_dir(self, d: str) -> None:
        marker = os.path.join(d, CLEAN_SHUTDOWN_FILE)
        clean = os.path.exists(marker)
        recovery_points = _read_offsets_or_empty(os.path.join(d, RECOVERY_POINT_CHECKPOINT))
        start_offsets = _read_offsets_or_empty(os.path.join(d, LOG_START_OFFSET_CHECKPOINT))
        self._cleaner_offsets.update(_read_offsets_or_empty(os.path.join(d, CLEANER_CHECKPOINT)))
        for name in sorted(os.listdir(d)):
            path = os.path.join(d, name)
            if not os.path.isdir(path):
                if name.endswith(".tmp"):     # a checkpoint write cut short
                    os.unlink(path)
                continue
            if _DELETED_DIR.match(name):
                # A deletion the last run did not finish.
                self._schedule(0, lambda path=path: shutil.rmtree(path, ignore_errors=True))
                continue
            tp = parse_partition_dir(name)
            if tp is None:
                continue
            if tp in self._logs:
                raise RuntimeError(f"duplicate log directories for {tp[0]}-{tp[1]}: {self._logs[tp].dir} and {path}")
            self._logs[tp] = self._open(path, self._config_for(tp[0]), recovery_point=recovery_points.get(tp, 0),
                                        log_start_offset=start_offsets.get(tp, 0), clean_shutdown=clean)
        if clean:
            os.unlink(marker)
            fsync_dir(d)
        log.info("loaded %d logs from %s (%s shutdown)", sum(1 for l in self._logs.values()
                                                             if os.path.dirname(l.dir) == d),
                 d, "clean" if clean else "unclean")
        self.delete_expired_files()

    def _open(self, path: str, config: LogConfig, **kwargs) -> PartitionLog:
        return PartitionLog.open(path, config, run_blocking=self._run_blocking,
                                 delete_files=self._delete_later, clock=self._clock, **kwargs)

    # -- the logs ------------------------------------------------------------

    def get_log(self, topic: str, partition: int) -> PartitionLog | None:
        return self._logs.get((topic, partition))

    @property
    def logs(self) -> dict[TopicPartition, PartitionLog]:
        return dict(self._logs)

    def stray_logs(self, wanted: set[TopicPartition]) -> list[TopicPartition]:
        """The logs on disk that are not in ``wanted`` (partitions this broker
        no longer hosts)."""
        return sorted(tp for tp in self._logs if tp not in wanted)

    def get_or_create_log(self, topic: str, partition: int, config: LogConfig) -> PartitionLog:
        """The log of ``topic``-``partition``, created in the directory holding
        the fewest logs if it does not exist yet."""
        existing = self._logs.get((topic, partition))
        if existing is not None:
            return existing
        counts = {d: 0 for d in self.log_dirs}
        for l in self._logs.values():
            counts[os.path.dirname(l.dir)] += 1
        d = min(self.log_dirs, key=counts.__getitem__)
        path = os.path.join(d, f"{topic}-{partition}")
        created = self._open(path, config)
        fsync_dir(d)
        self._logs[(topic, partition)] = created
        return created

    def delete_log(self, topic: str, partition: int) -> None:
        """Rename the log's directory to ``<topic>-<partition>.<uuid>-delete``
        (gone for readers at once) and remove it file.delete.delay.ms later;
        a restart finishes what a crash interrupted."""
        tp = (topic, partition)
        doomed = self._logs.pop(tp, None)
        if doomed is None:
            return
        self._cleaner_offsets.pop(tp, None)
        doomed.close(flush=False)
        parent = os.path.dirname(doomed.dir)
        renamed = os.path.join(parent, f"{topic}-{partition}.{uuid.uuid4().hex}-delete")
        os.rename(doomed.dir, renamed)
        fsync_dir(parent)
        self._schedule(doomed.config.file_delete_delay_ms, lambda: shutil.rmtree(renamed, ignore_errors=True))

    # -- deferred deletion ----------------------------------------------------

    def _delete_later(self, paths: list[str], delay_ms: int) -> None:
        self._schedule(delay_ms, lambda: unlink_all(paths))

    def _schedule(self, delay_ms: int, work: Callable[[], None]) -> None:
        self._pending_deletes.append((self._clock() + delay_ms, work))

    def delete_expired_files(self, now_ms: int | None = None) -> None:
        """Run the file deletions whose delay is over."""
        now = self._clock() if now_ms is None else now_ms
        due = [work for at, work in self._pending_deletes if at <= now]
        self._pending_deletes = [(at, work) for at, work in self._pending_deletes if at > now]
        for work in due:
            self._run_blocking(work, lambda _: None)

    # -- periodic work --------------------------------------------------------

    def periodic(self, now_ms: int | None = None) -> None:
        """The frequent housekeeping (see the module's docstring)."""
        now = self._clock() if now_ms is None else now_ms
        self.flush_dirty_logs(now)
        if now >= self._next_checkpoint_ms:
            self.write_checkpoints()
            self._next_checkpoint_ms = now + self.checkpoint_interval_ms
        if self.cleaner_enabled and now >= self._next_clean_ms:
            self.clean_logs(now)
            self._next_clean_ms = now + self.cleaner_backoff_ms
        if now >= self._next_producer_expiry_ms:
            for l in self._logs.values():
                l.remove_expired_producers(now)
            self._next_producer_expiry_ms = now + self.producer_expiration_check_ms
        self.delete_expired_files(now)

    def enforce_retention(self, now_ms: int | None = None,
                     high_watermark: Callable[[str, int], int | None] | None = None) -> int:
        """Retention for every log; ``high_watermark(topic, partition)`` bounds
        what may go (None: the log end offset). Returns segments deleted."""
        now = self._clock() if now_ms is None else now_ms
        deleted = 0
        for (topic, partition), l in list(self._logs.items()):
            hw = high_watermark(topic, partition) if high_watermark else None
            deleted += l.delete_old_segments(now, hw)
        return deleted

    def flush_dirty_logs(self, now_ms: int | None = None) -> None:
        """Flush the logs whose flush.ms has passed since their last flush."""
        now = self._clock() if now_ms is None else now_ms
        for l in self._logs.values():
            if now - l.last_flush_ms >= l.config.flush_ms:
                l.flush()

    def write_checkpoints(self, *, inline: bool = False) -> None:
        """Write each directory's recovery point, log start offset and cleaner
        checkpoints (skipping a directory whose previous write is unfinished)."""
        for d in self.log_dirs:
            if d in self._checkpointing:
                continue
            logs = {tp: l for tp, l in self._logs.items() if os.path.dirname(l.dir) == d}
            recovery = {tp: l.recovery_point for tp, l in logs.items()}
            starts = {tp: l.log_start_offset for tp, l in logs.items()}
            cleaner = {tp: o for tp, o in self._cleaner_offsets.items() if tp in logs}

            def work(d=d, recovery=recovery, starts=starts, cleaner=cleaner) -> None:
                try:
                    write_offsets(os.path.join(d, RECOVERY_POINT_CHECKPOINT), recovery)
                    write_offsets(os.path.join(d, LOG_START_OFFSET_CHECKPOINT), starts)
                    write_offsets(os.path.join(d, CLEANER_CHECKPOINT), cleaner)
                except OSError:
                    log.exception("cannot write the checkpoints of %s", d)

            self._checkpointing.add(d)
            (run_inline if inline else self._run_blocking)(work, lambda _, d=d: self._checkpointing.discard(d))

    def clean_logs(self, now_ms: int | None = None,
                   last_stable_offset: Callable[[str, int], int | None] | None = None) -> int:
        """Start compaction of the compacted logs that need it; cleaning
        stops below ``last_stable_offset(topic, partition)`` (None: log end).
        Returns how many cleanings were started."""
        now = self._clock() if now_ms is None else now_ms
        started = 0
        for tp, l in list(self._logs.items()):
            if not l.config.compact or tp in self._cleaning:
                continue
            job = prepare_clean(l, self._cleaner_offsets.get(tp, 0), now,
                                last_stable_offset(*tp) if last_stable_offset else None)
            if job is None:
                continue
            self._cleaning.add(tp)
            started += 1

            def work(l=l, job=job):
                try:
                    return job.run()
                except Exception:
                    # Leftover .cleaned files go when the log is next opened.
                    log.exception("cleaning %s failed", l)
                    return None

            def done(result, tp=tp, l=l, job=job) -> None:
                self._cleaning.discard(tp)
                if result is not None and self._logs.get(tp) is l and job.commit(l, result):
                    self._cleaner_offsets[tp] = job.end_offset

            self._run_blocking(work, done)
        return started

    def shutdown(self) -> None:
        """Flush and close every log, write the checkpoints and mark each
        directory cleanly shut down, then release the locks."""
        for l in self._logs.values():
            l.close()
        self._checkpointing.clear()
        self.write_checkpoints(inline=True)
        for d in self.log_dirs:
            fd = os.open(os.path.join(d, CLEAN_SHUTDOWN_FILE), os.O_WRONLY | os.O_CREAT, 0o644)
            os.fsync(fd)
            os.close(fd)
            fsync_dir(d)
        self._logs.clear()
        self._release_locks()
