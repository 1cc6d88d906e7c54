"""What Kafka's controller decides about brokers and partition leadership
(ReplicationControlManager, PartitionChangeBuilder, ClusterControlManager),
as deterministic functions of the cluster metadata.

They run inside ``ClusterMetadata.apply``, so every node of the metadata
quorum reaches the same state from the same commands, and a command built
from a stale view (an ISR change from a deposed leader, a fence decided by a
deposed controller) is judged against the state it is applied to, the way
Kafka's controller judges AlterPartition by leader and partition epochs.
"""
from __future__ import annotations

from typing import Any, Iterable

from ..errors import ErrorCode

NO_LEADER = -1

# ElectLeaders ElectionType
PREFERRED = 0
UNCLEAN = 1


def is_active(metadata, node_id: int) -> bool:
    """Registered, unfenced and not shutting down: eligible to lead and to join an ISR."""
    broker = metadata.brokers.get(node_id)
    return broker is not None and not broker.fenced and not broker.in_controlled_shutdown


def initial_partition(metadata, replicas: list[int]) -> tuple[list[int], int]:
    """(ISR, leader) of a new partition: its active replicas, led by the
    first; leaderless (until one is unfenced) when none is active."""
    active = [r for r in replicas if is_active(metadata, r)]
    return (active, active[0]) if active else (list(replicas), NO_LEADER)


def change_partition(metadata, p, target_isr: list[int] | None = None, *, election: str = "online",
                     removing: int = NO_LEADER, adding: int = NO_LEADER) -> bool:
    """Kafka's PartitionChangeBuilder without reassignments or ELR: apply a
    target ISR (never emptied: its last member stays, so that it can lead
    again cleanly), then elect a leader if the current one may no longer
    lead. ``removing`` may not lead; ``adding`` may even while still fenced.
    The leader epoch moves with the leader, the partition epoch with any
    change. Returns whether anything changed."""
    isr = list(p.isr if target_isr is None else target_isr)

    def acceptable(r: int) -> bool:
        return r != removing and (r == adding or is_active(metadata, r))

    def valid(r: int) -> bool:
        return r in isr and acceptable(r)

    leader = p.leader
    if election == "preferred":
        candidates = [p.replicas[0]] if p.replicas else []
        candidates += [p.leader] + p.replicas[1:]
    else:
        candidates = [p.leader] + p.replicas
    chosen = next((r for r in candidates if valid(r)), NO_LEADER)
    if chosen == NO_LEADER and election == "unclean":
        chosen = next((r for r in p.replicas if acceptable(r)), NO_LEADER)
        if chosen != NO_LEADER:
            isr = [chosen]  # an unclean leader starts a new history: data may be lost
    changed = False
    if chosen != leader:
        p.leader = chosen
        p.leader_epoch += 1
        changed = True
    if isr and isr != p.isr:
        p.isr = isr
        changed = True
    if changed:
        p.partition_epoch += 1
    return changed


def _partitions(metadata) -> Iterable[tuple[Any, int, Any]]:
    for topic in metadata.topics.values():
        for index, p in enumerate(topic.partitions):
            yield topic, index, p


def remove_from_isrs(metadata, node_id: int) -> int:
    """A broker leaves (fenced, shutting down, restarted): out of every ISR,
    and leadership moves to another ISR member where there is one."""
    changed = 0
    for _, _, p in _partitions(metadata):
        if node_id in p.isr:
            changed += change_partition(metadata, p, [r for r in p.isr if r != node_id], removing=node_id)
    return changed


def elect_leaderless(metadata, node_id: int) -> int:
    """A broker became active: partitions without a leader get one (it, if
    it is the first eligible replica)."""
    changed = 0
    for _, _, p in _partitions(metadata):
        if p.leader == NO_LEADER:
            changed += change_partition(metadata, p, adding=node_id)
    return changed


# --- broker life cycle --------------------------------------------------------------

def register_broker(metadata, c: dict) -> dict:
    """A broker (re)starting: a new incarnation replaces the previous one,
    which is treated as fenced at once (its partitions move to other ISR
    members) rather than waiting out its session as Kafka does. The broker
    stays fenced until its first heartbeat. The broker epoch is the number
    of commands applied before the registration, so a restart always
    raises it (Kafka uses the registration record's offset)."""
    from .metadata import BrokerRegistration
    node_id = c["node_id"]
    previous = metadata.brokers.get(node_id)
    if previous is not None and previous.incarnation != c["incarnation"]:
        remove_from_isrs(metadata, node_id)
    epoch = metadata.epoch
    metadata.brokers[node_id] = BrokerRegistration(
        node_id, [tuple(e) for e in c["endpoints"]], c.get("rack"), fenced=True, epoch=epoch,
        incarnation=c["incarnation"])
    metadata.leadership_version += 1
    return {"error_code": ErrorCode.NONE, "broker_epoch": epoch}


def broker_heartbeat(metadata, c: dict) -> dict:
    """A live broker: a fenced one (caught up with the metadata, or it
    would not be sending heartbeats) is unfenced and takes the lead of
    partitions left without a leader."""
    broker = metadata.brokers.get(c["node_id"])
    if broker is None or broker.epoch != c["broker_epoch"]:
        return {"error_code": ErrorCode.STALE_BROKER_EPOCH, "fenced": True}
    if broker.fenced and not broker.in_controlled_shutdown:
        broker.fenced = False
        elect_leaderless(metadata, broker.node_id)
        metadata.leadership_version += 1
    return {"error_code": ErrorCode.NONE, "fenced": broker.fenced}


