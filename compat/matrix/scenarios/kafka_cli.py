"""Apache Kafka's own command-line tools, from the Maven jars (compat.kafka_cli),
as an operator uses them."""
from __future__ import annotations

import json
import re

from ... import kafka_cli, kafka_jars
from ..context import Context, check, numbered_records
from ..scenario import Client, expect, scenario

CLI = Client("kafka-cli", "Kafka CLI tools", lambda: kafka_jars.DEFAULT_VERSION,
             prepare=lambda: kafka_jars.jars(kafka_jars.DEFAULT_VERSION))


def tool(ctx: Context, name: str, *args: str, input: str | None = None, timeout: float = 60):
    """Run a tool with --bootstrap-server; the finished process (stdout, stderr, returncode)."""
    result = kafka_cli.run(name, ["--bootstrap-server", ctx.bootstrap_servers, *args], input=input,
                           timeout=ctx.remaining(timeout))
    return result


def ok(ctx: Context, name: str, *args: str, input: str | None = None, timeout: float = 60) -> str:
    return check(tool(ctx, name, *args, input=input, timeout=timeout), f"{name} {' '.join(args[:3])}")


def group_rows(described: str, group: str) -> list[list[str]]:
    """kafka-consumer-groups --describe: GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG ..."""
    return [line.split() for line in described.splitlines() if line.split()[:1] == [group]]


def consume_with_group(ctx: Context, topic: str, group: str, count: int) -> list[str]:
    """kafka-console-consumer in a group, from the beginning, until ``count`` records; commits on exit."""
    out = ok(ctx, "kafka-console-consumer", "--topic", topic, "--group", group, "--from-beginning",
             "--max-messages", str(count), "--timeout-ms", "30000", timeout=90)
    return out.splitlines()


@scenario(CLI, "topics", "kafka-topics --create, --list, --describe; a second --create is refused", core=True)
def topics(ctx: Context) -> None:
    topic = ctx.name("t")
    expect(f"Created topic {topic}." in ok(ctx, "kafka-topics", "--create", "--topic", topic, "--partitions", "3"),
           "kafka-topics --create did not print 'Created topic'")
    expect(topic in ok(ctx, "kafka-topics", "--list").split(), f"{topic} missing from kafka-topics --list")
    described = ok(ctx, "kafka-topics", "--describe", "--topic", topic)
    expect("PartitionCount: 3" in described and "ReplicationFactor: 1" in described,
           f"--describe shows no 3 partitions with replication factor 1:\n{described}")
    leaders = re.findall(r"Partition: (\d+)\s+Leader: (\d+)", described)
    expect(sorted(p for p, _ in leaders) == ["0", "1", "2"], f"--describe lists partitions {leaders}")
    again = tool(ctx, "kafka-topics", "--create", "--topic", topic)
    expect(again.returncode != 0 and "already exists" in again.stdout + again.stderr,
           f"a second --create was not refused as 'already exists': {again.stdout}{again.stderr}")


@scenario(CLI, "topics-alter-partitions", "kafka-topics --alter --partitions: 2 to 4 works, 4 to 3 is refused",
          core=True)
def alter_partitions(ctx: Context) -> None:
    topic = ctx.name("t")
    ok(ctx, "kafka-topics", "--create", "--topic", topic, "--partitions", "2")
    ok(ctx, "kafka-topics", "--alter", "--topic", topic, "--partitions", "4")
    ctx.wait_until(lambda: "PartitionCount: 4" in ok(ctx, "kafka-topics", "--describe", "--topic", topic), 30,
                   "--describe does not show 4 partitions after --alter --partitions 4")
    down = tool(ctx, "kafka-topics", "--alter", "--topic", topic, "--partitions", "3")
    expect(down.returncode != 0 and "would not be an increase" in down.stdout + down.stderr,
           f"--partitions 3 was not refused ('would not be an increase'): {down.returncode} {down.stdout}{down.stderr}")


@scenario(CLI, "topics-delete", "kafka-topics --delete; the topic leaves --list", core=True)
def delete_topic(ctx: Context) -> None:
    topic = ctx.name("t")
    ok(ctx, "kafka-topics", "--create", "--topic", topic)
    ok(ctx, "kafka-topics", "--delete", "--topic", topic)
    ctx.wait_until(lambda: topic not in ok(ctx, "kafka-topics", "--list").split(), 30,
                   f"{topic} still listed after --delete")


@scenario(CLI, "console-keys-headers", "console producer with keys and headers; console consumer "
          "--from-beginning on a partition (no group) prints them", core=True)
