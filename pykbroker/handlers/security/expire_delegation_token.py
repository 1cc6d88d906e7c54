"""ExpireDelegationToken (key 40), versions 0-2: DELEGATION_TOKEN_REQUEST_NOT_ALLOWED
on a PLAINTEXT connection, as in Kafka (see create_delegation_token)."""
from ...errors import ErrorCode

API_KEY = 40
VERSIONS = (0, 2)


def handle(ctx, request):
    return {"error_code": ErrorCode.DELEGATION_TOKEN_REQUEST_NOT_ALLOWED, "expiry_timestamp_ms": -1}
