"""FindCoordinator (key 10), versions 0-6.

v0 finds a group's coordinator; v1+ has a KeyType (0 group, 1 transaction);
v4+ batches keys (CoordinatorKeys) and answers per key. The internal topic
of the coordinator is created on first use, as in Kafka; the coordinator is
the leader of the key's partition, described on the request's listener.

Error messages are Kafka's: v1-v3 carry the error's default message ("NONE"
on success); v4+ an empty message per key, except for a key type Kafka does
not know, which fails the whole request with INVALID_REQUEST's default
message on every key.
"""
from ...errors import ErrorCode, KafkaError, default_message

API_KEY = 10
VERSIONS = (0, 6)

_KNOWN_KEY_TYPES = (0, 1, 2)  # group, transaction, share (Kafka's CoordinatorType)


async def handle(ctx, request):
    keys = request["coordinator_keys"] if ctx.api_version >= 4 else [request["key"]]
    key_type = request["key_type"]
    results = [await _find(ctx, key_type, key) for key in keys]
    if ctx.api_version >= 4:
        for result in results:
            # Kafka sets no message per key, unless the key type itself is unknown.
            result["error_message"] = default_message(result["error_code"]) \
                if key_type not in _KNOWN_KEY_TYPES else ""
        return {"coordinators": results}
    result = results[0]
    result["error_message"] = default_message(result["error_code"])
    return {key: result[key] for key in ("error_code", "error_message", "node_id", "host", "port")}


async def _find(ctx, key_type, key):
    runtime = next((c.runtime for c in (ctx.broker.group_coordinator, ctx.broker.txn_coordinator)
                    if c is not None and c.runtime.key_type == key_type), None)
    try:
        if runtime is None:
            raise KafkaError(ErrorCode.INVALID_REQUEST if key_type not in (0, 1) else
                             ErrorCode.COORDINATOR_NOT_AVAILABLE, f"Unsupported key type {key_type}")
        await runtime.ensure_topic()
        node_id, host, port = runtime.coordinator_endpoint(key, ctx.listener)
    except KafkaError as e:
        return {"key": key, "node_id": -1, "host": "", "port": -1, "error_code": e.code}
    return {"key": key, "node_id": node_id, "host": host, "port": port, "error_code": ErrorCode.NONE}
