"""DescribeAcls (key 29), versions 0-3: SECURITY_DISABLED, there being no authorizer."""
from ...errors import ErrorCode

API_KEY = 29
VERSIONS = (0, 3)


def handle(ctx, request):
    return {"error_code": ErrorCode.SECURITY_DISABLED, "error_message": "No Authorizer is configured on the broker",
            "resources": []}
