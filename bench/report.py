"""The results of a run: medians, the table (terminal and Markdown), the plot,
and docs/performance.md. A run's raw figures are saved as JSON so that the
documents can be rendered again without measuring:

    python -m bench.report results.json [--docs]
"""
from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from .workloads import Metric

DOCS = Path(__file__).resolve().parent.parent / "docs"
# What the figures and the profiles say, written by hand after a run.
ANALYSIS = Path(__file__).resolve().parent / "analysis.md"
TARGETS = ("pykbroker", "kafka")
TITLES = {"pykbroker": "pykbroker", "kafka": "Apache Kafka"}


class Row:
    def __init__(self, metric: Metric, values: dict[str, list[float]]):
        self.metric = metric
        self.values = values
        self.medians = {t: statistics.median(v) for t, v in values.items() if v}

    @property
    def ratio(self) -> float | None:
        py, kafka = self.medians.get("pykbroker"), self.medians.get("kafka")
        return py / kafka if py is not None and kafka else None

    def verdict(self) -> str:
        """Whether the issue's target for this row is met, empty when it has none."""
        m, ratio, py = self.metric, self.ratio, self.medians.get("pykbroker")
        checks = []
        if m.target is not None and ratio is not None:
            met = ratio >= m.target if m.higher_is_better else ratio <= m.target
            checks.append((met, f"{'≥' if m.higher_is_better else '≤'} {m.target:g}x"))
        if m.limit is not None and py is not None:
            checks.append((py < m.limit, f"< {m.limit:g} {m.unit}"))
        if not checks:
            return ""
        return " and ".join(text for _, text in checks) + (": met" if all(met for met, _ in checks) else ": MISSED")

    @property
    def better(self) -> bool | None:
        """Whether pykbroker's figure is the better one."""
        if self.ratio is None:
            return None
        return self.ratio > 1 if self.metric.higher_is_better else self.ratio < 1


def rows(results: dict) -> list[Row]:
    order: dict[tuple, Metric] = {}
    values: dict[tuple, dict[str, list[float]]] = {}
    for target in TARGETS:
        for metric_fields, runs in results["targets"].get(target, {}).get("values", []):
            metric = Metric(**metric_fields)
            key = (metric.workload, metric.name, metric.client)
            order.setdefault(key, metric)
            values.setdefault(key, {})[target] = runs
    return [Row(metric, values[key]) for key, metric in order.items()]


def _number(value: float | None) -> str:
    if value is None:
        return "–"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def _table(results: dict, spread: bool = False) -> list[list[str]]:
    """The rows as text; with ``spread``, each median followed by its runs' range."""
    present = [t for t in TARGETS if t in results["targets"]]
    header = ["workload", "measure", "client", "unit", *(TITLES[t] for t in present)]
    if len(present) == 2:
        header += ["ratio py/kafka", "target"]
    lines = [header]

    def figure(row: Row, target: str) -> str:
        runs = row.values.get(target) or []
        text = _number(row.medians.get(target))
        if spread and len(runs) > 1:
            text += f" <sub>{_number(min(runs))}–{_number(max(runs))}</sub>"
        return text

    for row in rows(results):
        m = row.metric
        line = [m.workload, m.name, m.client, m.unit, *(figure(row, t) for t in present)]
        if len(present) == 2:
            line += ["–" if row.ratio is None else f"{row.ratio:#.3g}", row.verdict()]
        lines.append(line)
    return lines


def print_table(results: dict) -> None:
    table = _table(results)
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    for number, line in enumerate(table):
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths)))
        if number == 0:
            print("  ".join("-" * width for width in widths))


def markdown_table(results: dict) -> str:
    table = _table(results, spread=True)
    out = ["| " + " | ".join(table[0]) + " |", "|" + "---|" * len(table[0])]
    out += ["| " + " | ".join(cell.replace("|", "\\|") for cell in line) + " |" for line in table[1:]]
    return "\n".join(out)


