"""Runs the Java programs beside this file as single-file source programs
(the JDK compiles them in memory; no build step) with a given kafka-clients
version from compat.kafka_jars (Maven Central, cached)."""
from __future__ import annotations

import subprocess
from pathlib import Path

from compat import jvm, kafka_jars

VERSIONS = ["3.9.1", kafka_jars.DEFAULT_VERSION]


def command(program: str, version: str, *args: str) -> list[str]:
    source = Path(__file__).with_name(f"{program}.java")
    return [jvm.java(), *jvm.FAST_START, *kafka_jars.logging_options(version), "-cp", kafka_jars.classpath(version),
            str(source), *args]


def run(program: str, version: str, *args: str, timeout: float = 120) -> list[str]:
    """The program's output lines; fails the test when it does not exit 0."""
    result = subprocess.run(command(program, version, *args), capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{program} with kafka-clients {version} failed:\n{result.stderr[-4000:]}"
    return result.stdout.splitlines()
