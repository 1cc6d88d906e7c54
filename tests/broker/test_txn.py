"""Transactions over the wire: the coordinator's state machine, markers,
the last stable offset and read_committed fetches, fencing, timeouts,
restarts, and the admin APIs that describe them."""
import contextlib
import time

import pytest

from pykbroker.errors import ErrorCode
from pykbroker.testing import EmbeddedBroker
from tests.broker.rawapi import (LIST_OFFSETS, batch_headers, create_topic, decode_all, fetch, produce,
                                 produce_ok, wait_for)
from tests.support.rawclient import RawClient
from wire import records
from wire.records import Record

FIND_COORDINATOR, INIT_PRODUCER_ID, ADD_PARTITIONS, END_TXN = 10, 22, 24, 26
WRITE_TXN_MARKERS, DESCRIBE_PRODUCERS, DESCRIBE_TRANSACTIONS, LIST_TRANSACTIONS = 27, 61, 65, 66
INCREMENTAL_ALTER_CONFIGS, TOPIC_RESOURCE = 44, 2
READ_UNCOMMITTED, READ_COMMITTED = 0, 1


class Txn:
    """A transactional producer speaking the raw protocol."""

    def __init__(self, client, transactional_id, timeout_ms=60_000):
        self.client = client
        self.id = transactional_id
        self.timeout_ms = timeout_ms
        self.sequences = {}
        self.producer_id = self.epoch = -1

    def init(self, version=4, expect=ErrorCode.NONE):
        response = retry(lambda: self.client.request(INIT_PRODUCER_ID, version, {
            "transactional_id": self.id, "transaction_timeout_ms": self.timeout_ms,
            "producer_id": -1, "producer_epoch": -1}))
        assert response["error_code"] == expect, response
        if expect == ErrorCode.NONE:
            self.producer_id, self.epoch = response["producer_id"], response["producer_epoch"]
            self.sequences = {}
        return response

    def add(self, topic, *partitions, version=3):
        response = self.client.request(ADD_PARTITIONS, version, {
            "v3_and_below_transactional_id": self.id, "v3_and_below_producer_id": self.producer_id,
            "v3_and_below_producer_epoch": self.epoch,
            "v3_and_below_topics": [{"name": topic, "partitions": list(partitions)}]})
        return {(t["name"], p["partition_index"]): p["partition_error_code"]
                for t in response["results_by_topic_v3_and_below"] for p in t["results_by_partition"]}

    def send(self, topic, partition, values, version=9, transactional=True):
        seq = self.sequences.get((topic, partition), 0)
        data = records.build_batch([Record(i, now_ms(), None, v) for i, v in enumerate(values)],
                                   producer_id=self.producer_id, producer_epoch=self.epoch, base_sequence=seq,
                                   transactional=transactional)
        response = self.client.request(0, version, {
            "transactional_id": self.id, "acks": -1, "timeout_ms": 10_000,
            "topic_data": [{"name": topic, "partition_data": [{"index": partition, "records": data}]}]})
        result = response["responses"][0]["partition_responses"][0]
        if result["error_code"] == ErrorCode.NONE:
            self.sequences[(topic, partition)] = seq + len(values)
        return result

    def end(self, commit, version=3):
        return self.client.request(END_TXN, version, {"transactional_id": self.id, "producer_id": self.producer_id,
                                                      "producer_epoch": self.epoch, "committed": commit})["error_code"]


def now_ms():
    return int(time.time() * 1000)


def retry(request, codes=(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, ErrorCode.NOT_COORDINATOR,
                          ErrorCode.CONCURRENT_TRANSACTIONS)):
    """A coordinator request, repeated while it answers a retriable error."""
    return wait_for(lambda: (r := request())["error_code"] not in codes and r, message="a non-retriable answer")


def coordinator_ready(broker):
    """FindCoordinator, as producers start: it creates __transaction_state."""
    with RawClient("127.0.0.1", broker.port) as client:
        found = retry(lambda: client.request(FIND_COORDINATOR, 1, {"key": "any", "key_type": 1}))
    assert (found["error_code"], found["node_id"], found["port"]) == (ErrorCode.NONE, 1, broker.port)


