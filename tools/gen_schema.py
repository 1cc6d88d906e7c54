#!/usr/bin/env python3
"""Generate wire/schema.py from Apache Kafka's JSON message definitions.

    python tools/gen_schema.py [SPEC_DIR]          # (re)write wire/schema.py
    python tools/gen_schema.py --check [SPEC_DIR]  # exit 1 if it is stale

SPEC_DIR defaults to ../shared/kafka-message-specs relative to the repository
root; its internal/ subdirectory (coordinator record formats) is read too.
Only facts are carried over (names, types, version ranges, tags, defaults),
never the specs' prose. ``LATER_SAME_VERSIONS`` adds the few versions Kafka
released after that snapshot whose layout is the version before them.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUTPUT = REPO / "wire" / "schema.py"
DEFAULT_SPECS = REPO.parent / "shared" / "kafka-message-specs"

INT_TYPES = {"int8", "int16", "uint16", "int32", "uint32", "int64"}
PRIMITIVES = INT_TYPES | {"bool", "float64", "string", "bytes", "uuid", "records"}


def strip_comments(text: str) -> str:
    """Drop // comments (the specs are JSON plus line comments), leaving strings alone."""
    out = []
    i, n = 0, len(text)
    in_string = False
    while i < n:
        c = text[i]
        if in_string:
            out.append(c)
            if c == "\\":
                out.append(text[i + 1])
                i += 1
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
            out.append(c)
        elif text.startswith("//", i):
            while i < n and text[i] != "\n":
                i += 1
            continue
        else:
            out.append(c)
        i += 1
    return "".join(out)


_WORD_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def snake_case(name: str) -> str:
    """ThrottleTimeMs -> throttle_time_ms, ISRNodes -> isr_nodes, KRaftVersion -> kraft_version."""
    name = name.replace("KRaft", "Kraft")
    return _WORD_BOUNDARY.sub("_", name).lower()


# Versions Kafka 4.0 added after the snapshot of the specs, each byte for byte
# the version before it: they only tell the broker that the client runs
# transactions V2 (KIP-890 part 2), so the broker adds the partition (or the
# group's offsets) to the transaction itself.
LATER_SAME_VERSIONS = {"ProduceRequest": 12, "ProduceResponse": 12,
                       "TxnOffsetCommitRequest": 5, "TxnOffsetCommitResponse": 5}


def parse_versions(spec: str | None) -> tuple[int, int | None] | None:
    """'3+' -> (3, None), '0-4' -> (0, 4), '2' -> (2, 2), 'none'/None -> None."""
    if spec is None or spec == "none":
        return None
    spec = spec.strip()
    if spec.endswith("+"):
        return (int(spec[:-1]), None)
    if "-" in spec:
        lo, hi = spec.split("-")
        return (int(lo), int(hi))
    return (int(spec), int(spec))


def element_type(type_: str) -> str:
    return type_[2:] if type_.startswith("[]") else type_


def parse_default(field: dict, type_: str, nullable: bool):
    """The field's default as a Python value. Arrays and structs whose default is
    their empty value are written () (the codec builds a fresh one each time)."""
    raw = field.get("default")
    text = "" if raw is None and "default" not in field else str(raw)
    if text == "None":  # a JSON null in the spec
        text = "null"
    if text == "null":
        if not nullable:
            raise ValueError(f"{field['name']}: null default on a non-nullable field")
        return None
    if type_.startswith("[]") or type_ not in PRIMITIVES:
        if text:
            raise ValueError(f"{field['name']}: invalid default {text!r} for {type_}")
        return ()
    if type_ in INT_TYPES:
        if not text:
            return 0
        return int(text, 16) if text.lower().startswith("0x") else int(text)
    if type_ == "bool":
        if text.lower() not in ("", "true", "false"):
            raise ValueError(f"{field['name']}: invalid bool default {text!r}")
        return text.lower() == "true"
    if type_ == "float64":
        return float(text) if text else 0.0
    if type_ == "string":
        return text
    if type_ == "bytes":
        if text:
            raise ValueError(f"{field['name']}: bytes default must be empty or null")
        return b""
    if type_ == "uuid":
        if text:
            raise ValueError(f"{field['name']}: uuid defaults are not supported")
        return bytes(16)
    if type_ == "records":
        return None
    raise ValueError(f"unknown type {type_}")


class StructIndex:
    """Every named struct of one message spec (common structs and inline ones),
    so a field that names a struct without defining it can be resolved."""

    def __init__(self, spec: dict):
        self.structs: dict[str, list] = {}
        for common in spec.get("commonStructs", []):
            self.structs[common["name"]] = common["fields"]
            self._collect(common["fields"])
        self._collect(spec["fields"])

    def _collect(self, fields: list) -> None:
        for f in fields:
            if "fields" in f:
                self.structs.setdefault(element_type(f["type"]), f["fields"])
                self._collect(f["fields"])

    def fields_of(self, field: dict) -> list:
        if "fields" in field:
            return field["fields"]
        return self.structs[element_type(field["type"])]


