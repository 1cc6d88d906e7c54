"""Where java is, and the flags that make short-lived JVMs start fast."""
from __future__ import annotations

import os
import shutil

# Command-line tools and samples run for a second or two: C1 only, the class-data
# archive, the serial collector and a small heap start them noticeably faster.
# The JVM's own warnings go to stderr, never into the stdout a test compares.
FAST_START = (
    "-XX:TieredStopAtLevel=1",
    "-Xshare:auto",
    "-XX:+UseSerialGC",
    "-Xmx256M",
    "-Djava.awt.headless=true",
    "-Xlog:disable",
    "-Xlog:all=warning,cds*=off:stderr",
)


def java() -> str:
    """The java launcher: $JAVA_HOME/bin/java when JAVA_HOME is set, else the one on PATH."""
    home = os.environ.get("JAVA_HOME")
    if home:
        return os.path.join(home, "bin", "java")
    found = shutil.which("java")
    if found is None:
        raise RuntimeError("java not found: install a JDK 17+ or set JAVA_HOME")
    return found
