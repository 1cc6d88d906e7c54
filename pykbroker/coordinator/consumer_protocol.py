"""The consumer group protocol of KIP-848: ConsumerGroupHeartbeat and
ConsumerGroupDescribe, with the assignment computed here by a server-side
assignor (see ``consumer_group`` for the model).

A heartbeat (1) creates or updates the member, bumping the group epoch when
subscriptions or the subscribed topics' metadata changed; (2) computes a new
target assignment when the group epoch is ahead of it; (3) moves the member
one step towards its target. Each step's records are written, then replayed
into the group. Members are fenced when their session times out, or when
they do not revoke partitions within their rebalance timeout.
"""
from __future__ import annotations

import logging
import re
from typing import Any

from . import group_records as gr
from .assignors import ASSIGNORS
from .classic_group import ClassicGroup
from .consumer_group import (LEAVE_GROUP_EPOCH, LEAVE_GROUP_STATIC_EPOCH, UNREVOKED_PARTITIONS, ConsumerGroup,
                             ConsumerMember, preferred_assignor, reconcile)
from ..cluster.metadata import new_uuid, uuid_str
from ..cluster.topics import is_internal
from ..errors import ErrorCode, KafkaError

log = logging.getLogger("pykbroker.coordinator.group")


def _session_key(group_id: str, member_id: str) -> tuple:
    return ("consumer-session", group_id, member_id)


def _rebalance_key(group_id: str, member_id: str) -> tuple:
    return ("consumer-rebalance", group_id, member_id)


def heartbeat_error(code: ErrorCode, message: str | None = None) -> dict:
    return {"error_code": code, "error_message": message, "member_id": None, "member_epoch": 0,
            "heartbeat_interval_ms": 0, "assignment": None}


