"""DeleteAcls (key 31), versions 0-3: each filter SECURITY_DISABLED, there being no authorizer."""
from ...errors import ErrorCode

API_KEY = 31
VERSIONS = (0, 3)


def handle(ctx, request):
    return {"filter_results": [{"error_code": ErrorCode.SECURITY_DISABLED,
                                "error_message": "No Authorizer is configured.", "matching_acls": []}
                               for _ in request["filters"]]}
