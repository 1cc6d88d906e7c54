"""Why cells fail against pykbroker, and the issue each waits on: the
docs print these beside the failing cells. A key is a scenario id or an
fnmatch pattern of ids. An explanation whose cell passes is reported as stale
by the matrix command, so this file shrinks as the broker grows."""
from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatch


@dataclass(frozen=True)
class Explanation:
    issue: str   # e.g. "issue 3 (consumer groups)"
    cause: str   # what differs from Apache Kafka, with the evidence


EXPLAINED: dict[str, Explanation] = {}


def explanation(scenario_id: str) -> Explanation | None:
    if scenario_id in EXPLAINED:
        return EXPLAINED[scenario_id]
    for pattern, entry in EXPLAINED.items():
        if fnmatch(scenario_id, pattern):
            return entry
    return None
