"""A group of the classic protocol (JoinGroup/SyncGroup/Heartbeat), as
Kafka's ClassicGroup keeps it: members with the protocols they support, the
generation, the selected protocol and leader, and the state machine

    Empty -> PreparingRebalance -> CompletingRebalance -> Stable
      ^              |  ^                  |                 |
      +--------------+  +------------------+-----------------+

(Dead once deleted). Timers and writes live in the coordinator; this class
only holds the state and its invariants.
"""
from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from wire import codec

from ..errors import ErrorCode

EMPTY = "Empty"
PREPARING_REBALANCE = "PreparingRebalance"
COMPLETING_REBALANCE = "CompletingRebalance"
STABLE = "Stable"
DEAD = "Dead"

# The states a group may come from when it enters each state.
_VALID_PREVIOUS = {
    EMPTY: {PREPARING_REBALANCE},
    PREPARING_REBALANCE: {STABLE, COMPLETING_REBALANCE, EMPTY},
    COMPLETING_REBALANCE: {PREPARING_REBALANCE},
    STABLE: {COMPLETING_REBALANCE},
}

CONSUMER_PROTOCOL_TYPE = "consumer"


@dataclass
class ClassicMember:
    member_id: str
    group_instance_id: str | None
    client_id: str
    client_host: str
    rebalance_timeout_ms: int
    session_timeout_ms: int
    protocol_type: str
    protocols: list[tuple[str, bytes]]   # (name, metadata) in the member's order of preference
    assignment: bytes = b""
    # A parked JoinGroup / SyncGroup: the member awaits the end of the phase.
    join_future: asyncio.Future | None = None
    sync_future: asyncio.Future | None = None
    is_new: bool = False

    @property
    def awaiting_join(self) -> bool:
        return self.join_future is not None

    @property
    def awaiting_sync(self) -> bool:
        return self.sync_future is not None

    def metadata(self, protocol: str) -> bytes:
        for name, metadata in self.protocols:
            if name == protocol:
                return metadata
        raise KeyError(protocol)

    def matches(self, protocols: list[tuple[str, bytes]]) -> bool:
        return [(n, bytes(m)) for n, m in protocols] == [(n, bytes(m)) for n, m in self.protocols]

    def vote(self, candidates: set[str]) -> str:
        return next(name for name, _ in self.protocols if name in candidates)

    @property
    def has_satisfied_heartbeat(self) -> bool:
        """A member parked in a rebalance needs no heartbeat; a new member
        gets no such grace (it has no member id to heartbeat with yet)."""
        if self.is_new:
            return False
        return self.awaiting_join or self.awaiting_sync


