"""Heartbeat (key 12), versions 0-4: a classic group member is alive;
REBALANCE_IN_PROGRESS tells it to rejoin. v3+ static membership."""
API_KEY = 12
VERSIONS = (0, 4)


def handle(ctx, request):
    return {"error_code": ctx.broker.group_coordinator.classic.heartbeat(request)}
