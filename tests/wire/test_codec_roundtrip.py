"""Every message of the schema table, at every version, survives encode/decode.

Values are generated from the schema itself (Hypothesis): a field the version
lacks holds its default, so the decoded dict must equal the generated one, and
re-encoding the decoded dict must give back the same bytes. Prefixes and
mutations of those encodings must fail only with DecodeError.
"""
from __future__ import annotations

import functools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wire.codec import DecodeError, decode_message, encode_message
from wire.schema import MESSAGES

CASES = [(name, v) for name, m in sorted(MESSAGES.items())
         for v in range(m.valid_versions[0], m.valid_versions[1] + 1)]
FAST = settings(max_examples=8, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])

INT_BOUNDS = {"int8": 8, "int16": 16, "int32": 32, "int64": 64}


def in_range(version, versions):
    return versions is not None and versions[0] <= version and (versions[1] is None or version <= versions[1])


def default_value(f):
    """What Kafka's generated classes hold for a field nobody set."""
    if f.default is None:
        return None
    if f.type.startswith("[]"):
        return []
    if f.default == ():
        return {g.name: default_value(g) for g in f.fields}
    return f.default


def type_strategy(type_, fields, version):
    if type_.startswith("[]"):
        return st.lists(type_strategy(type_[2:], fields, version), max_size=3)
    if type_ in INT_BOUNDS:
        bits = INT_BOUNDS[type_]
        return st.integers(-(1 << (bits - 1)), (1 << (bits - 1)) - 1)
    simple = {
        "uint16": st.integers(0, 0xFFFF),
        "uint32": st.integers(0, 0xFFFFFFFF),
        "bool": st.booleans(),
        "float64": st.floats(allow_nan=False),
        "string": st.text(max_size=140),
        "bytes": st.binary(max_size=140),
        "records": st.binary(max_size=300),
        "uuid": st.binary(min_size=16, max_size=16),
    }
    if type_ in simple:
        return simple[type_]
    return st.fixed_dictionaries({g.name: field_strategy(g, version) for g in fields})


def field_strategy(f, version):
    if not in_range(version, f.versions):
        return st.builds(default_value, st.just(f))
    strategy = type_strategy(f.type, f.fields, version)
    if in_range(version, f.nullable_versions):
        strategy = st.none() | strategy
    return strategy


@functools.cache
def message_strategy(name, version):
    return st.fixed_dictionaries({f.name: field_strategy(f, version) for f in MESSAGES[name].fields})


@pytest.mark.parametrize(("name", "version"), CASES, ids=[f"{n}-v{v}" for n, v in CASES])
@FAST
@given(data=st.data())
def test_round_trip(name, version, data):
    value = data.draw(message_strategy(name, version))
    encoded = encode_message(name, version, value)
    decoded = decode_message(name, version, encoded)
    assert decoded == value
    assert encode_message(name, version, decoded) == encoded


@pytest.mark.parametrize(("name", "version"), CASES, ids=[f"{n}-v{v}" for n, v in CASES])
def test_empty_dict_encodes_defaults(name, version):
    encoded = encode_message(name, version, {})
    assert decode_message(name, version, encoded) == {f.name: default_value(f) for f in MESSAGES[name].fields}


@FAST
@given(data=st.data())
def test_prefixes_and_mutations_raise_only_decode_error(data):
    name, version = data.draw(st.sampled_from(CASES))
    encoded = encode_message(name, version, data.draw(message_strategy(name, version)))
    for cut in range(len(encoded)):
        try:
            decode_message(name, version, encoded[:cut])
        except DecodeError:
            pass
    if encoded:
        mutated = bytearray(encoded)
        for _ in range(data.draw(st.integers(1, 4))):
            mutated[data.draw(st.integers(0, len(mutated) - 1))] = data.draw(st.integers(0, 255))
        try:
            decode_message(name, version, bytes(mutated))
        except DecodeError:
            pass
