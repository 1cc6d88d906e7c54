"""CreatePartitions (key 37), versions 0-3.

Grows a topic; shrinking, or asking for the current count, is refused with
INVALID_PARTITIONS, as in Kafka. Optional manual replica assignments.
"""
from collections import Counter

from ...errors import ErrorCode, KafkaError

API_KEY = 37
VERSIONS = (0, 3)


async def handle(ctx, request):
    counts = Counter(topic["name"] for topic in request["topics"])
    answered = set()  # Kafka answers a duplicated name once, with INVALID_REQUEST
    results = []
    for topic in request["topics"]:
        if topic["name"] in answered:
            continue
        answered.add(topic["name"])
        result = {"name": topic["name"], "error_code": ErrorCode.NONE, "error_message": None}
        results.append(result)
        if counts[topic["name"]] > 1:
            result["error_code"] = ErrorCode.INVALID_REQUEST
            result["error_message"] = "Duplicate topic name."
            continue
        assignments = None
        if topic["assignments"] is not None:
            assignments = [a["broker_ids"] for a in topic["assignments"]]
        try:
            await ctx.broker.topics.add_partitions(topic["name"], topic["count"], assignments,
                                                   request["validate_only"])
        except KafkaError as e:
            result["error_code"], result["error_message"] = e.code, e.message
    return {"results": results}
