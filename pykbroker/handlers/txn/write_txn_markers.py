"""WriteTxnMarkers (key 27), versions 0-1.

Sent by a transaction coordinator to the leaders of a transaction's
partitions: each marker is appended as a control batch (through the group
coordinator for ``__consumer_offsets`` partitions) and acknowledged once
replicated.
"""
from ...coordinator.txn.markers import write_marker

API_KEY = 27
VERSIONS = (0, 1)


async def handle(ctx, request):
    results = []
    for marker in request["markers"]:
        topics = []
        for topic in marker["topics"]:
            partitions = []
            for index in topic["partition_indexes"]:
                code = await write_marker(ctx.broker, topic["name"], index, marker["producer_id"],
                                          marker["producer_epoch"], marker["coordinator_epoch"],
                                          marker["transaction_result"])
                partitions.append({"partition_index": index, "error_code": code})
            topics.append({"name": topic["name"], "partitions": partitions})
        results.append({"producer_id": marker["producer_id"], "topics": topics})
    return {"markers": results}