def console_keys_headers(ctx: Context) -> None:
    topic = ctx.create_topic(ctx.name("t"))
    ok(ctx, "kafka-console-producer", "--topic", topic, "--reader-property", "parse.key=true",
       "--reader-property", "key.separator=:", "--reader-property", "parse.headers=true",
       input="source:web\tuser1:login\nsource:app,v:2\tuser2:logout\n")
    consumed = ok(ctx, "kafka-console-consumer", "--topic", topic, "--partition", "0", "--from-beginning",
                  "--max-messages", "2", "--timeout-ms", "20000", "--formatter-property", "print.key=true",
                  "--formatter-property", "print.headers=true")
    expect(consumed.splitlines() == ["source:web\tuser1\tlogin", "source:app,v:2\tuser2\tlogout"],
           f"console consumer printed {consumed!r}")


@scenario(CLI, "console-consumer-group", "console consumer --group --from-beginning reads every record and "
          "commits the group's offsets", core=True)
def console_group(ctx: Context) -> None:
    topic, group = ctx.create_topic(ctx.name("t"), partitions=2), ctx.name("g")
    ok(ctx, "kafka-console-producer", "--topic", topic, input="".join(f"line-{i}\n" for i in range(6)))
    values = consume_with_group(ctx, topic, group, 6)
    expect(sorted(values) == [f"line-{i}" for i in range(6)], f"console consumer printed {values}")
    committed = ctx.committed(group, topic)
    expect(committed == ctx.end_offsets(topic), f"committed {committed}, end offsets {ctx.end_offsets(topic)}")


def _group_with_lag(ctx: Context) -> tuple[str, str]:
    """A topic of 8 records and a group that has consumed (and committed) the first 5."""
    topic, group = ctx.create_topic(ctx.name("t")), ctx.name("g")
    ctx.produce(topic, numbered_records(5, "harness"))
    consume_with_group(ctx, topic, group, 5)
    ctx.produce(topic, numbered_records(3, "harness"))
    return topic, group


@scenario(CLI, "consumer-groups-describe", "kafka-consumer-groups --list, and --describe with offsets and lag",
          core=True)
def groups_describe(ctx: Context) -> None:
    topic, group = _group_with_lag(ctx)
    expect(group in ok(ctx, "kafka-consumer-groups", "--list").split(), f"{group} missing from --list")
    rows = group_rows(ok(ctx, "kafka-consumer-groups", "--describe", "--group", group), group)
    expect([row[1:6] for row in rows] == [[topic, "0", "5", "8", "3"]],
           f"--describe rows {rows}, expected current offset 5, log end 8, lag 3")


@scenario(CLI, "consumer-groups-reset-offsets", "kafka-consumer-groups --reset-offsets --to-earliest, "
          "--shift-by, --to-offset (--dry-run changes nothing)", core=True)
def groups_reset(ctx: Context) -> None:
    topic, group = _group_with_lag(ctx)
    reset = ("--reset-offsets", "--group", group, "--topic", topic)
    ok(ctx, "kafka-consumer-groups", *reset, "--to-earliest", "--dry-run")
    expect(ctx.committed(group, topic) == {0: 5}, "--dry-run changed the committed offset")
    for option, expected in ((("--to-earliest",), 0), (("--shift-by", "3"), 3), (("--to-offset", "7"), 7)):
        ok(ctx, "kafka-consumer-groups", *reset, *option, "--execute")
        rows = group_rows(ok(ctx, "kafka-consumer-groups", "--describe", "--group", group), group)
        expect([row[1:6] for row in rows] == [[topic, "0", str(expected), "8", str(8 - expected)]],
               f"after --reset-offsets {' '.join(option)}: --describe rows {rows}")


@scenario(CLI, "consumer-groups-delete", "kafka-consumer-groups --delete; the group leaves --list", core=True)
def groups_delete(ctx: Context) -> None:
    _, group = _group_with_lag(ctx)
    deleted = ok(ctx, "kafka-consumer-groups", "--delete", "--group", group)
    expect("successful" in deleted, f"--delete printed {deleted!r}")
    expect(group not in ok(ctx, "kafka-consumer-groups", "--list").split(), f"{group} still listed")


@scenario(CLI, "configs", "kafka-configs: topic --add-config / --describe / --delete-config; broker and "
          "cluster-default configs", core=True)
