"""ListGroups (key 16), versions 0-5: the groups this broker coordinates.
v4+ filter by state (KIP-518), v5+ by type, "classic" or "consumer"
(KIP-848); both case-insensitive."""
API_KEY = 16
VERSIONS = (0, 5)


def handle(ctx, request):
    error, groups = ctx.broker.group_coordinator.list_groups(
        request["states_filter"] if ctx.api_version >= 4 else [],
        request["types_filter"] if ctx.api_version >= 5 else [])
    return {"error_code": error, "groups": groups}