def read(client, topic, isolation, offset=0):
    return fetch(client, topic, 0, offset, isolation_level=isolation)


def values(partition_data):
    return [r.value for r in decode_all(partition_data["records"]) if r.value is not None and
            not any(h.is_control for h in batch_headers(partition_data["records"]) if h.base_offset == r.offset)]


def committed_values(client, topic):
    """What a read_committed consumer keeps, filtering as the Java consumer
    does: a producer's batches are dropped from the first offset of one of
    its aborted transactions up to its marker; markers are never shown."""
    data = read(client, topic, READ_COMMITTED)
    aborted = sorted((t["first_offset"], t["producer_id"]) for t in data["aborted_transactions"] or [])
    by_offset = {r.offset: r for r in decode_all(data["records"])}
    kept, dropping = [], set()
    for h in batch_headers(data["records"]):
        while aborted and aborted[0][0] <= h.last_offset:
            dropping.add(aborted.pop(0)[1])
        if h.is_control:
            dropping.discard(h.producer_id)
        elif not (h.is_transactional and h.producer_id in dropping):
            kept += [by_offset[o].value for o in range(h.base_offset, h.last_offset + 1) if o in by_offset]
    return kept


def describe(client, *ids):
    return {s["transactional_id"]: s for s in client.request(DESCRIBE_TRANSACTIONS, 0, {
        "transactional_ids": list(ids)})["transaction_states"]}


@pytest.fixture
def broker(tmp_path):
    """The conftest broker, with few internal-topic partitions: quicker to create."""
    with EmbeddedBroker(str(tmp_path / "data"), transaction_state_log_num_partitions=3,
                        offsets_topic_num_partitions=3) as embedded:
        yield embedded


@pytest.fixture
def txn_client(broker, raw):
    client = raw()
    create_topic(client, "t")
    coordinator_ready(broker)
    return client


def test_a_committed_transaction_becomes_visible_to_read_committed(txn_client):
    client = txn_client
    txn = Txn(client, "tx")
    assert (txn.init()["producer_epoch"]) == 0
    assert txn.add("t", 0) == {("t", 0): ErrorCode.NONE}
    assert txn.send("t", 0, [b"a", b"b"])["base_offset"] == 0
    assert produce_ok(client, "t", 0, records.build_batch([Record(0, now_ms(), None, b"plain")])) == 2
    open_ = read(client, "t", READ_COMMITTED)
    assert (open_["last_stable_offset"], open_["high_watermark"], open_["records"]) == (0, 3, b"")
    assert values(read(client, "t", READ_UNCOMMITTED)) == [b"a", b"b", b"plain"]
    latest = client.request(LIST_OFFSETS, 5, {"replica_id": -1, "isolation_level": READ_COMMITTED, "topics": [
        {"name": "t", "partitions": [{"partition_index": 0, "timestamp": -1}]}]})
    assert latest["topics"][0]["partitions"][0]["offset"] == 0
    assert txn.end(commit=True) == ErrorCode.NONE
    done = wait_for(lambda: (d := read(client, "t", READ_COMMITTED))["last_stable_offset"] == 4 and d)
    assert committed_values(client, "t") == [b"a", b"b", b"plain"]
    marker = [h for h in batch_headers(done["records"]) if h.is_control]
    assert [(h.base_offset, h.producer_id) for h in marker] == [(3, txn.producer_id)]
    assert wait_for(lambda: describe(client, "tx")["tx"]["transaction_state"] == "CompleteCommit")


def test_an_aborted_transaction_is_filtered_by_read_committed(txn_client):
    client = txn_client
    txn = Txn(client, "tx")
    txn.init()
    txn.add("t", 0)
    txn.send("t", 0, [b"gone"])
    assert txn.end(commit=False) == ErrorCode.NONE
    txn.add("t", 0)
    txn.send("t", 0, [b"kept"])
    assert txn.end(commit=True) == ErrorCode.NONE
    data = wait_for(lambda: (d := read(client, "t", READ_COMMITTED))["last_stable_offset"] == 4 and d)
    assert data["aborted_transactions"] == [{"producer_id": txn.producer_id, "first_offset": 0}]
    assert committed_values(client, "t") == [b"kept"]
    assert values(read(client, "t", READ_UNCOMMITTED)) == [b"gone", b"kept"]
    # Past the aborted transaction, nothing is reported.
    assert read(client, "t", READ_COMMITTED, offset=2)["aborted_transactions"] == []


