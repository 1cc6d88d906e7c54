"""Multi-broker configuration, by KRaft's property names and rules."""
import pytest

from pykbroker.broker import StartupError
from pykbroker.cluster.node import check_roles, quorum_voters
from pykbroker.config import BrokerConfig, ConfigError
from pykbroker.testing import EmbeddedBroker

BASE = {"listeners": "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093",
        "controller.listener.names": "CONTROLLER",
        "controller.quorum.voters": "1@127.0.0.1:19093,2@127.0.0.1:29093,3@127.0.0.1:39093"}


def config(**overrides):
    return BrokerConfig({**BASE, **{k.replace("_", "."): v for k, v in overrides.items()}})


def test_voters_and_roles():
    assert quorum_voters(config()) == {1: ("127.0.0.1", 19093), 2: ("127.0.0.1", 29093), 3: ("127.0.0.1", 39093)}
    assert check_roles(config(node_id="1")) == (True, True)
    assert check_roles(config(node_id="4", process_roles="broker", listeners="PLAINTEXT://127.0.0.1:1")) == \
        (True, False)
    assert check_roles(config(node_id="2", process_roles="controller")) == (False, True)


@pytest.mark.parametrize("overrides, message", [
    ({"node_id": "4"}, "must be one of controller.quorum.voters"),
    ({"node_id": "1", "process_roles": "broker"}, "process.roles must contain controller"),
    ({"node_id": "1", "controller_listener_names": "OTHER"}, "controller.listener.names must name a listener"),
    ({"node_id": "1", "controller_quorum_voters": "1-127.0.0.1:19093"}, "expected id@host:port"),
])
def test_refused_combinations(overrides, message):
    with pytest.raises(ConfigError, match=message):
        check_roles(config(**overrides))


def test_a_broker_refuses_to_start_with_them(tmp_path):
    with pytest.raises(StartupError, match="must be one of controller.quorum.voters"):
        EmbeddedBroker(str(tmp_path), properties={**BASE, "node.id": "7"}).start()
