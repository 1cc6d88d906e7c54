"""A cluster of broker processes as clients see it: replicated topics,
failover, fencing, minimum in-sync replicas, controlled shutdown, leader
elections."""
from __future__ import annotations

from pykbroker.errors import ErrorCode

from .processes import batch, fetch_values, produce, wait_for

ELECT_LEADERS, DESCRIBE_CLUSTER, CREATE_PARTITIONS, DESCRIBE_TOPIC_PARTITIONS = 43, 60, 37, 75


def leader_of(cluster, topic: str, partition: int = 0) -> int:
    return wait_for(lambda: (leader := cluster.partitions(topic)[partition]["leader_id"]) >= 0 and leader, 30,
                    f"{topic}-{partition} to have a leader")


def test_replicated_topics_as_clients_see_them(cluster_factory):
    cluster = cluster_factory(default_replication_factor=3)
    assert cluster.create_topic("rf4", 1, 4)["error_code"] == ErrorCode.INVALID_REPLICATION_FACTOR
    created = cluster.create_topic("orders", 6, -1, **{"min.insync.replicas": "2"})
    assert (created["error_code"], created["replication_factor"]) == (0, 3)
    partitions = cluster.wait_for_full_isr("orders")
    # Leaders spread over the brokers, every replica on a different broker.
    assert {p["leader_id"] for p in partitions} == {1, 2, 3}
    assert all(sorted(p["replica_nodes"]) == [1, 2, 3] and p["leader_id"] == p["replica_nodes"][0]
               for p in partitions)

    with cluster.client() as c:
        response = c.request(CREATE_PARTITIONS, 3, {"topics": [{"name": "orders", "count": 8, "assignments": None}],
                                                    "timeout_ms": 30000, "validate_only": False})
        assert response["results"][0]["error_code"] == ErrorCode.NONE
        described = c.request(DESCRIBE_TOPIC_PARTITIONS, 0, {"topics": [{"name": "orders"}],
                                                             "response_partition_limit": 100, "cursor": None})
        cluster_description = c.request(DESCRIBE_CLUSTER, 1, {"include_cluster_authorized_operations": False,
                                                              "endpoint_type": 1})
    partitions = cluster.wait_for_full_isr("orders")
    assert len(partitions) == 8 and all(len(set(p["replica_nodes"])) == 3 for p in partitions)
    assert [(p["leader_id"], p["replica_nodes"]) for p in described["topics"][0]["partitions"]] == \
        [(p["leader_id"], p["replica_nodes"]) for p in partitions]
    assert sorted(b["broker_id"] for b in cluster_description["brokers"]) == [1, 2, 3]
    assert cluster_description["controller_id"] in (1, 2, 3)

    # acks=all writes are on every replica, byte for byte.
    leader = partitions[0]["leader_id"]
    with cluster.client(leader) as c:
        for i in range(20):
            assert produce(c, "orders", 0, batch(b"a%d" % i, b"b%d" % i))["error_code"] == ErrorCode.NONE
        assert len(fetch_values(c, "orders", 0)) == 40
    wait_for(lambda: len({cluster.log_bytes(n, "orders", 0)
                          for n in (1, 2, 3)}) == 1, 10, "every replica to hold the same log")


def test_a_killed_leader_is_replaced_from_the_isr_and_catches_up_when_back(cluster):
    cluster.create_topic("t", 1, 3, **{"min.insync.replicas": "2"})
    cluster.wait_for_full_isr("t")
    old = leader_of(cluster, "t")
    with cluster.client(old) as c:
        assert produce(c, "t", 0, batch(b"before"))["error_code"] == ErrorCode.NONE
    epoch = cluster.partitions("t")[0]["leader_epoch"]
    cluster.kill(old)
    new = wait_for(lambda: (leader := cluster.partitions("t")[0]["leader_id"]) not in (-1, old) and leader, 20,
                   "a new leader")
    partition = cluster.partitions("t")[0]
    assert partition["leader_epoch"] > epoch and old not in partition["isr_nodes"]
    with cluster.client(new) as c:
        assert produce(c, "t", 0, batch(b"after"))["error_code"] == ErrorCode.NONE
        assert fetch_values(c, "t", 0) == [b"before", b"after"]
    cluster.start(old)
    cluster.wait_for_full_isr("t")
    wait_for(lambda: len({cluster.log_bytes(n, "t", 0) for n in (1, 2, 3)}) == 1,
             10, "the returning broker to hold the same log")


