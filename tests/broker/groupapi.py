"""Requests the group coordinator tests share (raw protocol), and the brokers
they run against: pykbroker, and where Java is available the real Apache
Kafka, so that every expectation is also checked against the specification."""
from __future__ import annotations

import shutil
import time

import pytest

from pykbroker.errors import ErrorCode
from pykbroker.testing import EmbeddedBroker
from tests.broker.rawapi import METADATA, create_topic, wait_for
from tests.support.rawclient import RawClient
from wire import codec

OFFSET_COMMIT, OFFSET_FETCH, FIND_COORDINATOR, JOIN_GROUP, HEARTBEAT, LEAVE_GROUP = 8, 9, 10, 11, 12, 13
SYNC_GROUP, DESCRIBE_GROUPS, LIST_GROUPS, DELETE_GROUPS, OFFSET_DELETE = 14, 15, 16, 42, 47
CONSUMER_GROUP_HEARTBEAT, CONSUMER_GROUP_DESCRIBE = 68, 69

# The AclOperations a group's authorized operations hold when every
# principal may do everything: READ, DELETE, DESCRIBE, DESCRIBE_CONFIGS and
# ALTER_CONFIGS (Kafka's AclEntry.supportedOperations(GROUP)).
GROUP_OPERATIONS = {3, 6, 8, 10, 11}


def operations(bits: int) -> set[int]:
    """The AclOperation codes of an authorized-operations bitfield."""
    return {op for op in range(32) if bits & (1 << op)}


# Settings that make rebalances quick enough to test, on both brokers.
GROUP_PROPERTIES = {
    "group.initial.rebalance.delay.ms": "300",  # the first members of a group join one generation
    "group.min.session.timeout.ms": "500",
    "group.consumer.min.session.timeout.ms": "1000",
    "group.consumer.session.timeout.ms": "3000",
    "group.consumer.min.heartbeat.interval.ms": "500",
    "group.consumer.heartbeat.interval.ms": "1000",
    "offsets.topic.num.partitions": "5",
}


class Target:
    """A broker the tests talk to: ``connect()`` opens raw connections."""

    def __init__(self, name: str, host: str, port: int):
        self.name = name
        self.host = host
        self.port = port
        self.clients: list[RawClient] = []

    def connect(self, client_id: str = "rawclient") -> RawClient:
        client = RawClient(self.host, self.port, client_id)
        self.clients.append(client)
        return client

    def close_clients(self) -> None:
        for client in self.clients:
            client.close()
        self.clients.clear()


def require_kafka_jars(version: str | None = None) -> None:
    """Skip unless Java and Apache Kafka's jars (from Maven, cached) are there."""
    if shutil.which("java") is None:
        pytest.skip("Apache Kafka needs Java")
    from compat import kafka_jars
    try:
        kafka_jars.jars(*([version] if version else []))
    except Exception as e:  # no Maven, or no network to fill the cache
        pytest.skip(f"Apache Kafka's jars are not available: {e}")


def targets_fixture(properties: dict[str, str]):
    """A module-scoped fixture over pykbroker and (if Java is there) Apache Kafka."""
    @pytest.fixture(scope="module", params=["pykbroker", "apache-kafka"])
    def target(request, tmp_path_factory):
        if request.param == "pykbroker":
            with EmbeddedBroker(str(tmp_path_factory.mktemp("data")), properties=properties) as broker:
                yield Target("pykbroker", "127.0.0.1", broker.port)
        else:
            require_kafka_jars()
            from compat.apache_kafka import ApacheKafka
            with ApacheKafka(properties=properties) as kafka:
                yield Target("apache-kafka", kafka.host, kafka.port)
    return target


def create_ready_topic(client: RawClient, name: str, partitions: int = 1) -> None:
    """Create a topic and wait until the broker's metadata serves it (Apache
    Kafka answers CreateTopics before its brokers know the topic)."""
    create_topic(client, name, partitions)

    def ready():
        topic = client.request(METADATA, 12, {"topics": [{"name": name, "topic_id": bytes(16)}],
                                              "allow_auto_topic_creation": False,
                                              "include_topic_authorized_operations": False})["topics"][0]
        return topic["error_code"] == ErrorCode.NONE and all(p["leader_id"] >= 0 for p in topic["partitions"])
    wait_for(ready, message=f"topic {name}")


# --- embedded consumer protocol ----------------------------------------------------------
def subscription(topics: list[str], version: int = 0) -> bytes:
    return version.to_bytes(2, "big") + codec.encode_message(
        "ConsumerProtocolSubscription", version, {"topics": topics, "user_data": None})


def assignment(partitions: dict[str, list[int]], version: int = 0) -> bytes:
    return version.to_bytes(2, "big") + codec.encode_message("ConsumerProtocolAssignment", version, {
        "assigned_partitions": [{"topic": t, "partitions": p} for t, p in partitions.items()],
        "user_data": None})


def decode_assignment(data: bytes) -> dict[str, list[int]]:
    decoded = codec.decode_message("ConsumerProtocolAssignment", 0, memoryview(data)[2:])
    return {a["topic"]: list(a["partitions"]) for a in decoded["assigned_partitions"]}


