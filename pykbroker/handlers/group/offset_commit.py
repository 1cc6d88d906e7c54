"""OffsetCommit (key 8), versions 0-9.

v0 commits without generation (only accepted for an empty group or none);
v1 carries a generation, member id and per-partition commit timestamp;
v2-v4 a retention time (the offset then expires at commit time + retention);
v6+ the leader epoch of the committed offset; v7+ static membership; v9+
the member epoch of a consumer protocol group (KIP-848) and
GROUP_ID_NOT_FOUND for an unknown group where older versions get
ILLEGAL_GENERATION.
"""
API_KEY = 8
VERSIONS = (0, 9)


async def handle(ctx, request):
    results = await ctx.broker.group_coordinator.commit_offsets(
        request["group_id"], request["generation_id_or_member_epoch"], request["member_id"],
        request["group_instance_id"], request["retention_time_ms"], request["topics"], ctx.api_version)
    return {"topics": [
        {"name": t["name"], "partitions": [
            {"partition_index": p["partition_index"], "error_code": results[(t["name"], p["partition_index"])]}
            for p in t["partitions"]]}
        for t in request["topics"]]}
