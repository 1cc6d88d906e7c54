"""Compile a message schema at one version into a decoder and an encoder.

This is the codec's only mechanism: for a (message, version) pair it walks the
schema table once and writes straight-line Python source (nested structs and
arrays inlined, runs of fixed-width fields read or written by a single
struct.Struct call), which is exec'd and cached by the caller. Generated:

    decode(buf, pos, n) -> (dict, pos)   n = len(buf); bytes never read past n
    encode(w, obj)                       w = list.append; appends bytes-like parts

Kafka facts mirrored here (from its MessageDataGenerator):
- flexible versions use compact lengths (unsigned varint N+1, 0 = null) and
  end every struct with a tagged-field section; a field may override the
  message's flexible versions (RequestHeader.ClientId never is compact);
- non-tagged nullable structs carry an int8 marker (-1 null, 1 present),
  tagged ones an unsigned varint (0 null, 1 present);
- a tagged field is written only when it differs from its default, in tag
  order merged with the unknown tags kept from decoding;
- decoding rejects strings longer than 0x7fff, nulls in non-nullable fields,
  arrays longer than the bytes left, and known tags in versions that lack
  them; strings decode like Java's (malformed UTF-8 becomes U+FFFD).
"""
from __future__ import annotations

import operator
import struct
from typing import Callable

from .schema import Field

FIXED_FORMAT = {
    "int8": "b", "int16": "h", "uint16": "H", "int32": "i", "uint32": "I",
    "int64": "q", "float64": "d", "bool": "?", "uuid": "16s",
}
UNKNOWN_TAGS = "_unknown_tags"
MAX_STRING = 0x7FFF

_UVARINT_1 = [bytes((i,)) for i in range(128)]


class DecodeError(ValueError):
    """Bytes that do not decode as the message they should be."""

    def __init__(self, message: str, correlation_id: int | None = None):
        super().__init__(message)
        self.correlation_id = correlation_id


def uvarint(value: int) -> bytes:
    if 0 <= value < 0x80:
        return _UVARINT_1[value]
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def uvarint_tail(buf, pos: int, first: int) -> tuple[int, int]:
    """Finish an unsigned varint whose first byte (>= 0x80) was already read."""
    value = first & 0x7F
    shift = 7
    while True:
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, pos
        shift += 7
        if shift > 28:
            raise DecodeError("unsigned varint longer than 5 bytes")


def null_marker(flex: bool, classic_fmt: str) -> bytes:
    """A null string/bytes/array: compact length 0, or classic length -1."""
    return b"\x00" if flex else struct.pack(">" + classic_fmt, -1)


def write_tags(w, items) -> None:
    """A tagged-field section: count, then (tag, size, bytes) in tag order."""
    w(uvarint(len(items)))
    for tag, data in items:
        w(uvarint(tag))
        w(uvarint(len(data)))
        w(data)


def in_range(version: int, versions) -> bool:
    return versions is not None and versions[0] <= version and (versions[1] is None or version <= versions[1])


def element_type(type_: str) -> str:
    return type_[2:] if type_.startswith("[]") else type_


def is_struct(type_: str) -> bool:
    t = element_type(type_)
    return t not in FIXED_FORMAT and t not in ("string", "bytes", "records")


def default_expr(f: Field) -> str:
    """Source for a fresh copy of the field's default value."""
    if f.default is None:
        return "None"
    if f.type.startswith("[]"):
        return "[]"
    if is_struct(f.type):
        return "{" + ", ".join(f"{g.name!r}: {default_expr(g)}" for g in f.fields) + "}"
    return repr(f.default)


