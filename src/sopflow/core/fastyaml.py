"""A fast, exact loader for the everyday YAML of front matter, config and workflows. Pure.

PyYAML builds every event, node and value in Python, even with the C parser: about 0.15 ms for a ticket's front
matter, 1.5 s for 10,000 tickets. :func:`try_load` parses the common subset of YAML directly with a few regular
expressions, about ten times faster, and *gives up* (returns ``(False, None)``) on anything outside the subset,
so the caller falls back to PyYAML, which also words the error messages. When it answers, the answer equals
what :func:`sopflow.core.yamlio.load` gets from PyYAML's safe loader (timestamps kept as strings); the tests
check this against PyYAML on generated documents.

The subset:
    a block mapping at column 0 whose keys are plain scalars resolving to text; values are plain scalars on
    one line, single-line quoted scalars, flow collections (which may span lines), nested block mappings and
    block sequences of such values (an item may be a block mapping that starts after the dash:
    ``- key: value``); blank lines, comment lines and trailing comments.
Outside it (given up): tabs, CR, characters YAML does not allow raw, anchors, aliases, tags, directives,
document markers, block scalars (``|`` ``>``), multi-line plain or quoted scalars, quoted or complex keys,
duplicate keys, comments inside flow collections, numbers other than plain decimal ints and simple floats.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["try_load"]


class _GiveUp(Exception):
    pass


_MISS: tuple[bool, Any] = (False, None)

# Characters YAML does not allow raw, and TAB, CR, NEL, LS, PS and BOM (line breaks and oddities we leave to
# PyYAML): one search finds the first character we do not handle.
_UNHANDLED = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]|[\ud800-\udfff]")

_KEY = re.compile(r"([^\s\-?:,\[\]{}#&*!|>'\"%@`][^\s:#,\[\]{}]*):(?: +|(?=\n))")
# Plain scalars: words separated by runs of spaces; ':' belongs to a word only when followed by a non-space
# (and, in flow context, not by a flow indicator or '?'); '#' only inside a word (a ' #' starts a comment).
_BLOCK_PLAIN = re.compile(
    r"(?:[^\s\-?:,\[\]{}#&*!|>'\"%@`]|-(?=\S))(?:[^\s:]++|:(?=\S))*+"
    r"(?: ++(?:[^\s:#]|:(?=\S))(?:[^\s:]++|:(?=\S))*+)*+"
)
_FLOW_PLAIN = re.compile(
    r"(?:[^\s\-?:,\[\]{}#&*!|>'\"%@`]|-(?=[^\s,\[\]{}]))(?:[^\s:,\[\]{}]++|:(?=[^\s,\[\]{}?]))*+"
    r"(?: ++(?:[^\s:,\[\]{}#]|:(?=[^\s,\[\]{}?]))(?:[^\s:,\[\]{}]++|:(?=[^\s,\[\]{}?]))*+)*+"
)
_DQ = re.compile(r'"((?:[^"\\\n]|\\.)*)"')
# The usual flow collections on one line, matched whole, then cut into items with one findall: a sequence of
# scalars, or a mapping whose values are scalars or sequences of scalars (either may be empty).
_FP = _FLOW_PLAIN.pattern
_FV = rf"""(?:{_FP}|"(?:[^"\\\n]++|\\.)*+"|'(?:[^'\n]++|'')*+')"""
_FSEQ = rf"\[ *+(?:{_FV}(?: *+, *+{_FV})*+ *+)?\]"
_FV1 = rf"(?:{_FV}|{_FSEQ})"
_SIMPLE_MAP = re.compile(rf"\{{ *+(?:{_FP}: ++{_FV1}(?: *+, *+{_FP}: ++{_FV1})*+ *+)?\}}")
_MAP_ITEM = re.compile(rf"({_FP}): ++({_FV1})")
_SIMPLE_SEQ = re.compile(_FSEQ)
_SEQ_ITEM = re.compile(_FV)
_SQ = re.compile(r"'((?:[^'\n]|'')*)'")
_BP = _BLOCK_PLAIN.pattern
_END = r"(?: +#[^\n]*| *)\n"
# The usual line, matched whole: ``key: scalar`` (or ``key:`` and a nested block below).
_KEY_LINE = re.compile(
    rf"""([^\s\-?:,\[\]{{}}#&*!|>'"%@`][^\s:#,\[\]{{}}]*):"""
    rf"""(?: +(?:({_BP})|"((?:[^"\\\n]|\\.)*)"|'((?:[^'\n]|'')*)'))?{_END}"""
)
_ESC = re.compile(r"\\(x[0-9A-Fa-f]{2}|u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|.)")
_SIMPLE_ESC = {
    "0": "\x00", "a": "\x07", "b": "\x08", "t": "\t", "n": "\n", "v": "\x0b", "f": "\x0c", "r": "\r",
    "e": "\x1b", " ": " ", '"': '"', "/": "/", "\\": "\\", "N": "\x85", "_": "\xa0", "L": "\u2028", "P": "\u2029",
}
_LINE_END = re.compile(r"(?: +#[^\n]*| *)\n")
_FLOW_SPACE = re.compile(r"[ \n]*")
_SIMPLE_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]{0,40})")
_SIMPLE_FLOAT = re.compile(r"[-+]?[0-9]{1,40}\.[0-9]{0,40}")
_MAX_KEY = 1000  # YAML's implicit keys are limited to 1024 characters
_MAX_DEPTH = 16

