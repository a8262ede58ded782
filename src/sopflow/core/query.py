"""Filtering and sorting ticket excerpts for ``list`` (and the views built on it). Pure."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any

PRIORITY_ORDER = {"P0": 0, "P1": 1, "P2": 2, "P3": 3, "P4": 4, "P5": 5}


@dataclass
class Criteria:
    types: Sequence[str] = ()
    states: Sequence[str] = ()
    assignees: Sequence[str] = ()
    roles: Sequence[tuple[str, str]] = ()
    labels: Sequence[str] = ()
    where: Sequence[tuple[str, str]] = ()
    open: bool = False
    closed: bool = False
    extra: list[Callable[[Mapping[str, Any]], bool]] = field(default_factory=list)


def _text(value: Any) -> list[str]:
    if value is None:
        return [""]
    if isinstance(value, list):
        return [_scalar(v) for v in value] or [""]
    return [_scalar(value)]


def _scalar(v: Any) -> str:
    if v is True:
        return "true"
    if v is False:
        return "false"
    return str(v)


def selects_all(c: Criteria) -> bool:
    """Whether ``c`` lets every ticket through (no filter given)."""
    return not (c.types or c.states or c.assignees or c.roles or c.labels or c.where or c.open or c.closed
                or c.extra)


def matches(d: Mapping[str, Any], c: Criteria, is_final: Callable[[Mapping[str, Any]], bool]) -> bool:
    if c.types and d.get("type") not in c.types:
        return False
    if c.states and d.get("state") not in c.states:
        return False
    if c.assignees:
        a = d.get("assignee")
        if not any((a or "") == x or (x in ("none", "-") and not a) for x in c.assignees):
            return False
    if c.roles:
        bound = d.get("roles") if isinstance(d.get("roles"), dict) else {}
        for role, person in c.roles:
            if not isinstance(bound, dict) or bound.get(role) != person:
                return False
    if c.labels:
        labels = d.get("labels") if isinstance(d.get("labels"), list) else []
        if not all(lbl in (labels or []) for lbl in c.labels):
            return False
    for key, value in c.where:
        have = _text(d.get(key))
        if value.lower() in ("true", "false") and isinstance(d.get(key), bool):
            if _scalar(d.get(key)) != value.lower():
                return False
        elif value not in have:
            return False
    if c.open or c.closed:
        final = is_final(d)
        if c.open and not c.closed and final:
            return False
        if c.closed and not c.open and not final:
            return False
    return not c.extra or all(f(d) for f in c.extra)  # (no generator made per ticket when there is no extra)


_ID = re.compile(r"^(.*)-(\d+)$")


def _id_key(tid: Any) -> tuple[str, int]:
    """``ISS-12`` → ``("ISS", 12)`` (what ``_ID`` reads), anything else → ``(text, 0)``."""
    text = tid if type(tid) is str else str(tid)
    prefix, dash, n = text.rpartition("-")
    if dash and n.isdecimal() and "\n" not in prefix:  # the usual ID, without a regex (100,000s of them)
        return prefix, int(n)
    m = _ID.match(text)
    return (m.group(1), int(m.group(2))) if m else (text, 0)


def sort_key(key: str) -> Callable[[Mapping[str, Any]], Any]:
    if key == "id":
        return lambda d: _id_key(d.get("id"))
    if key == "priority":
        return lambda d: (PRIORITY_ORDER.get(str(d.get("priority")), 99), str(d.get("priority") or "~"),
                          _id_key(d.get("id")))
    return lambda d: (d.get(key) is None, _scalar(d.get(key)) if d.get(key) is not None else "", _id_key(d.get("id")))


def sort(items: Iterable[Mapping[str, Any]], spec: str | None) -> list[Mapping[str, Any]]:
    """The items sorted by the keys of ``spec`` (comma-separated; ``-KEY`` descends; ``id`` by default): for
    each key, from the last to the first, a stable sort by :func:`sort_key`."""
    out = list(items)
    keys = [k.strip() for k in (spec or "id").split(",") if k.strip()]
    if len(keys) == 1:
        out.sort(key=sort_key(keys[0].lstrip("-")), reverse=keys[0].startswith("-"))
        return out
    if len(out) < 2 or not keys:
        return out
    # Several keys: the same sorts, on positions, with each key tuple of sort_key taken apart and its ID part
    # made once for all keys. A stable sort by a tuple is a stable sort by its last part, then ... then by its
    # first (each with the same reverse). Two keys at 100,000 tickets: 0.40 s → 0.20 s.
    order = list(range(len(out)))
    tail = list(map(_id_key, [d.get("id") for d in out]))
    for k in reversed(keys):
        desc = k.startswith("-")
        for part in reversed([*_key_parts(out, k.lstrip("-")), tail]):
            order.sort(key=part.__getitem__, reverse=desc)
    return list(map(out.__getitem__, order))


def _key_parts(items: Sequence[Mapping[str, Any]], key: str) -> list[Sequence[Any]]:
    """The parts of ``sort_key(key)`` of each item before the ID's."""
    if key == "id":
        return []
    values = [d.get(key) for d in items]
    if key == "priority":
        return [list(map(PRIORITY_ORDER.get, map(str, values), repeat(99))), [str(v or "~") for v in values]]
    kinds = set(map(type, values))
    if kinds == {str}:  # the first part (None?) is the same for all: nothing to sort by
        return [values]
    return [[v is None for v in values], [_scalar(v) if v is not None else "" for v in values]]
