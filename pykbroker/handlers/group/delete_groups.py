"""DeleteGroups (key 42), versions 0-2: delete empty groups and their
offsets (GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP otherwise); the empty group id
is one like any other, and a group named twice gets one result, as in Kafka."""
API_KEY = 42
VERSIONS = (0, 2)


async def handle(ctx, request):
    results = await ctx.broker.group_coordinator.delete_groups(request["groups_names"])
    return {"results": [{"group_id": group_id, "error_code": error} for group_id, error in results.items()]}
