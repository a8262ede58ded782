"""Markdown files with YAML front matter, edited at the key level so untouched bytes stay as they were.

A :class:`Document` keeps every line of the file with its own line ending. Edits replace only the lines
of the key they change (comments, key order, unknown keys, the body and CRLF endings survive), and
:meth:`Document.text` joins the lines back. After editing, :meth:`Document.verify` re-parses the result
and checks it equals the intended data, so a write can never silently corrupt a file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sopflow.core import yamlio

BOM = "\ufeff"
_KEY_RE = re.compile(r"""^("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s#'"\-?:][^:]*?|-[^\s:][^:]*?)[ \t]*:(?:[ \t]|$)""")
_CONFLICT = re.compile(r"^(<<<<<<<|>>>>>>>|=======|\|\|\|\|\|\|\|)(\s|$)")


class FrontMatterError(ValueError):
    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


def _strip_nl(line: str) -> str:
    if line.endswith("\r\n"):
        return line[:-2]
    if line.endswith("\n"):
        return line[:-1]
    return line


def split_lines(text: str) -> list[str]:
    """Split on LF only (keeping the endings): other Unicode line separators are ordinary characters."""
    parts = text.split("\n")
    out = [p + "\n" for p in parts[:-1]]
    if parts[-1]:
        out.append(parts[-1])
    return out


def conflict_line(text: str) -> int | None:
    """1-based line of the first git conflict marker, or None."""
    for n, line in enumerate(text.split("\n"), 1):
        if _CONFLICT.match(line):
            return n
    return None


@dataclass
class Document:
    """A parsed front-matter document. ``lines`` hold the whole file (line endings kept)."""

    prefix: str
    lines: list[str]
    close: int  # index in ``lines`` of the closing '---'
    data: dict[str, Any]
    nl: str = "\n"
    _dirty: bool = field(default=False, repr=False)

    # ------------------------------------------------------------ parsing
    @classmethod
    def parse(cls, text: str) -> Document:
        prefix = ""
        if text.startswith(BOM):
            prefix, text = BOM, text[1:]
        if not text.strip():
            raise FrontMatterError("empty file (a front matter block '---' … '---' is required)", 1)
        if "\x00" in text:
            raise FrontMatterError("file contains NUL bytes", None)
        bad = conflict_line(text)
        if bad is not None:
            raise FrontMatterError("unresolved merge conflict markers", bad)
        lines = split_lines(text)
        if "\r" in lines[0][:-1] and "\n" not in lines[0]:
            raise FrontMatterError("CR-only (classic Mac) line endings are not supported; use LF or CRLF", 1)
        if _strip_nl(lines[0]).rstrip() != "---":
            raise FrontMatterError("no front matter: the file must start with a '---' line", 1)
        close = None
        for i in range(1, len(lines)):
            if _strip_nl(lines[i]).rstrip() in ("---", "..."):
                close = i
                break
        if close is None:
            raise FrontMatterError("front matter is not closed by a '---' line", 1)
        fm = "".join(_strip_nl(x) + "\n" for x in lines[1:close])
        try:
            data = yamlio.load(fm) if fm.strip() else {}
        except yamlio.YamlError as exc:
            raise FrontMatterError(exc.message, exc.line + 1 if exc.line else 1) from None
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise FrontMatterError("front matter must be a mapping of keys to values", 2)
        for key in data:
            if not isinstance(key, str):
                raise FrontMatterError(f"front matter key {key!r} is not text", 2)
        nl = "\r\n" if lines[0].endswith("\r\n") else "\n"
        return cls(prefix=prefix, lines=lines, close=close, data=data, nl=nl)

    @classmethod
    def new(cls, data: dict[str, Any], body: str, nl: str = "\n") -> Document:
        """A new document with ``data`` written one key a line (collections in flow style)."""
        lines = ["---" + nl]
        for key, value in data.items():
            if key == "history" and isinstance(value, list) and value:
                lines.append("history:" + nl)
                lines.extend(f"  - {yamlio.emit_flow(entry)}{nl}" for entry in value)
            else:
                lines.append(f"{yamlio.emit_key(key)}: {yamlio.emit_value(value)}{nl}")
        close = len(lines)
        lines.append("---" + nl)
        if body:
            lines.extend(split_lines(body))
        doc = cls(prefix="", lines=lines, close=close, data=dict(data), nl=nl)
        doc._dirty = True
        return doc

    # ------------------------------------------------------------ reading
    def text(self) -> str:
        return self.prefix + "".join(self.lines)

    @property
    def body(self) -> str:
        return "".join(self.lines[self.close + 1 :])

    def key_line(self, key: str) -> int | None:
        """1-based line number (in the file) of a top-level key, or None."""
        span = self._spans().get(key)
        return span[0] + 1 if span else None

    def key_lines(self) -> dict[str, int]:
        return {k: s[0] + 1 for k, s in self._spans().items()}

    def _spans(self) -> dict[str, tuple[int, int]]:
        """Top-level key → (first line index, last line index inclusive)."""
        spans: dict[str, tuple[int, int]] = {}
        keys: list[tuple[str, int]] = []
        for i in range(1, self.close):
            line = _strip_nl(self.lines[i])
            m = _KEY_RE.match(line)
            if m:
                keys.append((_unquote(m.group(1)), i))
        for n, (key, start) in enumerate(keys):
            limit = keys[n + 1][1] if n + 1 < len(keys) else self.close
            end = start
            for j in range(start + 1, limit):
                stripped = _strip_nl(self.lines[j])
                if stripped.strip() and not stripped.lstrip().startswith("#"):
                    end = j
            spans.setdefault(key, (start, end))
        return spans

    # ------------------------------------------------------------ editing
    def set(self, key: str, value: Any, order: tuple[str, ...] = ()) -> None:
        """Set a top-level key; an existing key is rewritten in place.

        A new key goes after the last present key that precedes it in ``order`` (or before ``history``).
        """
        spans = self._spans()
        old = self.data.get(key)
        if key in spans:
            start, end = spans[key]
            if (
                isinstance(value, dict)
                and isinstance(old, dict)
                and end > start
                and self._edit_block_mapping(start, end, old, value)
            ):
                self.data[key] = value
                self._dirty = True
                return
            self.lines[start : end + 1] = [f"{yamlio.emit_key(key)}: {yamlio.emit_value(value)}{self.nl}"]
        else:
            at = spans["history"][0] if "history" in spans else self.close
            if key in order:
                before = [k for k in order[: order.index(key)] if k in spans]
                if before:
                    at = spans[before[-1]][1] + 1
            self.lines.insert(at, f"{yamlio.emit_key(key)}: {yamlio.emit_value(value)}{self.nl}")
            self.close += 1
        self._recount()
        self.data[key] = value
        self._dirty = True

    def _edit_block_mapping(self, start: int, end: int, old: dict[Any, Any], new: dict[Any, Any]) -> bool:
        """Edit a block-style mapping one sub-key line at a time; False when its shape is not simple."""
        sub: dict[Any, int] = {}
        indent = None
        for j in range(start + 1, end + 1):
            line = _strip_nl(self.lines[j])
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            m = re.match(r"^([ \t]+)", line)
            if not m:
                return False
            if indent is None:
                indent = m.group(1)
            if m.group(1) != indent:
                return False
            km = _KEY_RE.match(line[len(indent) :])
            if not km:
                return False
            sub[_unquote(km.group(1))] = j
        if indent is None or set(sub) != set(map(str, old)) or len(sub) != len(old):
            return False
        if not all(isinstance(k, str) for k in new):
            return False
        edits: list[tuple[int, str | None]] = []
        for k, j in sub.items():
            if k not in new:
                edits.append((j, None))
            elif new[k] != old[k]:
                edits.append((j, f"{indent}{yamlio.emit_key(k)}: {yamlio.emit_value(new[k])}{self.nl}"))
        for j, text in sorted(edits, reverse=True):
            if text is None:
                del self.lines[j]
            else:
                self.lines[j] = text
        insert_at = max(sub.values()) + 1 - sum(1 for j, t in edits if t is None)
        added = [f"{indent}{yamlio.emit_key(k)}: {yamlio.emit_value(v)}{self.nl}" for k, v in new.items() if k not in sub]
        self.lines[insert_at:insert_at] = added
        if not any(k in new for k in sub) and not added:
            # every sub-key removed: the key's value becomes an empty mapping
            self.lines[start] = f"{_strip_nl(self.lines[start]).split(':', 1)[0]}: {{}}{self.nl}"
        self._recount()
        return True

    def delete(self, key: str) -> None:
        spans = self._spans()
        if key in spans:
            start, end = spans[key]
            del self.lines[start : end + 1]
            self._recount()
        self.data.pop(key, None)
        self._dirty = True

    def append_history(self, entry: dict[str, Any]) -> None:
        """Append one history entry as a single flow-style line (history is append-only)."""
        spans = self._spans()
        line = yamlio.emit_flow(entry)
        history = self.data.get("history")
        if "history" in spans and isinstance(history, list) and history:
            start, end = spans["history"]
            indent = "  "
            for j in range(start + 1, end + 1):
                m = re.match(r"^([ \t]*)- ", self.lines[j])
                if m:
                    indent = m.group(1)
                    break
            else:
                # flow-style list (`history: [...]`): rewrite as a block list, entries one a line
                self.lines[start : end + 1] = ["history:" + self.nl] + [
                    f"  - {yamlio.emit_flow(e)}{self.nl}" for e in history
                ]
                end = start + len(history)
            if not self.lines[end].endswith(("\n", "\r")):
                self.lines[end] += self.nl
            self.lines.insert(end + 1, f"{indent}- {line}{self.nl}")
        else:
            if "history" in spans:
                start, end = spans["history"]
                del self.lines[start : end + 1]
                self._recount()
                at = start
            else:
                at = self.close
            self.lines[at:at] = ["history:" + self.nl, f"  - {line}{self.nl}"]
        self._recount()
        self.data["history"] = [*(history if isinstance(history, list) else []), entry]
        self._dirty = True

    def _recount(self) -> None:
        for i in range(1, len(self.lines)):
            if _strip_nl(self.lines[i]).rstrip() in ("---", "..."):
                self.close = i
                return

    # ------------------------------------------------------------ body
    def body_lines(self) -> list[str]:
        return self.lines[self.close + 1 :]

    def set_body_line(self, index: int, text: str) -> None:
        """Replace body line ``index`` (0-based within the body) keeping its line ending."""
        i = self.close + 1 + index
        old = self.lines[i]
        ending = old[len(_strip_nl(old)) :]
        self.lines[i] = text + ending
        self._dirty = True

    def append_body(self, text: str) -> None:
        """Append Markdown to the body, separated from what is there by one blank line."""
        body = self.body_lines()
        if body and not body[-1].endswith(("\n", "\r")):
            self.lines[-1] += self.nl
        if body and _strip_nl(self.lines[-1]).strip():
            self.lines.append(self.nl)
        self.lines.extend(t + self.nl for t in text.split("\n"))
        self._dirty = True

    # ------------------------------------------------------------ checking
    def verify(self) -> None:
        """Re-parse the edited text and check it says exactly what ``data`` says."""
        again = Document.parse(self.text())
        if again.data != self.data:
            diff = sorted(k for k in set(again.data) | set(self.data) if again.data.get(k) != self.data.get(k))
            raise FrontMatterError("internal error: edit did not round-trip for keys " + ", ".join(diff))


def _unquote(key: str) -> str:
    if len(key) >= 2 and key[0] == key[-1] == '"':
        loaded = yamlio.load(f"k: {key}")
        return str(loaded["k"])
    if len(key) >= 2 and key[0] == key[-1] == "'":
        return key[1:-1].replace("''", "'")
    return key.rstrip()
