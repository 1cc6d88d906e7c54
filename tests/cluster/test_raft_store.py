"""The Raft-replicated metadata store: three voters (and an observer) on one
event loop, as three brokers would run them."""
from __future__ import annotations

import asyncio
import time

import pytest

from pykbroker.cluster.raft_store import QuorumUnavailable, RaftMetadataStore

from .processes import free_ports


async def until(condition, timeout: float = 10, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {message}"
        await asyncio.sleep(0.01)


class Quorum:
    def __init__(self, directory, voters=(1, 2, 3)):
        self.directory = directory
        ports = free_ports(len(voters))
        self.voters = {node: ("127.0.0.1", port) for node, port in zip(voters, ports)}
        self.stores: dict[int, RaftMetadataStore] = {}

    def start(self, node: int, voter: bool = True) -> RaftMetadataStore:
        store = RaftMetadataStore(node, self.voters, str(self.directory / f"node-{node}"), voter=voter,
                                  bind=self.voters.get(node), election_timeout_ms=300, request_timeout_ms=5000)
        store.start()
        self.stores[node] = store
        return store

    def leader(self) -> RaftMetadataStore | None:
        return next((s for s in self.stores.values() if s.is_controller), None)

    def close(self) -> None:
        for store in self.stores.values():
            store.close()


@pytest.fixture
def quorum(tmp_path):
    q = Quorum(tmp_path)
    yield q
    q.close()


def test_commands_are_applied_everywhere_in_the_same_order(quorum):
    async def main():
        stores = [quorum.start(n) for n in (1, 2, 3)]
        seen = {n: [] for n in (1, 2, 3)}
        for n, store in zip((1, 2, 3), stores):
            store.listeners.append(lambda c, n=n: seen[n].append(c.get("node_id")))
        await until(lambda: quorum.leader() is not None, message="a leader")
        # Submitted anywhere: followers forward to the leader.
        results = await asyncio.gather(*(stores[i % 3].submit({"type": "set_controller", "node_id": i})
                                         for i in range(30)))
        assert results == [None] * 30
        await until(lambda: all(len(s) == 30 for s in seen.values()), message="every store to apply everything")
        assert seen[1] == seen[2] == seen[3]
        assert {s.metadata.controller_id for s in stores} == {seen[1][-1]}
        assert {s.leader_id for s in stores} == {next(n for n, s in quorum.stores.items() if s.is_controller)}
    asyncio.run(main())


def test_a_new_leader_takes_over_and_a_restarted_voter_catches_up(quorum):
    async def main():
        for n in (1, 2, 3):
            quorum.start(n)
        await until(lambda: quorum.leader() is not None, message="a leader")
        await quorum.stores[1].submit({"type": "set_cluster_id", "cluster_id": "abc"})
        old = quorum.leader()
        old_id = old.node_id
        old.close()
        del quorum.stores[old_id]
        await until(lambda: quorum.leader() is not None, message="a new leader")
        survivor = next(iter(quorum.stores.values()))
        await survivor.submit({"type": "set_controller", "node_id": 7})
        restarted = quorum.start(old_id)
        await until(lambda: restarted.metadata.controller_id == 7, message="the restarted voter to catch up")
        assert restarted.metadata.cluster_id == "abc"
    asyncio.run(main())


def test_an_observer_follows_and_submits(quorum):
    async def main():
        for n in (1, 2, 3):
            quorum.start(n)
        observer = quorum.start(4, voter=False)
        await until(lambda: quorum.leader() is not None, message="a leader")
        await observer.submit({"type": "set_controller", "node_id": 4})
        assert observer.metadata.controller_id == 4 and not observer.is_controller
        await until(lambda: all(s.metadata.controller_id == 4 for s in quorum.stores.values()),
                    message="the voters to apply the observer's command")
    asyncio.run(main())


def test_without_a_majority_nothing_is_committed(quorum):
    async def main():
        stores = [quorum.start(n) for n in (1, 2, 3)]
        await until(lambda: quorum.leader() is not None, message="a leader")
        stores[1].close()
        stores[2].close()
        with pytest.raises(QuorumUnavailable):
            await stores[0].submit({"type": "set_controller", "node_id": 5}, timeout=1)
        assert stores[0].metadata.controller_id != 5
    asyncio.run(main())


def test_a_voter_far_behind_gets_a_snapshot(quorum):
    async def main():
        first, second = quorum.start(1), quorum.start(2)
        await until(lambda: quorum.leader() is not None, message="a leader")
        await first.submit({"type": "set_cluster_id", "cluster_id": "snap"})
        for i in range(20):
            await second.submit({"type": "set_controller", "node_id": i})
        for store in (first, second):  # the log before the snapshot is gone
            store._raft.forceLogCompaction()
        await until(lambda: all(s._raft.getStatus()["log_len"] < 5 for s in (first, second)),
                    message="the logs to be compacted")
        changes = []
        third = quorum.start(3)
        third.listeners.append(changes.append)
        await until(lambda: third.metadata.controller_id == 19, message="the snapshot to be installed")
        assert third.metadata.cluster_id == "snap"
        assert {"type": "snapshot"} in changes
    asyncio.run(main())