_STR, _NULL, _BOOL, _INT, _FLOAT = "str", "null", "bool", "int", "float"
_BOOLS = {"yes": True, "no": False, "true": True, "false": False, "on": True, "off": False}
_resolvers: dict[str, list[tuple[str, re.Pattern[str]]]] | None = None
_cache: dict[str, Any] = {}
# First characters of plain scalars that may resolve to something other than text (the resolvers' keys);
# '2026-…' (a date or time: four digits and '-') never does.
_FIRSTS = frozenset("-+.0123456789<=FNOTYfnoty~!&*")
_DIGITS = frozenset("0123456789")
_DATE = re.compile(r"[0-9]{4}-[0-9]")
_QUOTES_OR_FIRSTS = _FIRSTS | {'"', "'", "["}
_good_keys: set[str] = set()


# PyYAML's implicit resolvers as sopflow's safe loader has them (yamlio._Loader: PyYAML's own, timestamps left
# out), copied so that reading the common subset does not import PyYAML (9 ms of every start-up); a test holds
# them equal to PyYAML's, pattern for pattern and in the same order.
_SP = "\n                    "
IMPLICIT_RESOLVERS: tuple[tuple[str, str, tuple[str, ...], int], ...] = (  # (tag, pattern, firsts, flags)
    ("tag:yaml.org,2002:bool",
     f"^(?:yes|Yes|YES|no|No|NO{_SP}|true|True|TRUE|false|False|FALSE{_SP}|on|On|ON|off|Off|OFF)$",
     tuple("yYnNtTfFoO"), re.X),
    ("tag:yaml.org,2002:float",
     f"^(?:[-+]?(?:[0-9][0-9_]*)\\.[0-9_]*(?:[eE][-+][0-9]+)?{_SP}|\\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?"
     f"{_SP}|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\\.[0-9_]*{_SP}|[-+]?\\.(?:inf|Inf|INF){_SP}"
     f"|\\.(?:nan|NaN|NAN))$",
     tuple("-+0123456789."), re.X),
    ("tag:yaml.org,2002:int",
     f"^(?:[-+]?0b[0-1_]+{_SP}|[-+]?0[0-7_]+{_SP}|[-+]?(?:0|[1-9][0-9_]*){_SP}|[-+]?0x[0-9a-fA-F_]+"
     f"{_SP}|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$",
     tuple("-+0123456789"), re.X),
    ("tag:yaml.org,2002:merge", "^(?:<<)$", ("<",), 0),
    ("tag:yaml.org,2002:null", f"^(?: ~{_SP}|null|Null|NULL{_SP}| )$", ("~", "n", "N", ""), re.X),
    ("tag:yaml.org,2002:value", "^(?:=)$", ("=",), 0),
    ("tag:yaml.org,2002:yaml", "^(?:!|&|\\*)$", ("!", "&", "*"), 0),
)


