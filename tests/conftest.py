import pytest

from pykbroker.testing import EmbeddedBroker
from tests.support.rawclient import RawClient


@pytest.fixture
def broker(tmp_path):
    """A fresh in-process broker with its data in tmp_path."""
    with EmbeddedBroker(str(tmp_path / "data")) as embedded:
        yield embedded


@pytest.fixture
def raw(broker):
    """Raw protocol connections to ``broker``: call raw() for each one."""
    clients = []

    def connect(client_id: str = "rawclient") -> RawClient:
        client = RawClient("127.0.0.1", broker.port, client_id)
        clients.append(client)
        return client

    yield connect
    for client in clients:
        client.close()
