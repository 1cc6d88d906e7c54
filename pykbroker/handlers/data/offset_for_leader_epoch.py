"""OffsetForLeaderEpoch (key 23), versions 0-4.

The end offset of a leader epoch, from the leader-epoch cache (KIP-101,
KIP-279): consumers validate their position after a leader change, followers
find where to truncate. v1+ return the epoch found; v2+ check the current
leader epoch; v3+ carry the replica id (followers may ask a follower's log,
consumers (-1) and debugging (-2) only the leader's).
"""
from ...errors import ErrorCode, KafkaError

API_KEY = 23
VERSIONS = (0, 4)


def handle(ctx, request):
    replicas = ctx.broker.replicas
    topics = []
    for topic in request["topics"]:
        partitions = []
        for p in topic["partitions"]:
            response = {"partition": p["partition"], "error_code": ErrorCode.NONE, "leader_epoch": -1,
                        "end_offset": -1}
            try:
                if request["replica_id"] >= 0:
                    partition = replicas.hosted_partition(topic["topic"], p["partition"])
                else:
                    partition = replicas.leader_partition(topic["topic"], p["partition"])
                partition.check_leader_epoch(p["current_leader_epoch"])
                response["leader_epoch"], response["end_offset"] = partition.end_offset_for_epoch(p["leader_epoch"])
            except KafkaError as e:
                response["error_code"] = e.code
            partitions.append(response)
        topics.append({"topic": topic["topic"], "partitions": partitions})
    return {"topics": topics}
