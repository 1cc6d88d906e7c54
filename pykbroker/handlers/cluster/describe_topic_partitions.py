"""DescribeTopicPartitions (key 75), version 0: what kafka-topics --describe
uses since Kafka 3.7. Topics in name order, paginated by partition count
with a cursor, as Kafka does; an empty topic list means all topics.

As Kafka's DescribeTopicPartitionsRequestHandler: a cursor that names no
requested topic, or a negative partition, fails the whole request
(INVALID_REQUEST on every requested topic); topics asked for that do not
exist are answered UNKNOWN_TOPIC_OR_PARTITION (INVALID_TOPIC_EXCEPTION for a
name Kafka refuses) with their authorized operations, like every topic."""
from ... import authz
from ...cluster.topics import check_topic_name, is_internal
from ...errors import ErrorCode, KafkaError
from .metadata import describe_partitions

API_KEY = 75
VERSIONS = (0, 0)


def handle(ctx, request):
    metadata = ctx.broker.store.metadata
    requested = [t["name"] for t in request["topics"]]
    cursor = request["cursor"]
    if cursor is not None and (cursor["partition_index"] < 0 or (requested and cursor["topic_name"] not in requested)):
        return {"topics": [{"error_code": ErrorCode.INVALID_REQUEST, "name": name, "partitions": []}
                           for name in requested], "next_cursor": None}
    start = cursor["topic_name"] if cursor is not None else ""
    names = sorted({name for name in requested or metadata.topics if name >= start})
    budget = max(request["response_partition_limit"], 1)
    topics, next_cursor = [], None
    for name in names:
        if budget <= 0:
            next_cursor = {"topic_name": name, "partition_index": 0}
            break
        topic = metadata.topics.get(name)
        if topic is None:
            topics.append({"error_code": _missing_topic_error(name), "name": name, "is_internal": is_internal(name),
                           "partitions": [], "topic_authorized_operations": authz.TOPIC})
            continue
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


def _missing_topic_error(name):
    try:
        check_topic_name(name)
    except KafkaError as e:
        return e.code
    return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
