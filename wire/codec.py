"""The Kafka message codec: every API, every version, driven by wire/schema.py.

Messages are dicts with snake_case keys (see wire/schema.py for the fields);
arrays are lists, uuids 16 raw bytes, ``records`` fields opaque bytes: decoded
as a slice of the buffer (so a view, not a copy, when given a memoryview), and
encoded from any bytes-like or a list of chunks written back to back. Decoding fills
every field the version lacks with its default, so callers can read any field
at any version (a struct's default is, as in Kafka, the struct of its fields'
defaults unless the spec says null; absent tagged fields likewise); encoding
skips such fields and takes defaults for missing keys.
Unknown tagged fields survive a decode/encode round trip under "_unknown_tags".
None given for a field that is not nullable in the version encodes as the
empty value (struct of defaults, [], "", b"").

Each (message, version) is compiled once, on first use, by wire/_codegen.py.
"""
from __future__ import annotations

import struct
from typing import NamedTuple

from ._codegen import UNKNOWN_TAGS, DecodeError, DecoderCompiler, EncoderCompiler
from .schema import MESSAGES

__all__ = [
    "API_KEYS", "DecodeError", "RequestHeader", "UNKNOWN_TAGS", "UnsupportedVersionError",
    "decode_message", "decode_request", "decode_request_header", "decode_response",
    "encode_message", "encode_request", "encode_response", "request_header_version",
    "response_header_version", "supported_versions",
]


class UnsupportedVersionError(DecodeError):
    """A known message or API at a version outside its spec's valid versions."""


def _api_keys() -> dict[int, tuple[str, str, str]]:
    keys = {}
    for msg in MESSAGES.values():
        if msg.type == "request":
            api = msg.name[: -len("Request")]
            keys[msg.api_key] = (api, msg.name, api + "Response")
    return dict(sorted(keys.items()))


# api_key -> (API name, request message name, response message name)
API_KEYS: dict[int, tuple[str, str, str]] = _api_keys()

_API_VERSIONS_KEY = 18
_CONTROLLED_SHUTDOWN_KEY = 7
_SIZE = struct.Struct(">i")
_REQUEST_HEADER_START = struct.Struct(">hhi")


class RequestHeader(NamedTuple):
    api_key: int
    api_version: int
    correlation_id: int
    client_id: str | None
    body_offset: int  # where the request body starts in the frame


def _api(api_key: int, correlation_id: int | None = None) -> tuple[str, str, str]:
    try:
        return API_KEYS[api_key]
    except KeyError:
        raise DecodeError(f"unknown api key {api_key}", correlation_id) from None


def supported_versions(api_key: int) -> tuple[int, int]:
    """(min, max) versions of the API in the message specs."""
    return MESSAGES[_api(api_key)[1]].valid_versions


# api_key -> first flexible version of its requests (and responses); above any
# version for APIs that have none
_FIRST_FLEXIBLE = {key: 1 << 16 if (first := MESSAGES[request].flexible_versions) is None else first
                   for key, (_, request, _) in API_KEYS.items()}


def _first_flexible(api_key: int) -> int:
    try:
        return _FIRST_FLEXIBLE[api_key]
    except KeyError:
        raise DecodeError(f"unknown api key {api_key}") from None


def request_header_version(api_key: int, api_version: int) -> int:
    """Header v2 for flexible versions, v1 before; ControlledShutdown v0 uses v0.
    Defined for any version, even unsupported ones, as Kafka parses such headers."""
    if api_version >= _first_flexible(api_key):
        return 2
    return 0 if api_key == _CONTROLLED_SHUTDOWN_KEY and api_version == 0 else 1


def response_header_version(api_key: int, api_version: int) -> int:
    """Header v1 for flexible versions, v0 before; ApiVersions responses always v0
    (a client that does not know the broker's versions must be able to read it)."""
    if api_version >= _first_flexible(api_key) and api_key != _API_VERSIONS_KEY:
        return 1
    return 0


_decoders: dict = {}
_encoders: dict = {}


def _compiled(cache: dict, compiler, name: str, version: int):
    fn = cache.get((name, version))
    if fn is None:
        msg = MESSAGES.get(name)
        if msg is None:
            raise DecodeError(f"unknown message {name!r}")
        lo, hi = msg.valid_versions
        if not lo <= version <= hi:
            raise UnsupportedVersionError(f"{name} has no version {version} (valid: {lo}-{hi})")
        flexible = msg.flexible_versions is not None and version >= msg.flexible_versions
        fn = cache[name, version] = compiler(version, flexible, name).compile(msg.fields)
    return fn


