"""DeleteRecords (key 21), versions 0-2.

Moves a partition's log start offset forward (offset -1 means the high
watermark); whole segments below it are deleted. An offset beyond the high
watermark is OFFSET_OUT_OF_RANGE, as in Kafka; a partition named twice is
answered once.
"""
from ...errors import ErrorCode, KafkaError
from . import by_topic

API_KEY = 21
VERSIONS = (0, 2)

HIGH_WATERMARK = -1


def handle(ctx, request):
    replicas = ctx.broker.replicas
    # Of a partition named twice the last offset wins, as in Kafka.
    requested = {(t["name"], p["partition_index"]): p["offset"] for t in request["topics"] for p in t["partitions"]}
    results = {}
    for (name, index), offset in requested.items():
        response = results[(name, index)] = {"partition_index": index, "low_watermark": -1,
                                             "error_code": ErrorCode.NONE}
        try:
            response["low_watermark"] = replicas.leader_partition(name, index).delete_records_before(offset)
        except KafkaError as e:
            response["error_code"] = e.code
    return {"topics": by_topic(results, "partitions")}
