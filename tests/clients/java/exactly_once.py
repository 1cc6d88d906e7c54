"""ExactlyOnce.java (beside this file): transactions with the Java client."""
from __future__ import annotations

from .programs import VERSIONS, run as run_program

__all__ = ["VERSIONS", "run"]


def run(version: str, bootstrap: str, scenario: str, topic: str, timeout: float = 120) -> dict[str, str]:
    """The program's output lines as {first word: the rest}."""
    lines = run_program("ExactlyOnce", version, bootstrap, scenario, topic, timeout=timeout)
    return dict(line.split(" ", 1) for line in lines if " " in line)
