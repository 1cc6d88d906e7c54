"""ConsumerGroupDescribe (key 69), version 0: consumer protocol groups
(KIP-848) with each member's current and target assignment. A classic
group is GROUP_ID_NOT_FOUND here ("not a consumer group"), and the empty
group id INVALID_GROUP_ID, as in Kafka."""
API_KEY = 69
VERSIONS = (0, 0)


def handle(ctx, request):
    return {"groups": ctx.broker.group_coordinator.consumer.describe(
        request["group_ids"], request["include_authorized_operations"])}
