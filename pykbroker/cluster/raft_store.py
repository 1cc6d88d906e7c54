"""Where the cluster metadata lives when several brokers share it: a state
machine replicated by Raft (pysyncobj) among the voters named in
controller.quorum.voters, the way KRaft keeps ``__cluster_metadata``.
Brokers that are not voters (process.roles=broker) follow the log as
pysyncobj read-only members. It offers what ``LocalMetadataStore`` offers:
``metadata``, ``listeners``, ``submit(command)``, ``is_controller``.

pysyncobj runs on the broker's event loop (autoTick off, ``doTick`` called
every TICK_SECONDS and at once after a submit): commands are applied, and
listeners called, on the loop that owns the rest of the broker's state, with
no lock and no thread hand-off. The price is that a loop stalled longer than
the election timeout loses Raft leadership, which is also what should happen
to a broker that stopped answering.

The log and snapshots are in ``<metadata.log.dir>/pykbroker-raft``; on start
the local log is replayed as far as it is known to be committed, the rest
once the quorum is heard from. Commands are the JSON dicts
``ClusterMetadata.apply`` takes.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
from typing import Any, Callable

from pysyncobj import FAIL_REASON, SyncObj, SyncObjConf, SyncObjConsumer, replicated
from pysyncobj.syncobj import SyncObjException

from ..errors import ErrorCode, KafkaError
from .metadata import ClusterMetadata

log = logging.getLogger("pykbroker.raft")

DIRECTORY = "pykbroker-raft"
TICK_SECONDS = 0.005
Listener = Callable[[dict[str, Any]], None]


class QuorumUnavailable(KafkaError):
    """A command the metadata quorum did not commit in time (no leader, no
    majority): its outcome is unknown, as with a Kafka controller timeout."""

    def __init__(self, message: str):
        super().__init__(ErrorCode.REQUEST_TIMED_OUT, message)


class CommandFailed(KafkaError):
    """Applying a committed command raised: a bug, reported to the submitter."""

    def __init__(self, message: str):
        super().__init__(ErrorCode.UNKNOWN_SERVER_ERROR, message)


class _StateMachine(SyncObjConsumer):
    """The replicated object: one method, applying a JSON command. Snapshots
    are the metadata's JSON form, installed in place so that everything
    holding ``store.metadata`` sees the new state."""

    def __init__(self, store: "RaftMetadataStore"):
        super().__init__()
        self._store = store

    @replicated
    def apply(self, text: str) -> Any:
        return self._store._apply(text)

    def _serialize(self) -> dict:
        return self._store.metadata.to_json()

    def _deserialize(self, data: dict) -> None:
        self._store._install_snapshot(data)


class RaftMetadataStore:
    replicated = True

    def __init__(self, node_id: int, voters: dict[int, tuple[str, int]], directory: str, *, voter: bool,
                 bind: tuple[str, int] | None = None, election_timeout_ms: int = 1000,
                 request_timeout_ms: int = 30000):
        self.node_id = node_id
        self.metadata = ClusterMetadata()
        self.listeners: list[Listener] = []
        self.voters = voters
        self._ids = {f"{host}:{port}": voter_id for voter_id, (host, port) in voters.items()}
        self.voter = voter
        self.request_timeout = request_timeout_ms / 1000
        self.directory = os.path.join(directory, DIRECTORY)
        os.makedirs(self.directory, exist_ok=True)
        election = election_timeout_ms / 1000
        self._conf = SyncObjConf(
            autoTick=False,
            journalFile=os.path.join(self.directory, "journal"),
            fullDumpFile=os.path.join(self.directory, "snapshot"),
            useFork=False,                      # snapshots are small: written inline, on the loop
            appendEntriesUseBatch=False,        # replicate each command at once, not every period
            raftMinTimeout=election, raftMaxTimeout=2 * election,
            appendEntriesPeriod=min(0.1, election / 4),
            leaderFallbackTimeout=2 * election,  # a leader cut off from the majority steps down
            # Peers that say nothing for a while are not dead: Raft's own
            # timeouts judge liveness; a dead peer's socket closes.
            connectionTimeout=max(3600.0, 2 * election), connectionRetryTime=min(0.5, election / 2),
            bindAddress=f"{bind[0]}:{bind[1]}" if bind else None, maxBindRetries=1,
            commandsWaitLeader=True, logCompactionMinEntries=20000, logCompactionMinTime=600,
            onStateChanged=self._on_state_changed)
        self._raft: SyncObj | None = None
        self._machine = _StateMachine(self)
        self._task: asyncio.Task | None = None
        self._kicked = False
        self._closed = False
        self._pending: set[asyncio.Future] = set()
        self.leadership_listeners: list[Callable[[bool], None]] = []

    # --- life cycle ------------------------------------------------------------------
    def start(self) -> None:
        """Bind the Raft port and replay the local log; raises OSError when
        the port cannot be bound."""
        address = f"{self.voters[self.node_id][0]}:{self.voters[self.node_id][1]}" if self.voter else None
        others = [f"{h}:{p}" for i, (h, p) in sorted(self.voters.items()) if i != self.node_id]
        try:
            self._raft = SyncObj(address, others, conf=self._conf, consumers=[self._machine])
        except SyncObjException:
            raise OSError(f"cannot bind the metadata quorum port {address}") from None
        replay_to = self._raft.raftCommitIndex
        for _ in range(1000):
            self._raft.doTick(0.0)
            if self._raft.raftLastApplied >= replay_to:
                break
        log.info("metadata quorum: node %d (%s), %d commands replayed, voters %s", self.node_id,
                 "voter" if self.voter else "observer", self.metadata.epoch,
                 ",".join(f"{i}@{h}:{p}" for i, (h, p) in sorted(self.voters.items())))
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            self._tick()
            await asyncio.sleep(TICK_SECONDS)

    def _tick(self) -> None:
        self._kicked = False
        if self._closed:
            return
        try:
            # A tick polls the sockets last: tick again so that what arrived
            # (acknowledgements, commit index) is acted upon in this round.
            self._raft.doTick(0.0)
            self._raft.doTick(0.0)
        except Exception:
            log.exception("metadata quorum tick failed")

    def _kick(self) -> None:
        """Tick soon: a submitted command goes out without waiting for the next period."""
        if not self._kicked:
            self._kicked = True
            asyncio.get_running_loop().call_soon(self._tick)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for future in self._pending:  # nothing will commit them any more
            if not future.done():
                future.set_exception(QuorumUnavailable("The metadata store is closed"))
        if self._task is not None:
            self._task.cancel()
        if self._raft is not None:
            self._raft.destroy()

    # --- state -----------------------------------------------------------------------
    @property
    def is_controller(self) -> bool:
        """Whether this node leads the quorum (it may not know yet that it was deposed)."""
        return self._raft is not None and self._raft._isLeader()

    @property
    def leader_id(self) -> int:
        """The quorum leader as this node last heard of it, -1 if none."""
        leader = self._raft._getLeader() if self._raft is not None else None
        return self._ids.get(leader.id, -1) if leader is not None else -1

    def _on_state_changed(self, old: int, new: int) -> None:
        for listener in self.leadership_listeners:
            listener(self.is_controller)

    def _apply(self, text: str) -> Any:
        command = json.loads(text)
        try:
            result = self.metadata.apply(command)
        except Exception as e:
            # Every node fails the same way on the same command, so the state
            # stays identical; the submitter hears about it.
            log.exception("cannot apply metadata command %s", command.get("type"))
            return CommandFailed(f"{type(e).__name__}: {e}")
        self._notify(command)
        return result

    def _install_snapshot(self, data: dict) -> None:
        version = self.metadata.leadership_version
        self.metadata.__dict__.update(ClusterMetadata.from_json(data).__dict__)
        self.metadata.leadership_version = version + 1
        self._notify({"type": "snapshot"})

    def _notify(self, command: dict[str, Any]) -> None:
        for listener in self.listeners:
            try:
                listener(command)
            except Exception:
                log.exception("metadata listener failed on %s", command.get("type"))

    # --- commands --------------------------------------------------------------------
    async def submit(self, command: dict[str, Any], timeout: float | None = None) -> Any:
        """Commit ``command`` through the quorum leader and return what
        applying it returned here. Raises QuorumUnavailable when it was not
        committed within ``timeout`` seconds (it may still be later)."""
        if self._closed:
            raise QuorumUnavailable("The metadata store is closed")
        loop = asyncio.get_running_loop()
        future = loop.create_future()

        def done(result: Any, error: int) -> None:
            if future.done():
                return
            if error != FAIL_REASON.SUCCESS:
                future.set_exception(QuorumUnavailable(
                    f"The metadata quorum did not apply {command['type']}: {_REASONS.get(error, error)}"))
            elif isinstance(result, CommandFailed):
                future.set_exception(result)
            else:
                future.set_result(result)

        self._machine.apply(json.dumps(command, separators=(",", ":")), callback=done)
        self._kick()
        self._pending.add(future)
        try:
            async with asyncio.timeout(self.request_timeout if timeout is None else timeout):  # see peer_client
                return await future
        except asyncio.TimeoutError:
            raise QuorumUnavailable(f"The metadata quorum did not commit {command['type']} in time "
                                    f"(leader: {self.leader_id})") from None
        finally:
            self._pending.discard(future)


_REASONS = {FAIL_REASON.QUEUE_FULL: "queue full", FAIL_REASON.MISSING_LEADER: "no leader",
            FAIL_REASON.DISCARDED: "discarded by a new leader", FAIL_REASON.NOT_LEADER: "leader changed",
            FAIL_REASON.LEADER_CHANGED: "leader changed", FAIL_REASON.REQUEST_DENIED: "denied",
            FAIL_REASON.UNKNOWN_OUTCOME: "unknown outcome"}
