"""pykbroker against Apache Kafka: for each workload, start each broker in
turn on this machine, run the workload against it with the same clients, and
print both figures and their ratio.

    python -m bench.run                       # the full run (about an hour)
    python -m bench.run --quick               # a smoke run: small sizes, one run each
    python -m bench.run --only startup,produce --target pykbroker
    python -m bench.run --docs                # also write docs/performance.md and .png
    python -m bench.run --target pykbroker --only produce --profile profiles/

Workloads: startup, produce, consume, latency, e2e, clients, many. The raw
figures go to bench/results/ (JSON, for ``python -m bench.report``).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shlex
import subprocess
import sys
import time
import traceback
from contextlib import nullcontext
from datetime import datetime, timezone
from pathlib import Path

from compat import kafka_jars
from compat.jvm import java

from . import report, workloads
from .profile import recording
from .targets import REPO, machine_busy_seconds, make
from .workloads import FULL, QUICK, WORKLOADS, Recorder, Session

RESULTS = Path(__file__).resolve().parent / "results"


class TargetFigures:
    """What the runs against one broker have gathered."""

    def __init__(self):
        self.recorder = Recorder()
        self.errors: list[dict] = []
        self.seconds = 0.0
        self.background: dict[str, float] = {}  # workload -> cores busy with other processes

    def as_json(self) -> dict:
        return {"values": [[dataclasses.asdict(metric), runs] for metric, runs in self.recorder.values.items()],
                "errors": self.errors, "seconds": self.seconds, "background_cores": self.background}


def measure(target_name: str, workload: str, settings: workloads.Settings, kafka_heap: str,
            profile_dir: Path | None, figures: TargetFigures) -> None:
    """One workload against a broker started for it ("startup" starts its own),
    and how busy the rest of the machine was meanwhile."""
    print(f"== {workload} on {target_name}", flush=True)
    started, machine, ours = time.monotonic(), machine_busy_seconds(), _own_cpu()

    def on_a_broker() -> None:
        target = make(target_name, kafka_heap)
        target.start()
        try:
            session = Session(target, settings, figures.recorder)
            try:
                workloads.warm_up(session)
                with recording(target.pid, profile_dir, workload) \
                        if profile_dir is not None and target_name == "pykbroker" else nullcontext():
                    WORKLOADS[workload](session)
            finally:
                session.close()
        finally:
            target.stop()

    if workload == "startup":
        _attempt(workload, figures.errors, lambda: workloads.startup(target_name, settings, figures.recorder,
                                                                      kafka_heap))
    else:
        _attempt(workload, figures.errors, on_a_broker)
    seconds = time.monotonic() - started
    others = (machine_busy_seconds() - machine) - (_own_cpu() - ours)
    figures.seconds += seconds
    figures.background[workload] = max(others, 0.0) / seconds


def _attempt(name: str, errors: list, work) -> None:
    """Run a workload; a failure is reported and the next workload still runs."""
    try:
        work()
    except Exception as e:
        print(f"  !! {name} failed: {e}", flush=True)
        traceback.print_exc()
        errors.append({"workload": name, "error": str(e)[-3000:]})


def _own_cpu() -> float:
    """CPU time of this process and its finished children: the brokers and clients it ran."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def environment(kafka_heap: str) -> dict:
    from importlib.metadata import version
    import confluent_kafka

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory_kb = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                         if line.startswith("MemTotal")))
    os_release = dict(line.split("=", 1) for line in Path("/etc/os-release").read_text().splitlines() if "=" in line)
    java_version = subprocess.run([java(), "-version"], capture_output=True, text=True).stderr.splitlines()
    commit = _git("rev-parse", "--short", "HEAD")
    dirty = " with uncommitted changes" if _git("status", "--porcelain", "--untracked-files=no") else ""
    return {
        "cpu": cpu, "cores": os.cpu_count(), "memory": f"{memory_kb / 1024 / 1024:.1f} GB",
        "os": os_release.get("PRETTY_NAME", "?").strip('"'), "kernel": platform.release(),
        "python": platform.python_version(), "java": " ".join(java_version[:2]) if java_version else "?",
        "kafka": kafka_jars.DEFAULT_VERSION, "kafka_heap": kafka_heap,
        "pykbroker": f"{version('pykbroker')}, commit {commit}{dirty}",
        "clients": f"Kafka's Java tools {kafka_jars.DEFAULT_VERSION}, confluent-kafka {version('confluent-kafka')} "
                   f"(librdkafka {confluent_kafka.libversion()[0]}), kafka-python {version('kafka-python')}",
    }


def _git(*args: str) -> str:
    result = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else "?"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, one run of each: a smoke run")
    parser.add_argument("--only", default=",".join(WORKLOADS),
                        help=f"comma-separated workloads (default: all of {','.join(WORKLOADS)})")
    parser.add_argument("--target", choices=("both", "pykbroker", "kafka"), default="both")
    parser.add_argument("--runs", type=int, help="runs of each measurement (default: 3, 1 with --quick)")
    parser.add_argument("--kafka-heap", default="1G", help="Kafka's -Xmx/-Xms (kafka-server-start.sh: 1G)")
    parser.add_argument("--docs", action="store_true", help="write docs/performance.md and docs/performance.png")
    parser.add_argument("--profile", type=Path, metavar="DIR",
                        help="record py-spy profiles of pykbroker per workload into DIR")
    parser.add_argument("--save", type=Path, help="where to save the raw figures (default: bench/results/)")
    options = parser.parse_args(argv)
    selected = [name.strip() for name in options.only.split(",") if name.strip()]
    unknown = [name for name in selected if name not in WORKLOADS]
    if unknown:
        parser.error(f"unknown workloads {unknown}; known: {', '.join(WORKLOADS)}")
    selected = [name for name in WORKLOADS if name in selected]
    settings = QUICK if options.quick else FULL
    if options.runs:
        settings = dataclasses.replace(settings, runs=options.runs)
    targets = ("pykbroker", "kafka") if options.target == "both" else (options.target,)

    started = time.monotonic()
    results = {
        "command": shlex.join(["python", "-m", "bench.run", *(sys.argv[1:] if argv is None else argv)]),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "environment": environment(options.kafka_heap),
        "settings": dataclasses.asdict(settings),
        "workloads": selected,
        "targets": {},
    }
    # Workload by workload, each broker in turn: on a machine that other work
    # shares, both brokers of a row are measured close together in time.
    figures = {target: TargetFigures() for target in targets}
    for workload in selected:
        for target in targets:
            measure(target, workload, settings, options.kafka_heap, options.profile, figures[target])
    results["targets"] = {target: figures[target].as_json() for target in targets}
    results["seconds"] = time.monotonic() - started

    save = options.save or RESULTS / f"{datetime.now().strftime('%Y%m%d-%H%M%S')}.json"
    save.parent.mkdir(parents=True, exist_ok=True)
    save.write_text(json.dumps(results, indent=1))
    print()
    report.print_table(results)
    failures = [(t, e) for t, r in results["targets"].items() for e in r["errors"]]
    for target, error in failures:
        print(f"FAILED on {target}: {error['workload']}: {error['error'].splitlines()[0] if error['error'] else ''}")
    print(f"\n{results['seconds'] / 60:.1f} minutes; figures saved to {save}")
    if options.docs:
        report.write_docs(results)
        print(f"wrote {report.DOCS / 'performance.md'} and {report.DOCS / 'performance.png'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
