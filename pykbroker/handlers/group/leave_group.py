"""LeaveGroup (key 13), versions 0-5.

v0-2 remove one member (MemberId) and report its error at the top level;
v3+ remove a batch of members, by member id or group instance id, with an
error per member (KIP-345); v5+ carry a reason. A group the coordinator does
not know answers each member UNKNOWN_MEMBER_ID with no top-level error, as
Kafka; members of a consumer protocol group can be removed this way too.
"""
from ...errors import ErrorCode

API_KEY = 13
VERSIONS = (0, 5)


async def handle(ctx, request):
    if ctx.api_version >= 3:
        members = request["members"]
    else:
        members = [{"member_id": request["member_id"], "group_instance_id": None, "reason": None}]
    error, results = await ctx.broker.group_coordinator.classic.leave_group(request["group_id"], members)
    if ctx.api_version >= 3:
        return {"error_code": error, "members": results}
    if error == ErrorCode.NONE and results:
        error = results[0]["error_code"]
    return {"error_code": error}
