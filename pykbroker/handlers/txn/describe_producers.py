"""DescribeProducers (key 61), version 0.

The producer state of partitions this broker leads: each active producer's
epoch, last sequence and timestamp, coordinator epoch and the first offset
of its open transaction (``kafka-transactions.sh describe-producers``).
As in Kafka, only an unknown topic comes with an error message.
"""
from ...errors import ErrorCode, KafkaError

API_KEY = 61
VERSIONS = (0, 0)


def handle(ctx, request):
    replicas = ctx.broker.replicas
    topics = []
    for topic in request["topics"]:
        partitions = []
        for index in topic["partition_indexes"]:
            result = {"partition_index": index, "error_code": ErrorCode.NONE, "error_message": None,
                      "active_producers": []}
            try:
                partition = replicas.leader_partition(topic["name"], index)
            except KafkaError as e:
                result["error_code"] = e.code
                if topic["name"] not in ctx.broker.store.metadata.topics:
                    result["error_message"] = e.message
            else:
                result["active_producers"] = [
                    {"producer_id": e.producer_id, "producer_epoch": e.epoch, "last_sequence": e.last_seq,
                     "last_timestamp": e.last_timestamp, "coordinator_epoch": e.coordinator_epoch,
                     "current_txn_start_offset": e.txn_first_offset}
                    for e in partition.log.producer_state.producers.values()]
            partitions.append(result)
        topics.append({"name": topic["name"], "partitions": partitions})
    return {"topics": topics}