def plot(results: dict, path: Path) -> None:
    """One bar per row: the ratio pykbroker / Kafka on a log scale, green where
    pykbroker's figure is the better one, with the issue's targets marked."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = [row for row in rows(results) if row.ratio is not None]
    if not data:
        return
    figure, axes = plt.subplots(figsize=(13, 1.2 + 0.28 * len(data)))
    positions = range(len(data))[::-1]
    # Bars grow from parity (1.0) to the ratio, left or right.
    axes.barh(list(positions), [row.ratio - 1 for row in data], left=1,
              color=["#888888" if row.ratio == 1 else "#3a923a" if row.better else "#c8443a" for row in data])
    for y, row in zip(positions, data):
        m = row.metric
        label = (f"{_number(row.medians['pykbroker'])} vs {_number(row.medians['kafka'])} {m.unit}"
                 f"  ({'higher' if m.higher_is_better else 'lower'} is better)")
        axes.text(max(row.ratio, 1) * 1.08, y, label, va="center", fontsize=7)
        if m.target is not None:
            axes.plot([m.target, m.target], [y - 0.4, y + 0.4], color="black", linewidth=2)
    axes.set_yticks(list(positions))
    axes.set_yticklabels([f"{row.metric.workload}: {row.metric.name}"
                          + (f" [{row.metric.client}]" if row.metric.client else "") for row in data], fontsize=7)
    axes.set_xscale("log")
    axes.axvline(1.0, color="grey", linewidth=0.8)
    low = min(min(row.ratio for row in data), 0.01)
    high = max(max(row.ratio for row in data), 10)
    axes.set_xlim(low / 2, high * 30)
    axes.set_xlabel("pykbroker / Apache Kafka (log scale); black ticks: the targets")
    axes.set_title("pykbroker vs Apache Kafka, same machine, medians of runs "
                   "(green: pykbroker's figure better, red: Kafka's)", fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write_docs(results: dict, docs: Path = DOCS) -> None:
    docs.mkdir(exist_ok=True)
    plot(results, docs / "performance.png")
    (docs / "performance.md").write_text(_document(results))


def _document(results: dict) -> str:
    env = results["environment"]
    s = results["settings"]
    present = [t for t in TARGETS if t in results["targets"]]
    background = "\n".join(
        [f"| workload | {' | '.join(TITLES[t] for t in present)} |", "|---|" + "---|" * len(present)]
        + [f"| {w} | " + " | ".join(f"{results['targets'][t]['background_cores'].get(w, float('nan')):.2f}"
                                    for t in present) + " |" for w in results["workloads"]])
    errors = [f"- {TITLES[t]}, {e['workload']}: `{e['error'].splitlines()[0] if e['error'] else '?'}`"
              for t in present for e in results["targets"][t]["errors"]]
    failures = ("\n**Failed workloads** (their rows are missing or partial):\n\n" + "\n".join(errors) + "\n"
                if errors else "")
    analysis = ANALYSIS.read_text() if ANALYSIS.exists() else ""
    durations = ", ".join(f"{TITLES[t]} {results['targets'][t]['seconds'] / 60:.0f} min"
                          for t in TARGETS if t in results["targets"])
    return f"""# Performance: pykbroker against Apache Kafka

