"""DescribeLogDirs (key 35), versions 0-4: the size of each partition's log
per log dir (kafka-log-dirs, and kafka-topics' size columns in some UIs).
v3+ top-level error code; v4+ total and usable bytes of the dir's disk."""
import os

from ...errors import ErrorCode

API_KEY = 35
VERSIONS = (0, 4)


def handle(ctx, request):
    broker = ctx.broker
    wanted = None
    if request["topics"] is not None:
        wanted = {(t["topic"], p) for t in request["topics"] for p in t["partitions"]}
    results = []
    for log_dir in broker.config.log_dirs:
        topics = {}
        for (topic, index), partition in sorted(broker.replicas.partitions.items()):
            if (wanted is not None and (topic, index) not in wanted) or not partition.log.in_dir(log_dir):
                continue
            topics.setdefault(topic, []).append({
                "partition_index": index, "partition_size": partition.log.size_in_bytes,
                "offset_lag": max(0, partition.high_watermark - partition.log_end_offset), "is_future_key": False})
        stat = os.statvfs(log_dir)
        results.append({"error_code": ErrorCode.NONE, "log_dir": os.path.abspath(log_dir),
                        "topics": [{"name": t, "partitions": ps} for t, ps in topics.items()],
                        "total_bytes": stat.f_blocks * stat.f_frsize, "usable_bytes": stat.f_bavail * stat.f_frsize})
    return {"error_code": ErrorCode.NONE, "results": results}