def implicit_resolvers() -> dict[str, list[tuple[str, re.Pattern[str]]]]:
    """:data:`IMPLICIT_RESOLVERS` as PyYAML keeps them (first character → [(tag, regex)], in the order PyYAML
    adds them; the empty string is the first character of an empty scalar, as in PyYAML)."""
    table: dict[str, list[tuple[str, re.Pattern[str]]]] = {}
    for tag, pattern, firsts, flags in IMPLICIT_RESOLVERS:
        rx = re.compile(pattern, flags)
        for first in firsts:
            table.setdefault(first, []).append((tag, rx))
    return table


def _tables() -> dict[str, list[tuple[str, re.Pattern[str]]]]:
    """The implicit resolvers (first character → [(kind, regex)]), with our kinds for null, bool, int, float."""
    global _resolvers
    if _resolvers is None:
        kinds = {"tag:yaml.org,2002:null": _NULL, "tag:yaml.org,2002:bool": _BOOL,
                 "tag:yaml.org,2002:int": _INT, "tag:yaml.org,2002:float": _FLOAT}
        _resolvers = {first: [(kinds.get(tag, tag), rx) for tag, rx in resolvers]
                      for first, resolvers in implicit_resolvers().items()}
    return _resolvers


def _scalar(text: str) -> Any:
    """The value of a plain scalar, resolved as PyYAML's safe loader does."""
    c = text[0]
    if c not in _FIRSTS or (c in _DIGITS and _DATE.match(text)):
        return text
    hit = _cache.get(text, _cache)
    if hit is not _cache:
        return hit
    value: Any = text
    for kind, rx in _tables().get(text[0], ()):
        if rx.match(text):
            if kind == _NULL:
                value = None
            elif kind == _BOOL:
                value = _BOOLS[text.lower()]
            elif kind == _INT and _SIMPLE_INT.fullmatch(text):
                value = int(text)
            elif kind == _FLOAT and _SIMPLE_FLOAT.fullmatch(text):
                value = float(text)
            else:
                raise _GiveUp
            break
    if len(_cache) < 50_000 and len(text) < 64:
        _cache[text] = value
    return value


def _key(text: str) -> str:
    if text in _good_keys:
        return text
    if len(text) > _MAX_KEY or not isinstance(_scalar(text), str):
        raise _GiveUp
    if len(_good_keys) < 10_000:
        _good_keys.add(text)
    return text


def _escape(m: re.Match[str]) -> str:
    e = m.group(1)
    if len(e) == 1:
        try:
            return _SIMPLE_ESC[e]
        except KeyError:
            raise _GiveUp from None
    cp = int(e[1:], 16)
    if 0xD800 <= cp <= 0xDFFF or cp > 0x10FFFF:
        raise _GiveUp
    return chr(cp)


def _double(body: str) -> str:
    return _ESC.sub(_escape, body) if "\\" in body else body


def _simple_flow(text: str) -> Any:
    """A flow collection matched by _SIMPLE_SEQ or _SIMPLE_MAP."""
    special = _QUOTES_OR_FIRSTS
    if text[1:-1].isspace() or len(text) == 2:
        return [] if text[0] == "[" else {}
    if '"' in text or "'" in text or "[" in text[1:]:
        if text[0] == "[":
            return [_flow_scalar(v) if v[0] in special else v for v in _SEQ_ITEM.findall(text)]
        pairs = _MAP_ITEM.findall(text)
    else:
        # Without quotes, ',' only separates items and ': ' only follows keys (plain flow scalars hold neither).
        if text[0] == "[":
            return [_scalar(v) if v[0] in special else v for v in (x.strip(" ") for x in text[1:-1].split(","))]
        pairs = [x.strip(" ").split(": ", 1) for x in text[1:-1].split(",")]
        pairs = [(k, v.lstrip(" ")) for k, v in pairs]
    good = _good_keys
    found = {k if k in good else _key(k): _flow_scalar(v) if v[0] in special else v for k, v in pairs}
    if len(found) != len(pairs):
        raise _GiveUp
    return found