def fence_broker(metadata, c: dict) -> bool:
    """The controller saw no heartbeat for broker.session.timeout.ms."""
    broker = metadata.brokers.get(c["node_id"])
    if broker is None or broker.epoch != c["broker_epoch"] or broker.fenced:
        return False
    broker.fenced = True
    remove_from_isrs(metadata, broker.node_id)
    metadata.leadership_version += 1
    return True


def controlled_shutdown(metadata, c: dict) -> dict:
    """A broker about to stop: leadership moves to other ISR members and it
    leaves every ISR first, so that clients move on without waiting for its
    session to expire. Returns how many partitions it still leads (those
    whose ISR had no other member: they stay offline until it returns)."""
    broker = metadata.brokers.get(c["node_id"])
    if broker is None or broker.epoch != c["broker_epoch"]:
        return {"error_code": ErrorCode.STALE_BROKER_EPOCH, "leaderships": 0}
    broker.in_controlled_shutdown = True
    broker.fenced = True
    remove_from_isrs(metadata, broker.node_id)
    metadata.leadership_version += 1
    leaderships = sum(1 for _, _, p in _partitions(metadata) if p.leader == broker.node_id)
    return {"error_code": ErrorCode.NONE, "leaderships": leaderships}


# --- partitions ------------------------------------------------------------------------

def alter_partition(metadata, c: dict) -> dict:
    """AlterPartition from a partition leader (ISR shrink or expansion),
    validated as Kafka's controller does."""
    topic = metadata.topics.get(c["topic"])
    if topic is None or topic.topic_id != _topic_id(c) or not 0 <= c["partition"] < len(topic.partitions):
        return {"error_code": ErrorCode.UNKNOWN_TOPIC_OR_PARTITION}
    p = topic.partitions[c["partition"]]
    if c["leader_epoch"] > p.leader_epoch or c["partition_epoch"] > p.partition_epoch:
        return {"error_code": ErrorCode.NOT_CONTROLLER}
    if c["leader_epoch"] < p.leader_epoch:
        return {"error_code": ErrorCode.FENCED_LEADER_EPOCH}
    if c["node_id"] != p.leader:
        return {"error_code": ErrorCode.INVALID_REQUEST}
    if c["partition_epoch"] < p.partition_epoch:
        return {"error_code": ErrorCode.INVALID_UPDATE_VERSION}
    new_isr = list(c["isr"])
    if len(set(new_isr)) != len(new_isr) or any(r not in p.replicas for r in new_isr) or p.leader not in new_isr:
        return {"error_code": ErrorCode.INVALID_REQUEST}
    for r in new_isr:
        broker = metadata.brokers.get(r)
        if r not in p.isr and (broker is None or broker.fenced or broker.in_controlled_shutdown):
            return {"error_code": ErrorCode.INELIGIBLE_REPLICA}
    if new_isr != p.isr:
        p.isr = new_isr
        p.partition_epoch += 1
        metadata.leadership_version += 1
    return {"error_code": ErrorCode.NONE, "leader_epoch": p.leader_epoch, "partition_epoch": p.partition_epoch,
            "isr": list(p.isr)}


def _topic_id(c: dict) -> bytes:
    from .metadata import uuid_from_str
    return uuid_from_str(c["topic_id"])


def elect_leaders(metadata, c: dict) -> list[list]:
    """ElectLeaders: [topic, partition, error code, message] for each
    partition asked for (None: every partition, leaving out those that need
    no election, as Kafka does)."""
    election_type = c["election_type"]
    requested = c.get("partitions")
    results = []
    if requested is None:
        pairs = [(t.name, i) for t, i, _ in _partitions(metadata)]
    else:
        pairs = [tuple(pair) for pair in requested]
    for name, index in pairs:
        code, message = _elect(metadata, name, index, election_type)
        if requested is None and code == ErrorCode.ELECTION_NOT_NEEDED:
            continue
        results.append([name, index, int(code), message])
    return results


def _elect(metadata, name: str, index: int, election_type: int) -> tuple[ErrorCode, str | None]:
    topic = metadata.topics.get(name)
    if topic is None or not 0 <= index < len(topic.partitions):
        return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, f"No such partition as {name}-{index}"
    p = topic.partitions[index]
    if election_type == PREFERRED and p.replicas and p.leader == p.replicas[0]:
        return ErrorCode.ELECTION_NOT_NEEDED, None
    if election_type == UNCLEAN and p.leader != NO_LEADER:
        return ErrorCode.ELECTION_NOT_NEEDED, None
    before = p.leader
    changed = change_partition(metadata, p, election="preferred" if election_type == PREFERRED else "unclean")
    if not changed or p.leader == before:
        if election_type == PREFERRED:
            return ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE, (
                f"Failed to elect leader for partition {name}-{index} under strategy PreferredReplicaPartitionLeaderElectionStrategy")
        return ErrorCode.ELIGIBLE_LEADERS_NOT_AVAILABLE, (
            f"Failed to elect leader for partition {name}-{index} under strategy UncleanLeaderElectionStrategy")
    metadata.leadership_version += 1
    return ErrorCode.NONE, None
