"""The classic click_log samples (compat/java): SimpleProducer and
ProducerWithKey send "login" to click_log, SimpleConsumer (group
click_log_group) prints it; once per kafka-clients line. The samples' topic and
group are fixed names, so these two scenarios share them: each only expects
the two records it sends after its consumer is assigned."""
from __future__ import annotations

import subprocess

from ... import java_samples
from ..context import Context
from ..scenario import Client, expect, scenario

VERSIONS = {"3.9": "3.9.1", "4": "4.4.0"}


def _samples(ctx: Context, line: str) -> None:
    with java_samples.ConsumerSample(ctx.bootstrap_servers, max_records=2, seconds=int(ctx.remaining(120)),
                                     line=line) as consumer:
        try:
            consumer.wait_for_assignment(timeout=ctx.remaining(45))
        except (TimeoutError, RuntimeError) as error:
            raise AssertionError(f"SimpleConsumer was assigned no partition: {str(error)[-1500:]}") from None
        for keyed in (False, True):
            produced = java_samples.produce(ctx.bootstrap_servers, keyed=keyed, line=line, timeout=ctx.remaining(60))
            sample = "ProducerWithKey" if keyed else "SimpleProducer"
            expect(produced.returncode == 0, f"{sample} exited with {produced.returncode}:\n{produced.stderr[-1500:]}")
        try:
            values = consumer.wait(timeout=ctx.remaining(60))
        except subprocess.TimeoutExpired:
            raise AssertionError(f"SimpleConsumer printed {consumer.values} and no more:\n"
                                 + "\n".join(consumer.log[-20:])) from None
        expect(values == ["login", "login"], f"SimpleConsumer printed {values}:\n" + "\n".join(consumer.log[-20:]))
        expect(consumer.returncode == 0, f"SimpleConsumer exited with {consumer.returncode}")


for _line, _version in VERSIONS.items():
    _client = Client(f"java-{_line}", f"Java samples, kafka-clients {_line}", lambda v=_version: v,
                     prepare=java_samples.build)
    scenario(_client, "click-log-samples", "SimpleProducer and ProducerWithKey to click_log; SimpleConsumer "
             "(group click_log_group) prints both", core=True)(lambda ctx, line=_line: _samples(ctx, line))
