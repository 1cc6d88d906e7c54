"""ApiVersions (key 18), versions 0-4.

v3+ carries the client's software name and version, validated as Kafka does;
v3+ responses list the supported and finalized features (KIP-584, tagged
fields): ``transaction.version`` 2 makes Java 4.x producers run transactions
V2 (KIP-890 part 2), ``group.version`` 1 stands for KIP-848's consumer groups.
An unsupported request version is answered at v0 with UNSUPPORTED_VERSION and
our ApiVersions range only, as Kafka does (see ``connection``).
"""
import re

from ...errors import ErrorCode

API_KEY = 18
VERSIONS = (0, 4)

# name: (lowest, highest level supported, level finalized). The features of a
# pykbroker cluster never change, so their epoch does not either.
FEATURES = {"group.version": (0, 1, 1), "transaction.version": (0, 2, 2)}
FINALIZED_FEATURES_EPOCH = 0

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
        # Below v4 Kafka leaves out features whose lowest level is 0, which
        # older clients cannot read (KAFKA-17011).
        "supported_features": [{"name": name, "min_version": low, "max_version": high}
                               for name, (low, high, _) in FEATURES.items() if low > 0 or ctx.api_version >= 4],
        "finalized_features_epoch": FINALIZED_FEATURES_EPOCH,
        "finalized_features": [{"name": name, "min_version_level": level, "max_version_level": level}
                               for name, (_, _, level) in FEATURES.items()],
    }


def unsupported_version_response():
    return {"error_code": ErrorCode.UNSUPPORTED_VERSION,
            "api_keys": [{"api_key": API_KEY, "min_version": VERSIONS[0], "max_version": VERSIONS[1]}]}
