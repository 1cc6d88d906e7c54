"""Command line: ``pykbroker [server.properties] [--override name=value ...]``,
started the way Kafka users start a broker; ``pykbroker cluster --brokers N``
starts a cluster of N on this machine (see ``local_cluster``)."""
from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from .config import BrokerConfig, ConfigError, env_properties, parse_properties


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="pykbroker",
        description="A Kafka broker in Python. Properties use Kafka's names; later sources win: "
                    "PYKBROKER_* environment variables, the properties file, --override flags.")
    parser.add_argument("properties", nargs="?", help="a server.properties file")
    parser.add_argument("--override", action="append", default=[], metavar="NAME=VALUE",
                        help="set a property (repeatable)")
    parser.add_argument("--log-level", default=None,
                        help="DEBUG shows every request; default INFO (or $PYKBROKER_LOG_LEVEL)")
    return parser.parse_args(argv)


def load_config(args: argparse.Namespace) -> BrokerConfig:
    props = env_properties()
    if args.properties:
        try:
            with open(args.properties, encoding="utf-8") as f:
                props.update(parse_properties(f.read()))
        except OSError as e:
            raise ConfigError(f"Cannot read {args.properties}: {e.strerror}") from None
    for item in args.override:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ConfigError(f"--override expects NAME=VALUE, got {item!r}")
        props[name.strip()] = value
    return BrokerConfig(props)


def main(argv: list[str] | None = None) -> int:
    import os
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["cluster"]:
        from .local_cluster import main as cluster_main
        return cluster_main(argv[1:])
    args = parse_args(argv)
    level = (args.log_level or os.environ.get("PYKBROKER_LOG_LEVEL") or "INFO").upper()
    logging.basicConfig(level=level, format="[%(asctime)s] %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        config = load_config(args)
    except ConfigError as e:
        print(f"pykbroker: {e}", file=sys.stderr)
        return 2
    from .broker import StartupError, run_until_signalled
    from .cluster.node import run_controller_until_signalled
    # process.roles=controller alone: a metadata quorum voter, no broker.
    run = run_until_signalled if "broker" in config.get("process.roles") else run_controller_until_signalled
    try:
        import uvloop
    except ImportError:
        uvloop = None
    try:
        if uvloop is not None:
            uvloop.run(run(config))
        else:
            asyncio.run(run(config))
    except StartupError as e:
        print(f"pykbroker: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
