"""CreateAcls (key 30), versions 0-3: each creation SECURITY_DISABLED, there being no authorizer."""
from ...errors import ErrorCode

API_KEY = 30
VERSIONS = (0, 3)


def handle(ctx, request):
    return {"results": [{"error_code": ErrorCode.SECURITY_DISABLED, "error_message": "No Authorizer is configured."}
                        for _ in request["creations"]]}
