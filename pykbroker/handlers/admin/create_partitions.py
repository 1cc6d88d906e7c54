"""CreatePartitions (key 37), versions 0-3.

Grows a topic; shrinking, or asking for the current count, is refused with
INVALID_PARTITIONS, as in Kafka. Optional manual replica assignments.
"""
from collections import Counter

from ...errors import ErrorCode, KafkaError

API_KEY = 37
VERSIONS = (0, 3)


async def handle(ctx, request):
    topics = ctx.broker.topics
    counts = Counter(topic["name"] for topic in request["topics"])
    # As Kafka, a duplicated name is answered once with INVALID_REQUEST and left out of the rest.
    wanted = [topic for topic in request["topics"] if counts[topic["name"]] == 1]
    try:
        if wanted and request["timeout_ms"] <= 0:
            raise KafkaError(ErrorCode.REQUEST_TIMED_OUT)  # Kafka's controller finds the deadline passed
        topics.check_additional_partitions([(topic["name"], topic["count"]) for topic in wanted])
    except KafkaError as e:
        # The whole request failed: every topic of it gets the error.
        return {"results": [_result(topic["name"], e) for topic in request["topics"]]}
    results = []
    for topic in wanted:
        assignments = None
        if topic["assignments"] is not None:
            assignments = [a["broker_ids"] for a in topic["assignments"]]
        try:
            await topics.add_partitions(topic["name"], topic["count"], assignments, request["validate_only"])
            results.append(_result(topic["name"]))
        except KafkaError as e:
            results.append(_result(topic["name"], e))
    duplicate = KafkaError(ErrorCode.INVALID_REQUEST, "Duplicate topic name.")
    return {"results": results + [_result(name, duplicate) for name, count in counts.items() if count > 1]}


def _result(name, error=None):
    return {"name": name, "error_code": error.code if error else ErrorCode.NONE,
            "error_message": error.message if error else None}
