"""DescribeCluster (key 60), versions 0-1.

v1 adds EndpointType: brokers (1) are described; asking a broker for
controllers (2) is refused with UNSUPPORTED_ENDPOINT_TYPE, as Kafka does.
"""
from ... import authz
from ...errors import ErrorCode

API_KEY = 60
VERSIONS = (0, 1)

ENDPOINT_BROKER = 1


def handle(ctx, request):
    metadata = ctx.broker.store.metadata
    if request["endpoint_type"] != ENDPOINT_BROKER:
        return {"error_code": ErrorCode.UNSUPPORTED_ENDPOINT_TYPE,
                "error_message": "The request was sent to an endpoint of type BROKER, but we wanted an "
                                 "endpoint of type CONTROLLER",
                "endpoint_type": request["endpoint_type"], "cluster_id": metadata.cluster_id, "brokers": []}
    return {
        "error_code": ErrorCode.NONE,
        "endpoint_type": ENDPOINT_BROKER,
        "cluster_id": metadata.cluster_id,
        "controller_id": metadata.controller_for_clients(),
        "brokers": [{"broker_id": b.node_id, "host": endpoint[0], "port": endpoint[1], "rack": b.rack}
                    for b in metadata.live_brokers() if (endpoint := b.endpoint(ctx.listener))],
        "cluster_authorized_operations": (authz.CLUSTER if request["include_cluster_authorized_operations"]
                                          else authz.NOT_REQUESTED),
    }
