"""The fast core of the compatibility matrix (compat/matrix) against pykbroker
run as a user runs it: the Java samples on kafka-clients 3.9 and 4.x, Kafka's
CLI tools, franz-go and kafkajs. Builds what it needs on first use (Maven, Go
and npm, cached). A cell that fails for a reason recorded in
compat/matrix/explained.py is an expected failure naming the issue it waits on.

The full matrix, and the reference run against Apache Kafka:
python -m compat.matrix [--target kafka]"""
import pytest

from compat.matrix import scenarios  # noqa: F401  (registers the scenarios)
from compat.matrix.explained import explanation
from compat.matrix.runner import run_scenario
from compat.matrix.scenario import SCENARIOS
from compat.matrix.targets import PykbrokerTarget

CORE = [scenario for scenario in SCENARIOS.values() if scenario.core]
# kafka-python 3's protocol schemas load through deprecated importlib.resources calls.
pytestmark = pytest.mark.filterwarnings(r"ignore:.* is deprecated\. Use files\(\) instead:DeprecationWarning")


@pytest.fixture(scope="module")
def pykbroker():
    target = PykbrokerTarget().start()
    yield target
    target.close()


@pytest.mark.parametrize("scenario", CORE, ids=[scenario.id for scenario in CORE])
def test_core_scenario(pykbroker, scenario, request):
    known = explanation(scenario.id)
    if known:
        request.applymarker(pytest.mark.xfail(reason=f"waits on {known.issue}: {known.cause}", strict=False))
    result = run_scenario(pykbroker, scenario)
    assert result.status == "pass", f"{result.reason}\n--- broker log ---\n{result.broker_log}"