class ConsumerProtocol:
    def __init__(self, coordinator: Any):
        self.coordinator = coordinator

    @property
    def config(self):
        return self.coordinator.config

    @property
    def metadata(self):
        return self.coordinator.broker.store.metadata

    # --- ConsumerGroupHeartbeat ----------------------------------------------------------
    async def heartbeat(self, request: dict, version: int, client_id: str, client_host: str) -> dict:
        problem = _invalid_request(request, version)
        if problem:
            return heartbeat_error(ErrorCode.INVALID_REQUEST, problem)
        assignor = request["server_assignor"]
        if assignor is not None and assignor not in self._assignors():
            return heartbeat_error(ErrorCode.UNSUPPORTED_ASSIGNOR,
                                   f"ServerAssignor {assignor} is not supported. Supported assignors: "
                                   f"{', '.join(self._assignors())}.")
        try:
            shard = self.coordinator.runtime.shard_for(request["group_id"])
        except KafkaError as e:
            return heartbeat_error(e.code)
        async with shard.lock:
            try:
                if request["member_epoch"] in (LEAVE_GROUP_EPOCH, LEAVE_GROUP_STATIC_EPOCH):
                    return await self._leave(shard, request)
                return await self._heartbeat(shard, request, client_id or "", client_host)
            except KafkaError as e:
                return heartbeat_error(e.code, e.message)

    def _assignors(self) -> list[str]:
        return [name for name in self.config.get("group.consumer.assignors") if name in ASSIGNORS]

    async def _heartbeat(self, shard: Any, request: dict, client_id: str, client_host: str) -> dict:
        group_id, member_id, epoch = request["group_id"], request["member_id"], request["member_epoch"]
        owned = request["topic_partitions"]
        records: list = []
        group = shard.groups.get(group_id)
        if isinstance(group, ClassicGroup):
            if not (group.is_empty and epoch == 0):
                raise KafkaError(ErrorCode.GROUP_ID_NOT_FOUND, f"Group {group_id} is not a consumer group.")
            # An empty classic group (or one only holding offsets) gives way.
            records += self.coordinator.group_tombstones(group)
            group = None
        if group is None:
            if epoch != 0:
                raise KafkaError(ErrorCode.GROUP_ID_NOT_FOUND, f"Consumer group {group_id} not found.")
            group = ConsumerGroup(group_id)
        if not member_id:
            member_id = uuid_str(new_uuid())
        if (len(group.members) >= self.config.get("group.consumer.max.size")
                and member_id not in group.members):
            raise KafkaError(ErrorCode.GROUP_MAX_SIZE_REACHED, "The consumer group has reached its maximum "
                             f"capacity of {self.config.get('group.consumer.max.size')} members.")
        members = dict(group.members)
        targets = dict(group.target)
        member = self._member(group, request, member_id, owned, members, targets, records)
        is_new = member_id not in group.members
        regex = request.get("subscribed_topic_regex")
        if regex and regex != member.subscribed_topic_regex:
            _check_regex(regex)  # a new regex, once the group and the member are known (as Kafka)

        updated = member.copy(client_id=client_id, client_host=client_host)
        for field, value in (("instance_id", request["instance_id"]), ("rack_id", request["rack_id"]),
                             ("server_assignor", request["server_assignor"]),
                             ("subscribed_topic_regex", request.get("subscribed_topic_regex"))):
            if value is not None:
                setattr(updated, field, value)
        if request["rebalance_timeout_ms"] != -1:
            updated.rebalance_timeout_ms = request["rebalance_timeout_ms"]
        if request["subscribed_topic_names"] is not None:
            updated.subscribed_topic_names = list(request["subscribed_topic_names"])
        subscription_changed = (sorted(updated.subscribed_topic_names) != sorted(member.subscribed_topic_names)
                                or updated.subscribed_topic_regex != member.subscribed_topic_regex)
        if is_new or updated.metadata_value() != member.metadata_value():
            records.append(gr.consumer_group_member(group_id, member_id, updated.metadata_value()))
        members[member_id] = updated

        # 1. The group epoch moves on when subscriptions or their topics changed.
        subscription_metadata = self._subscription_metadata(members.values())
        bump = group.group_epoch == 0 or subscription_changed
        if subscription_metadata != group.subscription_metadata:
            records.append(gr.consumer_group_partition_metadata(group_id, subscription_metadata))
            bump = True
        group_epoch = group.group_epoch + 1 if bump else group.group_epoch
        if bump:
            records.append(gr.consumer_group_epoch(group_id, group_epoch))

        # 2. A new target assignment for the new epoch.
        target_epoch, target = group.assignment_epoch, targets.get(member_id, {})
        if group_epoch > group.assignment_epoch:
            assignor = preferred_assignor(members.values(), self._assignors()[0])
            new_targets = self._assign(assignor, members, targets, subscription_metadata)
            for mid, assignment in new_targets.items():
                if mid not in targets or targets[mid] != assignment:
                    records.append(gr.consumer_group_target_member(group_id, mid, assignment))
            records.append(gr.consumer_group_target_epoch(group_id, group_epoch))
            target_epoch, target = group_epoch, new_targets.get(member_id, {})
            log.info("group %s: new target assignment for epoch %d computed by %s", group_id, group_epoch, assignor)

        # 3. The member moves towards its target.
        reconciled = reconcile(updated, target_epoch, target, group, owned)
        # (Replaying the records changes ``member``: compare before.)
        reconciliation_changed = reconciled.assignment_value() != member.assignment_value()
        assignment_changed = reconciled.assigned != member.assigned
        if is_new or reconciliation_changed:
            records.append(gr.consumer_group_current_member(group_id, member_id, reconciled.assignment_value()))

        await self.coordinator.write(shard, records)
        self._schedule_session_timeout(shard, group_id, member_id)
        if reconciliation_changed:
            if reconciled.state == UNREVOKED_PARTITIONS:
                self._schedule_rebalance_timeout(shard, group_id, member_id, reconciled.member_epoch,
                                                 reconciled.rebalance_timeout_ms)
            else:
                shard.timers.cancel(_rebalance_key(group_id, member_id))

        response = {"error_code": ErrorCode.NONE, "error_message": None, "member_id": member_id,
                    "member_epoch": reconciled.member_epoch,
                    "heartbeat_interval_ms": self.config.get("group.consumer.heartbeat.interval.ms"),
                    "assignment": None}
        full_request = (request["rebalance_timeout_ms"] != -1 and owned is not None
                        and (request["subscribed_topic_names"] is not None
                             or request.get("subscribed_topic_regex") is not None))
        if epoch == 0 or full_request or assignment_changed:
            response["assignment"] = {"topic_partitions": gr.topic_partitions(reconciled.assigned)}
        return response

    def _member(self, group: ConsumerGroup, request: dict, member_id: str, owned: list | None,
                members: dict, targets: dict, records: list) -> ConsumerMember:
        """The member the heartbeat is about; a static member coming back
        under a new member id replaces its previous incarnation."""
        epoch, instance_id = request["member_epoch"], request["instance_id"]
        if instance_id is None:
            member = group.members.get(member_id)
            if member is None:
                if epoch != 0:
                    raise KafkaError(ErrorCode.UNKNOWN_MEMBER_ID,
                                     f"Member {member_id} is not a member of group {group.group_id}.")
                return ConsumerMember(member_id, rebalance_timeout_ms=request["rebalance_timeout_ms"])
            _check_epoch(member, epoch, owned)
            return member
        existing = group.static_member(instance_id)
        if epoch != 0:
            if existing is None:
                raise KafkaError(ErrorCode.UNKNOWN_MEMBER_ID, f"Instance id {instance_id} is unknown.")
            if existing.member_id != member_id:
                raise KafkaError(ErrorCode.FENCED_INSTANCE_ID, f"Static member {member_id} with instance id "
                                 f"{instance_id} was fenced by member {existing.member_id}.")
            _check_epoch(existing, epoch, owned)
            return existing
        if existing is None or existing.member_id == member_id:
            return existing or ConsumerMember(member_id, rebalance_timeout_ms=request["rebalance_timeout_ms"])
        if existing.member_epoch != LEAVE_GROUP_STATIC_EPOCH:
            raise KafkaError(ErrorCode.UNRELEASED_INSTANCE_ID, f"Static member {member_id} with instance id "
                             f"{instance_id} cannot join the group because the instance id is owned by "
                             f"{existing.member_id} member.")
        # The new incarnation takes over the previous one's assignment.
        replacement = existing.copy(member_id=member_id, member_epoch=0, previous_member_epoch=0)
        group_id = group.group_id
        records += [gr.consumer_group_current_member(group_id, existing.member_id, None),
                    gr.consumer_group_target_member(group_id, existing.member_id, None),
                    gr.consumer_group_member(group_id, existing.member_id, None),
                    gr.consumer_group_member(group_id, member_id, replacement.metadata_value()),
                    gr.consumer_group_target_member(group_id, member_id, targets.get(existing.member_id, {})),
                    gr.consumer_group_current_member(group_id, member_id, replacement.assignment_value())]
        del members[existing.member_id]
        targets[member_id] = targets.pop(existing.member_id, {})
        log.info("group %s: static member %s (instance id %s) replaced by %s", group_id, existing.member_id,
                 instance_id, member_id)
        return replacement

    def _subscription_metadata(self, members) -> dict[str, tuple[bytes, int]]:
        names: set[str] = set()
        for member in members:
            names.update(member.subscribed_topic_names)
            if member.subscribed_topic_regex:
                names.update(self._resolve(member.subscribed_topic_regex))
        result = {}
        for name in names:
            topic = self.metadata.topics.get(name)
            if topic is not None:
                result[name] = (topic.topic_id, len(topic.partitions))
        return result

    def _resolve(self, regex: str) -> list[str]:
        pattern = _compile(regex)
        return [name for name in self.metadata.topics if not is_internal(name) and pattern.fullmatch(name)]

    def _assign(self, assignor: str, members: dict, targets: dict,
                subscription_metadata: dict[str, tuple[bytes, int]]) -> dict:
        ids = {name: topic_id for name, (topic_id, _) in subscription_metadata.items()}
        spec = {}
        for mid, member in members.items():
            names = set(member.subscribed_topic_names)
            if member.subscribed_topic_regex:
                names.update(self._resolve(member.subscribed_topic_regex))
            spec[mid] = ({ids[n] for n in names if n in ids}, targets.get(mid, {}))
        topics = {topic_id: count for topic_id, count in subscription_metadata.values()}
        return ASSIGNORS[assignor](spec, topics)

    # --- leaving and fencing ----------------------------------------------------------------
    async def _leave(self, shard: Any, request: dict) -> dict:
        group_id, member_id, epoch = request["group_id"], request["member_id"], request["member_epoch"]
        group = shard.groups.get(group_id)
        if group is None:
            raise KafkaError(ErrorCode.GROUP_ID_NOT_FOUND, f"Group {group_id} not found.")
        if not isinstance(group, ConsumerGroup):
            raise KafkaError(ErrorCode.GROUP_ID_NOT_FOUND, f"Group {group_id} is not a consumer group.")
        instance_id = request["instance_id"]
        if instance_id is not None:
            member = group.static_member(instance_id)
            if member is None:
                raise KafkaError(ErrorCode.UNKNOWN_MEMBER_ID, f"Instance id {instance_id} is unknown.")
            if member.member_id != member_id:
                raise KafkaError(ErrorCode.FENCED_INSTANCE_ID, f"Static member {member_id} with instance id "
                                 f"{instance_id} was fenced by member {member.member_id}.")
        else:
            member = group.members.get(member_id)
            if member is None:
                raise KafkaError(ErrorCode.UNKNOWN_MEMBER_ID,
                                 f"Member {member_id} is not a member of group {group_id}.")
        if epoch == LEAVE_GROUP_STATIC_EPOCH:
            # A static member leaves for a while: it keeps its assignment for
            # its next incarnation, until its session times out.
            leaving = member.copy(member_epoch=LEAVE_GROUP_STATIC_EPOCH, pending_revocation={})
            await self.coordinator.write(shard, [gr.consumer_group_current_member(
                group_id, member_id, leaving.assignment_value())])
            log.info("group %s: static member %s left temporarily", group_id, member_id)
        else:
            await self._fence(shard, group, member, "the member left the group")
        return {"error_code": ErrorCode.NONE, "error_message": None, "member_id": member_id,
                "member_epoch": epoch, "heartbeat_interval_ms": 0, "assignment": None}

    async def _fence(self, shard: Any, group: ConsumerGroup, member: ConsumerMember, reason: str) -> None:
        await self._remove_members(shard, group, [member], reason)

    async def _remove_members(self, shard: Any, group: ConsumerGroup, leaving: list[ConsumerMember],
                              reason: str) -> None:
        """Remove members at once, with one bump of the group epoch."""
        group_id = group.group_id
        leaving_ids = list(dict.fromkeys(m.member_id for m in leaving))
        records = []
        for member_id in leaving_ids:
            records += [gr.consumer_group_current_member(group_id, member_id, None),
                        gr.consumer_group_target_member(group_id, member_id, None),
                        gr.consumer_group_member(group_id, member_id, None)]
        remaining = [m for m in group.members.values() if m.member_id not in leaving_ids]
        subscription_metadata = self._subscription_metadata(remaining)
        if subscription_metadata != group.subscription_metadata:
            records.append(gr.consumer_group_partition_metadata(group_id, subscription_metadata))
        records.append(gr.consumer_group_epoch(group_id, group.group_epoch + 1))
        await self.coordinator.write(shard, records)
        for member_id in leaving_ids:
            shard.timers.cancel(_session_key(group_id, member_id))
            shard.timers.cancel(_rebalance_key(group_id, member_id))
            log.info("group %s: member %s removed because %s", group_id, member_id, reason)

    async def classic_leave(self, shard: Any, group: ConsumerGroup, identities: list[dict]) -> list[dict]:
        """A classic LeaveGroup naming members of this group (an admin
        removing them, as Kafka's classicGroupLeaveToConsumerGroup allows):
        each member found, by member id or by instance id, is removed; a
        static member named with another member id is fenced. Returns one
        result per identity; raises KafkaError when the removal is not written."""
        results, leaving = [], []
        for identity in identities:
            member_id, instance_id = identity["member_id"], identity["group_instance_id"]
            error = ErrorCode.NONE
            if instance_id is None:
                member = group.members.get(member_id)
            else:
                member = group.static_member(instance_id)
                if member is not None and member_id and member_id != member.member_id:
                    error = ErrorCode.FENCED_INSTANCE_ID
            if member is None:
                error = ErrorCode.UNKNOWN_MEMBER_ID
            elif error == ErrorCode.NONE:
                leaving.append(member)
            results.append({"member_id": member_id, "group_instance_id": instance_id, "error_code": error})
        if leaving:
            await self._remove_members(shard, group, leaving, "the member was removed by a LeaveGroup request")
        return results

    def _schedule_session_timeout(self, shard: Any, group_id: str, member_id: str) -> None:
        shard.timers.schedule(_session_key(group_id, member_id),
                              self.config.get("group.consumer.session.timeout.ms"),
                              lambda: self.coordinator.spawn(shard, self._expire, group_id, member_id, None,
                                                             "its session expired"))

    def _schedule_rebalance_timeout(self, shard: Any, group_id: str, member_id: str, epoch: int,
                                    timeout_ms: int) -> None:
        shard.timers.schedule(_rebalance_key(group_id, member_id), timeout_ms,
                              lambda: self.coordinator.spawn(shard, self._expire, group_id, member_id, epoch,
                                                             "it did not revoke partitions in time"))

    async def _expire(self, shard: Any, group_id: str, member_id: str, epoch: int | None, reason: str) -> None:
        group = shard.consumer_group(group_id)
        member = group.members.get(member_id) if group is not None else None
        if member is None:
            return
        if epoch is not None and (member.member_epoch != epoch or member.state != UNREVOKED_PARTITIONS):
            return
        try:
            await self._fence(shard, group, member, reason)
        except KafkaError as e:
            log.warning("group %s: could not fence member %s: %s", group_id, member_id, e)

    def on_loaded(self, shard: Any, group: ConsumerGroup) -> None:
        for member in group.members.values():
            self._schedule_session_timeout(shard, group.group_id, member.member_id)
            if member.state == UNREVOKED_PARTITIONS:
                self._schedule_rebalance_timeout(shard, group.group_id, member.member_id, member.member_epoch,
                                                 member.rebalance_timeout_ms)

    # --- describing ---------------------------------------------------------------------------
    def describe(self, group_ids: list[str], include_operations: bool) -> list[dict]:
        from .. import authz
        results = []
        default_assignor = self._assignors()[0]
        for group_id in group_ids:
            result = {"error_code": ErrorCode.NONE, "error_message": None, "group_id": group_id,
                      "group_state": "", "group_epoch": 0, "assignment_epoch": 0, "assignor_name": "",
                      "members": [], "authorized_operations": authz.NOT_REQUESTED}
            results.append(result)
            if not group_id:
                result["error_code"] = ErrorCode.INVALID_GROUP_ID
                continue
            try:
                shard = self.coordinator.runtime.shard_for(group_id)
            except KafkaError as e:
                result["error_code"] = e.code
                continue
            group = shard.groups.get(group_id)
            if not isinstance(group, ConsumerGroup):
                result["error_code"] = ErrorCode.GROUP_ID_NOT_FOUND
                result["error_message"] = (f"Group {group_id} not found." if group is None
                                           else f"Group {group_id} is not a consumer group.")
                continue
            result.update(group_state=group.state, group_epoch=group.group_epoch,
                          assignment_epoch=group.assignment_epoch,
                          assignor_name=group.preferred_assignor(default_assignor),
                          members=[self._describe_member(m, group.target.get(m.member_id, {}))
                                   for m in group.members.values()])
            if include_operations:
                result["authorized_operations"] = authz.GROUP
        return results

    def _describe_member(self, member: ConsumerMember, target: dict) -> dict:
        return {"member_id": member.member_id, "instance_id": member.instance_id, "rack_id": member.rack_id,
                "member_epoch": member.member_epoch, "client_id": member.client_id,
                "client_host": member.client_host, "subscribed_topic_names": sorted(member.subscribed_topic_names),
                "subscribed_topic_regex": member.subscribed_topic_regex,
                "assignment": {"topic_partitions": self._named(member.assigned)},
                "target_assignment": {"topic_partitions": self._named(target)}}

    def _named(self, assignment: dict) -> list[dict]:
        result = []
        for topic_id, partitions in sorted(assignment.items()):
            topic = self.metadata.topic_by_id(topic_id)
            if topic is not None:
                result.append({"topic_id": topic_id, "topic_name": topic.name, "partitions": sorted(partitions)})
        return result

    def tombstones(self, group: ConsumerGroup) -> list:
        """Records deleting a consumer group, in Kafka's order."""
        group_id = group.group_id
        records = []
        for member_id in group.members:
            records.append(gr.consumer_group_current_member(group_id, member_id, None))
        for member_id in group.target:
            records.append(gr.consumer_group_target_member(group_id, member_id, None))
        records.append(gr.consumer_group_target_epoch(group_id, None))
        for member_id in group.members:
            records.append(gr.consumer_group_member(group_id, member_id, None))
        records.append(gr.consumer_group_partition_metadata(group_id, None))
        records.append(gr.consumer_group_epoch(group_id, None))
        return records


