"""EndTxn (key 26), versions 0-4.

Commits or aborts the producer's transaction: answered once the decision
is durable in ``__transaction_state``; the markers follow. v2+ know
PRODUCER_FENCED, v4+ TRANSACTION_ABORTABLE. v5 (KIP-890 part 2, an epoch
bump on every transaction) is not offered: clients then use the classic
protocol.
"""
from . import for_version

API_KEY = 26
VERSIONS = (0, 4)


async def handle(ctx, request):
    code = await ctx.broker.txn_coordinator.end_transaction(
        request["transactional_id"], request["producer_id"], request["producer_epoch"], request["committed"])
    return {"error_code": for_version(code, ctx.api_version, 2, 4)}
