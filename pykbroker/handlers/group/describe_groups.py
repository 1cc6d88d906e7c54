"""DescribeGroups (key 15), versions 0-5.

Classic groups with their members; member metadata (the subscription) only
while the group is Stable, as in Kafka. An unknown group, or a consumer
protocol group (described by ConsumerGroupDescribe), is reported Dead.
v3+ authorized operations on request; v4+ group instance ids.
"""
API_KEY = 15
VERSIONS = (0, 5)


def handle(ctx, request):
    include = ctx.api_version >= 3 and request["include_authorized_operations"]
    return {"groups": ctx.broker.group_coordinator.describe_groups(request["groups"], include)}
