"""Builds of the clients' programs, redone only when their sources change:
a stamp holding the digest of the inputs sits beside each build's output.
A file lock keeps parallel runs (pytest-xdist, two matrix commands) from
building the same thing at once."""
from __future__ import annotations

import fcntl
import hashlib
import os
import re
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path

COMPAT = Path(__file__).resolve().parents[1]


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "pykbroker" / "compat"


def digest(files: Iterable[Path], root: Path) -> str:
    sha = hashlib.sha256()
    for path in sorted(files):
        sha.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return sha.hexdigest()


def sources(root: Path, *patterns: str) -> list[Path]:
    """Files under ``root`` matching ``patterns``, outside build outputs."""
    return [path for pattern in patterns for path in root.rglob(pattern)
            if path.is_file() and not {"target", "node_modules"} & set(path.relative_to(root).parts)]


def build(name: str, command: Sequence[str], cwd: Path, inputs: list[Path], stamp: Path,
          timeout: float = 1800, env: dict[str, str] | None = None) -> None:
    """Run ``command`` in ``cwd`` unless ``stamp`` records the digest of ``inputs``."""
    wanted = digest(inputs, cwd)
    if stamp.exists() and stamp.read_text() == wanted:
        return
    stamp.parent.mkdir(parents=True, exist_ok=True)
    with open(stamp.parent / f".{stamp.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.exists() and stamp.read_text() == wanted:
            return
        result = subprocess.run(list(command), cwd=cwd, capture_output=True, text=True, timeout=timeout,
                                env={**os.environ, **(env or {})})
        if result.returncode != 0:
            raise RuntimeError(f"building {name} failed ({' '.join(command)} in {cwd}):\n"
                               f"{result.stdout[-3000:]}{result.stderr[-3000:]}")
        stamp.write_text(wanted)


def maven(project: Path) -> Path:
    """``mvn package`` a project of compat/; its target directory (jar + lib/)."""
    target = project / "target"
    build(project.name, ["mvn", "-q", "-B", "package", "-DskipTests"], project,
          sources(project, "pom.xml", "*.java", "*.properties"), target / "sources.sha256")
    return target


def maven_classpath(project: Path) -> str:
    target = maven(project)
    return os.pathsep.join([*map(str, target.glob("*.jar")), str(target / "lib" / "*")])


def pom_property(project: Path, name: str) -> str:
    """A <properties> value of the project's pom.xml (the versions it builds against)."""
    match = re.search(rf"<{re.escape(name)}>([^<]+)</", (project / "pom.xml").read_text())
    return match.group(1) if match else "?"
