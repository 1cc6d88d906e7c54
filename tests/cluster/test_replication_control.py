"""The controller's decisions as the metadata state machine applies them:
fencing, unfencing, controlled shutdown, AlterPartition validation and
leader elections, with Kafka's rules (leaders only from the ISR, the last
ISR member kept, leader epoch bumped with the leader)."""
from pykbroker.cluster.metadata import ClusterMetadata, new_uuid, uuid_str
from pykbroker.errors import ErrorCode


def cluster(brokers=(1, 2, 3), assignments=((1, 2, 3), (2, 3, 1), (3, 1, 2))) -> ClusterMetadata:
    metadata = ClusterMetadata("cluster")
    for node in brokers:
        metadata.apply({"type": "register_broker", "node_id": node, "endpoints": [["PLAINTEXT", "h", 9000 + node]],
                        "incarnation": f"i{node}"})
        epoch = metadata.brokers[node].epoch
        metadata.apply({"type": "broker_heartbeat", "node_id": node, "broker_epoch": epoch})
    metadata.apply({"type": "create_topic", "name": "t", "topic_id": uuid_str(new_uuid()),
                    "assignments": [list(a) for a in assignments]})
    return metadata


def state(metadata, index=0):
    p = metadata.topics["t"].partitions[index]
    return p.leader, p.leader_epoch, p.isr


def fence(metadata, node):
    return metadata.apply({"type": "fence_broker", "node_id": node, "broker_epoch": metadata.brokers[node].epoch})


def alter(metadata, index, isr, node=None, **overrides):
    p = metadata.topics["t"].partitions[index]
    command = {"type": "alter_partition", "topic": "t", "topic_id": uuid_str(metadata.topics["t"].topic_id),
               "partition": index, "node_id": p.leader if node is None else node, "leader_epoch": p.leader_epoch,
               "partition_epoch": p.partition_epoch, "isr": isr}
    command.update(overrides)
    return metadata.apply(command)


def test_a_new_registration_is_fenced_until_its_first_heartbeat():
    metadata = ClusterMetadata("c")
    result = metadata.apply({"type": "register_broker", "node_id": 1, "endpoints": [], "incarnation": "a"})
    assert metadata.brokers[1].fenced and metadata.live_brokers() == []
    metadata.apply({"type": "broker_heartbeat", "node_id": 1, "broker_epoch": result["broker_epoch"]})
    assert [b.node_id for b in metadata.live_brokers()] == [1]


def test_new_topics_put_active_replicas_in_the_isr_and_lead_with_the_first():
    metadata = cluster()
    fence(metadata, 2)
    metadata.apply({"type": "create_topic", "name": "u", "topic_id": uuid_str(new_uuid()), "assignments": [[2, 3]]})
    p = metadata.topics["u"].partitions[0]
    assert (p.leader, p.isr) == (3, [3])


def test_fencing_the_leader_elects_the_next_isr_member_and_bumps_the_epoch():
    metadata = cluster()
    assert fence(metadata, 1)
    assert state(metadata, 0) == (2, 1, [2, 3])   # led by 1: next in replica order
    assert state(metadata, 1) == (2, 0, [2, 3])   # 1 only left the ISR: same leader, same epoch
    assert not fence(metadata, 1)                 # already fenced


def test_the_last_isr_member_stays_and_the_partition_goes_offline_until_it_returns():
    metadata = cluster(assignments=((1, 2),))
    fence(metadata, 2)
    fence(metadata, 1)
    assert state(metadata) == (-1, 1, [1])
    # Broker 2 returning does not make it leader: it is not in the ISR (no unclean election).
    metadata.apply({"type": "broker_heartbeat", "node_id": 2, "broker_epoch": metadata.brokers[2].epoch})
    assert state(metadata) == (-1, 1, [1])
    metadata.apply({"type": "broker_heartbeat", "node_id": 1, "broker_epoch": metadata.brokers[1].epoch})
    assert state(metadata) == (1, 2, [1])


def test_a_restarted_broker_leaves_isrs_and_leadership_at_registration():
    metadata = cluster()
    metadata.apply({"type": "register_broker", "node_id": 1, "endpoints": [], "incarnation": "i1-restarted"})
    assert state(metadata, 0) == (2, 1, [2, 3])
    assert metadata.brokers[1].fenced
    # The same incarnation registering again (a retried registration) changes no partition.
    metadata.apply({"type": "register_broker", "node_id": 1, "endpoints": [], "incarnation": "i1-restarted"})
    assert state(metadata, 0) == (2, 1, [2, 3])


