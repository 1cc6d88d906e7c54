"""JoinGroup (key 11), versions 0-9.

v1+ carries a rebalance timeout (v0 uses the session timeout); v4+ answers a
new member MEMBER_ID_REQUIRED with its id before it is admitted (KIP-394);
v5+ static membership (GroupInstanceId); v7+ returns the protocol type;
v8+ a join reason; v9+ SkipAssignment for a static leader that rejoined.
The request stays parked until the group's join phase ends.
"""
from . import client_host

API_KEY = 11
VERSIONS = (0, 9)


async def handle(ctx, request):
    return await ctx.broker.group_coordinator.classic.join_group(request, ctx.api_version, ctx.client_id,
                                                                 client_host(ctx))
