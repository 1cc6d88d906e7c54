"""IncrementalAlterConfigs (key 44), versions 0-1: per-key SET, DELETE,
APPEND and SUBTRACT (the last two for list configs) on topics, brokers (a
node id, or "" for cluster-wide defaults) and broker loggers."""
from ...cluster import configs

API_KEY = 44
VERSIONS = (0, 1)


def handle(ctx, request):
    return configs.alter_resources(ctx.broker, request, incremental=True)