# --- classic protocol ----------------------------------------------------------------------
_NOT_READY = (ErrorCode.COORDINATOR_NOT_AVAILABLE, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, ErrorCode.NOT_COORDINATOR)


def find_coordinator(client: RawClient, group: str, version: int = 4) -> dict:
    """FindCoordinator for a group, retried (as clients do) until the
    coordinator is found and has loaded the group's partition."""
    deadline = time.monotonic() + 30
    while True:
        response = client.request(FIND_COORDINATOR, version, {"key": group, "key_type": 0,
                                                              "coordinator_keys": [group]})
        result = response["coordinators"][0] if version >= 4 else response
        if result["error_code"] == ErrorCode.NONE:
            error, _ = fetch_offsets(client, group, [])
            if error not in _NOT_READY:
                return result
        elif result["error_code"] not in _NOT_READY:
            return result
        assert time.monotonic() < deadline, f"no coordinator for {group}: {result}"
        time.sleep(0.1)


def join_request(group: str, member_id: str = "", *, instance_id: str | None = None, topics=("t",),
                 session_ms: int = 10_000, rebalance_ms: int = 10_000, protocol_type: str = "consumer",
                 protocols: list[tuple[str, bytes]] | None = None) -> dict:
    protocols = protocols if protocols is not None else [("range", subscription(list(topics)))]
    return {"group_id": group, "session_timeout_ms": session_ms, "rebalance_timeout_ms": rebalance_ms,
            "member_id": member_id, "group_instance_id": instance_id, "protocol_type": protocol_type,
            "protocols": [{"name": n, "metadata": m} for n, m in protocols], "reason": None}


def join(client: RawClient, group: str, member_id: str = "", version: int = 9, **kwargs) -> dict:
    return client.request(JOIN_GROUP, version, join_request(group, member_id, **kwargs))


def join_new_member(client: RawClient, group: str, version: int = 9, **kwargs) -> dict:
    """Join as a new member: asks for a member id first (v4+ dynamic members),
    then joins with it; returns the final JoinGroup response."""
    response = join(client, group, "", version, **kwargs)
    if response["error_code"] == ErrorCode.MEMBER_ID_REQUIRED:
        response = join(client, group, response["member_id"], version, **kwargs)
    return response


def sync(client: RawClient, group: str, generation: int, member_id: str,
         assignments: dict[str, bytes] | None = None, *, instance_id: str | None = None, version: int = 5,
         protocol_type: str | None = "consumer", protocol_name: str | None = "range") -> dict:
    return client.request(SYNC_GROUP, version, {
        "group_id": group, "generation_id": generation, "member_id": member_id, "group_instance_id": instance_id,
        "protocol_type": protocol_type, "protocol_name": protocol_name,
        "assignments": [{"member_id": m, "assignment": a} for m, a in (assignments or {}).items()]})


def heartbeat(client: RawClient, group: str, generation: int, member_id: str, *,
              instance_id: str | None = None, version: int = 4) -> int:
    return client.request(HEARTBEAT, version, {"group_id": group, "generation_id": generation,
                                                "member_id": member_id, "group_instance_id": instance_id})["error_code"]


def wait_for_heartbeat_error(client: RawClient, group: str, generation: int, member_id: str, expected: int,
                             timeout: float = 20.0) -> float:
    """Heartbeat every 100 ms until ``expected`` comes back; returns the seconds it took."""
    started = time.monotonic()
    while True:
        error = heartbeat(client, group, generation, member_id)
        if error == expected:
            return time.monotonic() - started
        assert error == ErrorCode.NONE, ErrorCode(error)
        assert time.monotonic() - started < timeout, f"no {ErrorCode(expected).name} within {timeout}s"
        time.sleep(0.1)


def stable_group(target: Target, group: str, topic: str, members: int = 1, *,
                 session_ms: int = 10_000, rebalance_ms: int = 10_000) -> tuple[list[tuple], int]:
    """Form a group of ``members`` classic members, each on its own
    connection; the leader assigns every partition of ``topic`` to itself.
    Returns [(client, member id)] with the leader first, and the generation."""
    clients = [target.connect(f"member-{i}") for i in range(members)]
    find_coordinator(clients[0], group)
    for attempt in range(3):
        ids = [""] * members
        for i, client in enumerate(clients):
            response = join(client, group, "", session_ms=session_ms, rebalance_ms=rebalance_ms, topics=(topic,))
            assert response["error_code"] == ErrorCode.MEMBER_ID_REQUIRED
            ids[i] = response["member_id"]
        for i, client in enumerate(clients):
            client.send(JOIN_GROUP, 9, join_request(group, ids[i], session_ms=session_ms,
                                                    rebalance_ms=rebalance_ms, topics=(topic,)))
        responses = [client.receive(JOIN_GROUP, 9)[1] for client in clients]
        # Apache Kafka may lose a brand-new group whose first write fails right
        # after the coordinator loaded; clients then join again, as here.
        if not any(r["error_code"] == ErrorCode.UNKNOWN_MEMBER_ID for r in responses):
            break
    assert all(r["error_code"] == ErrorCode.NONE for r in responses), responses
    generation = responses[0]["generation_id"]
    leader = responses[0]["leader"]
    order = sorted(range(members), key=lambda i: ids[i] != leader)
    plan = {ids[i]: assignment({topic: [0]} if ids[i] == leader else {}) for i in range(members)}
    for i in order:
        clients[i].send(SYNC_GROUP, 5, {
            "group_id": group, "generation_id": generation, "member_id": ids[i], "group_instance_id": None,
            "protocol_type": "consumer", "protocol_name": "range",
            "assignments": [{"member_id": m, "assignment": a} for m, a in plan.items()] if ids[i] == leader else []})
    for i in order:
        assert clients[i].receive(SYNC_GROUP, 5)[1]["error_code"] == ErrorCode.NONE
    return [(clients[i], ids[i]) for i in order], generation


