"""SyncGroup (key 14), versions 0-5.

The leader sends the assignment of its generation; every member's request
stays parked until it is written, then gets its own part. v3+ static
membership; v5+ protocol type and name, checked against the group's.
"""
API_KEY = 14
VERSIONS = (0, 5)


async def handle(ctx, request):
    return await ctx.broker.group_coordinator.classic.sync_group(request, ctx.api_version)
