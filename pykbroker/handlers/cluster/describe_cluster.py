"""DescribeCluster (key 60), versions 0-1.

v1 adds EndpointType: brokers (1) are described. As Kafka's brokers, asking
for controllers (2) is answered MISMATCHED_ENDPOINT_TYPE and any other type
UNSUPPORTED_ENDPOINT_TYPE, the rest of such a response left at its defaults
(EndpointType 1, ClusterId "").
"""
from ... import authz
from ...errors import ErrorCode

API_KEY = 60
VERSIONS = (0, 1)

ENDPOINT_BROKER, ENDPOINT_CONTROLLER = 1, 2


def handle(ctx, request):
    metadata = ctx.broker.store.metadata
    endpoint_type = request["endpoint_type"]
    if endpoint_type == ENDPOINT_CONTROLLER:
        return {"error_code": ErrorCode.MISMATCHED_ENDPOINT_TYPE,
                "error_message": "The request was sent to an endpoint of type BROKER, but we wanted an "
                                 "endpoint of type CONTROLLER"}
    if endpoint_type != ENDPOINT_BROKER:
        return {"error_code": ErrorCode.UNSUPPORTED_ENDPOINT_TYPE,
                "error_message": f"Unsupported endpoint type {endpoint_type}"}
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
