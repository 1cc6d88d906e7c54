"""DeleteTopics (key 20), versions 0-6.

v0-5 name topics; v6+ name them or give their ids; v5+ error messages.
"""
from ...cluster.metadata import ZERO_UUID
from ...errors import ErrorCode, KafkaError

API_KEY = 20
VERSIONS = (0, 6)


async def handle(ctx, request):
    broker = ctx.broker
    metadata = broker.store.metadata
    if ctx.api_version >= 6:
        wanted = [(t["name"], t["topic_id"]) for t in request["topics"]]
    else:
        wanted = [(name, ZERO_UUID) for name in request["topic_names"]]
    responses = []
    for name, topic_id in wanted:
        response = {"name": name, "topic_id": topic_id, "error_code": ErrorCode.NONE, "error_message": None}
        responses.append(response)
        try:
            if name is None:
                topic = metadata.topic_by_id(topic_id)
                if topic is None:
                    raise KafkaError(ErrorCode.UNKNOWN_TOPIC_ID, "This server does not host this topic ID.")
                response["name"] = name = topic.name
            elif name in metadata.topics:
                response["topic_id"] = metadata.topics[name].topic_id
            await broker.topics.delete(name)
        except KafkaError as e:
            response["error_code"], response["error_message"] = e.code, e.message
    return {"responses": responses}
