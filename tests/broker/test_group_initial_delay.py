"""group.initial.rebalance.delay.ms: a new group's first rebalance waits for
more members, and waits again (within the rebalance timeout) for each one
that joins meanwhile; on pykbroker and on Apache Kafka."""
import time

from pykbroker.errors import ErrorCode
from tests.broker.groupapi import GROUP_PROPERTIES, JOIN_GROUP, find_coordinator, join, join_request, targets_fixture

target = targets_fixture({**GROUP_PROPERTIES, "group.initial.rebalance.delay.ms": "1000"})


def test_members_joining_during_the_delay_form_one_generation(target):
    group = f"delayed-{time.monotonic_ns()}"
    a, b = target.connect("a"), target.connect("b")
    find_coordinator(a, group)
    a_id, b_id = join(a, group, "")["member_id"], join(b, group, "")["member_id"]
    started = time.monotonic()
    a.send(JOIN_GROUP, 9, join_request(group, a_id, rebalance_ms=3000))
    time.sleep(0.8)
    b.send(JOIN_GROUP, 9, join_request(group, b_id, rebalance_ms=3000))
    first, second = a.receive(JOIN_GROUP, 9)[1], b.receive(JOIN_GROUP, 9)[1]
    elapsed = time.monotonic() - started
    assert first["error_code"] == second["error_code"] == ErrorCode.NONE
    assert first["generation_id"] == second["generation_id"] == 1
    assert sorted(m["member_id"] for m in first["members"] + second["members"]) == sorted([a_id, b_id])
    # 1 s of delay, extended by up to 1 s more when b joined, within the 3 s rebalance timeout.
    assert 1.7 <= elapsed < 3.0
    target.close_clients()
