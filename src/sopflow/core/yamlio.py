"""Safe YAML loading and a tiny, deterministic one-line emitter.

Loading: PyYAML's C safe loader when present. Timestamps are *not* resolved (``2026-11-21T10:00:00+08:00``
stays the string it was written as), so values round-trip exactly and JSON output needs no conversion.
Anchors and aliases are refused: no front matter needs them and they are the vehicle of "billion laughs".

Emitting: sopflow writes single values and one-line flow collections only (a history entry is one line),
so it emits them itself instead of importing PyYAML's emitter (kept out of start-up on purpose).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from sopflow.core import fastyaml

MAX_YAML_BYTES = 1_000_000
MAX_DEPTH = 64
# PyYAML's C composer recurses once per nesting level and overflows the C stack (a crash, not an
# exception) somewhere past 10 000 levels; text that could nest deeper than this is measured first.
_SAFE_NESTING = 2000
_REFUSED_TAGS = ("binary", "timestamp", "set", "omap", "pairs")
_PYYAML: tuple[Any, Any] | None = None


def _pyyaml() -> tuple[Any, Any]:
    """PyYAML and sopflow's loader: PyYAML's C safe loader (when present) without the timestamp resolver,
    refusing the tags no front matter needs and ``.nan``. Imported on first use: the common subset is read
    by :mod:`sopflow.core.fastyaml`, which never needs it."""
    global _PYYAML
    if _PYYAML is None:
        import yaml

        base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

        class Loader(base):  # type: ignore[misc]
            """Safe loader without the timestamp resolver."""

        Loader.yaml_implicit_resolvers = {
            first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
            for first, resolvers in base.yaml_implicit_resolvers.items()
        }

        def refuse_tag(loader: Any, node: Any) -> Any:
            tag = str(node.tag).replace("tag:yaml.org,2002:", "!!")
            raise yaml.constructor.ConstructorError(None, None, f"YAML tag not allowed: {tag}", node.start_mark)

        def no_nan(loader: Any, node: Any) -> Any:
            value = yaml.constructor.SafeConstructor.construct_yaml_float(loader, node)
            if value != value:
                raise yaml.constructor.ConstructorError(None, None, "not-a-number (.nan) is not a value",
                                                        node.start_mark)
            return value

        for tag in _REFUSED_TAGS:
            Loader.add_constructor(f"tag:yaml.org,2002:{tag}", refuse_tag)
        Loader.add_constructor("tag:yaml.org,2002:float", no_nan)
        _PYYAML = (yaml, Loader)
    return _PYYAML


def __getattr__(name: str) -> Any:
    if name == "_Loader":  # sopflow's PyYAML loader class, for tests that compare with it
        return _pyyaml()[1]
    raise AttributeError(name)


class YamlError(ValueError):
    """Malformed or refused YAML; ``line`` is 1-based within the parsed text when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


_ANCHOR = re.compile(r"(^|[\s\[\{,:-])[&*][^\s\]\},]")


