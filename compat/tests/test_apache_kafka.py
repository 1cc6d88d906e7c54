"""The harnesses against the real Apache Kafka: what a user of the CLI tools and
of the classic samples sees. Slow (JVMs, Maven on first run): pytest compat/tests"""
import pytest

from compat import java_samples
from compat.apache_kafka import ApacheKafka
from compat.kafka_cli import run


@pytest.fixture(scope="module")
def kafka():
    with ApacheKafka() as server:
        yield server


def tool(kafka, name, *args, input=None):
    result = run(name, ["--bootstrap-server", kafka.bootstrap_servers, *args], input=input)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_topic_create_list_describe(kafka):
    assert "Created topic clicks." in tool(kafka, "kafka-topics", "--create", "--topic", "clicks", "--partitions", "3")
    assert "clicks" in tool(kafka, "kafka-topics", "--list").split()
    described = tool(kafka, "kafka-topics", "--describe", "--topic", "clicks")
    assert "PartitionCount: 3" in described
    assert described.count("Leader: 1") == 3


def test_console_producer_keys_and_headers_reach_console_consumer(kafka):
    tool(kafka, "kafka-topics", "--create", "--topic", "keyed")
    tool(kafka, "kafka-console-producer", "--topic", "keyed", "--reader-property", "parse.key=true",
         "--reader-property", "key.separator=:", "--reader-property", "parse.headers=true",
         input="source:web\tuser1:login\nsource:app,v:2\tuser2:logout\n")
    consumed = tool(kafka, "kafka-console-consumer", "--topic", "keyed", "--from-beginning",
                    "--max-messages", "2", "--group", "cli", "--formatter-property", "print.key=true",
                    "--formatter-property", "print.headers=true")
    assert consumed.splitlines() == ["source:web\tuser1\tlogin", "source:app,v:2\tuser2\tlogout"]
    described = tool(kafka, "kafka-consumer-groups", "--describe", "--group", "cli")
    assert [line.split()[:5] for line in described.splitlines() if line.startswith("cli ")] == [
        ["cli", "keyed", "0", "2", "2"]]


@pytest.mark.parametrize("consumer_line", java_samples.LINES)
@pytest.mark.parametrize("producer_line", java_samples.LINES)
def test_classic_samples(kafka, producer_line, consumer_line):
    with java_samples.ConsumerSample(kafka.bootstrap_servers, max_records=2, line=consumer_line) as consumer:
        consumer.wait_for_assignment()
        for keyed in (False, True):
            produced = java_samples.produce(kafka.bootstrap_servers, keyed=keyed, line=producer_line)
            assert produced.returncode == 0, produced.stderr
        assert consumer.wait(timeout=90) == ["login", "login"]
        assert consumer.returncode == 0


def test_restart_keeps_the_data(tmp_path):
    with ApacheKafka(log_dir=str(tmp_path)) as server:
        tool(server, "kafka-console-producer", "--topic", "kept", input="before\n")
        server.stop()
        server.start()
        assert tool(server, "kafka-console-consumer", "--topic", "kept", "--from-beginning",
                    "--max-messages", "1") == "before\n"
