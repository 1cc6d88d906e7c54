"""CreateDelegationToken (key 38), versions 0-3.

Kafka issues tokens only to clients authenticated by SASL (not by a token);
on a PLAINTEXT connection it answers DELEGATION_TOKEN_REQUEST_NOT_ALLOWED,
naming the anonymous principal as owner (and, v3+, as requester).
"""
from ...errors import ErrorCode
from . import PRINCIPAL_NAME, PRINCIPAL_TYPE

API_KEY = 38
VERSIONS = (0, 3)


def handle(ctx, request):
    return {"error_code": ErrorCode.DELEGATION_TOKEN_REQUEST_NOT_ALLOWED,
            "principal_type": PRINCIPAL_TYPE, "principal_name": PRINCIPAL_NAME,
            "token_requester_principal_type": PRINCIPAL_TYPE, "token_requester_principal_name": PRINCIPAL_NAME,
            "issue_timestamp_ms": -1, "expiry_timestamp_ms": -1, "max_timestamp_ms": -1,
            "token_id": "", "hmac": b""}
