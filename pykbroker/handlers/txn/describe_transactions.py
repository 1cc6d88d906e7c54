"""DescribeTransactions (key 65), version 0.

The coordinator's state of each transactional id (``kafka-transactions.sh
describe``): TRANSACTIONAL_ID_NOT_FOUND for an unknown one, INVALID_REQUEST
for the empty one, NOT_COORDINATOR or COORDINATOR_LOAD_IN_PROGRESS when this
broker does not hold it. An error leaves the other fields zero, as in Kafka.
"""
from ...errors import ErrorCode, KafkaError

API_KEY = 65
VERSIONS = (0, 0)


def handle(ctx, request):
    coordinator = ctx.broker.txn_coordinator
    states = []
    for transactional_id in request["transactional_ids"]:
        state = {"transactional_id": transactional_id, "error_code": ErrorCode.NONE, "transaction_state": "",
                 "transaction_timeout_ms": 0, "transaction_start_time_ms": 0, "producer_id": 0,
                 "producer_epoch": 0, "topics": []}
        m = None
        if not transactional_id:
            state["error_code"] = ErrorCode.INVALID_REQUEST
        else:
            try:
                m = coordinator.transaction(transactional_id)
            except KafkaError as e:
                state["error_code"] = e.code
            else:
                if m is None:
                    state["error_code"] = ErrorCode.TRANSACTIONAL_ID_NOT_FOUND
        if m is not None:
            by_topic = {}
            for topic, index in sorted(m.partitions):
                by_topic.setdefault(topic, []).append(index)
            state.update(transaction_state=m.state_name, transaction_timeout_ms=m.timeout_ms,
                         transaction_start_time_ms=m.start_ms, producer_id=m.producer_id,
                         producer_epoch=m.producer_epoch,
                         topics=[{"topic": t, "partitions": p} for t, p in by_topic.items()])
        states.append(state)
    return {"transaction_states": states}