@dataclass
class ClassicGroup:
    group_id: str
    state: str = EMPTY
    previous_state: str | None = None
    state_timestamp: int = -1   # wall clock ms of the last transition
    generation_id: int = 0
    protocol_type: str | None = None
    protocol_name: str | None = None
    leader_id: str | None = None
    members: dict[str, ClassicMember] = field(default_factory=dict)
    pending_members: set[str] = field(default_factory=set)   # got MEMBER_ID_REQUIRED, not joined yet
    static_members: dict[str, str] = field(default_factory=dict)  # instance id -> member id
    pending_sync: set[str] = field(default_factory=set)      # joined this generation, not synced yet
    supported_protocols: Counter = field(default_factory=Counter)
    new_member_added: bool = False
    subscribed_topics: set[str] | None = None
    # True once a record of the group was written (a "simple" group created
    # by an offset commit has none).
    persisted: bool = False

    type = "classic"

    # --- state ----------------------------------------------------------------------
    def transition(self, state: str, now_ms: int) -> None:
        if self.state not in _VALID_PREVIOUS[state]:
            raise AssertionError(f"group {self.group_id}: illegal transition {self.state} -> {state}")
        self.previous_state = self.state
        self.state = state
        self.state_timestamp = now_ms

    def is_in(self, *states: str) -> bool:
        return self.state in states

    @property
    def can_rebalance(self) -> bool:
        return self.state in _VALID_PREVIOUS[PREPARING_REBALANCE]

    @property
    def is_empty(self) -> bool:
        return self.state == EMPTY

    @property
    def uses_consumer_protocol(self) -> bool:
        return self.protocol_type == CONSUMER_PROTOCOL_TYPE

    # --- members ----------------------------------------------------------------------
    def add(self, member: ClassicMember, join_future: asyncio.Future | None = None) -> None:
        if not self.members:
            self.protocol_type = member.protocol_type
        self.members[member.member_id] = member
        self.supported_protocols.update(name for name, _ in member.protocols)
        if member.group_instance_id is not None:
            self.static_members[member.group_instance_id] = member.member_id
        if self.leader_id is None:
            self.leader_id = member.member_id
        member.join_future = join_future

    def remove(self, member_id: str) -> ClassicMember | None:
        self.pending_members.discard(member_id)
        self.pending_sync.discard(member_id)
        member = self.members.pop(member_id, None)
        if member is None:
            return None
        self.supported_protocols.subtract(name for name, _ in member.protocols)
        self.supported_protocols += Counter()  # drop counts that reached zero
        if member.group_instance_id is not None:
            self.static_members.pop(member.group_instance_id, None)
        if self.leader_id == member_id:
            self.leader_id = next(iter(self.members), None)
        return member

    def update_member(self, member: ClassicMember, protocols: list[tuple[str, bytes]], rebalance_timeout_ms: int,
                      session_timeout_ms: int, join_future: asyncio.Future | None) -> None:
        self.supported_protocols.subtract(name for name, _ in member.protocols)
        self.supported_protocols.update(name for name, _ in protocols)
        self.supported_protocols += Counter()
        member.protocols = protocols
        member.rebalance_timeout_ms = rebalance_timeout_ms
        member.session_timeout_ms = session_timeout_ms
        member.join_future = join_future

    def replace_static_member(self, instance_id: str, old_member_id: str, new_member_id: str) -> ClassicMember:
        """A static member came back with a new member id: the old id is
        fenced (its parked requests answer FENCED_INSTANCE_ID)."""
        member = self.members.pop(old_member_id)
        complete(member.join_future, join_error(old_member_id, ErrorCode.FENCED_INSTANCE_ID))
        complete(member.sync_future, sync_error(ErrorCode.FENCED_INSTANCE_ID))
        member.join_future = member.sync_future = None
        member.member_id = new_member_id
        self.members[new_member_id] = member
        if self.leader_id == old_member_id:
            self.leader_id = new_member_id
        if old_member_id in self.pending_sync:
            self.pending_sync.discard(old_member_id)
            self.pending_sync.add(new_member_id)
        self.static_members[instance_id] = new_member_id
        return member

    def is_pending(self, member_id: str) -> bool:
        return member_id in self.pending_members

    def static_member_id(self, instance_id: str | None) -> str | None:
        return self.static_members.get(instance_id) if instance_id is not None else None

    @property
    def awaiting_join_count(self) -> int:
        return sum(1 for m in self.members.values() if m.awaiting_join)

    @property
    def all_members_joined(self) -> bool:
        return self.awaiting_join_count == len(self.members) and not self.pending_members

    @property
    def rebalance_timeout_ms(self) -> int:
        return max((m.rebalance_timeout_ms for m in self.members.values()), default=0)

    def generate_member_id(self, client_id: str, instance_id: str | None) -> str:
        return f"{instance_id if instance_id is not None else client_id}-{uuid.uuid4()}"

    # --- protocols ------------------------------------------------------------------------
    def supports_protocols(self, protocol_type: str, protocols: list[tuple[str, bytes]]) -> bool:
        if self.state == EMPTY:
            return bool(protocol_type) and bool(protocols)
        return protocol_type == self.protocol_type and any(
            self.supported_protocols.get(name, 0) == len(self.members) for name, _ in protocols)

    def select_protocol(self) -> str:
        """The protocol every member supports that most members prefer."""
        candidates = {name for name, count in self.supported_protocols.items() if count == len(self.members)}
        votes = Counter(member.vote(candidates) for member in self.members.values())
        order = [name for name, _ in next(iter(self.members.values())).protocols]
        return max(votes, key=lambda name: (votes[name], -order.index(name)))

    def maybe_elect_joined_leader(self) -> bool:
        """If the leader did not rejoin, make a member that did the leader."""
        if self.leader_id is None:
            return False
        if self.members[self.leader_id].awaiting_join:
            return True
        for member in self.members.values():
            if member.awaiting_join:
                self.leader_id = member.member_id
                return True
        return False

    def init_next_generation(self, now_ms: int) -> None:
        self.generation_id += 1
        if self.members:
            self.protocol_name = self.select_protocol()
            self.subscribed_topics = self._compute_subscribed_topics()
            self.transition(COMPLETING_REBALANCE, now_ms)
        else:
            self.protocol_name = None
            self.subscribed_topics = self._compute_subscribed_topics()
            self.transition(EMPTY, now_ms)
        self.pending_sync.clear()

    def _compute_subscribed_topics(self) -> set[str] | None:
        """The topics the members subscribe to, read from their consumer
        protocol metadata (every version starts with v0's fields); None when
        unknown (another protocol type, or metadata that does not parse)."""
        if self.protocol_type != CONSUMER_PROTOCOL_TYPE:
            return None
        if not self.members:
            return set()
        if self.protocol_name is None:
            return None
        topics: set[str] = set()
        for member in self.members.values():
            try:
                topics.update(decode_subscription(member.metadata(self.protocol_name))["topics"])
            except (KeyError, codec.DecodeError):
                return None
        return topics

    def is_subscribed_to(self, topic: str) -> bool:
        return self.subscribed_topics is not None and topic in self.subscribed_topics

    # --- describing ----------------------------------------------------------------------------
    def member_list_for_leader(self) -> list[dict]:
        return [{"member_id": m.member_id, "group_instance_id": m.group_instance_id,
                 "metadata": m.metadata(self.protocol_name)} for m in self.members.values()]

    def join_response(self, member_id: str, *, members: list[dict] | None = None,
                      skip_assignment: bool = False) -> dict:
        return {"error_code": ErrorCode.NONE, "generation_id": self.generation_id,
                "protocol_type": self.protocol_type, "protocol_name": self.protocol_name,
                "leader": self.leader_id or "", "skip_assignment": skip_assignment, "member_id": member_id,
                "members": members or []}

    def metadata_value(self, assignments: dict[str, bytes] | None = None) -> dict:
        """The GroupMetadataValue record of the group (v3)."""
        members = []
        if self.protocol_name is not None:
            for m in self.members.values():
                members.append({
                    "member_id": m.member_id, "group_instance_id": m.group_instance_id,
                    "client_id": m.client_id, "client_host": m.client_host,
                    "rebalance_timeout": m.rebalance_timeout_ms, "session_timeout": m.session_timeout_ms,
                    "subscription": m.metadata(self.protocol_name),
                    "assignment": (assignments or {}).get(m.member_id, m.assignment)})
        return {"protocol_type": self.protocol_type or "", "generation": self.generation_id,
                "protocol": self.protocol_name, "leader": self.leader_id if members else None,
                "current_state_timestamp": self.state_timestamp, "members": members}

    @classmethod
    def from_record(cls, group_id: str, value: dict) -> "ClassicGroup":
        """A group as loaded from its last GroupMetadataValue: Stable with
        its members if it has any, else Empty."""
        group = cls(group_id, persisted=True)
        group.generation_id = value["generation"]
        group.protocol_type = value["protocol_type"] or None
        group.protocol_name = value["protocol"]
        group.state_timestamp = value["current_state_timestamp"]
        for m in value["members"]:
            member = ClassicMember(
                m["member_id"], m["group_instance_id"], m["client_id"], m["client_host"],
                m["rebalance_timeout"] if m["rebalance_timeout"] >= 0 else m["session_timeout"],
                m["session_timeout"], group.protocol_type or "",
                [(group.protocol_name, bytes(m["subscription"]))], assignment=bytes(m["assignment"]))
            group.add(member)
        if value["leader"] in group.members:
            group.leader_id = value["leader"]
        group.state = STABLE if group.members else EMPTY
        group.subscribed_topics = group._compute_subscribed_topics()
        return group


def decode_subscription(metadata: bytes) -> dict:
    """A consumer protocol subscription (version int16 + ConsumerProtocolSubscription),
    read with v0's fields, which every version starts with."""
    if len(metadata) < 2:
        raise codec.DecodeError("consumer protocol subscription too short")
    return codec.decode_message("ConsumerProtocolSubscription", 0, memoryview(metadata)[2:])


def complete(future: asyncio.Future | None, result: Any) -> None:
    if future is not None and not future.done():
        future.set_result(result)


def join_error(member_id: str, code: int) -> dict:
    return {"error_code": code, "generation_id": -1, "protocol_type": None, "protocol_name": None,
            "leader": "", "skip_assignment": False, "member_id": member_id, "members": []}


def sync_error(code: int) -> dict:
    return {"error_code": code, "protocol_type": None, "protocol_name": None, "assignment": b""}
