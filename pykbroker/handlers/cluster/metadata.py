"""Metadata (key 3), versions 0-12.

v0: an empty topic list means all topics; v1+: null means all, empty none.
v4+: AllowAutoTopicCreation (earlier versions always allow it).
v8+: authorized operations on request; v10+: topic ids; v12+: topics may be
asked for by id (the names are then ignored, as in Kafka), names nullable.
A topic named twice is described once. Internal topics are auto-created as
their coordinators create them.
Brokers are described by their endpoint on the listener the request came in
on, as Kafka does.
"""
from ... import authz
from ...cluster.metadata import ZERO_UUID
from ...cluster.topics import check_topic_name, is_internal
from ...errors import ErrorCode, KafkaError

API_KEY = 3
VERSIONS = (0, 12)


async def handle(ctx, request):
    broker = ctx.broker
    metadata = broker.store.metadata
    version = ctx.api_version
    requested = request["topics"]
    include_ops = request["include_topic_authorized_operations"]
    if version < 12 and requested and any(t["name"] is None or t["topic_id"] != ZERO_UUID for t in requested):
        # As Kafka: topic ids (and so null names) need v12.
        return _request_error(ErrorCode.INVALID_REQUEST, requested)

    if requested is None or (version == 0 and not requested):
        topics = [_describe_topic(ctx, topic, include_ops) for topic in metadata.topics.values()]
    elif any(t["topic_id"] != ZERO_UUID for t in requested):
        # Topics asked for by id: Kafka then looks at the ids alone.
        topics = []
        for topic_id in dict.fromkeys(t["topic_id"] for t in requested if t["topic_id"] != ZERO_UUID):
            topic = metadata.topic_by_id(topic_id)
            topics.append(_describe_topic(ctx, topic, include_ops) if topic is not None else
                          _error_topic(ErrorCode.UNKNOWN_TOPIC_ID, None, topic_id))
    elif any(t["name"] is None for t in requested):
        return _request_error(ErrorCode.UNKNOWN_SERVER_ERROR, requested)   # neither name nor id, as Kafka answers it
    else:
        allow_auto = request["allow_auto_topic_creation"] and broker.config.get("auto.create.topics.enable")
        # Each topic once, as Kafka answers a name given twice.
        topics = [await _topic_by_name(ctx, name, allow_auto, include_ops)
                  for name in dict.fromkeys(t["name"] for t in requested)]

    response = {
        "brokers": [{"node_id": b.node_id, "host": endpoint[0], "port": endpoint[1], "rack": b.rack}
                    for b in metadata.live_brokers() if (endpoint := b.endpoint(ctx.listener))],
        "cluster_id": metadata.cluster_id,
        "controller_id": metadata.controller_for_clients(),
        "topics": topics,
    }
    if request["include_cluster_authorized_operations"]:
        response["cluster_authorized_operations"] = authz.CLUSTER
    return response


async def _topic_by_name(ctx, name, allow_auto, include_ops):
    topic = ctx.broker.store.metadata.topics.get(name)
    if topic is not None:
        return _describe_topic(ctx, topic, include_ops)
    try:
        check_topic_name(name)
    except KafkaError as e:
        return _error_topic(e.code, name)
    if not allow_auto:
        return _error_topic(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, name)
    try:
        await _auto_create(ctx.broker, name)
    except KafkaError as e:
        code = e.code if e.code != ErrorCode.TOPIC_ALREADY_EXISTS else ErrorCode.LEADER_NOT_AVAILABLE
        return _error_topic(code, name)
    # As Kafka 4: the request that creates a topic is told
    # UNKNOWN_TOPIC_OR_PARTITION, and clients ask again.
    return _error_topic(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, name)


async def _auto_create(broker, name):
    """An internal topic is created as its coordinator creates it on first
    use (its partition count and configs), any other with the broker defaults."""
    for coordinator in (broker.group_coordinator, broker.txn_coordinator):
        if coordinator is not None and coordinator.runtime.topic == name:
            return await coordinator.runtime.ensure_topic()
    await broker.topics.auto_create(name)


def _request_error(code, requested):
    """Kafka's MetadataRequest.getErrorResponse: ``code`` on every topic as
    named (a null name as ""), nothing else."""
    return {"topics": [{"error_code": code, "name": t["name"] or "", "topic_id": t["topic_id"], "is_internal": False,
                        "partitions": []} for t in requested]}


def _error_topic(code, name, topic_id=ZERO_UUID):
    return {"error_code": code, "name": name, "topic_id": topic_id,
            "is_internal": name is not None and is_internal(name), "partitions": []}


def _describe_topic(ctx, topic, include_ops):
    return {
        "error_code": ErrorCode.NONE, "name": topic.name, "topic_id": topic.topic_id,
        "is_internal": is_internal(topic.name),
        "partitions": describe_partitions(ctx.broker.store.metadata, topic, ctx.listener),
        "topic_authorized_operations": authz.TOPIC if include_ops else authz.NOT_REQUESTED,
    }


def describe_partitions(metadata, topic, listener, first=0, limit=None):
    """Leader, epoch, replicas and ISR of a topic's partitions, as Metadata
    and DescribeTopicPartitions report them."""
    partitions = []
    end = len(topic.partitions) if limit is None else min(len(topic.partitions), first + limit)
    for index in range(first, end):
        p = topic.partitions[index]
        leader = metadata.brokers.get(p.leader)
        if leader is None or leader.fenced:
            error = ErrorCode.LEADER_NOT_AVAILABLE
        elif leader.endpoint(listener) is None:
            error = ErrorCode.LISTENER_NOT_FOUND
        else:
            error = ErrorCode.NONE
        partitions.append({
            "error_code": error, "partition_index": index, "leader_id": p.leader,
            "leader_epoch": p.leader_epoch, "replica_nodes": p.replicas, "isr_nodes": p.isr,
            "offline_replicas": [r for r in p.replicas if r not in metadata.brokers or metadata.brokers[r].fenced],
        })
    return partitions