def convert_field(field: dict, index: StructIndex, msg_name: str) -> tuple:
    type_ = field["type"]
    tagged = parse_versions(field.get("taggedVersions"))
    # Kafka: a field without "versions" exists in its tagged versions.
    versions = parse_versions(field.get("versions")) or tagged
    if versions is None:
        raise ValueError(f"{msg_name}.{field['name']}: no versions")
    nullable = parse_versions(field.get("nullableVersions"))
    flexible = field.get("flexibleVersions")
    if flexible is not None:
        flexible = "none" if flexible == "none" else parse_versions(flexible)
    sub = ()
    if element_type(type_) not in PRIMITIVES:
        sub = tuple(convert_field(f, index, msg_name) for f in index.fields_of(field))
    return (
        snake_case(field["name"]),
        type_,
        versions,
        nullable,
        tagged,
        None if field.get("tag") is None else int(field["tag"]),
        parse_default(field, type_, nullable is not None),
        flexible,
        bool(field.get("ignorable", False)),
        sub,
    )


def convert_message(spec: dict) -> tuple:
    index = StructIndex(spec)
    flexible = parse_versions(spec["flexibleVersions"])
    fields = tuple(convert_field(f, index, spec["name"]) for f in spec["fields"])
    check_unique_names(spec["name"], fields)
    valid = parse_versions(spec["validVersions"])
    later = LATER_SAME_VERSIONS.get(spec["name"])
    if later is not None:
        if valid[1] != later - 1 or not all_open_ended(fields):
            raise ValueError(f"{spec['name']}: the specs changed, revisit LATER_SAME_VERSIONS")
        valid = (valid[0], later)
    return (
        spec["name"],
        spec["type"],
        spec.get("apiKey"),
        valid,
        None if flexible is None else flexible[0],
        fields,
    )


def all_open_ended(fields: tuple) -> bool:
    return all(f[2][1] is None and all_open_ended(f[9]) for f in fields)


def check_unique_names(where: str, fields: tuple) -> None:
    names = [f[0] for f in fields]
    if len(names) != len(set(names)):
        raise ValueError(f"{where}: snake_case names collide: {names}")
    for f in fields:
        check_unique_names(f"{where}.{f[0]}", f[9])


def load_specs(spec_dir: Path) -> list[tuple]:
    paths = sorted(spec_dir.glob("*.json")) + sorted((spec_dir / "internal").glob("*.json"))
    if not paths:
        raise SystemExit(f"no message specs found in {spec_dir}")
    messages = [convert_message(json.loads(strip_comments(p.read_text("utf-8")))) for p in paths]
    return sorted(messages, key=lambda m: m[0])


HEADER = '''\
# Generated by `python tools/gen_schema.py` from Apache Kafka's message
# definitions (Apache License 2.0; see NOTICE). Do not edit by hand: CI runs
# `python tools/gen_schema.py --check` and fails when this file is stale.
"""Kafka message schemas: facts only, one entry per message spec.

Version ranges are (min, max) with max None when open-ended ("3+"); a range
that is absent ("none") is None. A Field's default is its Python value; arrays
and structs whose default is the empty array / the struct of its fields'
defaults have (). A field's flexible_versions is None unless the spec
overrides the message's flexible versions for it ("none" or a range).
"""
from typing import NamedTuple


class Field(NamedTuple):
    name: str
    type: str
    versions: tuple
    nullable_versions: tuple | None
    tagged_versions: tuple | None
    tag: int | None
    default: object
    flexible_versions: object
    ignorable: bool
    fields: tuple


class Message(NamedTuple):
    name: str
    type: str
    api_key: int | None
    valid_versions: tuple
    flexible_versions: int | None
    fields: tuple


F = Field
'''


def render_field(f: tuple, indent: int) -> list[str]:
    pad = " " * indent
    head = ", ".join(repr(x) for x in f[:9])
    if not f[9]:
        return [f"{pad}F({head}, ()),"]
    lines = [f"{pad}F({head}, ("]
    for sub in f[9]:
        lines += render_field(sub, indent + 4)
    lines.append(f"{pad})),")
    return lines


def render(messages: list[tuple]) -> str:
    lines = [HEADER, "MESSAGES = {"]
    for name, type_, api_key, valid, flexible, fields in messages:
        lines.append(f"    {name!r}: Message({name!r}, {type_!r}, {api_key!r}, {valid!r}, {flexible!r}, (")
        for f in fields:
            lines += render_field(f, 8)
        lines.append("    )),")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec_dir", nargs="?", type=Path, default=DEFAULT_SPECS)
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if wire/schema.py differs from what would be generated")
    args = parser.parse_args(argv)
    text = render(load_specs(args.spec_dir))
    if args.check:
        current = OUTPUT.read_text("utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT.relative_to(REPO)} is stale: run python tools/gen_schema.py", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text, "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
