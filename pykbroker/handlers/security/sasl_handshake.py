"""SaslHandshake (key 17), versions 0-1.

A PLAINTEXT connection is authenticated from its first byte, so a handshake
on it is ILLEGAL_SASL_STATE with no enabled mechanisms, as in Kafka.
"""
from ...errors import ErrorCode

API_KEY = 17
VERSIONS = (0, 1)


def handle(ctx, request):
    return {"error_code": ErrorCode.ILLEGAL_SASL_STATE, "mechanisms": []}
