"""The classic group protocol: JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
as Kafka's group coordinator runs them (GroupMetadataManager's classic
group operations): member ids handed out on first join (MEMBER_ID_REQUIRED
from JoinGroup v4), generations, the initial rebalance delay, the rebalance
timeout that drops members who did not rejoin, session timeouts that evict
silent members, static membership, and the group metadata record written
when a generation's assignment is set.

Every operation runs on the shard of its group, holding ``shard.lock``;
parked JoinGroup/SyncGroup requests wait on futures outside of it.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from . import group_records as gr
from .classic_group import (COMPLETING_REBALANCE, DEAD, EMPTY, PREPARING_REBALANCE, STABLE, ClassicGroup,
                            ClassicMember, complete, join_error, sync_error)
from ..errors import ErrorCode, KafkaError

log = logging.getLogger("pykbroker.coordinator.group")

# Kafka's classicGroupNewMemberJoinTimeoutMs: how long a new member's
# JoinGroup may stay parked before it is dropped (it retries if alive).
NEW_MEMBER_JOIN_TIMEOUT_MS = 5 * 60 * 1000


def _heartbeat_key(group_id: str, member_id: str) -> tuple:
    return ("heartbeat", group_id, member_id)


def _join_key(group_id: str) -> tuple:
    return ("join", group_id)


def _sync_key(group_id: str) -> tuple:
    return ("sync", group_id)


class ClassicProtocol:
    def __init__(self, coordinator: Any):
        self.coordinator = coordinator

    @property
    def config(self):
        return self.coordinator.config

    # --- JoinGroup ---------------------------------------------------------------------
    async def join_group(self, request: dict, version: int, client_id: str, client_host: str) -> dict:
        group_id = request["group_id"]
        member_id = request["member_id"]
        if not group_id:
            return join_error(member_id, ErrorCode.INVALID_GROUP_ID)
        session_timeout = request["session_timeout_ms"]
        if not (self.config.get("group.min.session.timeout.ms") <= session_timeout
                <= self.config.get("group.max.session.timeout.ms")):
            return join_error(member_id, ErrorCode.INVALID_SESSION_TIMEOUT)
        try:
            shard = self.coordinator.runtime.shard_for(group_id)
        except KafkaError as e:
            return join_error(member_id, e.code)
        join = _Join(request, version, client_id, client_host)
        future = asyncio.get_running_loop().create_future()
        async with shard.lock:
            await self._join(shard, join, future)
        # A client that disconnects does not cancel its membership, as in Kafka.
        return await asyncio.shield(future)

    async def _join(self, shard: Any, join: "_Join", future: asyncio.Future) -> None:
        group = shard.groups.get(join.group_id)
        if group is not None and not isinstance(group, ClassicGroup):
            if not group.is_empty:
                complete(future, join_error(join.member_id, ErrorCode.INCONSISTENT_GROUP_PROTOCOL))
                return
            # An empty consumer group gives way to the classic group.
            try:
                await self.coordinator.write(shard, self.coordinator.group_tombstones(group))
            except KafkaError as e:
                complete(future, join_error(join.member_id, e.code))
                return
            group = None
        new_group = group is None
        if group is None:
            if join.member_id:
                complete(future, join_error(join.member_id, ErrorCode.UNKNOWN_MEMBER_ID))
                return
            group = ClassicGroup(join.group_id, state_timestamp=self.coordinator.now_ms())
            shard.groups[join.group_id] = group
        if not self._accepts_joining_member(group, join.member_id):
            group.remove(join.member_id)
            complete(future, join_error("", ErrorCode.GROUP_MAX_SIZE_REACHED))
        elif not join.member_id:
            await self._join_new_member(shard, group, join, future)
        else:
            await self._join_existing_member(shard, group, join, future)
        if new_group and not group.persisted:
            await self._persist_new_group(shard, group, future)

    async def _persist_new_group(self, shard: Any, group: ClassicGroup, future: asyncio.Future) -> None:
        """A new group is written at once, empty, so that it survives."""
        value = {"protocol_type": "", "generation": 0, "protocol": None, "leader": None,
                 "current_state_timestamp": group.state_timestamp, "members": []}
        try:
            await self.coordinator.write(shard, [gr.group_metadata(group.group_id, value)])
        except KafkaError as e:
            log.warning("failed to write the new group %s: %s", group.group_id, e)
            if shard.groups.get(group.group_id) is group:
                del shard.groups[group.group_id]
            complete(future, join_error("", e.code))
            return
        group.persisted = True

    def _accepts_joining_member(self, group: ClassicGroup, member_id: str) -> bool:
        max_size = self.config.get("group.max.size")
        member = group.members.get(member_id)
        if group.is_in(EMPTY, DEAD):
            return True
        if group.is_in(PREPARING_REBALANCE):
            return (member is not None and member.awaiting_join) or group.awaiting_join_count < max_size
        return member is not None or len(group.members) < max_size

    async def _join_new_member(self, shard: Any, group: ClassicGroup, join: "_Join",
                               future: asyncio.Future) -> None:
        if group.is_in(DEAD):
            complete(future, join_error("", ErrorCode.COORDINATOR_NOT_AVAILABLE))
            return
        if not group.supports_protocols(join.protocol_type, join.protocols):
            complete(future, join_error("", ErrorCode.INCONSISTENT_GROUP_PROTOCOL))
            return
        new_id = group.generate_member_id(join.client_id, join.instance_id)
        if join.instance_id is not None:
            existing = group.static_member_id(join.instance_id)
            if existing is not None:
                log.info("static member with instance id %s joins group %s in state %s: replacing member %s "
                         "with %s", join.instance_id, group.group_id, group.state, existing, new_id)
                await self._update_static_member(shard, group, existing, new_id, join, future)
            else:
                await self._add_member_and_rebalance(shard, group, new_id, join, future)
        elif join.version >= 4:
            # The client must come back with this id (KIP-394), so that a
            # retried request does not leave a ghost member behind.
            group.pending_members.add(new_id)
            self._schedule_heartbeat(shard, group.group_id, new_id, join.session_timeout_ms)
            complete(future, join_error(new_id, ErrorCode.MEMBER_ID_REQUIRED))
        else:
            await self._add_member_and_rebalance(shard, group, new_id, join, future)

    async def _join_existing_member(self, shard: Any, group: ClassicGroup, join: "_Join",
                                    future: asyncio.Future) -> None:
        member_id = join.member_id
        if group.is_in(DEAD):
            complete(future, join_error(member_id, ErrorCode.COORDINATOR_NOT_AVAILABLE))
            return
        if not group.supports_protocols(join.protocol_type, join.protocols):
            complete(future, join_error(member_id, ErrorCode.INCONSISTENT_GROUP_PROTOCOL))
            return
        if group.is_pending(member_id):
            await self._add_member_and_rebalance(shard, group, member_id, join, future)
            return
        error = validate_member(group, member_id, join.instance_id)
        if error is not None:
            complete(future, join_error(member_id, error))
            return
        member = group.members[member_id]
        if group.is_in(PREPARING_REBALANCE):
            await self._update_member_and_rebalance(shard, group, member, join, future,
                                                    f"member {member_id} is joining group during {group.state}")
        elif group.is_in(COMPLETING_REBALANCE):
            if member.matches(join.protocols):
                # Same metadata: the member missed the JoinGroup response; resend it.
                leader = group.leader_id == member_id
                complete(future, group.join_response(
                    member_id, members=group.member_list_for_leader() if leader else None))
            else:
                await self._update_member_and_rebalance(shard, group, member, join, future,
                                                        f"updating metadata of member {member_id}")
        elif group.is_in(STABLE):
            if group.leader_id == member_id or not member.matches(join.protocols):
                # The leader rejoining asks for a rebalance (a change the
                # metadata does not show, such as new partitions).
                await self._update_member_and_rebalance(shard, group, member, join, future,
                                                        f"member {member_id} rejoins group during Stable")
            else:
                complete(future, group.join_response(member_id))
        else:
            complete(future, join_error(member_id, ErrorCode.UNKNOWN_MEMBER_ID))

    async def _add_member_and_rebalance(self, shard: Any, group: ClassicGroup, member_id: str, join: "_Join",
                                        future: asyncio.Future) -> None:
        member = ClassicMember(member_id, join.instance_id, join.client_id, join.client_host,
                               join.rebalance_timeout_ms, join.session_timeout_ms, join.protocol_type,
                               join.protocols, is_new=True)
        if group.is_in(PREPARING_REBALANCE) and group.previous_state == EMPTY:
            group.new_member_added = True
        group.pending_members.discard(member_id)
        group.add(member, future)
        # A new member has no id to heartbeat with; its parked join expires instead.
        self._schedule_heartbeat(shard, group.group_id, member_id, NEW_MEMBER_JOIN_TIMEOUT_MS)
        await self._maybe_prepare_rebalance_or_complete_join(
            shard, group, f"adding new member {member_id} with group instance id {join.instance_id}")

    async def _update_member_and_rebalance(self, shard: Any, group: ClassicGroup, member: ClassicMember,
                                           join: "_Join", future: asyncio.Future, reason: str) -> None:
        group.update_member(member, join.protocols, join.rebalance_timeout_ms, join.session_timeout_ms, future)
        await self._maybe_prepare_rebalance_or_complete_join(shard, group, reason)

    async def _update_static_member(self, shard: Any, group: ClassicGroup, old_id: str, new_id: str,
                                    join: "_Join", future: asyncio.Future) -> None:
        """A static member restarted: it takes its place back under a new
        member id, without a rebalance if the group is stable and the
        selected protocol stays the same (KIP-345)."""
        current_leader = group.leader_id
        member = group.replace_static_member(join.instance_id, old_id, new_id)
        shard.timers.cancel(_heartbeat_key(group.group_id, old_id))
        self._schedule_heartbeat(shard, group.group_id, new_id, member.session_timeout_ms)
        old = (member.protocols, member.rebalance_timeout_ms, member.session_timeout_ms)
        group.update_member(member, join.protocols, join.rebalance_timeout_ms, join.session_timeout_ms, future)
        if group.is_in(STABLE):
            if group.protocol_name != group.select_protocol():
                await self._maybe_prepare_rebalance_or_complete_join(
                    shard, group, f"static member {new_id} rejoined with a change of protocol")
                return
            try:
                await self.coordinator.write(shard, [gr.group_metadata(group.group_id, group.metadata_value())])
            except KafkaError as e:
                log.warning("failed to persist static member %s of group %s: %s; reverting to %s",
                            new_id, group.group_id, e, old_id)
                group.update_member(member, old[0], old[1], old[2], None)
                group.replace_static_member(join.instance_id, new_id, old_id)
                shard.timers.cancel(_heartbeat_key(group.group_id, new_id))
                self._schedule_heartbeat(shard, group.group_id, old_id, member.session_timeout_ms)
                response = group.join_response("")
                response.update(error_code=_append_error(e.code), leader=current_leader or "")
                complete(future, response)
                return
            leader = group.leader_id == new_id
            if join.version >= 9:
                self._complete_join(member, group.join_response(
                    new_id, members=group.member_list_for_leader() if leader else None, skip_assignment=leader))
            else:
                response = group.join_response(new_id)
                response["leader"] = current_leader or ""
                self._complete_join(member, response)
        elif group.is_in(COMPLETING_REBALANCE):
            # The leader may already be assigning with the old member id.
            await self._prepare_rebalance(shard, group, f"updating metadata of static member {new_id}")
        else:
            await self._maybe_complete_join_phase(shard, group)

    # --- rebalancing ---------------------------------------------------------------------
    async def _maybe_prepare_rebalance_or_complete_join(self, shard: Any, group: ClassicGroup, reason: str) -> None:
        if group.can_rebalance:
            await self._prepare_rebalance(shard, group, reason)
        else:
            await self._maybe_complete_join_phase(shard, group)

    async def _prepare_rebalance(self, shard: Any, group: ClassicGroup, reason: str) -> None:
        if group.is_in(COMPLETING_REBALANCE):
            self._reset_and_propagate_assignment(shard, group, ErrorCode.REBALANCE_IN_PROGRESS)
        shard.timers.cancel(_sync_key(group.group_id))
        initial = group.is_in(EMPTY)
        group.transition(PREPARING_REBALANCE, self.coordinator.now_ms())
        log.info("preparing to rebalance group %s in state %s with old generation %d (reason: %s)",
                 group.group_id, group.previous_state, group.generation_id, reason)
        if initial:
            # A new group waits group.initial.rebalance.delay.ms for more
            # members, and again after each one that joins, within the
            # rebalance timeout.
            delay = self.config.get("group.initial.rebalance.delay.ms")
            remaining = max(group.rebalance_timeout_ms - delay, 0)
            self._schedule_initial_join(shard, group.group_id, delay, remaining)
        else:
            shard.timers.schedule(_join_key(group.group_id), group.rebalance_timeout_ms,
                                  lambda: self.coordinator.spawn(shard, self._complete_join_phase_by_id,
                                                                 group.group_id))
            await self._maybe_complete_join_phase(shard, group)

    def _schedule_initial_join(self, shard: Any, group_id: str, delay: int, remaining: int) -> None:
        shard.timers.schedule(_join_key(group_id), delay, lambda: self.coordinator.spawn(
            shard, self._try_complete_initial_rebalance, group_id, delay, remaining))

    async def _try_complete_initial_rebalance(self, shard: Any, group_id: str, delay: int, remaining: int) -> None:
        group = shard.classic_group(group_id)
        if group is None or not group.is_in(PREPARING_REBALANCE):
            return
        if group.new_member_added and remaining:
            group.new_member_added = False
            initial_delay = self.config.get("group.initial.rebalance.delay.ms")
            self._schedule_initial_join(shard, group_id, min(initial_delay, remaining), max(remaining - delay, 0))
        else:
            await self._complete_join_phase(shard, group)

    async def _maybe_complete_join_phase(self, shard: Any, group: ClassicGroup) -> None:
        if group.is_in(PREPARING_REBALANCE) and group.all_members_joined and group.previous_state != EMPTY:
            await self._complete_join_phase(shard, group)

    async def _complete_join_phase_by_id(self, shard: Any, group_id: str) -> None:
        group = shard.classic_group(group_id)
        if group is not None and group.is_in(PREPARING_REBALANCE):
            await self._complete_join_phase(shard, group)

    async def _complete_join_phase(self, shard: Any, group: ClassicGroup) -> None:
        """End of the join phase: dynamic members that did not rejoin are
        dropped, the next generation starts and every joined member gets its
        JoinGroup response (the leader with the members' metadata)."""
        group_id = group.group_id
        shard.timers.cancel(_join_key(group_id))
        for member in [m for m in group.members.values() if not m.awaiting_join and m.group_instance_id is None]:
            log.info("member %s of group %s did not rejoin in time, removing it", member.member_id, group_id)
            group.remove(member.member_id)
            shard.timers.cancel(_heartbeat_key(group_id, member.member_id))
        if group.is_in(DEAD):
            return
        if not group.maybe_elect_joined_leader() and group.members:
            # Nobody rejoined: wait for the session timeouts to clear them out.
            log.warning("group %s could not complete rebalance because no members rejoined", group_id)
            shard.timers.schedule(_join_key(group_id), group.rebalance_timeout_ms,
                                  lambda: self.coordinator.spawn(shard, self._complete_join_phase_by_id, group_id))
            return
        group.init_next_generation(self.coordinator.now_ms())
        if group.is_in(EMPTY):
            log.info("group %s with generation %d is now empty", group_id, group.generation_id)
            try:
                await self.coordinator.write(shard, [gr.group_metadata(group_id, group.metadata_value())])
            except KafkaError as e:
                log.warning("failed to write the empty metadata of group %s: %s", group_id, e)
            return
        log.info("stabilized group %s generation %d (%s) with %d members", group_id, group.generation_id,
                 group.protocol_name, len(group.members))
        for member in list(group.members.values()):
            leader = group.leader_id == member.member_id
            self._complete_join(member, group.join_response(
                member.member_id, members=group.member_list_for_leader() if leader else None))
            self._schedule_heartbeat(shard, group_id, member.member_id, member.session_timeout_ms)
            member.is_new = False
            group.pending_sync.add(member.member_id)
        generation = group.generation_id
        shard.timers.schedule(_sync_key(group_id), group.rebalance_timeout_ms, lambda: self.coordinator.spawn(
            shard, self._expire_pending_sync, group_id, generation))

    async def _expire_pending_sync(self, shard: Any, group_id: str, generation: int) -> None:
        """Members that joined but did not SyncGroup within the rebalance
        timeout are dropped and the group rebalances without them."""
        group = shard.classic_group(group_id)
        if group is None or group.generation_id != generation or not group.is_in(COMPLETING_REBALANCE, STABLE):
            return
        if group.pending_sync:
            missing = sorted(group.pending_sync)
            for member_id in missing:
                group.remove(member_id)
                shard.timers.cancel(_heartbeat_key(group_id, member_id))
            await self._prepare_rebalance(shard, group, f"removing {missing} on pending sync request expiration")

    @staticmethod
    def _complete_join(member: ClassicMember, response: dict) -> None:
        complete(member.join_future, response)
        member.join_future = None

    # --- SyncGroup -------------------------------------------------------------------------
    async def sync_group(self, request: dict, version: int) -> dict:
        group_id = request["group_id"]
        if not group_id:
            return sync_error(ErrorCode.INVALID_GROUP_ID)
        try:
            shard = self.coordinator.runtime.shard_for(group_id)
        except KafkaError as e:
            return sync_error(e.code)
        future = asyncio.get_running_loop().create_future()
        async with shard.lock:
            await self._sync(shard, request, future)
        return await asyncio.shield(future)

    async def _sync(self, shard: Any, request: dict, future: asyncio.Future) -> None:
        group_id, member_id = request["group_id"], request["member_id"]
        group = shard.classic_group(group_id)
        error = self._validate_sync(group, request)
        if error is not None:
            complete(future, sync_error(error))
            return
        member = group.members[member_id]
        if group.is_in(EMPTY):
            complete(future, sync_error(ErrorCode.UNKNOWN_MEMBER_ID))
        elif group.is_in(PREPARING_REBALANCE):
            complete(future, sync_error(ErrorCode.REBALANCE_IN_PROGRESS))
        elif group.is_in(STABLE):
            self._remove_pending_sync(shard, group, member_id)
            complete(future, self._sync_response(group, member.assignment))
        elif group.is_in(COMPLETING_REBALANCE):
            member.sync_future = future
            self._remove_pending_sync(shard, group, member_id)
            if group.leader_id == member_id:
                await self._store_assignment(shard, group, request)

    def _validate_sync(self, group: ClassicGroup | None, request: dict) -> ErrorCode | None:
        if group is None:
            return ErrorCode.UNKNOWN_MEMBER_ID
        if group.is_in(DEAD):
            return ErrorCode.COORDINATOR_NOT_AVAILABLE
        error = validate_member(group, request["member_id"], request["group_instance_id"])
        if error is not None:
            return error
        if request["generation_id"] != group.generation_id:
            return ErrorCode.ILLEGAL_GENERATION
        if request["protocol_type"] is not None and request["protocol_type"] != group.protocol_type:
            return ErrorCode.INCONSISTENT_GROUP_PROTOCOL
        if request["protocol_name"] is not None and request["protocol_name"] != group.protocol_name:
            return ErrorCode.INCONSISTENT_GROUP_PROTOCOL
        return None

    async def _store_assignment(self, shard: Any, group: ClassicGroup, request: dict) -> None:
        """The leader's assignment (empty for members it left out) is written
        with the group; once written the group is stable and every member
        waiting in SyncGroup gets its part."""
        assignment = {a["member_id"]: bytes(a["assignment"]) for a in request["assignments"]}
        missing = [m for m in group.members if m not in assignment]
        if missing:
            log.warning("group %s: the leader gave no assignment to %s", group.group_id, missing)
        for member_id in missing:
            assignment[member_id] = b""
        generation = group.generation_id
        error = None
        try:
            await self.coordinator.write(shard, [gr.group_metadata(group.group_id, group.metadata_value(assignment))])
        except KafkaError as e:
            error = _append_error(e.code)
        # Another member may have joined meanwhile: then this generation is over.
        if not group.is_in(COMPLETING_REBALANCE) or group.generation_id != generation:
            return
        if error is not None:
            self._reset_and_propagate_assignment(shard, group, error)
            await self._maybe_prepare_rebalance_or_complete_join(
                shard, group, f"error {error.name} when storing the group assignment")
            return
        for member in group.members.values():
            member.assignment = assignment.get(member.member_id, b"")
        self._propagate_assignment(shard, group, ErrorCode.NONE)
        group.transition(STABLE, self.coordinator.now_ms())

    def _reset_and_propagate_assignment(self, shard: Any, group: ClassicGroup, error: ErrorCode) -> None:
        for member in group.members.values():
            member.assignment = b""
        self._propagate_assignment(shard, group, error)

    def _propagate_assignment(self, shard: Any, group: ClassicGroup, error: ErrorCode) -> None:
        for member in group.members.values():
            if member.sync_future is not None:
                response = self._sync_response(group, member.assignment)
                response["error_code"] = error
                complete(member.sync_future, response)
                member.sync_future = None
                self._schedule_heartbeat(shard, group.group_id, member.member_id, member.session_timeout_ms)

    @staticmethod
    def _sync_response(group: ClassicGroup, assignment: bytes) -> dict:
        return {"error_code": ErrorCode.NONE, "protocol_type": group.protocol_type,
                "protocol_name": group.protocol_name, "assignment": assignment}

    def _remove_pending_sync(self, shard: Any, group: ClassicGroup, member_id: str) -> None:
        group.pending_sync.discard(member_id)
        if not group.pending_sync:
            shard.timers.cancel(_sync_key(group.group_id))

    # --- Heartbeat --------------------------------------------------------------------------
    def heartbeat(self, request: dict) -> ErrorCode:
        group_id, member_id = request["group_id"], request["member_id"]
        if not group_id:
            return ErrorCode.INVALID_GROUP_ID
        try:
            shard = self.coordinator.runtime.shard_for(group_id)
        except KafkaError as e:
            return e.code
        group = shard.classic_group(group_id)
        if group is None:
            return ErrorCode.UNKNOWN_MEMBER_ID
        if group.is_in(DEAD):
            return ErrorCode.COORDINATOR_NOT_AVAILABLE
        error = validate_member(group, member_id, request["group_instance_id"])
        if error is not None:
            return error
        if request["generation_id"] != group.generation_id:
            return ErrorCode.ILLEGAL_GENERATION
        if group.is_in(EMPTY):
            return ErrorCode.UNKNOWN_MEMBER_ID
        member = group.members[member_id]
        self._schedule_heartbeat(shard, group_id, member_id, member.session_timeout_ms)
        if group.is_in(PREPARING_REBALANCE):
            return ErrorCode.REBALANCE_IN_PROGRESS
        return ErrorCode.NONE

    def _schedule_heartbeat(self, shard: Any, group_id: str, member_id: str, timeout_ms: int) -> None:
        shard.timers.schedule(_heartbeat_key(group_id, member_id), timeout_ms, lambda: self.coordinator.spawn(
            shard, self._expire_heartbeat, group_id, member_id))

    async def _expire_heartbeat(self, shard: Any, group_id: str, member_id: str) -> None:
        group = shard.classic_group(group_id)
        if group is None or group.is_in(DEAD):
            return
        if group.is_pending(member_id):
            log.info("pending member %s of group %s has been removed after session timeout", member_id, group_id)
            group.remove(member_id)
            await self._maybe_complete_join_phase(shard, group)
            return
        member = group.members.get(member_id)
        if member is not None and not member.has_satisfied_heartbeat:
            log.info("member %s of group %s has failed (session timeout), removing it", member_id, group_id)
            await self._remove_member_and_update_group(shard, group, member, f"member {member_id} expired")

    async def _remove_member_and_update_group(self, shard: Any, group: ClassicGroup, member: ClassicMember,
                                              reason: str) -> None:
        # A new member may still have its JoinGroup parked: answer it, so
        # that it rejoins if it is still alive.
        self._complete_join(member, join_error("", ErrorCode.UNKNOWN_MEMBER_ID))
        complete(member.sync_future, sync_error(ErrorCode.UNKNOWN_MEMBER_ID))
        member.sync_future = None
        group.remove(member.member_id)
        shard.timers.cancel(_heartbeat_key(group.group_id, member.member_id))
        if group.is_in(STABLE, COMPLETING_REBALANCE):
            await self._maybe_prepare_rebalance_or_complete_join(shard, group, reason)
        elif group.is_in(PREPARING_REBALANCE):
            await self._maybe_complete_join_phase(shard, group)

    # --- LeaveGroup ------------------------------------------------------------------------
    async def leave_group(self, group_id: str, members: list[dict]) -> tuple[ErrorCode, list[dict]]:
        """``members``: dicts with member_id, group_instance_id and reason.
        Returns the top-level error and one result per member."""
        if not group_id:
            return ErrorCode.INVALID_GROUP_ID, []
        try:
            shard = self.coordinator.runtime.shard_for(group_id)
        except KafkaError as e:
            return e.code, []
        async with shard.lock:
            group = shard.groups.get(group_id)
            if group is None:
                # Kafka answers each member, with no top-level error.
                return ErrorCode.NONE, [{"member_id": m["member_id"], "group_instance_id": m["group_instance_id"],
                                         "error_code": ErrorCode.UNKNOWN_MEMBER_ID} for m in members]
            if not isinstance(group, ClassicGroup):
                try:
                    return ErrorCode.NONE, await self.coordinator.consumer.classic_leave(shard, group, members)
                except KafkaError as e:
                    return e.code, []
            if group.is_in(DEAD):
                return ErrorCode.COORDINATOR_NOT_AVAILABLE, []
            results, leaving, changed = [], [], False
            for identity in members:
                member_id, instance_id = identity["member_id"], identity["group_instance_id"]
                result = {"member_id": member_id, "group_instance_id": instance_id, "error_code": ErrorCode.NONE}
                results.append(result)
                if instance_id is None:
                    if group.is_pending(member_id):
                        group.remove(member_id)
                        shard.timers.cancel(_heartbeat_key(group_id, member_id))
                        changed = True
                    elif member_id in group.members:
                        leaving.append(group.members[member_id])
                    else:
                        result["error_code"] = ErrorCode.UNKNOWN_MEMBER_ID
                else:
                    existing = group.static_member_id(instance_id)
                    if existing is None:
                        result["error_code"] = ErrorCode.UNKNOWN_MEMBER_ID
                    elif member_id and member_id != existing:
                        result["error_code"] = ErrorCode.FENCED_INSTANCE_ID
                    else:
                        leaving.append(group.members[existing])
            for member in leaving:
                if member.member_id in group.members:
                    log.info("member %s is leaving group %s", member.member_id, group_id)
                    self._complete_join(member, join_error("", ErrorCode.UNKNOWN_MEMBER_ID))
                    complete(member.sync_future, sync_error(ErrorCode.UNKNOWN_MEMBER_ID))
                    member.sync_future = None
                    group.remove(member.member_id)
                    shard.timers.cancel(_heartbeat_key(group_id, member.member_id))
                    changed = True
            if changed:
                if group.is_in(STABLE, COMPLETING_REBALANCE):
                    await self._maybe_prepare_rebalance_or_complete_join(
                        shard, group, f"removing members {[m.member_id for m in leaving]} on LeaveGroup")
                elif group.is_in(PREPARING_REBALANCE):
                    await self._maybe_complete_join_phase(shard, group)
            return ErrorCode.NONE, results

    # --- loading --------------------------------------------------------------------------
    def on_loaded(self, shard: Any, group: ClassicGroup) -> None:
        """Members loaded from the log must heartbeat within their session
        timeout, as after any rebalance."""
        for member in group.members.values():
            self._schedule_heartbeat(shard, group.group_id, member.member_id, member.session_timeout_ms)


class _Join:
    """A JoinGroup request, with v0's rebalance timeout (the session timeout)."""

    def __init__(self, request: dict, version: int, client_id: str, client_host: str):
        self.group_id = request["group_id"]
        self.member_id = request["member_id"]
        self.instance_id = request["group_instance_id"]
        self.session_timeout_ms = request["session_timeout_ms"]
        rebalance = request["rebalance_timeout_ms"]
        self.rebalance_timeout_ms = rebalance if version >= 1 and rebalance != -1 else self.session_timeout_ms
        self.protocol_type = request["protocol_type"]
        self.protocols = [(p["name"], bytes(p["metadata"])) for p in request["protocols"]]
        self.version = version
        self.client_id = client_id or ""
        self.client_host = client_host


def validate_member(group: ClassicGroup, member_id: str, instance_id: str | None) -> ErrorCode | None:
    """Kafka's ClassicGroup.validateMember: a static member is known by its
    instance id, and fenced if another member id now holds it."""
    if instance_id is not None:
        existing = group.static_member_id(instance_id)
        if existing is None:
            return ErrorCode.UNKNOWN_MEMBER_ID
        if existing != member_id:
            return ErrorCode.FENCED_INSTANCE_ID
        return None
    if member_id not in group.members:
        return ErrorCode.UNKNOWN_MEMBER_ID
    return None


def _append_error(code: ErrorCode) -> ErrorCode:
    """How a failed write of group metadata is reported (Kafka's
    appendGroupMetadataErrorToResponseError)."""
    if code in (ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.NOT_ENOUGH_REPLICAS,
                ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND, ErrorCode.REQUEST_TIMED_OUT):
        return ErrorCode.COORDINATOR_NOT_AVAILABLE
    if code in (ErrorCode.NOT_LEADER_OR_FOLLOWER, ErrorCode.KAFKA_STORAGE_ERROR):
        return ErrorCode.NOT_COORDINATOR
    if code in (ErrorCode.MESSAGE_TOO_LARGE, ErrorCode.RECORD_LIST_TOO_LARGE, ErrorCode.INVALID_FETCH_SIZE):
        return ErrorCode.UNKNOWN_SERVER_ERROR
    return code
