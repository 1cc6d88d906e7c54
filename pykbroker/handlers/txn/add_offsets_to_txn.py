"""AddOffsetsToTxn (key 25), versions 0-4.

Adds the group's ``__consumer_offsets`` partition to the transaction, so
that its TxnOffsetCommit offsets get the transaction's marker. v2+ know
PRODUCER_FENCED, v4+ TRANSACTION_ABORTABLE.
"""
from . import for_version

API_KEY = 25
VERSIONS = (0, 4)

GROUP_TOPIC = "__consumer_offsets"


async def handle(ctx, request):
    partition = ctx.broker.group_coordinator.runtime.partition_for(request["group_id"])
    code = await ctx.broker.txn_coordinator.add_partitions(
        request["transactional_id"], request["producer_id"], request["producer_epoch"], {(GROUP_TOPIC, partition)})
    return {"error_code": for_version(code, ctx.api_version, 2, 4)}