# --- offsets ---------------------------------------------------------------------------------
def commit(client: RawClient, group: str, offsets: dict[tuple[str, int], int], *, generation: int = -1,
           member_id: str = "", instance_id: str | None = None, version: int = 9, metadata: str | None = "",
           retention_ms: int = -1, leader_epoch: int = -1) -> dict[tuple[str, int], int]:
    topics: dict[str, list] = {}
    for (topic, partition), offset in offsets.items():
        topics.setdefault(topic, []).append({"partition_index": partition, "committed_offset": offset,
                                             "committed_leader_epoch": leader_epoch,
                                             "committed_metadata": metadata, "commit_timestamp": -1})
    response = client.request(OFFSET_COMMIT, version, {
        "group_id": group, "generation_id_or_member_epoch": generation, "member_id": member_id,
        "group_instance_id": instance_id, "retention_time_ms": retention_ms,
        "topics": [{"name": t, "partitions": p} for t, p in topics.items()]})
    return {(t["name"], p["partition_index"]): p["error_code"] for t in response["topics"] for p in t["partitions"]}


def fetch_offsets(client: RawClient, group: str, partitions: list[tuple[str, int]] | None, *,
                  version: int = 8, require_stable: bool = False) -> tuple[int, dict]:
    """OffsetFetch of one group: (group error, {(topic, partition): partition result})."""
    topics = None
    if partitions is not None:
        by_topic: dict[str, list[int]] = {}
        for topic, partition in partitions:
            by_topic.setdefault(topic, []).append(partition)
        topics = [{"name": t, "partition_indexes": p} for t, p in by_topic.items()]
    if version >= 8:
        response = client.request(OFFSET_FETCH, version, {
            "groups": [{"group_id": group, "member_id": None, "member_epoch": -1, "topics": topics}],
            "require_stable": require_stable})
        result = response["groups"][0]
    else:
        result = client.request(OFFSET_FETCH, version, {"group_id": group, "topics": topics,
                                                        "require_stable": require_stable})
    return result["error_code"], {(t["name"], p["partition_index"]): p for t in result["topics"]
                                  for p in t["partitions"]}



# --- consumer group protocol (KIP-848) --------------------------------------------------------
def topic_id(client: RawClient, name: str) -> bytes:
    return client.request(METADATA, 12, {"topics": [{"name": name, "topic_id": bytes(16)}],
                                         "allow_auto_topic_creation": False,
                                         "include_topic_authorized_operations": False})["topics"][0]["topic_id"]


def consumer_heartbeat(client: RawClient, group: str, member_id: str, epoch: int, *, topics=None,
                       owned: dict[bytes, list[int]] | None = None, rebalance_ms: int = -1,
                       instance_id: str | None = None, assignor: str | None = None, regex: str | None = None,
                       version: int = 1) -> dict:
    """ConsumerGroupHeartbeat; ``owned`` None sends no TopicPartitions (no change)."""
    return client.request(CONSUMER_GROUP_HEARTBEAT, version, {
        "group_id": group, "member_id": member_id, "member_epoch": epoch, "instance_id": instance_id,
        "rack_id": None, "rebalance_timeout_ms": rebalance_ms,
        "subscribed_topic_names": list(topics) if topics is not None else None, "subscribed_topic_regex": regex,
        "server_assignor": assignor,
        "topic_partitions": None if owned is None else [{"topic_id": t, "partitions": sorted(p)}
                                                         for t, p in owned.items()]})


def join_consumer_group(client: RawClient, group: str, member_id: str, topics, **kwargs) -> dict:
    return consumer_heartbeat(client, group, member_id, 0, topics=topics, owned={}, rebalance_ms=kwargs.pop(
        "rebalance_ms", 10_000), **kwargs)


def assigned(response: dict) -> dict[bytes, list[int]] | None:
    """The assignment of a heartbeat response, None when it has none."""
    if response["assignment"] is None:
        return None
    return {t["topic_id"]: sorted(t["partitions"]) for t in response["assignment"]["topic_partitions"]
            if t["partitions"]}
