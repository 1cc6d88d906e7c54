"""ListTransactions (key 66), versions 0-1.

The transactional ids this broker coordinates, filtered by state names,
producer ids and (v1+, KIP-994) by running longer than DurationFilter ms.
Unknown state names come back in UnknownStateFilters;
COORDINATOR_LOAD_IN_PROGRESS while a partition is still loading.
"""
import time

from ...coordinator.txn.metadata import STATE_BY_NAME
from ...errors import ErrorCode

API_KEY = 66
VERSIONS = (0, 1)


def handle(ctx, request):
    coordinator = ctx.broker.txn_coordinator
    response = {"error_code": ErrorCode.NONE, "unknown_state_filters": [], "transaction_states": []}
    if coordinator.runtime.loading:
        response["error_code"] = ErrorCode.COORDINATOR_LOAD_IN_PROGRESS
        return response
    states = set()
    for name in request["state_filters"]:
        if name in STATE_BY_NAME:
            states.add(STATE_BY_NAME[name])
        else:
            response["unknown_state_filters"].append(name)
    producers = set(request["producer_id_filters"])
    duration = request["duration_filter"]
    now = int(time.time() * 1000)
    for m in coordinator.loaded_transactions():
        if (request["state_filters"] and m.state not in states) or (producers and m.producer_id not in producers):
            continue
        if duration >= 0 and now - m.start_ms <= duration:
            continue
        response["transaction_states"].append({"transactional_id": m.transactional_id,
                                               "producer_id": m.producer_id, "transaction_state": m.state_name})
    return response
