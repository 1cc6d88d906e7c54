"""ListOffsets (key 2), versions 0-10.

Timestamps: -2 earliest, -1 latest, -3 the record with the largest timestamp
(v7+), -4 earliest local (v8+, the log start here: no tiered storage), else
the first record at or after the timestamp. v0 answers with a list of
offsets (OldStyleOffsets); v2+ honour the isolation level (latest is the last
stable offset for read_committed); v4+ check the current leader epoch and
return the epoch of the offset found.
"""
from ...errors import ErrorCode, KafkaError

API_KEY = 2
VERSIONS = (0, 10)

LATEST, EARLIEST, MAX_TIMESTAMP, EARLIEST_LOCAL = -1, -2, -3, -4
READ_COMMITTED = 1


def handle(ctx, request):
    replicas = ctx.broker.replicas
    topics = []
    for topic in request["topics"]:
        partitions = []
        for p in topic["partitions"]:
            response = {"partition_index": p["partition_index"], "error_code": ErrorCode.NONE,
                        "timestamp": -1, "offset": -1, "leader_epoch": -1, "old_style_offsets": []}
            try:
                partition = replicas.leader_partition(topic["name"], p["partition_index"])
                partition.check_leader_epoch(p["current_leader_epoch"])
                offset, timestamp = _lookup(ctx, request, partition, p["timestamp"])
            except KafkaError as e:
                response["error_code"] = e.code
            else:
                if ctx.api_version == 0:
                    response["old_style_offsets"] = [offset] if offset >= 0 else []
                else:
                    response["offset"], response["timestamp"] = offset, timestamp
                    if offset >= 0:
                        response["leader_epoch"] = partition.log.epoch_for_offset(offset)
            partitions.append(response)
        topics.append({"name": topic["name"], "partitions": partitions})
    return {"topics": topics}


def _lookup(ctx, request, partition, timestamp):
    """(offset, timestamp) for a ListOffsets query; (-1, -1) when none."""
    if request["replica_id"] >= 0:
        fetchable = partition.log_end_offset
    elif request["isolation_level"] == READ_COMMITTED:
        fetchable = partition.last_stable_offset
    else:
        fetchable = partition.high_watermark
    if timestamp in (EARLIEST, EARLIEST_LOCAL):
        return partition.log_start_offset, -1
    if timestamp == LATEST:
        return fetchable, -1
    if timestamp == MAX_TIMESTAMP and ctx.api_version >= 7:
        found = partition.log.max_timestamp_offset()
    elif timestamp < 0:
        raise KafkaError(ErrorCode.UNSUPPORTED_VERSION if timestamp == MAX_TIMESTAMP else ErrorCode.INVALID_REQUEST)
    else:
        found = partition.log.offset_for_timestamp(timestamp)
    if found is None or found[0] >= fetchable:
        return -1, -1
    return found