def test_end_txn_is_idempotent_and_checks_the_state(txn_client):
    txn = Txn(txn_client, "tx")
    txn.init()
    assert txn.end(commit=True) == ErrorCode.INVALID_TXN_STATE      # nothing begun
    txn.add("t", 0)
    txn.send("t", 0, [b"x"])
    assert txn.end(commit=True) == ErrorCode.NONE
    wait_for(lambda: describe(txn_client, "tx")["tx"]["transaction_state"] == "CompleteCommit")
    assert txn.end(commit=True) == ErrorCode.NONE                   # a retry
    assert txn.end(commit=False) == ErrorCode.INVALID_TXN_STATE


def test_a_new_producer_fences_the_old_one(txn_client):
    client = txn_client
    old, new = Txn(client, "tx"), Txn(client, "tx")
    old.init()
    old.add("t", 0)
    old.send("t", 0, [b"zombie"])
    # The old producer's open transaction is aborted first: retry until done.
    new.init()
    assert new.epoch == old.epoch + 2
    assert old.add("t", 0) == {("t", 0): ErrorCode.PRODUCER_FENCED}
    assert old.add("t", 0, version=1) == {("t", 0): ErrorCode.INVALID_PRODUCER_EPOCH}
    assert old.end(commit=True) == ErrorCode.PRODUCER_FENCED
    assert old.send("t", 0, [b"late"])["error_code"] == ErrorCode.INVALID_PRODUCER_EPOCH
    new.add("t", 0)
    new.send("t", 0, [b"new"])
    assert new.end(commit=True) == ErrorCode.NONE
    wait_for(lambda: read(client, "t", READ_COMMITTED)["last_stable_offset"] == 4)
    assert committed_values(client, "t") == [b"new"]


def test_init_producer_id_retried_after_a_lost_answer_gets_the_same_epoch(txn_client):
    txn = Txn(txn_client, "tx")
    txn.init()
    bump = {"transactional_id": "tx", "transaction_timeout_ms": 60_000, "producer_id": txn.producer_id,
            "producer_epoch": txn.epoch}
    first = txn_client.request(INIT_PRODUCER_ID, 4, bump)
    again = txn_client.request(INIT_PRODUCER_ID, 4, bump)
    assert first["producer_epoch"] == again["producer_epoch"] == txn.epoch + 1
    stale = txn_client.request(INIT_PRODUCER_ID, 4, dict(bump, producer_epoch=txn.epoch + 5))
    assert stale["error_code"] == ErrorCode.PRODUCER_FENCED


def test_init_producer_id_validates_its_arguments(txn_client):
    def init(**fields):
        return txn_client.request(INIT_PRODUCER_ID, 4, {"transactional_id": "tx", "transaction_timeout_ms": 60_000,
                                                        "producer_id": -1, "producer_epoch": -1, **fields})
    assert init(transactional_id="")["error_code"] == ErrorCode.INVALID_REQUEST
    assert init(transaction_timeout_ms=0)["error_code"] == ErrorCode.INVALID_TRANSACTION_TIMEOUT
    assert init(transaction_timeout_ms=900_001)["error_code"] == ErrorCode.INVALID_TRANSACTION_TIMEOUT


def errors(result):
    """What a producer reads of a refused write."""
    return result["error_code"], result["error_message"], result["log_start_offset"]


