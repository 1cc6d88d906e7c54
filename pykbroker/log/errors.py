"""Exceptions of the log layer; the broker maps them to Kafka error codes."""


class OffsetOutOfRange(Exception):
    """OFFSET_OUT_OF_RANGE: the offset is outside [log start, log end]."""

    def __init__(self, offset: int, log_start_offset: int, log_end_offset: int):
        super().__init__(f"offset {offset} is outside the log's range "
                         f"[{log_start_offset}, {log_end_offset}]")
        self.offset = offset
        self.log_start_offset = log_start_offset
        self.log_end_offset = log_end_offset


class UnexpectedAppendOffset(ValueError):
    """A replicated append whose offsets are below the log end offset or not increasing."""


class LogDirLocked(RuntimeError):
    """Another process holds the lock on a log directory."""