def test_a_paused_leader_is_fenced_and_cannot_acknowledge_as_a_stale_leader(cluster):
    cluster.create_topic("t", 1, 3, **{"min.insync.replicas": "2"})
    cluster.wait_for_full_isr("t")
    old = leader_of(cluster, "t")
    stale = cluster.client(old)
    assert produce(stale, "t", 0, batch(b"first"))["error_code"] == ErrorCode.NONE
    cluster.pause(old)
    new = wait_for(lambda: (leader := cluster.partitions("t")[0]["leader_id"]) not in (-1, old) and leader, 20,
                   "a new leader while the old one is paused")
    with cluster.client(new) as c:
        assert produce(c, "t", 0, batch(b"second"))["error_code"] == ErrorCode.NONE
    # A write reaches the old leader while it is paused; it reads it first thing when resumed.
    stale.send(0, 9, {"acks": -1, "timeout_ms": 5000, "topic_data": [
        {"name": "t", "partition_data": [{"index": 0, "records": batch(b"to the stale leader")}]}]})
    cluster.resume(old)
    _, response = stale.receive(0, 9)
    stale.close()
    assert response["responses"][0]["partition_responses"][0]["error_code"] != ErrorCode.NONE
    cluster.wait_for_full_isr("t")
    with cluster.client(new) as c:
        assert fetch_values(c, "t", 0) == [b"first", b"second"]
    wait_for(lambda: len({cluster.log_bytes(n, "t", 0) for n in (1, 2, 3)}) == 1,
             10, "the resumed broker's log to converge")


def _two_of_three_down(cluster, survivor: int, victims: list[int]) -> None:
    cluster.create_topic("t", 3, 3, **{"min.insync.replicas": "2"})
    cluster.wait_for_full_isr("t")
    for victim in victims:
        cluster.kill(victim)
    led = [p["partition_index"] for p in cluster.partitions("t", survivor) if p["leader_id"] == survivor]
    assert led
    with cluster.client(survivor) as c:
        def refused():
            response = produce(c, "t", led[0], batch(b"unsafe"), timeout_ms=500)
            assert response["error_code"] != ErrorCode.NONE, "acknowledged with two of three replicas down"
            return response["error_code"] == ErrorCode.NOT_ENOUGH_REPLICAS
        wait_for(refused, 30, "NOT_ENOUGH_REPLICAS", interval=0.2)
        cluster.start(victims[0])
        wait_for(lambda: produce(c, "t", led[0], batch(b"safe"), timeout_ms=2000)["error_code"] == ErrorCode.NONE,
                 30, "writes to succeed with a broker back", interval=0.2)
        assert b"safe" in fetch_values(c, "t", led[0])


def test_two_of_three_down_refuses_acks_all_until_one_returns(cluster):
    """Each broker a quorum voter: the survivor alone has no quorum, and
    knows its followers stopped fetching."""
    victims = [n for n in cluster.broker_ids if n != 1]
    _two_of_three_down(cluster, 1, victims)


def test_two_of_three_down_with_a_dedicated_controller(cluster_factory):
    """process.roles=controller on its own: it fences the dead brokers and the
    ISRs shrink to the survivor, which then leads every partition."""
    cluster = cluster_factory(brokers=3, controllers=1)
    _two_of_three_down(cluster, 1, [2, 3])


def test_controlled_shutdown_moves_leadership_before_exiting(cluster_factory):
    cluster = cluster_factory(broker_session_timeout_ms=60000)
    cluster.create_topic("t", 6, 3)
    cluster.wait_for_full_isr("t")
    node = cluster.partitions("t")[0]["leader_id"]
    assert cluster.terminate(node) == 0
    # Others lead at once, not after its session (a minute) expires.
    wait_for(lambda: all(p["leader_id"] not in (node, -1) and node not in p["isr_nodes"]
                         for p in cluster.partitions("t")), 5, "leadership to have moved")
    assert node not in {b["node_id"] for b in cluster.metadata()["brokers"]}
    assert "controlled shutdown of node" in cluster.log(node)