def test_a_transactional_write_outside_a_transaction_is_refused(txn_client):
    txn = Txn(txn_client, "tx")
    txn.init()
    # Kafka's texts: the Java producer shows them in its exceptions.
    assert errors(txn.send("t", 0, [b"x"], version=11)) == (ErrorCode.TRANSACTION_ABORTABLE, None, -1)
    assert errors(txn.send("t", 0, [b"x"], version=9)) == \
        (ErrorCode.INVALID_TXN_STATE, "Partition was not added to the transaction", -1)
    assert txn.add("t", 0, 5) == {("t", 0): ErrorCode.OPERATION_NOT_ATTEMPTED, ("t", 5): ErrorCode.UNKNOWN_TOPIC_OR_PARTITION}
    # Internal topics are never written by transactions of clients.
    assert txn.add("__consumer_offsets", 0) == {("__consumer_offsets", 0): ErrorCode.TOPIC_AUTHORIZATION_FAILED}
    assert describe(txn_client, "tx")["tx"]["topics"] == []
    assert txn.add("t", 0) == {("t", 0): ErrorCode.NONE}
    assert txn.send("t", 0, [b"x"], version=11)["error_code"] == ErrorCode.NONE
    # Within its transaction a producer writes only transactional batches.
    assert errors(txn.send("t", 0, [b"y"], transactional=False)) == (ErrorCode.INVALID_TXN_STATE, None, 0)


def test_requests_for_an_unknown_producer(txn_client):
    txn = Txn(txn_client, "nobody")
    txn.producer_id, txn.epoch = 123, 0
    assert errors(txn.send("t", 0, [b"x"])) == (ErrorCode.INVALID_PRODUCER_ID_MAPPING, None, -1)
    assert txn.add("t", 0) == {("t", 0): ErrorCode.INVALID_PRODUCER_ID_MAPPING}
    assert txn.end(commit=True) == ErrorCode.INVALID_PRODUCER_ID_MAPPING
    described = describe(txn_client, "nobody", "")
    assert [(s["error_code"], s["producer_id"], s["producer_epoch"], s["transaction_start_time_ms"])
            for s in (described["nobody"], described[""])] == \
        [(ErrorCode.TRANSACTIONAL_ID_NOT_FOUND, 0, 0, 0), (ErrorCode.INVALID_REQUEST, 0, 0, 0)]


def test_transactional_writes_before_the_coordinator_exists_are_refused(broker, raw):
    """Without __transaction_state no transaction can have begun: Kafka
    refuses the write with an error every producer retries."""
    client = raw()
    create_topic(client, "t")
    txn = Txn(client, "tx1")
    txn.producer_id, txn.epoch = 42, 0
    assert errors(txn.send("t", 0, [b"x"])) == (
        ErrorCode.NOT_ENOUGH_REPLICAS,
        "Unable to verify the partition has been added to the transaction. Underlying error: COORDINATOR_NOT_AVAILABLE",
        -1)
    assert fetch(client, "t", 0, 0)["high_watermark"] == 0


@contextlib.contextmanager
def quick_aborts(tmp_path):
    """A client of a broker that looks for timed-out transactions every
    100 ms, with topic "t" and the transaction coordinator ready."""
    with EmbeddedBroker(str(tmp_path / "data"), **{
            "transaction.abort.timed.out.transaction.cleanup.interval.ms": 100}) as broker, \
            RawClient("127.0.0.1", broker.port) as client:
        create_topic(client, "t")
        coordinator_ready(broker)
        yield client


def test_a_timed_out_transaction_is_aborted_and_its_producer_fenced(tmp_path):
    with quick_aborts(tmp_path) as client:
        txn = Txn(client, "slow", timeout_ms=300)
        txn.init()
        txn.add("t", 0)
        txn.send("t", 0, [b"abandoned"])
        wait_for(lambda: describe(client, "slow")["slow"]["transaction_state"] == "CompleteAbort")
        assert describe(client, "slow")["slow"]["producer_epoch"] == txn.epoch + 1
        assert txn.end(commit=True) == ErrorCode.PRODUCER_FENCED
        # As Kafka 4.4: the producer bumping its own epoch (KIP-360) is
        # taken as a retry of the bump the abort made, and goes on with it.
        bumped = client.request(INIT_PRODUCER_ID, 4, {"transactional_id": "slow", "transaction_timeout_ms": 300,
                                                      "producer_id": txn.producer_id, "producer_epoch": txn.epoch})
        assert (bumped["error_code"], bumped["producer_id"], bumped["producer_epoch"]) == \
            (ErrorCode.NONE, txn.producer_id, txn.epoch + 1)
        data = read(client, "t", READ_COMMITTED)
        assert data["last_stable_offset"] == 2 and committed_values(client, "t") == []


