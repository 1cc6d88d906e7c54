"""ListOffsets (key 2), versions 0-10.

Timestamps: -2 earliest, -1 latest, -3 the record with the largest timestamp
(v7+), -4 earliest local (v8+, the log start here: no tiered storage), -5
latest tiered (v9+, none here: offset -1), else the first record at or after
the timestamp; other negative timestamps, and these below their version, are
UNSUPPORTED_VERSION. v0 answers with a list of offsets (OldStyleOffsets);
v2+ honour the isolation level (latest is the last stable offset for
read_committed; an unknown level fails the whole request, as in Kafka); v4+
check the current leader epoch and return the epoch of the offset found.
A partition named twice is answered once, INVALID_REQUEST.
"""
from collections import Counter

from ...errors import ErrorCode, KafkaError
from . import by_topic

API_KEY = 2
VERSIONS = (0, 10)

LATEST, EARLIEST, MAX_TIMESTAMP, EARLIEST_LOCAL, LATEST_TIERED = -1, -2, -3, -4, -5
# The version from which each special timestamp is served.
_SPECIAL_SINCE = {LATEST: 0, EARLIEST: 0, MAX_TIMESTAMP: 7, EARLIEST_LOCAL: 8, LATEST_TIERED: 9}
READ_UNCOMMITTED, READ_COMMITTED = 0, 1
CONSUMER_REPLICA_ID = -1


def handle(ctx, request):
    if request["isolation_level"] not in (READ_UNCOMMITTED, READ_COMMITTED):
        return _request_error(request, ErrorCode.UNKNOWN_SERVER_ERROR)
    replicas = ctx.broker.replicas
    named = [((t["name"], p["partition_index"]), p) for t in request["topics"] for p in t["partitions"]]
    times_named = Counter(key for key, _ in named)
    results = {}
    for key, p in named:
        if key in results:
            continue
        response = results[key] = _partition_response(p["partition_index"])
        try:
            if times_named[key] > 1:
                raise KafkaError(ErrorCode.INVALID_REQUEST)
            if not _served(p["timestamp"], ctx.api_version):
                raise KafkaError(ErrorCode.UNSUPPORTED_VERSION)
            partition = replicas.leader_partition(*key)
            partition.check_leader_epoch(p["current_leader_epoch"])
            offset, timestamp, epoch = _lookup(request, partition, p["timestamp"])
        except KafkaError as e:
            response["error_code"] = e.code
            continue
        if ctx.api_version == 0:
            response["old_style_offsets"] = [offset] if offset >= 0 else []
        else:
            response.update(offset=offset, timestamp=timestamp, leader_epoch=epoch)
    return {"topics": by_topic(results, "partitions")}


def _served(timestamp, version):
    return timestamp >= 0 or version >= _SPECIAL_SINCE.get(timestamp, float("inf"))


def _partition_response(index, error=ErrorCode.NONE):
    return {"partition_index": index, "error_code": error, "timestamp": -1, "offset": -1, "leader_epoch": -1,
            "old_style_offsets": []}


def _request_error(request, code):
    """Kafka's ListOffsetsRequest.getErrorResponse: ``code`` on every partition as named."""
    return {"topics": [{"name": t["name"], "partitions": [_partition_response(p["partition_index"], code)
                                                          for p in t["partitions"]]}
                       for t in request["topics"]]}


def _lookup(request, partition, timestamp):
    """(offset, timestamp, leader epoch) for a ListOffsets query; -1s when none."""
    if request["replica_id"] != CONSUMER_REPLICA_ID:
        fetchable = partition.log_end_offset
    elif request["isolation_level"] == READ_COMMITTED:
        fetchable = partition.last_stable_offset
    else:
        fetchable = partition.high_watermark
    if timestamp in (EARLIEST, EARLIEST_LOCAL, LATEST):
        offset = fetchable if timestamp == LATEST else partition.log_start_offset
        return offset, -1, partition.log.epoch_for_offset(offset)
    if timestamp == LATEST_TIERED:
        return -1, -1, -1   # no tiered storage
    if timestamp == MAX_TIMESTAMP:
        found = partition.log.max_timestamp_offset()
    else:
        found = partition.log.offset_for_timestamp(timestamp)
    if found is None or found[0] >= fetchable:
        return -1, -1, -1
    return found
