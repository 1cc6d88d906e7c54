"""IncrementalAlterConfigs (key 44), versions 0-1: per-key SET, DELETE,
APPEND and SUBTRACT (the last two for list configs) on topics, brokers (a
node id, or "" for cluster-wide defaults) and broker loggers."""
from ...cluster import configs
from ...errors import ErrorCode, KafkaError

API_KEY = 44
VERSIONS = (0, 1)


async def handle(ctx, request):
    responses = []
    for resource in request["resources"]:
        response = {"error_code": ErrorCode.NONE, "error_message": None,
                    "resource_type": resource["resource_type"], "resource_name": resource["resource_name"]}
        try:
            await configs.alter(ctx.broker, resource["resource_type"], resource["resource_name"],
                                resource["configs"], request["validate_only"], incremental=True)
        except KafkaError as e:
            response["error_code"], response["error_message"] = e.code, e.message
        responses.append(response)
    return {"responses": responses}