def test_transactions_survive_a_restart(tmp_path):
    """An open transaction, and one prepared whose markers could not be
    written yet, both carry on after the broker restarts."""
    data = str(tmp_path / "data")
    with EmbeddedBroker(data) as broker, RawClient("127.0.0.1", broker.port) as client:
        create_topic(client, "t")
        create_topic(client, "stuck")
        coordinator_ready(broker)
        open_txn, prepared = Txn(client, "open"), Txn(client, "prepared")
        open_txn.init()
        open_txn.add("t", 0)
        open_txn.send("t", 0, [b"before"])
        prepared.init()
        prepared.add("stuck", 0)
        prepared.send("stuck", 0, [b"waiting"])
        # Its marker cannot be replicated to 2 in-sync replicas: it stays prepared.
        alter(client, "stuck", "min.insync.replicas", "2")
        assert prepared.end(commit=True) == ErrorCode.NONE
        assert describe(client, "prepared")["prepared"]["transaction_state"] == "PrepareCommit"
    with EmbeddedBroker(data) as broker, RawClient("127.0.0.1", broker.port) as client:
        states = retry(lambda: {"error_code": (d := describe(client, "open", "prepared"))["open"]["error_code"],
                                "states": d})["states"]
        assert states["open"]["transaction_state"] == "Ongoing"
        assert states["open"]["topics"] == [{"topic": "t", "partitions": [0]}]
        assert states["prepared"]["transaction_state"] == "PrepareCommit"
        assert read(client, "t", READ_COMMITTED)["last_stable_offset"] == 0
        open_txn.client = client
        open_txn.send("t", 0, [b"after"])
        assert open_txn.end(commit=True) == ErrorCode.NONE
        wait_for(lambda: read(client, "t", READ_COMMITTED)["last_stable_offset"] == 3)
        assert committed_values(client, "t") == [b"before", b"after"]
        alter(client, "stuck", "min.insync.replicas", "1")
        wait_for(lambda: describe(client, "prepared")["prepared"]["transaction_state"] == "CompleteCommit")
        assert committed_values(client, "stuck") == [b"waiting"]


def alter(client, topic, name, value):
    response = client.request(INCREMENTAL_ALTER_CONFIGS, 1, {"resources": [
        {"resource_type": TOPIC_RESOURCE, "resource_name": topic,
         "configs": [{"name": name, "config_operation": 0, "value": value}]}]})
    assert response["responses"][0]["error_code"] == ErrorCode.NONE, response


def test_transaction_state_is_stored_in_kafkas_format(broker, txn_client):
    from pykbroker.coordinator.txn.metadata import parse_record
    txn = Txn(txn_client, "tx")
    txn.init()
    txn.add("t", 0)
    partition = broker.call(lambda: broker.broker.txn_coordinator.runtime.partition_for("tx"))
    stored = decode_all(fetch(txn_client, "__transaction_state", partition, 0)["records"])
    parsed = [parse_record(r.key, r.value) for r in stored]
    assert [(i, m.state_name, m.producer_epoch, sorted(m.partitions)) for i, m in parsed] == [
        ("tx", "Empty", 0, []), ("tx", "Ongoing", 0, [("t", 0)])]
    # The bytes themselves: key version 0 + string; value version 1, as
    # Kafka writes it once transaction.version is finalized.
    assert stored[0].key == b"\x00\x00\x00\x02tx" and stored[0].value[:2] == b"\x00\x01"


