"""CreateTopics (key 19), versions 0-7.

v1+ ValidateOnly and error messages; v4+ -1 partitions / replication factor
mean the broker defaults; v5+ the response describes the created topic
(partitions, replication factor, configs); v7+ topic ids.
"""
from collections import Counter

from ...cluster import configs as topic_configs
from ...errors import ErrorCode, KafkaError

API_KEY = 19
VERSIONS = (0, 7)


async def handle(ctx, request):
    broker = ctx.broker
    counts = Counter(topic["name"] for topic in request["topics"])
    answered = set()  # Kafka answers a duplicated name once, with INVALID_REQUEST
    results = []
    for topic in request["topics"]:
        name = topic["name"]
        if name in answered:
            continue
        answered.add(name)
        result = {"name": name, "error_code": ErrorCode.NONE, "error_message": None, "num_partitions": -1,
                  "replication_factor": -1, "configs": None}
        results.append(result)
        if counts[name] > 1:
            result["error_code"] = ErrorCode.INVALID_REQUEST
            result["error_message"] = "Duplicate topic name."
            continue
        try:
            assignments = _assignments(topic["assignments"])
            created = await broker.topics.create(
                name, topic["num_partitions"], topic["replication_factor"], assignments,
                {c["name"]: c["value"] for c in topic["configs"]}, request["validate_only"])
        except KafkaError as e:
            result["error_code"], result["error_message"] = e.code, e.message
            continue
        if request["validate_only"]:
            result["num_partitions"] = len(created["assignments"])
            result["replication_factor"] = len(created["assignments"][0])
            continue
        result["topic_id"] = created.topic_id
        result["num_partitions"] = len(created.partitions)
        result["replication_factor"] = len(created.partitions[0].replicas)
        result["configs"] = [{"name": c["name"], "value": c["value"], "read_only": c["read_only"],
                              "config_source": c["config_source"], "is_sensitive": c["is_sensitive"]}
                             for c in topic_configs.describe_topic(broker, name, None, False)]
    return {"topics": results}


def _assignments(entries):
    if not entries:
        return None
    by_index = {e["partition_index"]: e["broker_ids"] for e in entries}
    if sorted(by_index) != list(range(len(by_index))):
        raise KafkaError(ErrorCode.INVALID_REPLICA_ASSIGNMENT,
                         "Partitions should be a consecutive 0-based integer sequence")
    return [by_index[i] for i in range(len(by_index))]
