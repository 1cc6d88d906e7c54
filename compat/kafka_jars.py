"""Apache Kafka's jars from Maven Central, resolved once per version.

The first call for a version writes a small pom naming the broker (kafka_2.13),
the CLI tools (kafka-tools) and the clients, lets Maven copy their runtime
dependencies into ~/.cache/pykbroker/kafka-<version>/lib, and adds the SLF4J
binding the binary distribution ships. Later calls only list that directory.

    python -m compat.kafka_jars [--version 4.4.0]    # prints the classpath
"""
from __future__ import annotations

import argparse
import fcntl
import functools
import os
import shutil
import subprocess
import zipfile
from contextlib import contextmanager
from pathlib import Path

DEFAULT_VERSION = "4.4.0"
ARTIFACTS = ("kafka_2.13", "kafka-tools", "kafka-clients")
# Pinned: Maven 3.8's default dependency plugin (2.8) predates Java 17.
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"

POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.pykbroker</groupId>
  <artifactId>apache-kafka-runtime</artifactId>
  <version>{version}</version>
  <packaging>pom</packaging>
  <dependencies>
{dependencies}
  </dependencies>
</project>
"""
DEPENDENCY = ("    <dependency><groupId>org.apache.kafka</groupId>"
              "<artifactId>{artifact}</artifactId><version>{version}</version></dependency>")

# Logging as the distribution's config/tools-log4j2.yaml and config/log4j2.yaml set
# it up: tools print warnings and errors to stderr, the server logs INFO to stdout.
LOG4J2 = {
    "tools": """appender.err.type = Console
appender.err.name = STDERR
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.err.ref = STDERR
""",
    "server": """appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = STDOUT
logger.request.name = kafka.request.logger
logger.request.level = WARN
""",
}
# Kafka 3.x ships reload4j (log4j 1.2) instead.
LOG4J1 = {
    "tools": """log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
""",
    "server": """log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
""",
}


def cache_dir(version: str = DEFAULT_VERSION) -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "pykbroker" / f"kafka-{version}"


@functools.cache
def jars(version: str = DEFAULT_VERSION) -> tuple[Path, ...]:
    lib = cache_dir(version) / "lib"
    if not lib.is_dir():
        with _locked(cache_dir(version)):
            if not lib.is_dir():
                _resolve(version, lib)
    return tuple(sorted(lib.glob("*.jar")))


def classpath(version: str = DEFAULT_VERSION) -> str:
    """The classpath of the broker, the CLI tools and their logging for ``version``."""
    return os.pathsep.join(str(jar) for jar in jars(version))


@functools.cache
def kafka_classes(version: str = DEFAULT_VERSION) -> frozenset[str]:
    """Names of the classes in Kafka's own jars, e.g. 'kafka.tools.StorageTool'."""
    names = set()
    for jar in jars(version):
        if jar.name.startswith(("kafka", "connect")):
            with zipfile.ZipFile(jar) as archive:
                names.update(entry[:-6].replace("/", ".") for entry in archive.namelist()
                             if entry.endswith(".class"))
    return frozenset(names)


def logging_options(version: str = DEFAULT_VERSION, purpose: str = "tools") -> list[str]:
    """JVM options that configure logging for ``purpose``: 'tools' or 'server'."""
    log4j1 = any(jar.name.startswith("reload4j") for jar in jars(version))
    config = cache_dir(version) / f"{purpose}-log4j{'' if log4j1 else '2'}.properties"
    if not config.exists():
        temporary = config.with_suffix(f".{os.getpid()}")
        temporary.write_text((LOG4J1 if log4j1 else LOG4J2)[purpose])
        temporary.replace(config)
    if log4j1:
        return [f"-Dlog4j.configuration=file:{config}"]
    return [f"-Dlog4j2.configurationFile={config}"]


def _resolve(version: str, lib: Path) -> None:
    directory = lib.parent
    partial = directory / "lib.partial"
    shutil.rmtree(partial, ignore_errors=True)
    (directory / "pom.xml").write_text(POM.format(version=version, dependencies="\n".join(
        DEPENDENCY.format(artifact=artifact, version=version) for artifact in ARTIFACTS)))
    _maven(directory, f"{DEPENDENCY_PLUGIN}:copy-dependencies", f"-DoutputDirectory={partial}")
    binding = _missing_slf4j_binding(partial)
    if binding:
        _maven(directory, f"{DEPENDENCY_PLUGIN}:copy", f"-Dartifact={binding}",
               f"-DoutputDirectory={partial}")
    partial.rename(lib)


def _missing_slf4j_binding(lib: Path) -> str | None:
    """Kafka 4's poms bring log4j-core but leave out the log4j-slf4j-impl binding
    that its distribution ships; 3.x's kafka-tools brings slf4j-reload4j itself."""
    names = [jar.name for jar in lib.glob("*.jar")]
    if any(name.startswith(("slf4j-reload4j", "log4j-slf4j")) for name in names):
        return None
    core = [name for name in names if name.startswith("log4j-core-")]
    if not core:
        raise RuntimeError(f"no logging backend among Kafka's dependencies in {lib}")
    log4j_version = core[0][len("log4j-core-"):-len(".jar")]
    return f"org.apache.logging.log4j:log4j-slf4j-impl:{log4j_version}"


def _maven(directory: Path, *arguments: str) -> None:
    result = subprocess.run(["mvn", "-q", "-B", *arguments], cwd=directory,
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"mvn {' '.join(arguments)} failed in {directory}:\n"
                           f"{result.stdout[-4000:]}{result.stderr[-4000:]}")


@contextmanager
def _locked(directory: Path):
    """Serialise resolution between processes (pytest-xdist workers, parallel CLIs)."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", default=DEFAULT_VERSION)
    print(classpath(parser.parse_args().version))


if __name__ == "__main__":
    main()
