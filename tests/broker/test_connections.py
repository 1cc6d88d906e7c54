"""Connections: pipelined requests answered in order, bad input closing only
the offending connection (with one log line), many connections at once."""
import logging
import socket
import struct

import pytest

from pykbroker.errors import ErrorCode
from tests.broker.rawapi import (API_VERSIONS, FETCH, LIST_OFFSETS, METADATA, PRODUCE, batch, create_topic,
                                 decode_all, fetch_request, parked_requests, produce_ok, receive_frame, wait_for)
from tests.support.rawclient import RawClient
from wire import codec


def test_pipelined_requests_are_answered_in_order(broker, raw):
    """Responses leave in request order even though a parked fetch finishes
    after requests behind it could have; the ones behind it see its effects."""
    client, other = raw(), raw()
    create_topic(other, "t")
    produce_body = {"acks": 1, "timeout_ms": 5000,
                    "topic_data": [{"name": "t", "partition_data": [{"index": 0, "records": bytes(batch([b"mine"]))}]}]}
    requests = [
        (API_VERSIONS, 3, {"client_software_name": "raw", "client_software_version": "1"}),
        (METADATA, 12, {"topics": [{"name": "t"}]}),
        (FETCH, 12, fetch_request("t", 0, 0, max_wait_ms=30_000, min_bytes=1)),
        (PRODUCE, 9, produce_body),
        (METADATA, 1, {"topics": None}),
        (FETCH, 4, fetch_request("t", 0, 0)),
        (LIST_OFFSETS, 7, {"replica_id": -1, "topics": [{"name": "t", "partitions": [
            {"partition_index": 0, "timestamp": -1}]}]}),
    ] + [(API_VERSIONS, version % 4, {}) for version in range(40)]
    frames = b"".join(codec.encode_request(key, version, 100 + i, "pipeline", body)
                      for i, (key, version, body) in enumerate(requests))
    client.sock.sendall(frames)
    wait_for(lambda: parked_requests(broker) == 1, message="the fetch to park")
    produce_ok(other, "t", 0, batch([b"theirs"]))
    responses = []
    for i, (key, version, _) in enumerate(requests):
        correlation_id, response = codec.decode_response(key, version, receive_frame(client))
        assert correlation_id == 100 + i
        responses.append(response)
    parked = responses[2]["responses"][0]["partitions"][0]
    assert [r.value for r in decode_all(parked["records"])] == [b"theirs"]
    assert responses[3]["responses"][0]["partition_responses"][0]["base_offset"] == 1
    later = responses[5]["responses"][0]["partitions"][0]
    assert [r.value for r in decode_all(later["records"])] == [b"theirs", b"mine"]
    assert responses[6]["topics"][0]["partitions"][0]["offset"] == 2


# --- bad input ----------------------------------------------------------------------------
def _frame(body: bytes) -> bytes:
    return struct.pack(">i", len(body)) + body


def _header(api_key, version, correlation_id=1, client_id=b"bad"):
    return struct.pack(">hhih", api_key, version, correlation_id, len(client_id)) + client_id


VALID = codec.encode_request(METADATA, 1, 1, "fine", {"topics": None})
BAD_INPUTS = {
    "garbage": _frame(b"\xde\xad\xbe\xef" * 10),
    "unknown api key": _frame(_header(999, 0)),
    "unsupported version": _frame(_header(PRODUCE, 99)),
    "oversized size prefix": struct.pack(">i", 100 * 1024 * 1024 + 1) + b"\0" * 64,
    "negative size prefix": struct.pack(">i", -5),
    "truncated header": _frame(struct.pack(">hh", METADATA, 1)),
    "truncated body": _frame(_header(METADATA, 1) + struct.pack(">i", 3) + b"\x00\x01a"),
    "array longer than the frame": _frame(_header(METADATA, 1) + struct.pack(">i", 1_000_000)),
    "bad string length": _frame(_header(METADATA, 1) + struct.pack(">ih", 1, 30000) + b"x"),
}