class _Source:
    """Lines of one generated module, its unique names and its constants."""

    def __init__(self):
        self.lines: list[str] = []
        # Builtins are globals here: one dict lookup instead of two.
        self.namespace = {
            "DecodeError": DecodeError, "uvarint": uvarint, "uvarint_tail": uvarint_tail,
            "UV1": _UVARINT_1, "unpack_from": struct.unpack_from, "pack": struct.pack,
            "str": str, "bytes": bytes, "len": len, "sum": sum, "map": map, "range": range,
            "list": list, "isinstance": isinstance,
            "write_tags": write_tags, "UNSET": object(), "first": operator.itemgetter(0), "sorted": sorted,
        }
        self._count = 0
        self._structs: dict[tuple[str, str], str] = {}

    def name(self, prefix: str) -> str:
        self._count += 1
        return f"{prefix}{self._count}"

    def const(self, value, prefix: str = "K") -> str:
        name = self.name(prefix)
        self.namespace[name] = value
        return name

    def struct_fn(self, fmt: str, method: str) -> str:
        key = (fmt, method)
        if key not in self._structs:
            self._structs[key] = self.const(getattr(struct.Struct(">" + fmt), method), "S")
        return self._structs[key]

    def __call__(self, indent: int, line: str) -> None:
        self.lines.append("    " * indent + line)

    def build(self, fn_name: str):
        code = "\n".join(self.lines)
        exec(compile(code, f"<kafka codec {fn_name}>", "exec"), self.namespace)
        return self.namespace[fn_name]


class _Compiler:
    def __init__(self, version: int, flexible: bool, where: str):
        self.version = version
        self.flexible = flexible
        self.where = where

    # -- facts about a field at this version ---------------------------------

    def present(self, f: Field) -> bool:
        return in_range(self.version, f.versions)

    def tagged(self, f: Field) -> bool:
        return in_range(self.version, f.tagged_versions)

    def nullable(self, f: Field) -> bool:
        return in_range(self.version, f.nullable_versions)

    def flexible_for(self, f: Field) -> bool:
        if f.flexible_versions is None:
            return self.flexible
        if f.flexible_versions == "none":
            return False
        return in_range(self.version, f.flexible_versions)

    def min_size(self, f: Field, flex: bool) -> int:
        """Fewest bytes the field can take (bounds array counts before allocating)."""
        t = f.type
        if t.startswith("[]") or t in ("bytes", "records"):
            return 1 if flex else 4
        if t == "string":
            return 1 if flex else 2
        if t in FIXED_FORMAT:
            return struct.calcsize(">" + FIXED_FORMAT[t])
        if self.nullable(f):
            return 1
        return self.struct_min_size(f.fields)

    def struct_min_size(self, fields) -> int:
        size = 1 if self.flexible else 0
        for g in fields:
            if self.present(g) and not self.tagged(g):
                size += self.min_size(g, self.flexible_for(g))
        return size

    def element_min_size(self, f: Field, flex: bool) -> int:
        t = element_type(f.type)
        if t in FIXED_FORMAT:
            return struct.calcsize(">" + FIXED_FORMAT[t])
        if t == "string":
            return 1 if flex else 2
        return max(1, self.struct_min_size(f.fields))


