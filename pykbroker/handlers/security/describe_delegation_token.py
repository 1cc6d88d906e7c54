"""DescribeDelegationToken (key 41), versions 0-3: DELEGATION_TOKEN_REQUEST_NOT_ALLOWED
on a PLAINTEXT connection, as in Kafka (see create_delegation_token)."""
from ...errors import ErrorCode

API_KEY = 41
VERSIONS = (0, 3)


def handle(ctx, request):
    return {"error_code": ErrorCode.DELEGATION_TOKEN_REQUEST_NOT_ALLOWED, "tokens": []}