def _check_epoch(member: ConsumerMember, epoch: int, owned: list | None) -> None:
    """A member may come back with epoch 0 (rejoin), or with its previous
    epoch if it lost the response that bumped it and owns no more than its
    assignment; any other epoch is fenced."""
    if epoch == 0 or epoch == member.member_epoch:
        return
    if epoch < member.member_epoch and epoch == member.previous_member_epoch and _is_subset(owned, member.assigned):
        return
    raise KafkaError(ErrorCode.FENCED_MEMBER_EPOCH,
                     f"The consumer group member has a {'greater' if epoch > member.member_epoch else 'smaller'} "
                     f"member epoch ({epoch}) than the one known by the group coordinator "
                     f"({member.member_epoch}). The member must abandon all its partitions and rejoin.")


def _is_subset(owned: list | None, assigned: dict) -> bool:
    if owned is None:
        return False
    return all(set(item["partitions"]) <= assigned.get(item["topic_id"], set()) for item in owned)


def _invalid_request(request: dict, version: int) -> str | None:
    """Kafka's throwIfConsumerGroupHeartbeatRequestIsInvalid (its checks in
    its order); the assignor and the regular expression are checked after."""
    epoch = request["member_epoch"]
    if (version >= 1 or epoch > 0 or epoch == LEAVE_GROUP_EPOCH) and _blank(request["member_id"]):
        return "MemberId can't be empty."
    if _blank(request["group_id"]):
        return "GroupId can't be empty."
    if _blank(request["instance_id"]):
        return "InstanceId can't be empty."
    if _blank(request["rack_id"]):
        return "RackId can't be empty."
    if epoch == 0:
        if request["rebalance_timeout_ms"] == -1:
            return "RebalanceTimeoutMs must be provided in first request."
        if request["topic_partitions"] is None or request["topic_partitions"]:
            return "TopicPartitions must be empty when (re-)joining."
        # An empty list of names, or an empty regex, joins with no topics.
        if request["subscribed_topic_names"] is None and request.get("subscribed_topic_regex") is None:
            return "Either SubscribedTopicNames or SubscribedTopicRegex must be non-null when (re-)joining."
    elif epoch == LEAVE_GROUP_STATIC_EPOCH:
        if request["instance_id"] is None:
            return "InstanceId can't be null."
    elif epoch < LEAVE_GROUP_STATIC_EPOCH:
        return "MemberEpoch is invalid."
    return None