def test_write_txn_markers(txn_client):
    """What the admin client's abortTransaction (kafka-transactions.sh abort)
    and coordinators on other brokers send."""
    client = txn_client
    txn = Txn(client, "tx")
    txn.init()
    txn.add("t", 0)
    txn.send("t", 0, [b"x"])
    assert read(client, "t", READ_COMMITTED)["last_stable_offset"] == 0
    marker = {"producer_id": txn.producer_id, "producer_epoch": txn.epoch, "transaction_result": False,
              "coordinator_epoch": 3,
              "topics": [{"name": "t", "partition_indexes": [0]}, {"name": "nope", "partition_indexes": [0]}]}
    response = client.request(WRITE_TXN_MARKERS, 1, {"markers": [marker]})
    results = {(t["name"], p["partition_index"]): p["error_code"]
               for t in response["markers"][0]["topics"] for p in t["partitions"]}
    assert results == {("t", 0): ErrorCode.NONE, ("nope", 0): ErrorCode.UNKNOWN_TOPIC_OR_PARTITION}
    data = read(client, "t", READ_COMMITTED)
    assert data["last_stable_offset"] == 2 and data["aborted_transactions"] == [
        {"producer_id": txn.producer_id, "first_offset": 0}]
    stale = dict(marker, coordinator_epoch=2, topics=[{"name": "t", "partition_indexes": [0]}])
    response = client.request(WRITE_TXN_MARKERS, 1, {"markers": [stale]})
    assert response["markers"][0]["topics"][0]["partitions"][0]["error_code"] == \
        ErrorCode.TRANSACTION_COORDINATOR_FENCED


def test_transactional_records_need_a_transactional_id(txn_client):
    txn = Txn(txn_client, "tx")
    txn.init()
    txn.add("t", 0)
    data = records.build_batch([Record(0, now_ms(), None, b"x")], producer_id=txn.producer_id,
                               producer_epoch=txn.epoch, base_sequence=0, transactional=True)
    assert errors(produce(txn_client, "t", 0, data)) == (ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, None, -1)


def test_admin_apis_describe_producers_and_transactions(txn_client):
    client = txn_client
    txn = Txn(client, "tx")
    txn.init()
    txn.add("t", 0)
    txn.send("t", 0, [b"a", b"b"])
    state = describe(client, "tx")["tx"]
    assert (state["error_code"], state["transaction_state"], state["producer_id"], state["topics"]) == \
        (ErrorCode.NONE, "Ongoing", txn.producer_id, [{"topic": "t", "partitions": [0]}])
    assert state["transaction_start_time_ms"] > 0 and state["transaction_timeout_ms"] == 60_000
    producers = client.request(DESCRIBE_PRODUCERS, 0, {"topics": [{"name": "t", "partition_indexes": [0, 7]},
                                                                   {"name": "nosuch", "partition_indexes": [0]}]})
    (p0, p7), (unknown,) = [t["partitions"] for t in producers["topics"]]
    assert [(p["producer_id"], p["producer_epoch"], p["last_sequence"], p["current_txn_start_offset"])
            for p in p0["active_producers"]] == [(txn.producer_id, txn.epoch, 1, 0)]
    # As Kafka words them: only an unknown topic comes with a message.
    assert [(p["error_code"], p["error_message"]) for p in (p7, unknown)] == [
        (ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, None),
        (ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, "This server does not host this topic-partition.")]

    def listed(**filters):
        response = client.request(LIST_TRANSACTIONS, 1, {"state_filters": [], "producer_id_filters": [],
                                                         "duration_filter": -1, **filters})
        return response, [(s["transactional_id"], s["transaction_state"]) for s in response["transaction_states"]]
    assert listed()[1] == [("tx", "Ongoing")]
    assert listed(state_filters=["CompleteCommit"])[1] == []
    response, found = listed(state_filters=["Ongoing", "Bogus"])
    assert found == [("tx", "Ongoing")] and response["unknown_state_filters"] == ["Bogus"]
    assert listed(producer_id_filters=[txn.producer_id + 1])[1] == []
    assert listed(duration_filter=3_600_000)[1] == []


# --- offsets committed inside a transaction ---------------------------------------------------

ADD_OFFSETS, TXN_OFFSET_COMMIT, OFFSET_FETCH = 25, 28, 9


def add_offsets(txn, group, version=3):
    return txn.client.request(ADD_OFFSETS, version, {"transactional_id": txn.id, "producer_id": txn.producer_id,
                                                     "producer_epoch": txn.epoch, "group_id": group})["error_code"]


def txn_offset_commit(txn, group, offset, version=3):
    response = txn.client.request(TXN_OFFSET_COMMIT, version, {
        "transactional_id": txn.id, "group_id": group, "producer_id": txn.producer_id, "producer_epoch": txn.epoch,
        "topics": [{"name": "t", "partitions": [{"partition_index": 0, "committed_offset": offset,
                                                  "committed_metadata": ""}]}]})
    return response["topics"][0]["partitions"][0]["error_code"]


