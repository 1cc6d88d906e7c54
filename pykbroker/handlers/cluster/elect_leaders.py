"""ElectLeaders (key 43), versions 0-2 (kafka-leader-election, and
AdminClient.electLeaders).

v0 elects preferred replicas; v1+ carry the ElectionType (0 preferred,
1 unclean) and a top-level error code; v2 is flexible. A null partition list
means every partition, and then those that need no election are left out of
the results, as Kafka does. The election is committed through the metadata
quorum before the response, so Metadata shows the new leaders at once.
"""
from ...cluster.replication_control import PREFERRED, UNCLEAN
from ...errors import ErrorCode, KafkaError

API_KEY = 43
VERSIONS = (0, 2)


async def handle(ctx, request):
    election_type = request["election_type"] if ctx.api_version >= 1 else PREFERRED
    requested = request["topic_partitions"]
    if election_type not in (PREFERRED, UNCLEAN):
        return {"error_code": ErrorCode.INVALID_REQUEST, "replica_election_results": []}
    partitions = None
    if requested is not None:
        partitions = list(dict.fromkeys((t["topic"], p) for t in requested for p in t["partitions"]))
    try:
        results = await ctx.broker.store.submit({"type": "elect_leaders", "election_type": election_type,
                                                 "partitions": partitions},
                                                timeout=max(request["timeout_ms"], 1) / 1000)
    except KafkaError as e:
        return {"error_code": e.code, "replica_election_results": []}
    by_topic: dict[str, list] = {}
    for topic, index, code, message in results:
        by_topic.setdefault(topic, []).append({"partition_id": index, "error_code": code, "error_message": message})
    return {"error_code": ErrorCode.NONE,
            "replica_election_results": [{"topic": t, "partition_result": ps} for t, ps in by_topic.items()]}
