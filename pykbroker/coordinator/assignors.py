"""Server-side partition assignors of the consumer group protocol (KIP-848),
chosen by ``group.consumer.assignors`` (the first is the default) or per
member with ConsumerGroupHeartbeat's ServerAssignor.

An assignor maps ``members`` (member id -> (subscribed topic ids, current
target assignment)) and ``topics`` (topic id -> partition count) to a new
target assignment: member id -> topic id -> partitions.
"""
from __future__ import annotations

from typing import Callable

Assignment = dict[bytes, set[int]]
Members = dict[str, tuple[set[bytes], Assignment]]


def uniform(members: Members, topics: dict[bytes, int]) -> dict[str, Assignment]:
    """Every subscribed partition to exactly one subscriber, loads differing
    by at most one where subscriptions allow, moving as few partitions as
    possible away from their current member."""
    eligible = {m: subs & topics.keys() for m, (subs, _) in members.items()}
    owned: dict[str, set[tuple[bytes, int]]] = {m: set() for m in members}
    owner: dict[tuple[bytes, int], str] = {}
    for m in sorted(members):
        for topic_id, partitions in members[m][1].items():
            if topic_id not in eligible[m]:
                continue
            for p in partitions:
                if p < topics[topic_id] and (topic_id, p) not in owner:
                    owner[(topic_id, p)] = m
                    owned[m].add((topic_id, p))
    subscribers: dict[bytes, list[str]] = {}
    for m in sorted(members):
        for topic_id in eligible[m]:
            subscribers.setdefault(topic_id, []).append(m)
    for topic_id in sorted(subscribers):
        for p in range(topics[topic_id]):
            if (topic_id, p) not in owner:
                m = min(subscribers[topic_id], key=lambda m: (len(owned[m]), m))
                owner[(topic_id, p)] = m
                owned[m].add((topic_id, p))
    _balance(owned, owner, subscribers)
    return {m: _by_topic(owned[m]) for m in members}


def _balance(owned: dict[str, set[tuple[bytes, int]]], owner: dict[tuple[bytes, int], str],
             subscribers: dict[bytes, list[str]]) -> None:
    """Move partitions from the most to the least loaded subscriber while
    that narrows a gap of two or more."""
    moved = True
    while moved:
        moved = False
        for m in sorted(owned, key=lambda m: (-len(owned[m]), m)):
            for tp in sorted(owned[m]):
                target = min(subscribers[tp[0]], key=lambda c: (len(owned[c]), c))
                if len(owned[target]) + 1 < len(owned[m]):
                    owned[m].discard(tp)
                    owned[target].add(tp)
                    owner[tp] = target
                    moved = True
            if moved:
                break


def range_(members: Members, topics: dict[bytes, int]) -> dict[str, Assignment]:
    """Per topic, its subscribers (by member id) get consecutive ranges of
    partitions, the first ones one more when they do not divide evenly."""
    result: dict[str, Assignment] = {m: {} for m in members}
    for topic_id, count in topics.items():
        subscribers = sorted(m for m, (subs, _) in members.items() if topic_id in subs)
        if not subscribers:
            continue
        quota, extra = divmod(count, len(subscribers))
        start = 0
        for i, m in enumerate(subscribers):
            size = quota + (1 if i < extra else 0)
            if size:
                result[m][topic_id] = set(range(start, start + size))
            start += size
    return result


def _by_topic(partitions: set[tuple[bytes, int]]) -> Assignment:
    result: Assignment = {}
    for topic_id, p in partitions:
        result.setdefault(topic_id, set()).add(p)
    return result


ASSIGNORS: dict[str, Callable[[Members, dict[bytes, int]], dict[str, Assignment]]] = {
    "uniform": uniform,
    "range": range_,
}