def test_heartbeats_of_a_previous_registration_are_stale():
    metadata = cluster()
    old_epoch = metadata.brokers[1].epoch
    metadata.apply({"type": "register_broker", "node_id": 1, "endpoints": [], "incarnation": "new"})
    result = metadata.apply({"type": "broker_heartbeat", "node_id": 1, "broker_epoch": old_epoch})
    assert result["error_code"] == ErrorCode.STALE_BROKER_EPOCH and metadata.brokers[1].fenced


def test_controlled_shutdown_moves_leadership_and_keeps_the_broker_fenced():
    metadata = cluster()
    result = metadata.apply({"type": "controlled_shutdown", "node_id": 1, "broker_epoch": metadata.brokers[1].epoch})
    assert result == {"error_code": ErrorCode.NONE, "leaderships": 0}
    assert all(1 not in p.isr and p.leader != 1 for p in metadata.topics["t"].partitions)
    metadata.apply({"type": "broker_heartbeat", "node_id": 1, "broker_epoch": metadata.brokers[1].epoch})
    assert metadata.brokers[1].fenced


def test_alter_partition_shrinks_and_expands_the_isr():
    metadata = cluster()
    before = metadata.topics["t"].partitions[0].partition_epoch
    assert alter(metadata, 0, [1, 2])["error_code"] == ErrorCode.NONE
    assert state(metadata, 0) == (1, 0, [1, 2])  # an ISR change keeps the leader epoch
    assert metadata.topics["t"].partitions[0].partition_epoch == before + 1
    assert alter(metadata, 0, [1, 2, 3])["isr"] == [1, 2, 3]


def test_alter_partition_is_refused_as_kafka_refuses_it():
    metadata = cluster()
    p = metadata.topics["t"].partitions[0]
    assert alter(metadata, 0, [1, 2], partition_epoch=p.partition_epoch - 1)["error_code"] == \
        ErrorCode.INVALID_UPDATE_VERSION
    assert alter(metadata, 0, [1, 2], leader_epoch=p.leader_epoch - 1)["error_code"] == ErrorCode.FENCED_LEADER_EPOCH
    assert alter(metadata, 0, [1, 2], leader_epoch=p.leader_epoch + 1)["error_code"] == ErrorCode.NOT_CONTROLLER
    assert alter(metadata, 0, [2, 3], node=2)["error_code"] == ErrorCode.INVALID_REQUEST  # not the leader
    assert alter(metadata, 0, [2, 3])["error_code"] == ErrorCode.INVALID_REQUEST          # without the leader
    assert alter(metadata, 0, [1, 4])["error_code"] == ErrorCode.INVALID_REQUEST          # not a replica
    assert alter(metadata, 0, [1, 2], topic_id=uuid_str(new_uuid()))["error_code"] == \
        ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
    alter(metadata, 0, [1, 2])
    fence(metadata, 3)
    assert alter(metadata, 0, [1, 2, 3])["error_code"] == ErrorCode.INELIGIBLE_REPLICA


def test_preferred_leader_election():
    metadata = cluster()
    fence(metadata, 1)
    metadata.apply({"type": "broker_heartbeat", "node_id": 1, "broker_epoch": metadata.brokers[1].epoch})
    request = {"type": "elect_leaders", "election_type": 0, "partitions": [["t", 0], ["t", 1], ["t", 9]]}
    results = metadata.apply(request)
    # Broker 1 is back but not in the ISR yet.
    assert [r[2] for r in results] == [ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE, ErrorCode.ELECTION_NOT_NEEDED,
                                       ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]
    alter(metadata, 0, [2, 3, 1])
    assert metadata.apply(request)[0][2] == ErrorCode.NONE
    assert state(metadata, 0) == (1, 2, [2, 3, 1])
    # Every partition: only those needing an election are reported.
    assert metadata.apply({"type": "elect_leaders", "election_type": 0, "partitions": None}) == []


def test_unclean_election_picks_a_live_replica_outside_the_isr():
    metadata = cluster(assignments=((1, 2),))
    fence(metadata, 2)
    fence(metadata, 1)
    metadata.apply({"type": "broker_heartbeat", "node_id": 2, "broker_epoch": metadata.brokers[2].epoch})
    results = metadata.apply({"type": "elect_leaders", "election_type": 1, "partitions": [["t", 0]]})
    assert results[0][2] == ErrorCode.NONE
    assert state(metadata) == (2, 2, [2])
    results = metadata.apply({"type": "elect_leaders", "election_type": 1, "partitions": [["t", 0]]})
    assert results[0][2] == ErrorCode.ELECTION_NOT_NEEDED


def test_the_state_survives_a_snapshot():
    metadata = cluster()
    fence(metadata, 1)
    copy = ClusterMetadata.from_json(metadata.to_json())
    assert copy.to_json() == metadata.to_json()
    assert copy.brokers[1].fenced and copy.brokers[2].incarnation == "i2"