def configs(ctx: Context) -> None:
    topic = ctx.create_topic(ctx.name("t"))
    entity = ("--entity-type", "topics", "--entity-name", topic)
    ok(ctx, "kafka-configs", *entity, "--alter", "--add-config", "retention.ms=3600000,cleanup.policy=compact")
    described = ok(ctx, "kafka-configs", *entity, "--describe")
    expect("retention.ms=3600000" in described and "cleanup.policy=compact" in described,
           f"topic --describe after --add-config:\n{described}")
    expect(ctx.topic_config(topic)["cleanup.policy"] == "compact", "DescribeConfigs disagrees with kafka-configs")
    ok(ctx, "kafka-configs", *entity, "--alter", "--delete-config", "retention.ms")
    described = ok(ctx, "kafka-configs", *entity, "--describe")
    expect("retention.ms=" not in described and "cleanup.policy=compact" in described,
           f"topic --describe after --delete-config retention.ms:\n{described}")

    broker = str(ctx.broker_ids()[0])
    described = ok(ctx, "kafka-configs", "--entity-type", "brokers", "--entity-name", broker, "--describe", "--all")
    expect("num.partitions=1" in described and "log.retention.hours=168" in described,
           f"broker --describe --all lacks num.partitions=1 or log.retention.hours=168:\n{described[:2000]}")
    default = ("--entity-type", "brokers", "--entity-default")
    ok(ctx, "kafka-configs", *default, "--alter", "--add-config", "log.cleaner.backoff.ms=15001")
    expect("log.cleaner.backoff.ms=15001" in ok(ctx, "kafka-configs", *default, "--describe"),
           "cluster-default --describe does not show log.cleaner.backoff.ms=15001")
    ok(ctx, "kafka-configs", *default, "--alter", "--delete-config", "log.cleaner.backoff.ms")
    expect("log.cleaner.backoff.ms" not in ok(ctx, "kafka-configs", *default, "--describe"),
           "cluster-default log.cleaner.backoff.ms still set after --delete-config")


@scenario(CLI, "get-offsets", "kafka-get-offsets: latest (default, -1) and earliest (-2) per partition", core=True)
def get_offsets(ctx: Context) -> None:
    topic = ctx.create_topic(ctx.name("t"), partitions=2)
    ctx.produce(topic, numbered_records(3, "harness"), partition=0)
    ctx.produce(topic, numbered_records(2, "harness"), partition=1)
    for args, expected in (((), [f"{topic}:0:3", f"{topic}:1:2"]),
                           (("--time", "-1"), [f"{topic}:0:3", f"{topic}:1:2"]),
                           (("--time", "-2"), [f"{topic}:0:0", f"{topic}:1:0"])):
        printed = sorted(ok(ctx, "kafka-get-offsets", "--topic", topic, *args).split())
        expect(printed == expected, f"kafka-get-offsets {' '.join(args)} printed {printed}, expected {expected}")


@scenario(CLI, "delete-records", "kafka-delete-records up to offset 3: low watermark 3, earliest offset 3, "
          "only later records readable", core=True)
def delete_records(ctx: Context) -> None:
    topic = ctx.create_topic(ctx.name("t"))
    ctx.produce(topic, numbered_records(5, "harness"))
    offsets = ctx.workdir / "offsets.json"
    offsets.write_text(json.dumps({"partitions": [{"topic": topic, "partition": 0, "offset": 3}], "version": 1}))
    printed = ok(ctx, "kafka-delete-records", "--offset-json-file", str(offsets))
    expect(re.search(rf"partition: {re.escape(topic)}-0\s+low_watermark: 3", printed),
           f"kafka-delete-records printed {printed!r}")
    earliest = ok(ctx, "kafka-get-offsets", "--topic", topic, "--time", "-2").split()
    expect(earliest == [f"{topic}:0:3"], f"earliest offset after delete-records: {earliest}")
    expect([r.value for r in ctx.read(topic, 2)] == ["value-3", "value-4"], "records before offset 3 still read")


@scenario(CLI, "acls-no-authorizer", "kafka-acls --list and --add fail, saying no authorizer is configured "
          "(Kafka's default)")
def acls_no_authorizer(ctx: Context) -> None:
    for args in (("--list",), ("--add", "--allow-principal", "User:alice", "--operation", "Read",
                               "--topic", ctx.name("t"))):
        result = tool(ctx, "kafka-acls", *args)
        printed = result.stdout + result.stderr
        expect(result.returncode != 0 and "SecurityDisabledException" in printed
               and "No Authorizer is configured" in printed,
               f"kafka-acls {args[0]} did not report the missing authorizer: {result.returncode} {printed[-2000:]}")


def _perf_produce(ctx: Context, topic: str, records: int) -> str:
    return ok(ctx, "kafka-producer-perf-test", "--topic", topic, "--num-records", str(records),
              "--record-size", "100", "--throughput", "-1", "--producer-props", "acks=all", timeout=120)


@scenario(CLI, "producer-perf-test", "kafka-producer-perf-test: 50000 records of 100 bytes, acks=all", core=True)
def producer_perf(ctx: Context) -> None:
    topic = ctx.create_topic(ctx.name("t"), partitions=3)
    printed = _perf_produce(ctx, topic, 50000)
    expect(re.search(r"^50000 records sent", printed, re.M), f"producer-perf-test printed:\n{printed[-800:]}")
    total = sum(ctx.end_offsets(topic).values())
    expect(total == 50000, f"the topic holds {total} records, not 50000")