class DecoderCompiler(_Compiler):
    def compile(self, fields) -> Callable:
        src = self.src = _Source()
        src(0, "def decode(buf, pos, n):")
        result = self.struct(fields, 1, self.where)
        src(1, f"return {result}, pos")
        return src.build("decode")

    def fail(self, indent: int, message: str) -> None:
        self.src(indent, f"raise DecodeError({message!r})")

    def read_uvarint(self, indent: int, target: str) -> None:
        src = self.src
        src(indent, f"{target} = buf[pos]")
        src(indent, "pos += 1")
        src(indent, f"if {target} > 127: {target}, pos = uvarint_tail(buf, pos, {target})")

    def read_length(self, indent: int, target: str, flex: bool, classic_fmt: str) -> None:
        """Length or count prefix: compact N+1 in flexible versions, else int16/int32; -1 = null."""
        if flex:
            src = self.src
            src(indent, f"{target} = buf[pos]")
            src(indent, "pos += 1")
            src(indent, f"if {target} > 127:")  # inline the two-byte case (lengths up to 16383)
            src(indent + 1, "b = buf[pos]")
            src(indent + 1, "if b < 128:")
            src(indent + 2, f"{target} = ({target} & 127 | b << 7)")
            src(indent + 2, "pos += 1")
            src(indent + 1, f"else: {target}, pos = uvarint_tail(buf, pos, {target})")
            src(indent, f"{target} -= 1")
        else:
            self.src(indent, f"{target}, = {self.src.struct_fn(classic_fmt, 'unpack_from')}(buf, pos)")
            self.src(indent, f"pos += {struct.calcsize('>' + classic_fmt)}")

    def null_branch(self, indent: int, target: str, nullable: bool, what: str) -> None:
        if nullable:
            self.src(indent, f"{target} = None")
        else:
            self.fail(indent, f"non-nullable field {what} was serialized as null")

    def struct(self, fields, indent: int, where: str) -> str:
        """Emit code decoding one struct; returns the variable holding its dict."""
        src = self.src
        entries = []
        fixed_run: list[tuple[str, str]] = []  # (variable, format) read in one call
        tagged = []

        def flush():
            if not fixed_run:
                return
            fmt = "".join(f for _, f in fixed_run)
            targets = "".join(v + ", " for v, _ in fixed_run)
            src(indent, f"{targets}= {src.struct_fn(fmt, 'unpack_from')}(buf, pos)")
            src(indent, f"pos += {struct.calcsize('>' + fmt)}")
            fixed_run.clear()

        for f in fields:
            if not self.present(f):
                entries.append((f.name, default_expr(f)))
                continue
            var = src.name("v")
            entries.append((f.name, var))
            if self.tagged(f):
                if f.default == ():  # a fresh [] or struct only when the tag was absent
                    entries[-1] = (f.name, f"({default_expr(f)} if {var} is UNSET else {var})")
                    src(indent, f"{var} = UNSET")
                else:
                    src(indent, f"{var} = {default_expr(f)}")
                tagged.append((f, var))
            elif f.type in FIXED_FORMAT:
                fixed_run.append((var, FIXED_FORMAT[f.type]))
            else:
                flush()
                self.value(f, var, indent, self.flexible_for(f), False, f"{where}.{f.name}")
        flush()
        unknown = None
        if self.flexible:
            unknown = src.name("u")
            src(indent, f"{unknown} = None")
            self.tag_section(fields, tagged, unknown, indent, where)
        result = src.name("d")
        src(indent, f"{result} = {{" + ", ".join(f"{k!r}: {v}" for k, v in entries) + "}")
        if unknown:
            src(indent, f"if {unknown}: {result}[{UNKNOWN_TAGS!r}] = {unknown}")
        return result

    def tag_section(self, fields, tagged, unknown: str, indent: int, where: str) -> None:
        src = self.src
        count, tag, size, end = src.name("nt"), src.name("tg"), src.name("sz"), src.name("te")
        self.read_uvarint(indent, count)
        src(indent, f"if {count}:")  # usually 0: skip the loop's setup
        indent += 1
        src(indent, f"for _ in range({count}):")
        self.read_uvarint(indent + 1, tag)
        self.read_uvarint(indent + 1, size)
        src(indent + 1, f"{end} = pos + {size}")
        src(indent + 1, f"if {end} > n: raise DecodeError('tagged field overruns the frame')")
        keyword = "if"
        for f, var in sorted(tagged, key=lambda fv: fv[0].tag):
            src(indent + 1, f"{keyword} {tag} == {f.tag}:")
            keyword = "elif"
            self.value(f, var, indent + 2, True, True, f"{where}.{f.name}")
            src(indent + 2, f"if pos != {end}: raise DecodeError('tagged field {f.name} has a wrong size')")
        # Kafka rejects a known tag in a version before its tagged versions.
        later = sorted(g.tag for g in fields if g.tag is not None and not self.tagged(g))
        if later:
            src(indent + 1, f"{keyword} {tag} in {tuple(later)!r}:")
            keyword = "elif"
            src(indent + 2, f"raise DecodeError('tag %d is not valid for version {self.version}' % {tag})")
        body = indent + 1
        if keyword == "elif":
            src(indent + 1, "else:")
            body += 1
        src(body, f"if {unknown} is None: {unknown} = {{}}")
        src(body, f"{unknown}[{tag}] = bytes(buf[pos:{end}])")
        src(body, f"pos = {end}")

    def value(self, f: Field, target: str, indent: int, flex: bool, in_tag: bool, where: str) -> None:
        """Emit code reading field f (at pos) into target."""
        src = self.src
        t = f.type
        nullable = self.nullable(f)
        if t in FIXED_FORMAT:
            src(indent, f"{target}, = {src.struct_fn(FIXED_FORMAT[t], 'unpack_from')}(buf, pos)")
            src(indent, f"pos += {struct.calcsize('>' + FIXED_FORMAT[t])}")
        elif t in ("string", "bytes", "records"):
            self.blob(t, target, indent, flex, nullable, where)
        elif t.startswith("[]"):
            self.array(f, target, indent, flex, nullable, where)
        elif nullable:
            marker = src.name("m")
            if in_tag:
                self.read_uvarint(indent, marker)
                src(indent, f"if {marker} == 0:")
            else:
                src(indent, f"{marker} = buf[pos]")
                src(indent, "pos += 1")
                src(indent, f"if {marker} > 127:")
            src(indent + 1, f"{target} = None")
            src(indent, "else:")
            inner = self.struct(f.fields, indent + 1, where)
            src(indent + 1, f"{target} = {inner}")
        else:
            inner = self.struct(f.fields, indent, where)
            src(indent, f"{target} = {inner}")

    def blob(self, t: str, target: str, indent: int, flex: bool, nullable: bool, where: str) -> None:
        src = self.src
        length, end = src.name("n"), src.name("e")
        self.read_length(indent, length, flex, "h" if t == "string" else "i")
        src(indent, f"if {length} < 0:")
        self.null_branch(indent + 1, target, nullable, where)
        if t == "string":
            src(indent, f"elif {length} > {MAX_STRING}:")
            self.fail(indent + 1, f"string field {where} is longer than {MAX_STRING} bytes")
        src(indent, "else:")
        src(indent + 1, f"{end} = pos + {length}")
        src(indent + 1, f"if {end} > n: raise DecodeError('field {where} overruns the frame')")
        if t == "string":
            src(indent + 1, f"{target} = str(buf[pos:{end}], 'utf-8', 'replace')")
        elif t == "records":  # a slice: no copy when buf is a memoryview
            src(indent + 1, f"{target} = buf[pos:{end}]")
        else:
            src(indent + 1, f"{target} = bytes(buf[pos:{end}])")
        src(indent + 1, f"pos = {end}")

    def array(self, f: Field, target: str, indent: int, flex: bool, nullable: bool, where: str) -> None:
        src = self.src
        count = src.name("c")
        elem = element_type(f.type)
        self.read_length(indent, count, flex, "i")
        src(indent, f"if {count} < 0:")
        self.null_branch(indent + 1, target, nullable, where)
        src(indent, "else:")
        body = indent + 1
        min_size = self.element_min_size(f, flex)
        src(body, f"if {count} * {min_size} > n - pos:")
        self.fail(body + 1, f"array {where} is longer than the bytes left")
        if elem == "uuid":
            src(body, f"{target} = [bytes(buf[p:p + 16]) for p in range(pos, pos + 16 * {count}, 16)]")
            src(body, f"pos += 16 * {count}")
        elif elem in FIXED_FORMAT:
            fmt = FIXED_FORMAT[elem]
            src(body, f"{target} = list(unpack_from('>%d{fmt}' % {count}, buf, pos))")
            src(body, f"pos += {min_size} * {count}")
        else:
            item = src.name("x")
            src(body, f"{target} = []")
            src(body, f"for _ in range({count}):")
            if elem == "string":
                self.blob("string", item, body + 1, flex, False, where + "[]")
            else:
                inner = self.struct(f.fields, body + 1, where + "[]")
                src(body + 1, f"{item} = {inner}")
            src(body + 1, f"{target}.append({item})")


