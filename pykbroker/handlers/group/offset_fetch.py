"""OffsetFetch (key 9), versions 0-9.

v0-1 report errors per partition; v2+ a null topic list fetches every
offset of the group, and group errors are top-level; v5+ the leader epoch;
v7+ RequireStable (UNSTABLE_OFFSET_COMMIT while a transaction has offsets
pending for a partition); v8+ several groups per request; v9+ the member id
and epoch of a consumer protocol group (KIP-848).
"""
from ...errors import ErrorCode

API_KEY = 9
VERSIONS = (0, 9)


def handle(ctx, request):
    coordinator = ctx.broker.group_coordinator
    if ctx.api_version >= 8:
        groups = []
        for group in request["groups"]:
            error, topics = coordinator.fetch_offsets(
                group["group_id"], group["topics"], request["require_stable"],
                group["member_id"] if ctx.api_version >= 9 else None,
                group["member_epoch"] if ctx.api_version >= 9 else -1)
            groups.append({"group_id": group["group_id"], "topics": topics, "error_code": error})
        return {"groups": groups}
    topics = request["topics"]
    error, fetched = coordinator.fetch_offsets(request["group_id"], topics, request["require_stable"])
    if error != ErrorCode.NONE and ctx.api_version < 2:
        # No top-level error field: every requested partition carries it.
        fetched = [{"name": t["name"], "partitions": [
            {"partition_index": p, "committed_offset": -1, "committed_leader_epoch": -1, "metadata": "",
             "error_code": error} for p in t["partition_indexes"]]} for t in topics or []]
    return {"topics": fetched, "error_code": error}
