"""SaslAuthenticate (key 36), versions 0-2: ILLEGAL_SASL_STATE on a connection that
is already authenticated, as every PLAINTEXT connection is (see sasl_handshake)."""
from ...errors import ErrorCode

API_KEY = 36
VERSIONS = (0, 2)


def handle(ctx, request):
    return {"error_code": ErrorCode.ILLEGAL_SASL_STATE,
            "error_message": "SaslAuthenticate request received after successful authentication",
            "auth_bytes": b"", "session_lifetime_ms": 0}
