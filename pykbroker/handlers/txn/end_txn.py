"""EndTxn (key 26), versions 0-5.

Commits or aborts the producer's transaction: answered once the decision
is durable in ``__transaction_state``; the markers follow. v2+ know
PRODUCER_FENCED, v4+ TRANSACTION_ABORTABLE. v5 comes from producers that run
transactions V2 (KIP-890 part 2): the epoch is bumped on every transaction,
and the answer carries the producer id and epoch to go on with.
"""
from . import for_version

API_KEY = 26
VERSIONS = (0, 5)


async def handle(ctx, request):
    code, producer_id, producer_epoch = await ctx.broker.txn_coordinator.end_transaction(
        request["transactional_id"], request["producer_id"], request["producer_epoch"], request["committed"],
        v2=ctx.api_version >= 5)
    return {"error_code": for_version(code, ctx.api_version, 2, 4), "producer_id": producer_id,
            "producer_epoch": producer_epoch}
