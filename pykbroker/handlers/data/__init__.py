"""Handlers that move records: Produce, Fetch, ListOffsets, DeleteRecords, OffsetForLeaderEpoch."""


def by_topic(results: dict, partitions_key: str) -> list[dict]:
    """Per-partition responses keyed (topic, partition) as the topic list of a
    response, topics and partitions in the order first named. A partition the
    request names twice is answered once, as Kafka does."""
    topics: dict[str, list] = {}
    for (name, _), response in results.items():
        topics.setdefault(name, []).append(response)
    return [{"name": name, partitions_key: partitions} for name, partitions in topics.items()]
