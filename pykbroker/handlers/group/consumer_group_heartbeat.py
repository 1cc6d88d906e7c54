"""ConsumerGroupHeartbeat (key 68), versions 0-1: the consumer group
protocol of KIP-848, with the assignment computed by the coordinator.
v0 lets the coordinator generate the member id; v1 requires the client to
send its own (KIP-1082) and adds regular expression subscriptions.
Unavailable when group.coordinator.rebalance.protocols lacks "consumer".
"""
from . import client_host
from ...coordinator.consumer_protocol import heartbeat_error
from ...errors import ErrorCode

API_KEY = 68
VERSIONS = (0, 1)


async def handle(ctx, request):
    if "consumer" not in ctx.broker.config.get("group.coordinator.rebalance.protocols"):
        return heartbeat_error(ErrorCode.UNSUPPORTED_VERSION, "The new group coordinator protocol is disabled.")
    return await ctx.broker.group_coordinator.consumer.heartbeat(request, ctx.api_version, ctx.client_id,
                                                                 client_host(ctx))