def _flow_scalar(v: str) -> Any:
    c = v[0]
    if c == "[":
        return _simple_flow(v)
    if c == '"':
        return _double(v[1:-1])
    if c == "'":
        return v[1:-1].replace("''", "'")
    return _scalar(v)


class _Parser:
    def __init__(self, s: str) -> None:
        self.s = s
        self.pos = 0  # in block mode: the start of a line

    # ------------------------------------------------------------ block structure
    def peek(self) -> int | None:
        """Skip blank and comment lines; the indentation of the next content line, or None at the end."""
        s = self.s
        n = len(s)
        if self.pos < n and s[self.pos] not in " \n#":
            return 0
        while self.pos < n:
            end = s.index("\n", self.pos)
            p = self.pos
            while p < end and s[p] == " ":
                p += 1
            if p == end or s[p] == "#":
                self.pos = end + 1
                continue
            return p - self.pos
        return None

    def document(self) -> Any:
        if self.peek() != 0:
            raise _GiveUp
        return self.block_map(0)

    def block_map(self, indent: int, first: int | None = None) -> dict[str, Any]:
        """A block mapping at column ``indent``; ``first``: where its first key is, when that is after a
        sequence's dash on the same line (``- key: value``)."""
        s = self.s
        out: dict[str, Any] = {}
        while True:
            if first is not None:
                at, first = first, None
            else:
                ind = self.peek()
                if ind is None or ind < indent:
                    return out
                if ind > indent:
                    raise _GiveUp
                at = self.pos + indent
            line = _KEY_LINE.match(s, at)
            if line is not None:
                key = line.group(1)
                if key not in _good_keys:
                    _key(key)
                if key in out:
                    raise _GiveUp
                self.pos = line.end()
                plain, dq, sq = line.group(2, 3, 4)
                if plain is not None:
                    out[key] = _scalar(plain)
                elif dq is not None:
                    out[key] = _double(dq)
                elif sq is not None:
                    out[key] = sq.replace("''", "'")
                else:
                    out[key] = self.nested(indent)
                continue
            m = _KEY.match(s, at)
            if m is None:
                raise _GiveUp
            key = _key(m.group(1))
            if key in out:
                raise _GiveUp
            vp = m.end()
            c = s[vp]
            if c == "\n" or c == "#":
                self.pos = s.index("\n", vp) + 1
                out[key] = self.nested(indent)
            else:
                out[key] = self.inline(vp, indent)

    def nested(self, indent: int) -> Any:
        """The value of a key written without one on its line: a block below it, or null."""
        nxt = self.peek()
        if nxt is not None and nxt >= indent and self.dash(self.pos + nxt):
            return self.block_seq(nxt)
        if nxt is not None and nxt > indent:
            return self.block_map(nxt)
        return None

    def dash(self, p: int) -> bool:
        return self.s[p] == "-" and self.s[p + 1] in " \n"

    def block_seq(self, indent: int) -> list[Any]:
        s = self.s
        out: list[Any] = []
        while True:
            ind = self.peek()
            if ind is None or ind < indent:
                return out
            if ind > indent:
                raise _GiveUp
            p = self.pos + indent
            if s[p] != "-":
                return out  # the next key of the enclosing mapping (a sequence written at the key's indentation)
            if s[p + 1] != " ":
                raise _GiveUp
            if s[p + 2] == "{":  # the usual item: a flow mapping of scalars on one line
                simple = _SIMPLE_MAP.match(s, p + 2)
                end = _LINE_END.match(s, simple.end()) if simple is not None else None
                if simple is not None and end is not None:
                    out.append(_simple_flow(simple.group()))
                    self.pos = end.end()
                    continue
            p += 2
            while s[p] == " ":
                p += 1
            if s[p] in "\n#" or self.dash(p):
                raise _GiveUp
            if _KEY.match(s, p):  # ``- key: value``: a block mapping whose first key follows the dash
                out.append(self.block_map(p - self.pos, first=p))
                continue
            out.append(self.inline(p, indent))

    def inline(self, p: int, indent: int) -> Any:
        """A value that starts on this line at ``p``; moves to the start of the next line."""
        s = self.s
        c = s[p]
        value: Any
        if c in "[{":
            value, p = self.flow(p, indent, 1)
        elif c == '"':
            m = _DQ.match(s, p)
            if m is None:
                raise _GiveUp
            value, p = _double(m.group(1)), m.end()
        elif c == "'":
            m = _SQ.match(s, p)
            if m is None:
                raise _GiveUp
            value, p = m.group(1).replace("''", "'"), m.end()
        else:
            m = _BLOCK_PLAIN.match(s, p)
            if m is None:
                raise _GiveUp
            value, p = _scalar(m.group()), m.end()
        end = _LINE_END.match(s, p)
        if end is None:
            raise _GiveUp
        self.pos = end.end()
        return value

    # ------------------------------------------------------------ flow collections
    def space(self, p: int, indent: int) -> int:
        """Skip spaces and line breaks inside a flow collection; continuation lines must be indented."""
        s = self.s
        m = _FLOW_SPACE.match(s, p)
        q = m.end() if m else p
        if q > p and "\n" in s[p:q]:
            last = s.rindex("\n", p, q)
            if q - last - 1 <= indent:
                raise _GiveUp
        if s[q] == "#":
            raise _GiveUp
        return q

    def flow(self, p: int, indent: int, depth: int) -> tuple[Any, int]:
        if depth > _MAX_DEPTH:
            raise _GiveUp
        s = self.s
        simple = (_SIMPLE_SEQ if s[p] == "[" else _SIMPLE_MAP).match(s, p)
        if simple is not None:
            return _simple_flow(simple.group()), simple.end()
        if s[p] == "[":
            items: list[Any] = []
            p = self.space(p + 1, indent)
            if s[p] == "]":
                return items, p + 1
            while True:
                value, p = self.node(p, indent, depth)
                items.append(value)
                p = self.space(p, indent)
                c = s[p]
                if c == "]":
                    return items, p + 1
                if c != ",":
                    raise _GiveUp
                p = self.space(p + 1, indent)
                if s[p] in ",]":
                    raise _GiveUp
        mapping: dict[str, Any] = {}
        p = self.space(p + 1, indent)
        if s[p] == "}":
            return mapping, p + 1
        while True:
            c = s[p]
            if c == '"':
                m = _DQ.match(s, p)
                if m is None:
                    raise _GiveUp
                key = _double(m.group(1))
            elif c == "'":
                m = _SQ.match(s, p)
                if m is None:
                    raise _GiveUp
                key = m.group(1).replace("''", "'")
            else:
                m = _FLOW_PLAIN.match(s, p)
                if m is None:
                    raise _GiveUp
                key = _key(m.group())
            if len(key) > _MAX_KEY or key in mapping:
                raise _GiveUp
            p = m.end()
            while s[p] == " ":
                p += 1
            if s[p] != ":" or s[p + 1] not in " \n":
                raise _GiveUp
            p = self.space(p + 1, indent)
            if s[p] in ",}":
                raise _GiveUp
            mapping[key], p = self.node(p, indent, depth)
            p = self.space(p, indent)
            c = s[p]
            if c == "}":
                return mapping, p + 1
            if c != ",":
                raise _GiveUp
            p = self.space(p + 1, indent)
            if s[p] in ",}":
                raise _GiveUp

    def node(self, p: int, indent: int, depth: int) -> tuple[Any, int]:
        s = self.s
        c = s[p]
        if c in "[{":
            return self.flow(p, indent, depth + 1)
        if c == '"':
            m = _DQ.match(s, p)
            if m is None:
                raise _GiveUp
            return _double(m.group(1)), m.end()
        if c == "'":
            m = _SQ.match(s, p)
            if m is None:
                raise _GiveUp
            return m.group(1).replace("''", "'"), m.end()
        m = _FLOW_PLAIN.match(s, p)
        if m is None:
            raise _GiveUp
        return _scalar(m.group()), m.end()


def try_load(text: str) -> tuple[bool, Any]:
    """``(True, value)`` with the value PyYAML's safe loader gives, or ``(False, None)``: use PyYAML."""
    if _UNHANDLED.search(text):
        return _MISS
    if not text.endswith("\n"):
        text += "\n"
    try:
        return True, _Parser(text).document()
    except (_GiveUp, IndexError, RecursionError):
        return _MISS
