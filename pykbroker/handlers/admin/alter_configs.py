"""AlterConfigs (key 33), versions 0-2: replaces all the dynamic configs of
a topic or broker with the ones given (the legacy, non-incremental API)."""
from ...cluster import configs
from ...errors import ErrorCode, KafkaError

API_KEY = 33
VERSIONS = (0, 2)


async def handle(ctx, request):
    responses = []
    for resource in request["resources"]:
        response = {"error_code": ErrorCode.NONE, "error_message": None,
                    "resource_type": resource["resource_type"], "resource_name": resource["resource_name"]}
        try:
            await configs.alter(ctx.broker, resource["resource_type"], resource["resource_name"],
                                resource["configs"], request["validate_only"], incremental=False)
        except KafkaError as e:
            response["error_code"], response["error_message"] = e.code, e.message
        responses.append(response)
    return {"responses": responses}