def _decode(name: str, version: int, buf, offset: int) -> tuple[dict, int]:
    decode = _compiled(_decoders, DecoderCompiler, name, version)
    try:
        return decode(buf, offset, len(buf))
    except DecodeError as e:
        raise DecodeError(f"{name} v{version}: {e}") from None
    except (struct.error, IndexError, ValueError, TypeError, OverflowError, MemoryError, RecursionError) as e:
        raise DecodeError(f"{name} v{version}: truncated or malformed ({e})") from None


def _encode(name: str, version: int, obj: dict, w) -> None:
    encode = _compiled(_encoders, EncoderCompiler, name, version)
    try:
        encode(w, obj)
    except struct.error as e:
        raise ValueError(f"cannot encode {name} v{version}: {e}") from e


def _frame(parts: list) -> list:
    """Fill in parts[0], the placeholder for the size prefix of the rest."""
    parts[0] = _SIZE.pack(sum(map(len, parts)))
    return parts


def decode_message(name: str, version: int, buf) -> dict:
    """Decode a message (typically a "data" one: coordinator records, consumer
    protocol metadata) that starts at buf[0]; bytes after it are ignored."""
    return _decode(name, version, buf, 0)[0]


def encode_message(name: str, version: int, obj: dict) -> bytes:
    parts: list = []
    _encode(name, version, obj, parts.append)
    return b"".join(parts)


def decode_request_header(buf) -> RequestHeader:
    """Read the header of a request frame (without its 4-byte size prefix).
    Works for any version of a known API (the broker must answer an ApiVersions
    request of a version it does not know); DecodeError carries the correlation
    id whenever it was read."""
    if len(buf) < _REQUEST_HEADER_START.size:
        raise DecodeError("request header truncated")
    api_key, api_version, correlation_id = _REQUEST_HEADER_START.unpack_from(buf, 0)
    _api(api_key, correlation_id)
    version = request_header_version(api_key, api_version)
    try:
        header, offset = _decode("RequestHeader", version, buf, 0)
    except DecodeError as e:
        raise DecodeError(str(e), correlation_id) from None
    return RequestHeader(api_key, api_version, correlation_id, header["client_id"], offset)


def decode_request(api_key: int, api_version: int, buf, offset: int = 0) -> dict:
    """Decode a request body starting at buf[offset]. Like Kafka, bytes after
    the body are ignored."""
    return _decode(_api(api_key)[1], api_version, buf, offset)[0]


def encode_request(api_key: int, api_version: int, correlation_id: int, client_id: str | None,
                   body: dict) -> bytes:
    """A whole request frame, size prefix included."""
    name = _api(api_key)[1]
    header = {"request_api_key": api_key, "request_api_version": api_version,
              "correlation_id": correlation_id, "client_id": client_id}
    parts: list = [b""]
    _encode("RequestHeader", request_header_version(api_key, api_version), header, parts.append)
    _encode(name, api_version, body, parts.append)
    return b"".join(_frame(parts))


def encode_response(api_key: int, api_version: int, correlation_id: int, body: dict) -> bytes:
    """A whole response frame, size prefix included."""
    return b"".join(encode_response_parts(api_key, api_version, correlation_id, body))


def encode_response_parts(api_key: int, api_version: int, correlation_id: int, body: dict) -> list:
    """A whole response frame as the pieces to write back to back (size
    prefix first): records are not copied into one buffer."""
    name = _api(api_key)[2]
    parts: list = [b""]
    _encode("ResponseHeader", response_header_version(api_key, api_version),
            {"correlation_id": correlation_id}, parts.append)
    _encode(name, api_version, body, parts.append)
    return _frame(parts)


def decode_response(api_key: int, api_version: int, buf) -> tuple[int, dict]:
    """Decode a response frame (without its size prefix): (correlation id, body)."""
    name = _api(api_key)[2]
    header, offset = _decode("ResponseHeader", response_header_version(api_key, api_version), buf, 0)
    return header["correlation_id"], _decode(name, api_version, buf, offset)[0]
