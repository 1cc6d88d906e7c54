"""Kafka's text checkpoint files.

All share one shape: a version line (0), a count line, then one entry per
line with space-separated fields. Offset checkpoints
(``recovery-point-offset-checkpoint``, ``log-start-offset-checkpoint``,
``cleaner-offset-checkpoint``, ``replication-offset-checkpoint``) hold
``topic partition offset``; ``leader-epoch-checkpoint`` holds
``epoch startOffset``. Files are replaced atomically (write, fsync, rename).
"""
from __future__ import annotations

import os
import threading

VERSION = 0


class CheckpointError(ValueError):
    pass


def fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_checkpoint(path: str, entries: list[tuple]) -> None:
    text = f"{VERSION}\n{len(entries)}\n" + "".join(" ".join(map(str, e)) + "\n" for e in entries)
    # Unique per writer: a background write may still be running when
    # shutdown writes the same file.
    tmp = f"{path}.{os.getpid()}-{threading.get_ident()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, text.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_dir(os.path.dirname(path) or ".")


def read_checkpoint(path: str, fields: int) -> list[list[str]]:
    """The entries of a checkpoint file, [] when it does not exist."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return []
    if len(lines) < 2 or lines[0].strip() != str(VERSION):
        raise CheckpointError(f"{path}: unrecognised version line")
    try:
        count = int(lines[1])
    except ValueError:
        raise CheckpointError(f"{path}: bad count line {lines[1]!r}") from None
    entries = [line.split() for line in lines[2:] if line.strip()]
    if len(entries) != count or any(len(e) != fields for e in entries):
        raise CheckpointError(f"{path}: expected {count} entries of {fields} fields")
    return entries


def read_offsets(path: str) -> dict[tuple[str, int], int]:
    entries = read_checkpoint(path, 3)
    try:
        return {(t, int(p)): int(o) for t, p, o in entries}
    except ValueError:
        raise CheckpointError(f"{path}: non-numeric partition or offset") from None


def write_offsets(path: str, offsets: dict[tuple[str, int], int]) -> None:
    write_checkpoint(path, [(t, p, o) for (t, p), o in sorted(offsets.items())])
