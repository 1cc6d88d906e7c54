"""TxnOffsetCommit (key 28), versions 0-5.

Offsets consumed inside a transaction: written to the group's
``__consumer_offsets`` partition in a batch of the transaction's producer,
they become the group's committed offsets only when the transaction commits
(its marker reaches that partition), and are dropped if it aborts. The
partition must have joined the transaction: by AddOffsetsToTxn, which the
transaction coordinator vouches for, or, from v5 (transactions V2, KIP-890
part 2), added by this broker on the producer's behalf. v3+ carry the
member's generation, member id and instance id, checked as OffsetCommit
does; v4+ know TRANSACTION_ABORTABLE. A fenced producer is told
INVALID_PRODUCER_EPOCH at every version, as Kafka tells it here.
"""
from ...errors import ErrorCode, KafkaError
from . import for_version

API_KEY = 28
VERSIONS = (0, 5)

# What the transaction coordinator's answer becomes, as Kafka's group
# coordinator turns errors into its own (no peer reached, an unknown topic).
_AS_GROUP_COORDINATOR_ERROR = {
    ErrorCode.NETWORK_EXCEPTION: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
    ErrorCode.UNKNOWN_TOPIC_OR_PARTITION: ErrorCode.COORDINATOR_NOT_AVAILABLE,
}


async def handle(ctx, request):
    topics = request["topics"]
    code = await _vouched(ctx, request)
    if code != ErrorCode.NONE:
        results = {(t["name"], p["partition_index"]): code for t in topics for p in t["partitions"]}
    else:
        results = await ctx.broker.group_coordinator.commit_transactional_offsets(
            request["group_id"], request["producer_id"], request["producer_epoch"], request["member_id"],
            request["generation_id"], request["group_instance_id"], topics, ctx.api_version)
    return {"topics": [{"name": t["name"], "partitions": [
        {"partition_index": p["partition_index"],
         "error_code": _for_client(results[(t["name"], p["partition_index"])], ctx.api_version)}
        for p in t["partitions"]]} for t in topics]}


def _for_client(code: ErrorCode, version: int) -> ErrorCode:
    if code == ErrorCode.PRODUCER_FENCED:
        return ErrorCode.INVALID_PRODUCER_EPOCH   # at every version, as Kafka answers here
    return for_version(code, version, fenced_since=0, abortable_since=4)


async def _vouched(ctx, request) -> ErrorCode:
    """The transaction coordinator's word on the group's partition being in
    the transaction (NONE when verification is off before v5)."""
    group_id = request["group_id"]
    if not group_id:
        return ErrorCode.INVALID_GROUP_ID
    runtime = ctx.broker.group_coordinator.runtime
    try:
        runtime.shard_for(group_id)   # this broker coordinates the group
    except KafkaError as e:
        return e.code
    add = ctx.api_version >= 5
    if not add and not ctx.broker.config.get("transaction.partition.verification.enable"):
        return ErrorCode.NONE
    tp = (runtime.topic, runtime.partition_for(group_id))
    code = (await ctx.broker.txn_coordinator.vouch(request["transactional_id"], request["producer_id"],
                                                   request["producer_epoch"], [tp], add))[tp]
    return _AS_GROUP_COORDINATOR_ERROR.get(code, code)
