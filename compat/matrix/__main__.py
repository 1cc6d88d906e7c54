"""python -m compat.matrix [--target pykbroker|kafka] [--bootstrap HOST:PORT]
                          [--only PATTERN ...] [--core] [--list] [--no-docs | --docs]"""
from __future__ import annotations

import argparse
import sys
import time
from fnmatch import fnmatch

from . import report, scenarios  # noqa: F401  (registers every scenario)
from .explained import explanation
from .runner import Result, run_scenarios
from .scenario import SCENARIOS, Scenario
from .targets import ExternalTarget, make


def select(patterns: list[str] | None, core: bool) -> list[Scenario]:
    """Scenarios whose id matches a pattern: an fnmatch pattern of ids, a client
    name, or a part of an id."""
    chosen = [s for s in SCENARIOS.values() if not core or s.core]
    if patterns:
        chosen = [s for s in chosen if any(fnmatch(s.id, p) or s.client.name == p or p in s.id for p in patterns)]
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m compat.matrix",
                                     description="Run stock Kafka clients through the compatibility scenarios.")
    parser.add_argument("--target", choices=("pykbroker", "kafka"), default="pykbroker",
                        help="the broker to start and test (default pykbroker)")
    parser.add_argument("--bootstrap", help="test a broker already running here instead of starting one "
                        "(results are recorded under --target)")
    parser.add_argument("--only", nargs="+", metavar="PATTERN", help="scenario ids, fnmatch patterns or clients")
    parser.add_argument("--core", action="store_true", help="only the fast core that CI runs")
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    parser.add_argument("--no-docs", action="store_true", help="do not rewrite docs/compatibility.md")
    parser.add_argument("--docs", action="store_true",
                        help="only rewrite docs/compatibility.md from the recorded results")
    options = parser.parse_args(argv)
    if options.docs:
        print(f"wrote {report.write_docs()}")
        return 0

    chosen = select(options.only, options.core)
    if options.list:
        for s in chosen:
            print(f"{s.id:50} {'core ' if s.core else '     '}{s.description}")
        return 0
    if not chosen:
        parser.error("no scenario matches")

    target = ExternalTarget(options.bootstrap, options.target) if options.bootstrap else make(options.target)
    started = time.monotonic()
    print(f"starting {options.target} ...", flush=True)
    target.start()
    print(f"{target.version} at {target.bootstrap_servers}; {len(chosen)} scenarios", flush=True)

    def progress(scenario: Scenario, result: Result) -> None:
        first = result.reason.strip().splitlines()[0][:150] if result.reason else ""
        print(f"{result.status.upper():4} {scenario.id:48} {result.seconds:6.1f}s  {first}", flush=True)

    try:
        results = run_scenarios(target, chosen, progress)
    finally:
        target.close()
    seconds = time.monotonic() - started
    report.save(options.target, target.version, results, seconds, replace=not options.only and not options.core)
    if not options.no_docs:
        print(f"wrote {report.write_docs()}")

    failed = [sid for sid, r in results.items() if r.status == "fail"]
    explained = [sid for sid in failed if options.target == "pykbroker" and explanation(sid)]
    stale = [sid for sid, r in results.items()
             if r.status == "pass" and options.target == "pykbroker" and explanation(sid)]
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed "
          f"({len(explained)} explained) in {seconds:.0f}s against {target.version}")
    for sid in stale:
        print(f"note: {sid} passes now; drop its entry from compat/matrix/explained.py")
    return 1 if set(failed) - set(explained) else 0


if __name__ == "__main__":
    sys.exit(main())
