"""InitProducerId (key 22), versions 0-5.

Without a transactional id (an idempotent producer) every request gets a new
producer id with epoch 0, as in Kafka. With one, the transaction coordinator
answers: it bumps the epoch, fencing older producers, and aborts a
transaction the previous incarnation left open. v3+ carry the producer's
current id and epoch, so that a producer can bump its epoch after an error
(KIP-360); v4+ may answer PRODUCER_FENCED (older versions get
INVALID_PRODUCER_EPOCH); v5+ TRANSACTION_ABORTABLE.
"""
from ...errors import ErrorCode, KafkaError
from . import for_version

API_KEY = 22
VERSIONS = (0, 5)


def handle(ctx, request):
    transactional_id = request["transactional_id"]
    producer_id, epoch = request["producer_id"], request["producer_epoch"]
    if (producer_id == -1) != (epoch == -1):
        return _error(ErrorCode.INVALID_REQUEST)
    if transactional_id is None:
        return _idempotent(ctx)
    return _transactional(ctx, transactional_id, request["transaction_timeout_ms"], producer_id, epoch)


async def _idempotent(ctx):
    try:
        producer_id = await ctx.broker.producer_ids.generate()
    except KafkaError as e:
        return _error(e.code)
    return {"error_code": ErrorCode.NONE, "producer_id": producer_id, "producer_epoch": 0}


async def _transactional(ctx, transactional_id, timeout_ms, producer_id, epoch):
    code, producer_id, epoch = await ctx.broker.txn_coordinator.init_producer_id(
        transactional_id, timeout_ms, producer_id, epoch)
    if code != ErrorCode.NONE:
        return _error(for_version(code, ctx.api_version, 4, 5))
    return {"error_code": ErrorCode.NONE, "producer_id": producer_id, "producer_epoch": epoch}


def _error(code):
    return {"error_code": code, "producer_id": -1, "producer_epoch": -1}