class EncoderCompiler(_Compiler):
    def compile(self, fields) -> Callable:
        src = self.src = _Source()
        self.struct_defaults: dict[int, str] = {}
        src(0, "def encode(w, o):")
        self.struct(fields, "o", "w", 1)
        src(1, "return")
        return src.build("encode")

    def default_const(self, f: Field) -> str:
        """A shared default value, only ever read (compared or encoded)."""
        if f.default == () and f.type.startswith("[]"):
            return "()"
        if f.default == ():
            if id(f) not in self.struct_defaults:
                self.struct_defaults[id(f)] = self.src.const(eval(default_expr(f)), "D")  # noqa: S307
            return self.struct_defaults[id(f)]
        return repr(f.default)

    def struct(self, fields, obj: str, w: str, indent: int) -> None:
        src = self.src
        fixed_run: list[tuple[str, str]] = []  # (value expression, format)

        def flush():
            if not fixed_run:
                return
            fmt = "".join(f for _, f in fixed_run)
            args = ", ".join(e for e, _ in fixed_run)
            src(indent, f"{w}({src.struct_fn(fmt, 'pack')}({args}))")
            fixed_run.clear()

        tagged = []
        for f in fields:
            if not self.present(f):
                continue
            if self.tagged(f):
                tagged.append(f)
            elif f.type in FIXED_FORMAT:
                fixed_run.append((f"{obj}.get({f.name!r}, {f.default!r})", FIXED_FORMAT[f.type]))
            else:
                flush()
                var = src.name("v")
                src(indent, f"{var} = {obj}.get({f.name!r}, {self.default_const(f)})")
                self.value(f, var, w, indent, self.flexible_for(f), False)
        flush()
        if self.flexible:
            self.tag_section(tagged, obj, w, indent)

    def tag_section(self, tagged, obj: str, w: str, indent: int) -> None:
        src = self.src
        unknown = src.name("u")
        if not tagged:
            src(indent, f"{unknown} = {obj}.get({UNKNOWN_TAGS!r})")
            src(indent, f"if {unknown}: write_tags({w}, sorted({unknown}.items()))")
            src(indent, f"else: {w}(b'\\x00')")
            return
        parts = src.name("tf")
        src(indent, f"{parts} = []")
        for f in sorted(tagged, key=lambda g: g.tag):
            var, sub = src.name("v"), src.name("p")
            src(indent, f"{var} = {obj}.get({f.name!r}, {self.default_const(f)})")
            src(indent, f"if {self.non_default(f, var)}:")
            src(indent + 1, f"{sub} = []")
            self.value(f, var, f"{sub}.append", indent + 1, True, True)
            src(indent + 1, f"{parts}.append(({f.tag}, b''.join({sub})))")
        src(indent, f"{unknown} = {obj}.get({UNKNOWN_TAGS!r})")
        src(indent, f"if {unknown}:")
        src(indent + 1, f"{parts}.extend({unknown}.items())")
        src(indent + 1, f"{parts}.sort(key=first)")
        src(indent, f"if {parts}: write_tags({w}, {parts})")
        src(indent, f"else: {w}(b'\\x00')")

    def non_default(self, f: Field, var: str) -> str:
        """Kafka writes a tagged field only when its value differs from the default."""
        nullable = self.nullable(f)
        if f.default is None:
            return f"{var} is not None"
        if f.type.startswith("[]"):
            return f"{var} is None or len({var}) > 0" if nullable else f"{var}"
        if is_struct(f.type):
            default = self.default_const(f)
            if nullable:
                return f"{var} is None or ({var} is not {default} and {var} != {default})"
            return f"{var} is not {default} and {var} is not None and {var} != {default}"
        return f"{var} != {f.default!r}"

    def length(self, w: str, indent: int, flex: bool, classic_fmt: str, expr: str) -> None:
        src = self.src
        if flex:
            n = src.name("n")
            src(indent, f"{n} = {expr} + 1")
            src(indent, f"{w}(UV1[{n}] if {n} < 128 else uvarint({n}))")
        else:
            src(indent, f"{w}({src.struct_fn(classic_fmt, 'pack')}({expr}))")

    def value(self, f: Field, var: str, w: str, indent: int, flex: bool, in_tag: bool) -> None:
        """Emit code appending the encoding of var (field f's value) to w."""
        src = self.src
        t = f.type
        nullable = self.nullable(f)
        if t in FIXED_FORMAT:
            src(indent, f"{w}({src.struct_fn(FIXED_FORMAT[t], 'pack')}({var}))")
        elif t in ("string", "bytes", "records"):
            self.blob(t, var, w, indent, flex, nullable)
        elif t.startswith("[]"):
            self.array(f, var, w, indent, flex, nullable)
        else:
            src(indent, f"if {var} is None:")
            if nullable:
                marker = b"\x00" if in_tag else b"\xff"
                src(indent + 1, f"{w}({marker!r})")
                src(indent, "else:")
                src(indent + 1, f"{w}(b'\\x01')")
            else:  # None stands for the default struct
                src(indent + 1, f"{var} = {self.default_const(f)}")
            self.struct(f.fields, var, w, indent + 1 if nullable else indent)

    def blob(self, t: str, var: str, w: str, indent: int, flex: bool, nullable: bool) -> None:
        src = self.src
        classic_fmt = "h" if t == "string" else "i"
        src(indent, f"if {var} is None:")
        if nullable:
            src(indent + 1, f"{w}({null_marker(flex, classic_fmt)!r})")
            src(indent, "else:")
            indent += 1
        else:  # None in a non-nullable version stands for the empty value
            src(indent + 1, f"{var} = {'' if t == 'string' else b''!r}")
        if t == "string":
            src(indent, f"{var} = {var}.encode()")
            src(indent, f"if len({var}) > {MAX_STRING}: raise ValueError('string longer than {MAX_STRING} bytes')")
        elif t == "records":  # a list of chunks is written back to back
            src(indent, f"if isinstance({var}, (list, tuple)):")
            self.length(w, indent + 1, flex, classic_fmt, f"sum(map(len, {var}))")
            src(indent + 1, f"for chunk in {var}: {w}(chunk)")
            src(indent, "else:")
            indent += 1
        self.length(w, indent, flex, classic_fmt, f"len({var})")
        src(indent, f"{w}({var})")

    def array(self, f: Field, var: str, w: str, indent: int, flex: bool, nullable: bool) -> None:
        src = self.src
        elem = element_type(f.type)
        src(indent, f"if {var} is None:")
        if nullable:
            src(indent + 1, f"{w}({null_marker(flex, 'i')!r})")
            src(indent, "else:")
            indent += 1
        else:  # None in a non-nullable version stands for the empty array
            src(indent + 1, f"{var} = ()")
        self.length(w, indent, flex, "i", f"len({var})")
        if elem == "uuid":
            src(indent, f"for item in {var}: {w}(item)")
        elif elem in FIXED_FORMAT:
            src(indent, f"{w}(pack('>%d{FIXED_FORMAT[elem]}' % len({var}), *{var}))")
        else:
            item = src.name("x")
            src(indent, f"for {item} in {var}:")
            if elem == "string":
                self.blob("string", item, w, indent + 1, flex, False)
            else:
                self.struct(f.fields, item, w, indent + 1)
