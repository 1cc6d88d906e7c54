"""The registry of request handlers, one module per API.

Each module names its API_KEY, the VERSIONS it serves (min, max) and a
``handle(ctx, request)`` returning the response body, None for no response,
or an awaitable of either. ApiVersions advertises exactly this registry.
"""
from wire import codec

from .admin import (alter_configs, create_partitions, create_topics, delete_topics, describe_configs,
                    describe_log_dirs, incremental_alter_configs)
from .cluster import api_versions, describe_cluster, describe_topic_partitions, metadata
from .data import delete_records, fetch, list_offsets, offset_for_leader_epoch, produce

_MODULES = [
    produce, fetch, list_offsets, metadata, offset_for_leader_epoch, api_versions, create_topics,
    delete_topics, delete_records, describe_configs, alter_configs, create_partitions,
    describe_log_dirs, incremental_alter_configs, describe_cluster, describe_topic_partitions,
]

HANDLERS = {module.API_KEY: module for module in _MODULES}

for _module in _MODULES:
    _low, _high = codec.supported_versions(_module.API_KEY)
    assert _low <= _module.VERSIONS[0] <= _module.VERSIONS[1] <= _high, _module.__name__