def test_preferred_leaders_come_back_with_elect_leaders_and_by_themselves(cluster_factory):
    cluster = cluster_factory(auto_leader_rebalance_enable="false")
    cluster.create_topic("t", 3, 3)
    preferred = {p["partition_index"]: p["replica_nodes"][0] for p in cluster.wait_for_full_isr("t")}
    victim = preferred[0]
    cluster.kill(victim)
    wait_for(lambda: cluster.partitions("t")[0]["leader_id"] not in (victim, -1), 20, "another leader")
    cluster.start(victim)
    partitions = cluster.wait_for_full_isr("t")
    assert partitions[0]["leader_id"] != victim
    with cluster.client() as c:
        response = c.request(ELECT_LEADERS, 2, {"election_type": 0, "topic_partitions": None, "timeout_ms": 10000})
    assert response["error_code"] == ErrorCode.NONE
    elected = {r["partition_id"]: r["error_code"] for t in response["replica_election_results"]
               for r in t["partition_result"]}
    assert elected and set(elected.values()) == {ErrorCode.NONE}
    assert {p["partition_index"]: p["leader_id"] for p in cluster.partitions("t")} == preferred

    auto = cluster_factory(leader_imbalance_check_interval_seconds="1")
    auto.create_topic("t", 3, 3)
    preferred = {p["partition_index"]: p["replica_nodes"][0] for p in auto.wait_for_full_isr("t")}
    auto.kill(preferred[0])
    wait_for(lambda: auto.partitions("t")[0]["leader_id"] not in (preferred[0], -1), 20, "another leader")
    auto.start(preferred[0])
    wait_for(lambda: {p["partition_index"]: p["leader_id"] for p in auto.partitions("t")} == preferred, 30,
             "leadership to return to the preferred replicas (auto.leader.rebalance.enable)")


def test_a_paused_controller_is_replaced_and_fenced(cluster):
    cluster.create_topic("t", 3, 3)
    cluster.wait_for_full_isr("t")
    controller = cluster.controller()
    cluster.pause(controller)
    others = [n for n in cluster.broker_ids if n != controller]
    wait_for(lambda: cluster.metadata(node=others[0])["controller_id"] in others, 30, "another active controller")
    wait_for(lambda: controller not in {b["node_id"] for b in cluster.metadata(node=others[0])["brokers"]}, 30,
             "the paused controller to be fenced")
    assert all(p["leader_id"] in others for p in cluster.partitions("t", others[0]))
    cluster.resume(controller)
    cluster.wait_for_full_isr("t")
    # Resumed, the old controller learns of the new one from the quorum.
    wait_for(lambda: cluster.metadata(node=controller)["controller_id"] in others, 30,
             "the resumed node to follow the new controller")


def test_concurrent_creations_of_one_topic_on_two_brokers(cluster):
    request = {"topics": [{"name": "twice", "num_partitions": 2, "replication_factor": 3, "assignments": [],
                           "configs": []}], "timeout_ms": 30000, "validate_only": False}
    first, second = cluster.client(1), cluster.client(2)
    first.send(19, 7, request)
    second.send(19, 7, request)
    results = [client.receive(19, 7)[1]["topics"][0] for client in (first, second)]
    first.close()
    second.close()
    assert sorted(r["error_code"] for r in results) == [ErrorCode.NONE, ErrorCode.TOPIC_ALREADY_EXISTS]
    created = next(r for r in results if r["error_code"] == ErrorCode.NONE)
    assert cluster.metadata(["twice"])["topics"][0]["topic_id"] == created["topic_id"]


def test_the_whole_cluster_killed_and_restarted_keeps_acknowledged_records(cluster):
    cluster.create_topic("t", 3, 3, **{"min.insync.replicas": "2"})
    for p in cluster.wait_for_full_isr("t"):
        with cluster.client(p["leader_id"]) as c:
            for i in range(10):
                assert produce(c, "t", p["partition_index"], batch(b"%d" % i))["error_code"] == ErrorCode.NONE
    for node in cluster.broker_ids:
        cluster.kill(node)
    cluster.start()
    cluster.wait_until_started()

    def readable_and_writable(partition):
        # The metadata first seen may still name leaders of the previous run.
        with cluster.client(leader_of(cluster, "t", partition)) as c:
            assert fetch_values(c, "t", partition)[:10] == [b"%d" % i for i in range(10)]
            assert produce(c, "t", partition, batch(b"more"))["error_code"] == ErrorCode.NONE
        return True
    for partition in range(3):
        wait_for(lambda: readable_and_writable(partition), 30, f"t-{partition} readable and writable again")
