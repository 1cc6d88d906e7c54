"""ApiVersions (key 18), versions 0-4.

v3+ carries the client's software name and version, validated as Kafka does;
v3+ responses may list supported and finalized features (tagged fields).
An unsupported request version is answered at v0 with UNSUPPORTED_VERSION and
our ApiVersions range only, as Kafka does (see ``connection``).
"""
import re

from ...errors import ErrorCode

API_KEY = 18
VERSIONS = (0, 4)

_SOFTWARE = re.compile(r"[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?")


def handle(ctx, request):
    if ctx.api_version >= 3 and not (_SOFTWARE.fullmatch(request["client_software_name"] or "")
                                     and _SOFTWARE.fullmatch(request["client_software_version"] or "")):
        return {"error_code": ErrorCode.INVALID_REQUEST, "api_keys": []}
    from .. import HANDLERS
    return {
        "error_code": ErrorCode.NONE,
        "api_keys": [{"api_key": key, "min_version": module.VERSIONS[0], "max_version": module.VERSIONS[1]}
                     for key, module in sorted(HANDLERS.items())],
    }


def unsupported_version_response():
    return {"error_code": ErrorCode.UNSUPPORTED_VERSION,
            "api_keys": [{"api_key": API_KEY, "min_version": VERSIONS[0], "max_version": VERSIONS[1]}]}