def fetch_offset(client, group, require_stable):
    response = client.request(OFFSET_FETCH, 7, {"group_id": group, "require_stable": require_stable,
                                                "topics": [{"name": "t", "partition_indexes": [0]}]})
    if response["error_code"] != ErrorCode.NONE:
        return ErrorCode(response["error_code"])
    partition = response["topics"][0]["partitions"][0]
    return ErrorCode(partition["error_code"]) if partition["error_code"] else partition["committed_offset"]


def find_group_coordinator(client, group):
    retry(lambda: client.request(FIND_COORDINATOR, 1, {"key": group, "key_type": 0}))


def test_offsets_committed_in_a_transaction_count_only_once_it_commits(txn_client):
    client = txn_client
    find_group_coordinator(client, "g")
    txn = Txn(client, "copier")
    txn.init()
    for offset, commit in ((5, True), (9, False)):
        assert add_offsets(txn, "g") == ErrorCode.NONE
        assert txn_offset_commit(txn, "g", offset) == ErrorCode.NONE
        assert fetch_offset(client, "g", require_stable=True) == ErrorCode.UNSTABLE_OFFSET_COMMIT
        assert fetch_offset(client, "g", require_stable=False) == (-1 if commit else 5)
        assert txn.end(commit=commit) == ErrorCode.NONE
        wait_for(lambda: fetch_offset(client, "g", require_stable=True) == 5, message="the marker")


def test_txn_offset_commit_needs_add_offsets_to_txn(txn_client):
    find_group_coordinator(txn_client, "g")
    txn = Txn(txn_client, "copier")
    txn.init()
    assert txn_offset_commit(txn, "g", 5, version=4) == ErrorCode.TRANSACTION_ABORTABLE
    assert txn_offset_commit(txn, "g", 5, version=3) == ErrorCode.INVALID_TXN_STATE
    assert txn_offset_commit(txn, "", 5) == ErrorCode.INVALID_GROUP_ID
    assert fetch_offset(txn_client, "g", require_stable=True) == -1


def test_txn_offset_commit_of_a_fenced_producer_is_an_invalid_epoch(txn_client):
    """Kafka answers INVALID_PRODUCER_EPOCH here at every version, not PRODUCER_FENCED."""
    find_group_coordinator(txn_client, "g")
    old = Txn(txn_client, "copier")
    old.init()
    assert add_offsets(old, "g") == ErrorCode.NONE
    Txn(txn_client, "copier").init()
    for version in range(5):
        assert txn_offset_commit(old, "g", 5, version=version) == ErrorCode.INVALID_PRODUCER_EPOCH


def test_add_partitions_to_txn_broker_form(txn_client):
    """v4+: several transactions per request, each added or only verified."""
    txn = Txn(txn_client, "tx")
    txn.init()

    def batched(version, verify_only, transactional_id="tx"):
        response = txn_client.request(ADD_PARTITIONS, version, {"transactions": [{
            "transactional_id": transactional_id, "producer_id": txn.producer_id, "producer_epoch": txn.epoch,
            "verify_only": verify_only, "topics": [{"name": "t", "partitions": [0]}]}]})
        assert response["error_code"] == ErrorCode.NONE
        (result,) = response["results_by_transaction"]
        assert result["transactional_id"] == transactional_id
        return result["topic_results"][0]["results_by_partition"][0]["partition_error_code"]

    assert batched(5, verify_only=True) == ErrorCode.TRANSACTION_ABORTABLE
    assert batched(4, verify_only=True) == ErrorCode.TRANSACTION_ABORTABLE
    assert batched(4, verify_only=False) == ErrorCode.NONE
    assert batched(5, verify_only=True) == ErrorCode.NONE
    assert batched(5, verify_only=True, transactional_id="other") == ErrorCode.INVALID_PRODUCER_ID_MAPPING
    assert describe(txn_client, "tx")["tx"]["topics"] == [{"topic": "t", "partitions": [0]}]