@scenario(CLI, "consumer-perf-test", "kafka-consumer-perf-test (a group) reads 50000 records", core=True)
def consumer_perf(ctx: Context) -> None:
    topic = ctx.create_topic(ctx.name("t"), partitions=3)
    _perf_produce(ctx, topic, 50000)
    printed = ok(ctx, "kafka-consumer-perf-test", "--topic", topic, "--num-records", "50000",
                 "--group", ctx.name("g"), "--timeout", "60000", timeout=120)
    lines = [line for line in printed.splitlines() if line.strip()]
    header = [name.strip() for name in lines[0].split(",")] if lines else []
    values = [value.strip() for value in lines[-1].split(",")] if len(lines) > 1 else []
    consumed = dict(zip(header, values)).get("data.consumed.in.nMsg")
    expect(consumed == "50000", f"consumer-perf-test consumed {consumed}:\n{printed[-800:]}")


def _live_group(ctx: Context, protocol: str) -> None:
    """A console consumer staying in a group over a 2-partition topic, seen by kafka-consumer-groups
    --describe --state and --members --verbose, then its commits by --describe."""
    topic, group = ctx.create_topic(ctx.name("t"), partitions=2), ctx.name("g")
    ctx.produce(topic, numbered_records(4, "harness"))
    consumer = ctx.spawn(kafka_cli.command("kafka-console-consumer", [
        "--bootstrap-server", ctx.bootstrap_servers, "--topic", topic, "--group", group, "--from-beginning",
        "--consumer-property", f"group.protocol={protocol}", "--consumer-property", "auto.commit.interval.ms=500"]))
    consumer.wait_for(r"^value-", timeout=ctx.remaining(60))
    assignor = "range" if protocol == "classic" else "uniform"

    def stable():
        rows = group_rows(ok(ctx, "kafka-consumer-groups", "--describe", "--group", group, "--state"), group)
        return rows if rows and "Stable" in rows[0] else None

    state = ctx.wait_until(stable, 30, f"group {group} never Stable in --describe --state")[0]
    expect(assignor in state and state[-1] == "1", f"--describe --state row {state}: expected {assignor}, 1 member")
    members = group_rows(ok(ctx, "kafka-consumer-groups", "--describe", "--group", group, "--members",
                            "--verbose"), group)
    # Kafka 4's columns: GROUP CONSUMER-ID HOST CLIENT-ID #PARTITIONS [MEMBER-EPOCH] ASSIGNMENT ...
    expect(len(members) == 1 and f"{topic}:0,1" in members[0], f"--members --verbose rows {members}")
    expect(len(members[0]) > 4 and members[0][4] == "2", f"--members row {members[0]}: expected 2 partitions")
    def caught_up():
        ends = ctx.end_offsets(topic)
        rows = group_rows(ok(ctx, "kafka-consumer-groups", "--describe", "--group", group), group)
        return [row[1:6] for row in rows] == [[topic, str(p), str(end), str(end), "0"] for p, end in sorted(ends.items())]

    ctx.wait_until(caught_up, 30, "--describe never showed both partitions committed to their end, lag 0")
    consumer.stop()


@scenario(CLI, "consumer-groups-live-classic", "a console consumer stays in a classic group: --describe "
          "--state (Stable, range, 1 member), --members --verbose (both partitions), offsets committed, lag 0")
def live_classic(ctx: Context) -> None:
    _live_group(ctx, "classic")


@scenario(CLI, "consumer-groups-live-kip848", "the same with group.protocol=consumer (KIP-848, the "
          "uniform assignor on the broker)")
def live_kip848(ctx: Context) -> None:
    _live_group(ctx, "consumer")


@scenario(CLI, "producer-perf-test-transactional", "kafka-producer-perf-test --transactional-id: 20000 "
          "records in 100 ms transactions, all read with read_committed")
def producer_perf_transactional(ctx: Context) -> None:
    topic = ctx.create_topic(ctx.name("t"), partitions=2)
    printed = ok(ctx, "kafka-producer-perf-test", "--topic", topic, "--num-records", "20000", "--record-size", "100",
                 "--throughput", "-1", "--transactional-id", ctx.name("txn"), "--transaction-duration-ms", "100",
                 timeout=120)
    expect(re.search(r"^20000 records sent", printed, re.M), f"producer-perf-test printed:\n{printed[-800:]}")
    read = ctx.read(topic, 20000, committed_only=True)
    expect(len(read) == 20000, f"read_committed saw {len(read)} records")