Measured by `{results['command']}` on {results['date']} ({results['seconds'] / 60:.0f} minutes: {durations}).
For each workload, each broker in turn is started on this machine and measured
with the same clients; every figure is the median of {s['runs']} runs (start-up:
{s['startup_cycles']} starts; the small figures are the runs' range), and the ratio is
pykbroker / Kafka from this one run.
Regenerate this page with `python -m bench.run --docs` (`--quick` for a smoke run,
`--only startup,produce ...` for a part; `python -m bench.report RESULTS.json --docs`
re-renders saved figures).

![ratios](performance.png)

{markdown_table(results)}
{failures}
{analysis}
## Machine and versions

| | |
|---|---|
| CPU | {env['cpu']} ({env['cores']} cores) |
| memory | {env['memory']} |
| OS | {env['os']}, Linux {env['kernel']} |
| Python | {env['python']} |
| Java | {env['java']} |
| Apache Kafka | {env['kafka']} (Maven Central jars, single-node KRaft, heap {env['kafka_heap']}) |
| pykbroker | {env['pykbroker']} |
| clients | {env['clients']} |

The machine was not idle: other processes kept this many of its {env['cores']} cores busy on
average while each workload ran (all CPU time minus the brokers' and the clients'):

{background}

## How each figure is measured

- **Brokers.** pykbroker: `python -m pykbroker --override listeners=PLAINTEXT://127.0.0.1:PORT
  --override log.dirs=DIR`, its defaults otherwise. Apache Kafka: broker and controller in
  one JVM, formatted with `kafka-storage format --standalone`, the distribution's
  `config/server.properties` and `kafka-server-start.sh`'s `KAFKA_HEAP_OPTS` (`-Xmx1G -Xms1G`)
  and `KAFKA_JVM_PERFORMANCE_OPTS` (`compat/apache_kafka.py`). Both on 127.0.0.1, data in
  a fresh temporary directory, started one after the other.
- **Clients.** Kafka's Java tools run exactly as `bin/kafka-*-perf-test.sh` runs them
  (`-Xmx512M` and `KAFKA_JVM_PERFORMANCE_OPTS`), with the same flags for both brokers.
  The producer keeps its defaults unless the row names a setting: idempotence on where
  acks=all allows it, `linger.ms` 5, `batch.size` 16 KB.
- **Warm-up.** Before each workload other than start-up, on a freshly started broker,
  {s['warmup_records']:,} records of 1 KB are produced and consumed unmeasured: Kafka's JIT
  compiler needs about that much traffic to compile its hot paths, as a long-running broker has.
- **Start-up** ({s['startup_cycles']} starts): from the moment the broker process exists
  (the JVM for Kafka, after the one-off `kafka-storage format`) to the first successful
  ApiVersions, and to the first acknowledged produce (acks=1, Metadata auto-creating the
  topic), probed every 5 ms by a raw-protocol client. Resident memory (VmRSS) idle is read
  2 s after that produce; under load it is the peak, sampled every 50 ms, while
  kafka-producer-perf-test writes {s['load_records']:,} records of 1 KB (acks=1) and
  kafka-consumer-perf-test reads them back.
- **Produce throughput**: kafka-producer-perf-test, {s['produce_records']:,} records of 1 KB
  unthrottled per run, to a new topic per combination; "16 KB" is the default batching
  (`batch.size` 16384, `linger.ms` 5), "1 MB linger-batched" `batch.size` 1048576 and
  `linger.ms` 50. MB/s as the tool prints it (MiB of record values).
- **Consume throughput**: kafka-consumer-perf-test (a new consumer group per run) from the
  start of a 1-partition topic of {s['consume_records']:,} records of 1 KB, written with
  16 KB batches. "after the group join" is the tool's `fetch.MB.sec`, the rate once the
  group is joined; both brokers wait `group.initial.rebalance.delay.ms` (3 s) for a new group.
- **Produce latency**: kafka-producer-perf-test at {s['latency_rate']:,} records/s of 1 KB for
  {s['latency_seconds']} s with the producer's defaults (acks=all, idempotent), after as many
  records of warm-up (`--warmup-records`: the client's JIT and first metadata); the tool's
  steady-state percentiles, in whole ms.
- **End-to-end latency**: Kafka's EndToEndLatency tool, {s['e2e_records']:,} records of 1 KB
  with acks=1, each sent only after the previous one was consumed.
- **Python clients**: confluent-kafka (librdkafka) and kafka-python with their defaults,
  {s['client_mb']} MB of 100 B or 1 KB records produced to one partition, then read back by a
  consumer that assigns the partition (no group); `bench/python_clients.py`.
- **Many clients**: {s['many_connections']} connections from one asyncio process
  (`bench/many_clients.py`), each producing a batch of 10 records of 100 B (acks=1) and
  fetching it back once a second for {s['many_seconds']} s, over 6 partitions; broker CPU is its
  user+system time over the run.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description="Render the results of a bench run.")
    parser.add_argument("results", help="the JSON a run saved (python -m bench.run --save)")
    parser.add_argument("--docs", action="store_true", help="write docs/performance.md and docs/performance.png")
    options = parser.parse_args()
    results = json.loads(Path(options.results).read_text())
    print_table(results)
    if options.docs:
        write_docs(results)


if __name__ == "__main__":
    main()
