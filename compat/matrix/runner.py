"""Runs scenarios one after another against a started target and records,
per scenario, pass or fail, how long it took, and why it failed: the
scenario's own message plus what the broker logged meanwhile (pykbroker)."""
from __future__ import annotations

import secrets
import shutil
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from .context import Context
from .scenario import Failed, Scenario


@dataclass
class Result:
    status: str          # "pass" or "fail"
    seconds: float
    reason: str = ""     # why it failed, as the client or the check saw it
    broker_log: str = ""  # the broker's warnings and errors meanwhile
    broker: str = ""     # the broker, where it was not the target's default version

    def as_dict(self) -> dict:
        return {key: value for key, value in asdict(self).items() if value != ""}


def run_scenarios(target, scenarios: Sequence[Scenario],
                  report: Callable[[Scenario, Result], None] = lambda s, r: None) -> dict[str, Result]:
    run_token = secrets.token_hex(2)  # names stay unique when a broker outlives a run
    prepared: dict[str, str | None] = {}
    results: dict[str, Result] = {}
    for scenario in scenarios:
        client = scenario.client.name
        if client not in prepared:
            prepared[client] = _prepare(scenario)
        if prepared[client] is not None:
            result = Result("fail", 0.0, f"setup: {prepared[client]}")
        else:
            result = run_scenario(target, scenario, run_token, prepare=False)
        results[scenario.id] = result
        report(scenario, result)
    return results


def run_scenario(target, scenario: Scenario, run_token: str | None = None, prepare: bool = True) -> Result:
    """One scenario against ``target`` (or the older Kafka it asks for), its
    client prepared first (builds are cached) unless ``prepare`` is False."""
    problem = _prepare(scenario) if prepare else None
    if problem is not None:
        return Result("fail", 0.0, f"setup: {problem}")
    broker = target.for_version(scenario.kafka_version)
    prefix = f"m{run_token or secrets.token_hex(2)}-{scenario.id.replace('/', '-')}"
    result = _run_one(broker, scenario, prefix)
    if broker is not target:
        result.broker = broker.version
    return result


def _prepare(scenario: Scenario) -> str | None:
    try:
        scenario.client.prepare()
        return None
    except Exception as error:  # a build that fails fails every scenario of that client
        return f"preparing {scenario.client.title} failed: {error}"


def _run_one(target, scenario: Scenario, prefix: str) -> Result:
    workdir = Path(tempfile.mkdtemp(prefix=f"{prefix}-"))
    started = time.monotonic()
    context = Context(target.bootstrap_servers, prefix, started + scenario.timeout, workdir)
    log_position = target.log_size()
    outcome: list[BaseException | None] = []

    def body():
        try:
            scenario.function(context)
            outcome.append(None)
        except BaseException as error:  # reported as the cell's reason
            outcome.append(error)

    thread = threading.Thread(target=body, name=scenario.id, daemon=True)
    thread.start()
    thread.join(scenario.timeout + 5)
    context.close()  # stops what it started, which also unblocks a hung scenario
    thread.join(30)
    seconds = round(time.monotonic() - started, 1)

    if not outcome:
        reason = f"timed out after {scenario.timeout:.0f}s"
    elif outcome[0] is None:
        reason = ""
    elif isinstance(outcome[0], (Failed, AssertionError, TimeoutError)):
        reason = str(outcome[0]) or type(outcome[0]).__name__
    else:
        reason = "".join(traceback.format_exception(outcome[0]))[-3000:]

    if not target.alive():
        reason = f"the broker died:\n{target.log_tail()}\n{reason}".strip()
        target.start()
    broker_log = target.log_since(log_position) if reason else ""
    shutil.rmtree(workdir, ignore_errors=True)
    return Result("fail" if reason else "pass", seconds, reason.strip(), broker_log)
