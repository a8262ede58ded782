"""SOP checklists: ``## Checklist: <state>`` sections of Markdown task items in a ticket's body."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

_HEADING = re.compile(r"^##\s+Checklist:\s*(.+?)\s*$")
_ANY_HEADING = re.compile(r"^#{1,6}\s")
_ITEM = re.compile(r"^(\s*[-*+]\s+\[)([ xX])(\]\s+)(.*?)\s*$")


@dataclass(frozen=True)
class Item:
    index: int  # 0-based line index within the body
    checked: bool
    text: str


@dataclass(frozen=True)
class Section:
    state: str
    items: tuple[Item, ...]

    @property
    def unticked(self) -> list[Item]:
        return [i for i in self.items if not i.checked]


def sections(body_lines: Sequence[str]) -> list[Section]:
    out: list[Section] = []
    state: str | None = None
    items: list[Item] = []
    for n, raw in enumerate(body_lines):
        line = raw.rstrip("\r\n")
        m = _HEADING.match(line)
        if m:
            if state is not None:
                out.append(Section(state, tuple(items)))
            state, items = m.group(1), []
            continue
        if state is None:
            continue
        if _ANY_HEADING.match(line):
            out.append(Section(state, tuple(items)))
            state, items = None, []
            continue
        im = _ITEM.match(line)
        if im:
            items.append(Item(n, im.group(2) in "xX", im.group(4)))
    if state is not None:
        out.append(Section(state, tuple(items)))
    return out


def current(body_lines: Sequence[str], state: str | None = None) -> Section | None:
    """The last checklist section (for ``state`` when given)."""
    secs = [s for s in sections(body_lines) if state is None or s.state == state]
    return secs[-1] if secs else None


def ticked_line(raw: str) -> str:
    line = raw.rstrip("\r\n")
    m = _ITEM.match(line)
    if not m:
        return line
    return line[: m.start(2)] + "x" + line[m.end(2) :]


def render(state: str, items: Sequence[str]) -> str:
    return "\n".join([f"## Checklist: {state}", *(f"- [ ] {i}" for i in items)])


def sop_items(body: str) -> list[str]:
    """Task items of an SOP file's body, in order (``- [ ] item`` lines)."""
    out = []
    for raw in body.splitlines():
        m = _ITEM.match(raw)
        if m:
            out.append(m.group(4))
    return out
