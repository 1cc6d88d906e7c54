"""Sampling profiles of the pykbroker process while a workload runs, with
py-spy: the collapsed stacks (``WORKLOAD.txt``, for flamegraph.pl or
speedscope) and a summary of where the samples fall (``WORKLOAD-top.txt``):
the functions by own samples (the frame on top) and by inclusive samples
(anywhere on the stack). Idle threads (the event loop waiting) are left out,
so the percentages are of the time the broker was busy.

    python -m bench.profile profiles/produce.txt      # summarise a saved profile
"""
from __future__ import annotations

import signal
import subprocess
import sys
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

from .targets import ProcessMeter


@contextmanager
def recording(pid: int, directory: Path, name: str, rate: int = 100):
    directory.mkdir(parents=True, exist_ok=True)
    stacks = directory / f"{name}.txt"
    spy = subprocess.Popen(["py-spy", "record", "--pid", str(pid), "--format", "raw", "--nolineno",
                            "--rate", str(rate), "--output", str(stacks)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    with ProcessMeter(pid) as meter:
        try:
            yield
        finally:
            spy.send_signal(signal.SIGINT)  # py-spy writes its output when interrupted
            _, errors = spy.communicate(timeout=60)
    if not stacks.exists():
        raise RuntimeError(f"py-spy wrote no profile: {errors[-2000:]}")
    busy = (f"over {meter.seconds:.0f} s the broker was on a CPU {100 * meter.cpu / meter.seconds:.0f}% of the time "
            f"and waited for one {100 * meter.waited / meter.seconds:.0f}%")
    (directory / f"{name}-top.txt").write_text(f"{name}: {busy}\n{summary(stacks)}")


def summary(stacks: Path, top: int = 30) -> str:
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in stacks.read_text().splitlines():
        trace, _, count = line.rpartition(" ")
        if not trace:
            continue
        samples = int(count)
        frames = trace.split(";")
        total += samples
        own[frames[-1]] += samples
        for frame in set(frames):
            inclusive[frame] += samples
    if not total:
        return "no samples\n"
    out = [f"{total} samples while busy", "", "own (top of stack):"]
    out += [f"  {100 * n / total:5.1f}%  {frame}" for frame, n in own.most_common(top)]
    out += ["", "inclusive (anywhere on the stack):"]
    out += [f"  {100 * n / total:5.1f}%  {frame}" for frame, n in inclusive.most_common(top)]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(summary(Path(sys.argv[1])))
