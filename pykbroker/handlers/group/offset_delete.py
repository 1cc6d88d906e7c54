"""OffsetDelete (key 47), version 0: delete a group's committed offsets
for partitions of topics the group does not consume (KIP-496). Unlike the
other offset APIs it refuses the empty group id (INVALID_GROUP_ID), as Kafka."""
API_KEY = 47
VERSIONS = (0, 0)


async def handle(ctx, request):
    error, results = await ctx.broker.group_coordinator.delete_offsets(request["group_id"], request["topics"])
    if results:
        topics = [{"name": t["name"], "partitions": [
            {"partition_index": p["partition_index"], "error_code": results[(t["name"], p["partition_index"])]}
            for p in t["partitions"]]} for t in request["topics"]]
    else:
        topics = []
    return {"error_code": error, "topics": topics}
