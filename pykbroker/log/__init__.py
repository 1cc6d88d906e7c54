"""Partition logs on disk in Kafka's layout: segments and sparse indexes,
leader epoch cache, crash recovery, retention, compaction, log directories."""
from .errors import LogDirLocked, OffsetOutOfRange, UnexpectedAppendOffset
from .log_config import LogConfig
from .manager import LogManager, executor_runner
from .partition_log import AppendInfo, PartitionLog, run_inline

__all__ = ["AppendInfo", "LogConfig", "LogDirLocked", "LogManager", "OffsetOutOfRange", "PartitionLog",
           "UnexpectedAppendOffset", "executor_runner", "run_inline"]
