"""DescribeTopicPartitions (key 75), version 0: what kafka-topics --describe
uses since Kafka 3.7. Topics in name order, paginated by partition count
with a cursor, as Kafka does; an empty topic list means all topics."""
from ... import authz
from ...cluster.topics import is_internal
from ...errors import ErrorCode
from .metadata import describe_partitions

API_KEY = 75
VERSIONS = (0, 0)


def handle(ctx, request):
    metadata = ctx.broker.store.metadata
    names = sorted({t["name"] for t in request["topics"]}) if request["topics"] else sorted(metadata.topics)
    cursor = request["cursor"]
    if cursor is not None:
        names = [n for n in names if n >= cursor["topic_name"]]
    budget = max(request["response_partition_limit"], 1)
    topics, next_cursor = [], None
    for name in names:
        topic = metadata.topics.get(name)
        if topic is None:
            if request["topics"]:
                topics.append({"error_code": ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, "name": name,
                               "partitions": []})
            continue
        if budget <= 0:
            next_cursor = {"topic_name": name, "partition_index": 0}
            break
        first = cursor["partition_index"] if cursor is not None and name == cursor["topic_name"] else 0
        partitions = describe_partitions(metadata, topic, ctx.listener, first, budget)
        for partition in partitions:
            # Kafka always sets these lists (the Java admin client reads them), empty without ELR.
            partition.update(eligible_leader_replicas=[], last_known_elr=[])
        budget -= len(partitions)
        topics.append({"error_code": ErrorCode.NONE, "name": name, "topic_id": topic.topic_id,
                       "is_internal": is_internal(name), "partitions": partitions,
                       "topic_authorized_operations": authz.TOPIC})
        if first + len(partitions) < len(topic.partitions):
            next_cursor = {"topic_name": name, "partition_index": first + len(partitions)}
            break
    return {"topics": topics, "next_cursor": next_cursor}
