"""DeleteRecords (key 21), versions 0-2.

Moves a partition's log start offset forward (offset -1 means the high
watermark); whole segments below it are deleted. An offset beyond the high
watermark is OFFSET_OUT_OF_RANGE, as in Kafka.
"""
from ...errors import ErrorCode, KafkaError

API_KEY = 21
VERSIONS = (0, 2)

HIGH_WATERMARK = -1


def handle(ctx, request):
    replicas = ctx.broker.replicas
    topics = []
    for topic in request["topics"]:
        partitions = []
        for p in topic["partitions"]:
            response = {"partition_index": p["partition_index"], "low_watermark": -1,
                        "error_code": ErrorCode.NONE}
            try:
                partition = replicas.leader_partition(topic["name"], p["partition_index"])
                response["low_watermark"] = partition.delete_records_before(p["offset"])
            except KafkaError as e:
                response["error_code"] = e.code
            partitions.append(response)
        topics.append({"name": topic["name"], "partitions": partitions})
    return {"topics": topics}