def _blank(value: str | None) -> bool:
    """Kafka's throwIfEmptyString: set, and empty once trimmed (Java's trim)."""
    return value is not None and all(ord(c) <= 0x20 for c in value)


# Python's re error messages (their start) and RE2/J's description of the
# same error, which Kafka's message carries.
_RE2_DESCRIPTIONS = (
    ("unterminated character set", "missing closing ]"),
    ("missing ), unterminated subpattern", "missing closing )"),
    ("unbalanced parenthesis", "unexpected )"),
    ("nothing to repeat", "missing argument to repetition operator"),
    ("multiple repeat", "invalid nested repetition operator"),
    ("bad character range", "invalid character class range"),
    ("bad escape (end of pattern)", "trailing backslash at end of expression"),
    ("bad escape", "invalid escape sequence"),
    ("min repeat greater than max repeat", "invalid repeat count"),
)


def _check_regex(regex: str) -> None:
    """INVALID_REGULAR_EXPRESSION for a regex that does not compile, with
    Kafka's message. Its reason is RE2/J's description of the error where
    Python's re reports the same error, else Python's own message."""
    try:
        _compile(regex)
    except re.error as e:
        reason = next((re2 for prefix, re2 in _RE2_DESCRIPTIONS if e.msg.startswith(prefix)), e.msg)
        raise KafkaError(ErrorCode.INVALID_REGULAR_EXPRESSION,
                         f"SubscribedTopicRegex `{regex}` is not a valid regular expression: {reason}.") from None


_PATTERNS: dict[str, re.Pattern] = {}


def _compile(regex: str) -> re.Pattern:
    pattern = _PATTERNS.get(regex)
    if pattern is None:
        pattern = _PATTERNS[regex] = re.compile(regex)
    return pattern
