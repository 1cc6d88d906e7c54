"""AlterConfigs (key 33), versions 0-2: replaces all the dynamic configs of
a topic or broker with the ones given (the legacy, non-incremental API)."""
from ...cluster import configs

API_KEY = 33
VERSIONS = (0, 2)


def handle(ctx, request):
    return configs.alter_resources(ctx.broker, request, incremental=False)
