"""AddPartitionsToTxn (key 24), versions 0-5.

v0-3 come from producers: one transaction whose partitions join it (the
same error for all of them; partitions of internal topics get
TOPIC_AUTHORIZATION_FAILED, of unknown topics UNKNOWN_TOPIC_OR_PARTITION,
and the others OPERATION_NOT_ATTEMPTED, as in Kafka). v4+ come from brokers
and batch several transactions, each either checked, with VerifyOnly
(KIP-890's verification before a transactional write), or added for a
producer that runs transactions V2 (its first write to a partition, or its
TxnOffsetCommit: ``__consumer_offsets`` partitions are welcome there). v2+
know PRODUCER_FENCED, v4+ TRANSACTION_ABORTABLE (as Kafka answers its brokers).
"""
from ...cluster.topics import is_internal
from ...errors import ErrorCode
from . import for_version

API_KEY = 24
VERSIONS = (0, 5)


def handle(ctx, request):
    if ctx.api_version <= 3:
        return _client(ctx, request)
    return _batched(ctx, request)


async def _client(ctx, request):
    topics = request["v3_and_below_topics"]
    results = await _add(ctx, request["v3_and_below_transactional_id"], request["v3_and_below_producer_id"],
                         request["v3_and_below_producer_epoch"], topics, verify_only=False, from_broker=False)
    return {"results_by_topic_v3_and_below": results}


async def _batched(ctx, request):
    out = []
    for txn in request["transactions"]:
        out.append({"transactional_id": txn["transactional_id"], "topic_results": await _add(
            ctx, txn["transactional_id"], txn["producer_id"], txn["producer_epoch"], txn["topics"],
            txn["verify_only"], from_broker=True)})
    return {"error_code": ErrorCode.NONE, "results_by_transaction": out}


async def _add(ctx, transactional_id, producer_id, epoch, topics, verify_only, from_broker):
    partitions = [(t["name"], p) for t in topics for p in t["partitions"]]
    metadata = ctx.broker.store.metadata.topics
    refused = {} if from_broker else {(t, p): ErrorCode.TOPIC_AUTHORIZATION_FAILED
                                      for t, p in partitions if is_internal(t)}
    refused.update({(t, p): ErrorCode.UNKNOWN_TOPIC_OR_PARTITION for t, p in partitions
                    if (t, p) not in refused and (t not in metadata or not 0 <= p < len(metadata[t].partitions))})
    coordinator = ctx.broker.txn_coordinator
    if refused:
        errors = {tp: refused.get(tp, ErrorCode.OPERATION_NOT_ATTEMPTED) for tp in partitions}
    elif verify_only:
        errors = coordinator.verify_partitions(transactional_id, producer_id, epoch, partitions)
    else:
        code = await coordinator.add_partitions(transactional_id, producer_id, epoch, set(partitions),
                                                client_version=2 if from_broker else 0)
        errors = {tp: code for tp in partitions}
    by_topic = {}
    for (topic, index), code in errors.items():
        by_topic.setdefault(topic, []).append(
            {"partition_index": index, "partition_error_code": for_version(code, ctx.api_version, 2, 4)})
    return [{"name": topic, "results_by_partition": results} for topic, results in by_topic.items()]