def load(text: str) -> Any:
    """Parse YAML text safely; raise YamlError with a one-line message on any problem."""
    if len(text) > MAX_YAML_BYTES:
        raise YamlError(f"YAML too large ({len(text)} characters, at most {MAX_YAML_BYTES})")
    ok, data = fastyaml.try_load(text)  # the common subset, ten times faster; exact, or it declines
    if ok:
        return data
    if "&" in text or "*" in text:
        _refuse_aliases(text)
    if _may_nest_deeply(text):
        _refuse_deep(text)
    yaml, loader = _pyyaml()
    try:
        data = yaml.load(text, Loader=loader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark is not None else None
        msg = exc.problem or exc.context or "invalid YAML"
        if "could not determine a constructor" in str(exc):
            msg = "YAML tag not allowed: " + str(exc.problem or "").strip()
            msg = "unsupported YAML tag" if msg.endswith(": ") else msg
        raise YamlError(_one_line(msg), line) from None
    except yaml.YAMLError as exc:
        raise YamlError(_one_line(str(exc))) from None
    except RecursionError:
        raise YamlError("YAML nested too deeply") from None
    except (ValueError, OverflowError) as exc:  # e.g. an integer with more digits than Python converts
        if "integer string conversion" in str(exc):
            raise YamlError("invalid value: a number with more than 4300 digits") from None
        raise YamlError(_one_line(f"invalid value: {exc}")[:200]) from None
    _check_depth(data)
    return data


def _may_nest_deeply(text: str) -> bool:
    """Cheap test: could this text nest more than _SAFE_NESTING levels? (Each level needs a bracket, a
    compact '- ' or '? ', or more indentation.)"""
    marks = text.count("[") + text.count("{") + text.count("- ") + text.count("? ") + text.count("-\t")
    if marks > _SAFE_NESTING:
        return True
    return re.search(rf"^[ \t]{{{_SAFE_NESTING // 2}}}", text, re.M) is not None


def _refuse_deep(text: str) -> None:
    """Measure nesting with the event stream (the C parser does not recurse) and refuse deep text."""
    depth = 0
    yaml, loader = _pyyaml()
    try:
        for event in yaml.parse(text, Loader=loader):
            if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    line = event.start_mark.line + 1 if event.start_mark is not None else None
                    raise YamlError("YAML nested too deeply", line)
            elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                depth -= 1
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark is not None else None
        raise YamlError(_one_line(exc.problem or "invalid YAML"), line) from None
    except yaml.YAMLError as exc:
        raise YamlError(_one_line(str(exc))) from None


def _refuse_aliases(text: str) -> None:
    # Cheap textual check first; confirm with the event stream so quoted '&' or '*' in strings pass.
    if not _ANCHOR.search(text):
        return
    yaml, loader = _pyyaml()
    try:
        for event in yaml.parse(text, Loader=loader):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                line = event.start_mark.line + 1 if event.start_mark is not None else None
                raise YamlError("YAML anchors and aliases are not allowed", line)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark is not None else None
        raise YamlError(_one_line(exc.problem or "invalid YAML"), line) from None
    except yaml.YAMLError as exc:
        raise YamlError(_one_line(str(exc))) from None


def _check_depth(data: Any) -> None:
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise YamlError("YAML nested too deeply")
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


# ---------------------------------------------------------------- emitting

_PLAIN_OK = re.compile(r"^[^\s\-?:,\[\]{}#&*!|>'\"%@`][^#\[\]{},]*$")


def emit_scalar(value: Any, *, in_flow: bool = False) -> str:
    """One YAML scalar that loads back (with :func:`load`) to exactly ``value``."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    text = str(value)
    if _plain_roundtrips(text, in_flow):
        return text
    return quote(text)


_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r", "\x00": "\\0"}


def _printable(c: str) -> bool:
    o = ord(c)
    return (0x20 <= o <= 0x7E or 0xA0 <= o <= 0xD7FF or 0xE000 <= o <= 0xFFFD
            or 0x10000 <= o <= 0x10FFFF) and c not in "\u2028\u2029\ufeff"


def quote(text: str) -> str:
    """A YAML double-quoted scalar; characters YAML may not hold raw are escaped."""
    out = []
    for c in text:
        if c in _ESCAPES:
            out.append(_ESCAPES[c])
        elif _printable(c):
            out.append(c)
        elif ord(c) <= 0xFF:
            out.append(f"\\x{ord(c):02x}")
        elif ord(c) <= 0xFFFF:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(f"\\U{ord(c):08x}")
    return '"' + "".join(out) + '"'


def _plain_roundtrips(text: str, in_flow: bool) -> bool:
    if not text or text != text.strip() or "\n" in text or "\r" in text or "\t" in text:
        return False
    if not _PLAIN_OK.match(text):
        return False
    if any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 or c in "\u2028\u2029\ufeff" for c in text):
        return False
    if " #" in text or ": " in text or text.endswith(":"):
        return False
    probe = f"k: [{text}]" if in_flow else f"k: {text}"
    want = {"k": [text]} if in_flow else {"k": text}
    try:
        return bool(load(probe) == want)
    except YamlError:
        return False


def emit_flow(value: Any) -> str:
    """A one-line flow-style YAML rendering of ``value`` (mappings keep their order)."""
    if isinstance(value, dict):
        if not value:
            return "{}"
        return "{" + ", ".join(f"{emit_key(k)}: {emit_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(emit_flow(v) for v in value) + "]"
    return emit_scalar(value, in_flow=True)


def emit_key(key: Any) -> str:
    return emit_scalar(key, in_flow=True)


def emit_value(value: Any) -> str:
    """The text after ``key: `` for a top-level value (flow style for collections)."""
    if isinstance(value, (dict, list, tuple)):
        return emit_flow(value)
    return emit_scalar(value)


class LazyLines(Mapping[tuple[Any, ...], int]):
    """:func:`node_lines` of a text, worked out on first use: composing the YAML again only to number the
    lines of problems costs a millisecond or more per file, and most runs find no problem."""

    def __init__(self, text: str, offset: int = 0) -> None:
        self._text, self._offset = text, offset
        self._lines: dict[tuple[Any, ...], int] | None = None

    def _got(self) -> dict[tuple[Any, ...], int]:
        if self._lines is None:
            self._lines = node_lines(self._text, self._offset)
        return self._lines

    def __getitem__(self, key: tuple[Any, ...]) -> int:
        return self._got()[key]

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self._got())

    def __len__(self) -> int:
        return len(self._got())


def node_lines(text: str, offset: int = 0) -> dict[tuple[Any, ...], int]:
    """Map each key path (``("transitions", 2, "by")``) to the 1-based line where it stands.

    Used only to point problems at the right line; returns what it can on malformed input.
    """
    out: dict[tuple[Any, ...], int] = {}
    yaml, loader = _pyyaml()
    try:
        if len(text) > MAX_YAML_BYTES:
            return out
        if _may_nest_deeply(text):
            _refuse_deep(text)
        root = yaml.compose(text, Loader=loader)
    except (yaml.YAMLError, YamlError, RecursionError):
        return out
    if root is None:
        return out
    stack: list[tuple[Any, tuple[Any, ...]]] = [(root, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                key = k.value if isinstance(k, yaml.ScalarNode) else None
                out[(*path, key)] = k.start_mark.line + 1 + offset
                stack.append((v, (*path, key)))
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                out[(*path, i)] = v.start_mark.line + 1 + offset
                stack.append((v, (*path, i)))
    return out


def duplicate_key(text: str) -> tuple[str, int, int] | None:
    """The first top-level key written twice, with both 1-based lines; None when every key is unique."""
    yaml, loader = _pyyaml()
    try:
        if _may_nest_deeply(text):
            _refuse_deep(text)
        root = yaml.compose(text, Loader=loader)
    except (yaml.YAMLError, YamlError, RecursionError):
        return None
    if not isinstance(root, yaml.MappingNode):
        return None
    seen: dict[Any, int] = {}
    for k, _ in root.value:
        if isinstance(k, yaml.ScalarNode):
            line = k.start_mark.line + 1
            if k.value in seen:
                return str(k.value), seen[k.value], line
            seen[k.value] = line
    return None
