"""DescribeConfigs (key 32), versions 0-4.

Topics, brokers (a node id, or "" for the cluster-wide dynamic defaults) and
broker loggers; no or empty ConfigurationKeys mean every config. v0 reports
IsDefault; v1+ the config source and, on request, synonyms; v3+ config types
(documentation is not sent).
"""
from ...cluster import configs
from ...errors import ErrorCode, KafkaError, default_message

API_KEY = 32
VERSIONS = (0, 4)


def handle(ctx, request):
    results = []
    for resource in request["resources"]:
        kind, name, keys = resource["resource_type"], resource["resource_name"], resource["configuration_keys"]
        # Kafka's ErrorMessage is "" unless an error gave one.
        result = {"error_code": ErrorCode.NONE, "error_message": "", "resource_type": kind,
                  "resource_name": name, "configs": []}
        try:
            if kind == configs.TOPIC:
                result["configs"] = configs.describe_topic(ctx.broker, name, keys, request["include_synonyms"])
            elif kind == configs.BROKER:
                result["configs"] = configs.describe_broker(ctx.broker, name, keys, request["include_synonyms"])
            elif kind == configs.BROKER_LOGGER:
                result["configs"] = configs.describe_loggers(ctx.broker, name, keys)
            else:
                raise KafkaError(ErrorCode.INVALID_REQUEST, default_message(ErrorCode.INVALID_REQUEST))
        except KafkaError as e:
            result["error_code"], result["error_message"] = e.code, e.message
        results.append(result)
    return {"results": results}
