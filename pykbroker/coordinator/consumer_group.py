"""A group of the consumer protocol (KIP-848, ConsumerGroupHeartbeat): the
coordinator owns the assignment. The group epoch moves on when membership or
subscriptions change; a target assignment is computed for that epoch; each
member is then reconciled towards its target one heartbeat at a time, never
getting a partition before its previous owner has revoked it.

Like Kafka, the state only changes by replaying records (those written by a
heartbeat, or those loaded from ``__consumer_offsets``); the coordinator
computes records from the current state, writes them, then replays them.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from ..errors import ErrorCode, KafkaError
from .group_records import assignment_from, topic_partitions

# Member states (the State field of ConsumerGroupCurrentMemberAssignmentValue)
STABLE = 0
UNREVOKED_PARTITIONS = 1
UNRELEASED_PARTITIONS = 2
UNKNOWN_STATE = 127

LEAVE_GROUP_EPOCH = -1
LEAVE_GROUP_STATIC_EPOCH = -2

# Group states
EMPTY, ASSIGNING, RECONCILING, STABLE_GROUP, DEAD = "Empty", "Assigning", "Reconciling", "Stable", "Dead"

Assignment = dict[bytes, set[int]]


@dataclass
class ConsumerMember:
    member_id: str
    instance_id: str | None = None
    rack_id: str | None = None
    client_id: str = ""
    client_host: str = ""
    subscribed_topic_names: list[str] = field(default_factory=list)
    subscribed_topic_regex: str = ""  # as Kafka keeps it when there is none
    rebalance_timeout_ms: int = -1
    server_assignor: str | None = None
    member_epoch: int = 0
    previous_member_epoch: int = 0
    state: int = STABLE
    assigned: Assignment = field(default_factory=dict)
    pending_revocation: Assignment = field(default_factory=dict)

    def copy(self, **changes) -> "ConsumerMember":
        member = dataclasses.replace(self, **changes)
        if "assigned" not in changes:
            member.assigned = {t: set(p) for t, p in self.assigned.items()}
        if "pending_revocation" not in changes:
            member.pending_revocation = {t: set(p) for t, p in self.pending_revocation.items()}
        return member

    def is_reconciled_to(self, epoch: int) -> bool:
        return self.state == STABLE and self.member_epoch == epoch

    # --- records ------------------------------------------------------------------
    def metadata_value(self) -> dict:
        return {"instance_id": self.instance_id, "rack_id": self.rack_id, "client_id": self.client_id,
                "client_host": self.client_host, "subscribed_topic_names": sorted(self.subscribed_topic_names),
                "subscribed_topic_regex": self.subscribed_topic_regex,
                "rebalance_timeout_ms": self.rebalance_timeout_ms, "server_assignor": self.server_assignor,
                "classic_member_metadata": None}

    def assignment_value(self) -> dict:
        return {"member_epoch": self.member_epoch, "previous_member_epoch": self.previous_member_epoch,
                "state": self.state, "assigned_partitions": topic_partitions(self.assigned),
                "partitions_pending_revocation": topic_partitions(self.pending_revocation)}

    def apply_metadata(self, value: dict) -> None:
        self.instance_id = value["instance_id"]
        self.rack_id = value["rack_id"]
        self.client_id = value["client_id"]
        self.client_host = value["client_host"]
        self.subscribed_topic_names = list(value["subscribed_topic_names"])
        self.subscribed_topic_regex = value["subscribed_topic_regex"] or ""
        self.rebalance_timeout_ms = value["rebalance_timeout_ms"]
        self.server_assignor = value["server_assignor"]

    def apply_assignment(self, value: dict | None) -> None:
        if value is None:
            self.member_epoch = self.previous_member_epoch = LEAVE_GROUP_EPOCH
            self.state = STABLE
            self.assigned, self.pending_revocation = {}, {}
            return
        self.member_epoch = value["member_epoch"]
        self.previous_member_epoch = value["previous_member_epoch"]
        self.state = value["state"]
        self.assigned = assignment_from(value["assigned_partitions"])
        self.pending_revocation = assignment_from(value["partitions_pending_revocation"])


@dataclass
class ConsumerGroup:
    group_id: str
    group_epoch: int = 0
    assignment_epoch: int = 0
    members: dict[str, ConsumerMember] = field(default_factory=dict)
    # topic name -> (topic id, partition count) of the topics members subscribe to
    subscription_metadata: dict[str, tuple[bytes, int]] = field(default_factory=dict)
    target: dict[str, Assignment] = field(default_factory=dict)
    # (topic id, partition) -> epoch of the member that holds it (assigned or being revoked)
    partition_epochs: dict[tuple[bytes, int], int] = field(default_factory=dict)

    type = "consumer"
    protocol_type = "consumer"

    @property
    def state(self) -> str:
        if not self.members:
            return EMPTY
        if self.group_epoch > self.assignment_epoch:
            return ASSIGNING
        if all(m.is_reconciled_to(self.assignment_epoch) for m in self.members.values()):
            return STABLE_GROUP
        return RECONCILING

    @property
    def is_empty(self) -> bool:
        return not self.members

    def static_member(self, instance_id: str | None) -> ConsumerMember | None:
        if instance_id is None:
            return None
        return next((m for m in self.members.values() if m.instance_id == instance_id), None)

    def current_partition_epoch(self, topic_id: bytes, partition: int) -> int:
        return self.partition_epochs.get((topic_id, partition), -1)

    def is_subscribed_to(self, topic: str) -> bool:
        return bool(self.members) and topic in self.subscription_metadata

    def preferred_assignor(self, default: str) -> str:
        return preferred_assignor(self.members.values(), default)

    # --- replay -----------------------------------------------------------------------
    def member_for_replay(self, member_id: str) -> ConsumerMember:
        member = self.members.get(member_id)
        if member is None:
            member = self.members[member_id] = ConsumerMember(member_id)
        return member

    def update_assignment(self, member_id: str, value: dict | None) -> None:
        member = self.members.get(member_id)
        if member is None:
            if value is None:
                return
            member = self.member_for_replay(member_id)
        self._drop_partition_epochs(member)
        member.apply_assignment(value)
        for topic_id, partitions in list(member.assigned.items()) + list(member.pending_revocation.items()):
            for p in partitions:
                self.partition_epochs[(topic_id, p)] = member.member_epoch

    def remove_member(self, member_id: str) -> None:
        member = self.members.pop(member_id, None)
        if member is not None:
            self._drop_partition_epochs(member)

    def _drop_partition_epochs(self, member: ConsumerMember) -> None:
        for topic_id, partitions in list(member.assigned.items()) + list(member.pending_revocation.items()):
            for p in partitions:
                self.partition_epochs.pop((topic_id, p), None)


def preferred_assignor(members, default: str) -> str:
    """The server assignor most members asked for, else ``default``."""
    counts: dict[str, int] = {}
    for m in members:
        if m.server_assignor:
            counts[m.server_assignor] = counts.get(m.server_assignor, 0) + 1
    return max(counts, key=lambda name: (counts[name], name)) if counts else default


def reconcile(member: ConsumerMember, target_epoch: int, target: Assignment, group: ConsumerGroup,
              owned: list[dict] | None) -> ConsumerMember:
    """Kafka's CurrentAssignmentBuilder: the member's next state towards its
    target assignment. Partitions it must give up are revoked first (the
    member stays at its epoch until it reports them gone); partitions still
    held by another member are assigned only once released."""
    if member.is_reconciled_to(target_epoch):
        return member
    if member.state == UNREVOKED_PARTITIONS:
        if _owns_any(owned, member.pending_revocation):
            return member
    elif member.state == UNKNOWN_STATE:
        if owned is None or owned:
            raise KafkaError(ErrorCode.FENCED_MEMBER_EPOCH, "The consumer group member is in a unknown state. "
                             "The member must abandon all its partitions and rejoin.")
    return _next_assignment(member, target_epoch, target, group, owned)


def _next_assignment(member: ConsumerMember, target_epoch: int, target: Assignment, group: ConsumerGroup,
                     owned: list[dict] | None) -> ConsumerMember:
    assigned: Assignment = {}
    revoking: Assignment = {}
    pending_assignment: Assignment = {}
    unreleased = False
    for topic_id in set(target) | set(member.assigned):
        wanted = target.get(topic_id, set())
        current = member.assigned.get(topic_id, set())
        keep = current & wanted
        revoke = current - keep
        to_assign = set()
        for p in wanted - keep:
            holder_epoch = group.current_partition_epoch(topic_id, p)
            if holder_epoch != -1 and p not in member.pending_revocation.get(topic_id, set()):
                unreleased = True
            else:
                to_assign.add(p)
        if keep:
            assigned[topic_id] = keep
        if revoke:
            revoking[topic_id] = revoke
        if to_assign:
            pending_assignment[topic_id] = to_assign
    if revoking and _owns_any(owned, revoking):
        return member.copy(state=UNREVOKED_PARTITIONS, previous_member_epoch=member.member_epoch,
                           assigned=assigned, pending_revocation=revoking)
    for topic_id, partitions in pending_assignment.items():
        assigned.setdefault(topic_id, set()).update(partitions)
    return member.copy(state=UNRELEASED_PARTITIONS if unreleased else STABLE, member_epoch=target_epoch,
                       previous_member_epoch=member.member_epoch, assigned=assigned, pending_revocation={})


def _owns_any(owned: list[dict] | None, partitions: Assignment) -> bool:
    """Whether the owned partitions the member reported (None: it did not
    say, so assume it still has them all) include any of ``partitions``."""
    if owned is None:
        return True
    for item in owned:
        revoking = partitions.get(item["topic_id"])
        if revoking and any(p in revoking for p in item["partitions"]):
            return True
    return False
