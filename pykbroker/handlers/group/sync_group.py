"""SyncGroup (key 14), versions 0-5.

The leader sends the assignment of its generation; every member's request
stays parked until it is written, then gets its own part. v3+ static
membership; v5+ protocol type and name, required (INCONSISTENT_GROUP_PROTOCOL
before anything else when either is null, as Kafka's KafkaApis answers) and
checked against the group's.
"""
from ...coordinator.classic_group import sync_error
from ...errors import ErrorCode

API_KEY = 14
VERSIONS = (0, 5)


async def handle(ctx, request):
    if ctx.api_version >= 5 and (request["protocol_type"] is None or request["protocol_name"] is None):
        return sync_error(ErrorCode.INCONSISTENT_GROUP_PROTOCOL)
    return await ctx.broker.group_coordinator.classic.sync_group(request, ctx.api_version)
