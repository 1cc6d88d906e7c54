"""TxnOffsetCommit (key 28), versions 0-4.

Offsets consumed inside a transaction: written to the group's
``__consumer_offsets`` partition in a batch of the transaction's producer,
they become the group's committed offsets only when the transaction commits
(its marker reaches that partition), and are dropped if it aborts. The
partition must have joined the transaction (AddOffsetsToTxn). v3+ carry the
member's generation, member id and instance id, checked as OffsetCommit
does; v4+ know TRANSACTION_ABORTABLE. A fenced producer is told
INVALID_PRODUCER_EPOCH at every version, as Kafka tells it here.
"""
from ...errors import ErrorCode
from . import for_version

API_KEY = 28
VERSIONS = (0, 4)


async def handle(ctx, request):
    topics = request["topics"]
    groups = ctx.broker.group_coordinator
    if not request["group_id"]:
        code = ErrorCode.INVALID_GROUP_ID
    else:
        code = ctx.broker.txn_coordinator.check_offsets_in_transaction(
            request["transactional_id"], request["producer_id"], request["producer_epoch"],
            groups.runtime.partition_for(request["group_id"]))
    if code != ErrorCode.NONE:
        results = {(t["name"], p["partition_index"]): code for t in topics for p in t["partitions"]}
    else:
        results = await groups.commit_transactional_offsets(
            request["group_id"], request["producer_id"], request["producer_epoch"], request["member_id"],
            request["generation_id"], request["group_instance_id"], topics, ctx.api_version)
    return {"topics": [{"name": t["name"], "partitions": [
        {"partition_index": p["partition_index"],
         "error_code": for_version(results[(t["name"], p["partition_index"])], ctx.api_version, 5, 4)}
        for p in t["partitions"]]} for t in topics]}
