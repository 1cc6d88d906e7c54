"""The registry of request handlers, one module per API.

Each module names its API_KEY, the VERSIONS it serves (min, max) and a
``handle(ctx, request)`` returning the response body, None for no response,
or an awaitable of either. ApiVersions advertises exactly this registry.
"""
from wire import codec

from .admin import (alter_configs, create_partitions, create_topics, delete_topics, describe_configs,
                    describe_log_dirs, incremental_alter_configs)
from .cluster import api_versions, describe_cluster, describe_topic_partitions, elect_leaders, metadata
from .data import delete_records, fetch, list_offsets, offset_for_leader_epoch, produce
from .group import (consumer_group_describe, consumer_group_heartbeat, delete_groups, describe_groups,
                    find_coordinator, heartbeat, join_group, leave_group, list_groups, offset_commit, offset_delete,
                    offset_fetch, sync_group)
from .security import (create_acls, create_delegation_token, delete_acls, describe_acls, describe_delegation_token,
                       expire_delegation_token, renew_delegation_token, sasl_authenticate, sasl_handshake)
from .txn import (add_offsets_to_txn, add_partitions_to_txn, describe_producers, describe_transactions, end_txn,
                  init_producer_id, list_transactions, txn_offset_commit, write_txn_markers)

_MODULES = [
    produce, fetch, list_offsets, metadata, offset_for_leader_epoch, api_versions, create_topics,
    delete_topics, delete_records, describe_configs, alter_configs, create_partitions,
    describe_log_dirs, incremental_alter_configs, describe_cluster, describe_topic_partitions, elect_leaders,
    init_producer_id, add_partitions_to_txn, add_offsets_to_txn, end_txn, txn_offset_commit, write_txn_markers,
    describe_producers, describe_transactions, list_transactions,
    find_coordinator, join_group, sync_group, heartbeat, leave_group, offset_commit, offset_fetch, describe_groups,
    list_groups, delete_groups, offset_delete, consumer_group_heartbeat, consumer_group_describe,
    sasl_handshake, sasl_authenticate, describe_acls, create_acls, delete_acls,
    create_delegation_token, renew_delegation_token, expire_delegation_token, describe_delegation_token,
]

HANDLERS = {module.API_KEY: module for module in _MODULES}

for _module in _MODULES:
    _low, _high = codec.supported_versions(_module.API_KEY)
    assert _low <= _module.VERSIONS[0] <= _module.VERSIONS[1] <= _high, _module.__name__
