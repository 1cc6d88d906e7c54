"""Runs ExactlyOnce.java (beside this file) with a given kafka-clients
version, as a single-file source program: no build step, the JDK compiles it
in memory. The jars come from compat.kafka_jars (Maven Central, cached)."""
from __future__ import annotations

import subprocess
from pathlib import Path

from compat import jvm, kafka_jars

SOURCE = Path(__file__).with_name("ExactlyOnce.java")
VERSIONS = ["3.9.1", kafka_jars.DEFAULT_VERSION]


def run(version: str, bootstrap: str, scenario: str, topic: str, timeout: float = 120) -> dict[str, str]:
    """The program's output lines as {first word: the rest}."""
    command = [jvm.java(), *jvm.FAST_START, *kafka_jars.logging_options(version), "-cp",
               kafka_jars.classpath(version), str(SOURCE), bootstrap, scenario, topic]
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{scenario} with kafka-clients {version} failed:\n{result.stderr[-4000:]}"
    return dict(line.split(" ", 1) for line in result.stdout.splitlines() if " " in line)
