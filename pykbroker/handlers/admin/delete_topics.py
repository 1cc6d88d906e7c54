"""DeleteTopics (key 20), versions 0-6.

v0-5 name topics; v6+ name them or give their ids, not both; v5+ error
messages. As Kafka, a name or id given twice is refused (answered once), and
a topic both named and given by id is deleted by neither.
"""
from collections import Counter

from ...cluster.metadata import ZERO_UUID
from ...errors import ErrorCode, KafkaError

API_KEY = 20
VERSIONS = (0, 6)


async def handle(ctx, request):
    broker = ctx.broker
    metadata = broker.store.metadata
    if ctx.api_version >= 6:
        entries = [(t["name"], t["topic_id"]) for t in request["topics"]]
    else:
        entries = [(name, ZERO_UUID) for name in request["topic_names"]]
    names = Counter(name for name, topic_id in entries if name is not None and topic_id == ZERO_UUID)
    ids = Counter(topic_id for name, topic_id in entries if name is None and topic_id != ZERO_UUID)
    if request["timeout_ms"] <= 0 and 1 in (*names.values(), *ids.values()):
        # Kafka's controller finds the deadline passed: every topic of the request gets the error.
        return {"responses": [_response(name, topic_id, ErrorCode.REQUEST_TIMED_OUT)
                              for name, topic_id in entries]}
    named_ids = {metadata.topics[name].topic_id for name, count in names.items()
                 if count == 1 and name in metadata.topics}
    responses, answered = [], set()
    for name, topic_id in entries:
        if name is None and topic_id == ZERO_UUID:
            responses.append(_response(None, ZERO_UUID, ErrorCode.INVALID_REQUEST,
                                       "Neither topic name nor id were specified."))
        elif name is not None and topic_id != ZERO_UUID:
            responses.append(_response(name, topic_id, ErrorCode.INVALID_REQUEST,
                                       "You may not specify both topic name and topic id."))
        elif names[name] > 1 or ids[topic_id] > 1:
            if (name, topic_id) not in answered:
                answered.add((name, topic_id))
                responses.append(_response(name, topic_id, ErrorCode.INVALID_REQUEST,
                                           "Duplicate topic name." if name is not None else "Duplicate topic id."))
        elif name is not None:
            topic = metadata.topics.get(name)
            if topic is None:
                responses.append(_response(name, ZERO_UUID, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
                                           "This server does not host this topic-partition."))
            elif topic.topic_id in ids:
                responses.append(_response(name, topic.topic_id, ErrorCode.INVALID_REQUEST,
                                           "The provided topic name maps to an ID that was already supplied."))
            else:
                responses.append(await _delete(broker, name, topic.topic_id))
        elif topic_id not in named_ids:  # else only the name's response (the refusal) is sent
            name = metadata.topic_names.get(topic_id)
            if name is None:
                responses.append(_response(None, topic_id, ErrorCode.UNKNOWN_TOPIC_ID,
                                           "This server does not host this topic ID."))
            else:
                responses.append(await _delete(broker, name, topic_id))
    return {"responses": responses}


async def _delete(broker, name, topic_id):
    try:
        await broker.topics.delete(name)
    except KafkaError as e:
        return _response(name, topic_id, e.code, e.message)
    return _response(name, topic_id, ErrorCode.NONE)


def _response(name, topic_id, code, message=None):
    return {"name": name, "topic_id": topic_id, "error_code": code, "error_message": message}
