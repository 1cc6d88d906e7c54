"""CreateTopics (key 19), versions 0-7.

v1+ ValidateOnly and error messages; v4+ -1 partitions / replication factor
mean the broker defaults; v5+ the response describes the topic, created or
only validated (partitions, replication factor, configs); v7+ topic ids.
"""
from collections import Counter

from ...cluster import configs as topic_configs
from ...cluster.metadata import uuid_from_str
from ...errors import ErrorCode, KafkaError

API_KEY = 19
VERSIONS = (0, 7)


async def handle(ctx, request):
    topics = ctx.broker.topics
    counts = Counter(topic["name"] for topic in request["topics"])
    # As Kafka, a duplicated name is answered once with INVALID_REQUEST and left out of the rest.
    wanted = [topic for topic in request["topics"] if counts[topic["name"]] == 1]
    planned, results = [], {}
    try:
        if wanted and request["timeout_ms"] <= 0:
            raise KafkaError(ErrorCode.REQUEST_TIMED_OUT)  # Kafka's controller finds the deadline passed
        topics.check_new_partitions([(t["num_partitions"], len(t["assignments"])) for t in wanted])
        for topic in wanted:
            try:
                planned.append(topics.plan_topic(
                    topic["name"], topic["num_partitions"], topic["replication_factor"],
                    [(a["partition_index"], a["broker_ids"]) for a in topic["assignments"]],
                    {c["name"]: c["value"] for c in topic["configs"]}))
            except KafkaError as e:
                results[topic["name"]] = _failed(topic["name"], e)
        topics.check_records(planned)
    except KafkaError as e:
        # The whole request failed: every topic of it gets the error.
        return {"topics": [_failed(topic["name"], e) for topic in request["topics"]]}
    for command in planned:
        try:
            if not request["validate_only"]:
                await topics.submit_topic(command)
            results[command["name"]] = _created(ctx.broker, command)
        except KafkaError as e:
            results[command["name"]] = _failed(command["name"], e)
    duplicate = KafkaError(ErrorCode.INVALID_REQUEST, "Duplicate topic name.")
    return {"topics": [results[topic["name"]] for topic in wanted] +
            [_failed(name, duplicate) for name, count in counts.items() if count > 1]}


def _created(broker, command):
    assignments = command["assignments"]
    return {"name": command["name"], "topic_id": uuid_from_str(command["topic_id"]), "error_code": ErrorCode.NONE,
            "error_message": None, "num_partitions": len(assignments), "replication_factor": len(assignments[0]),
            "configs": [{"name": c["name"], "value": c["value"], "read_only": c["read_only"],
                         "config_source": c["config_source"], "is_sensitive": c["is_sensitive"]}
                        for c in topic_configs.describe_topic_configs(broker, command["configs"], None, False)]}


def _failed(name, error):
    return {"name": name, "error_code": error.code, "error_message": error.message, "num_partitions": -1,
            "replication_factor": -1, "configs": []}