@pytest.mark.parametrize("bytewise", [False, True], ids=["whole", "byte-by-byte"])
@pytest.mark.parametrize("name", BAD_INPUTS)
def test_bad_input_closes_only_that_connection(broker, raw, caplog, name, bytewise):
    caplog.set_level(logging.INFO, logger="pykbroker")
    bystander = raw()
    create_topic(bystander, "t")
    offender = raw()
    port = offender.sock.getsockname()[1]
    data = BAD_INPUTS[name]
    try:
        for piece in ([data[i:i + 1] for i in range(len(data))] if bytewise else [data]):
            offender.sock.sendall(piece)
    except (BrokenPipeError, ConnectionResetError):
        pass    # closed before everything was sent: as expected of an oversized frame
    assert offender.is_closed()
    closing = [r for r in caplog.records if f":{port}" in r.getMessage()]
    assert len(closing) == 1, [r.getMessage() for r in closing]
    assert closing[0].levelno <= logging.WARNING and "closing connection" in closing[0].getMessage()
    # Everyone else is served as before, new connections too.
    assert produce_ok(bystander, "t", 0, batch([b"still here"])) == 0
    assert raw().request(API_VERSIONS, 3, {"client_software_name": "a", "client_software_version": "1"})[
        "error_code"] == ErrorCode.NONE


def test_request_split_byte_by_byte_is_served(raw):
    client = raw()
    for i in range(len(VALID)):
        client.sock.sendall(VALID[i:i + 1])
    correlation_id, response = codec.decode_response(METADATA, 1, receive_frame(client))
    assert correlation_id == 1 and response["brokers"][0]["node_id"] == 1


def test_half_a_frame_then_hang_up(raw):
    client = raw()
    client.sock.sendall(VALID[: len(VALID) // 2])
    client.close()
    assert raw().request(METADATA, 1, {"topics": None})["brokers"][0]["node_id"] == 1


def test_socket_request_max_bytes_is_configurable(tmp_path):
    from pykbroker.testing import EmbeddedBroker
    with EmbeddedBroker(str(tmp_path / "data"), socket_request_max_bytes=1000) as broker:
        with RawClient("127.0.0.1", broker.port) as client:
            records = bytes(batch([b"x" * 2000]))
            client.sock.sendall(codec.encode_request(PRODUCE, 9, 1, "big", {
                "acks": 1, "timeout_ms": 1000,
                "topic_data": [{"name": "t", "partition_data": [{"index": 0, "records": records}]}]}))
            assert client.is_closed()
        with RawClient("127.0.0.1", broker.port) as client:
            assert client.request(METADATA, 1, {"topics": None})["brokers"]


def test_many_connections_at_once(broker):
    with RawClient("127.0.0.1", broker.port) as admin:
        create_topic(admin, "t")
    clients = [RawClient("127.0.0.1", broker.port, f"client-{i}") for i in range(200)]
    try:
        for i, client in enumerate(clients):
            client.send(PRODUCE, 9, {"acks": -1, "timeout_ms": 5000, "topic_data": [
                {"name": "t", "partition_data": [{"index": 0, "records": bytes(batch([b"%d" % i]))}]}]})
        offsets = []
        for client in clients:
            _, response = client.receive(PRODUCE, 9)
            partition = response["responses"][0]["partition_responses"][0]
            assert partition["error_code"] == ErrorCode.NONE
            offsets.append(partition["base_offset"])
        assert sorted(offsets) == list(range(200))
        for client in clients:
            client.send(API_VERSIONS, 0, {})
        for client in clients:
            assert client.receive(API_VERSIONS, 0)[1]["error_code"] == ErrorCode.NONE
    finally:
        for client in clients:
            client.close()
    with RawClient("127.0.0.1", broker.port) as client:
        values = [r.value for r in decode_all(client.request(FETCH, 12, fetch_request("t", 0, 0))[
            "responses"][0]["partitions"][0]["records"])]
    assert sorted(values, key=int) == [b"%d" % i for i in range(200)]


def test_connections_closed_by_clients_are_forgotten(broker):
    clients = [RawClient("127.0.0.1", broker.port) for _ in range(20)]
    for client in clients:
        client.request(API_VERSIONS, 0, {})
    for client in clients:
        client.sock.shutdown(socket.SHUT_RDWR)
        client.close()
    wait_for(lambda: broker.call(lambda: len(broker.broker.connections)) == 0, message="connections to be dropped")
