"""What the read-side views need from a ticket's history, small enough to cache for every ticket. Pure.

A ticket's ``history`` is most of its front matter (ticked checklist items, notes), yet the board, the inbox
and the SLA clocks read only three things from it:

- ``since``: when the ticket entered its current state (:func:`entered_state`);
- ``moves``: the ``(at, to)`` of every entry that names a state entered, in file order (the SLA timeline);
- ``handled``: for each person, the ``at`` of the last entry they made (the inbox's "handled by me").

A :class:`Trail` holds exactly these, computed from the front matter; the excerpt index stores one per ticket
(:func:`encode` / :func:`decode`), so the views never load the histories themselves. Values are kept as
written (the ``at`` strings are parsed where they are used), so a trail gives the same answers as the history
it was cut from.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["Trail", "decode", "encode", "entered_state", "history_of", "trail_of"]


class Trail:
    """``since``, ``moves`` and ``handled`` of one ticket (see the module's docstring). Read-only."""

    __slots__ = ("_flat", "_handled", "_moves", "_people", "since")

    def __init__(self, since: Any, flat: list[Any], people: list[Any]) -> None:
        self.since = since
        self._flat = flat  # at, to, at, to, …
        self._people = people  # person, at, person, at, … (a later pair wins)
        self._moves: tuple[tuple[Any, Any], ...] | None = None
        self._handled: dict[str, Any] | None = None

    @property
    def moves(self) -> tuple[tuple[Any, Any], ...]:
        if self._moves is None:
            f = self._flat
            self._moves = tuple(zip(f[0::2], f[1::2], strict=True))
        return self._moves

    @property
    def handled(self) -> Mapping[str, Any]:
        if self._handled is None:
            p = self._people
            self._handled = {k: v for k, v in zip(p[0::2], p[1::2], strict=True) if type(k) is str}
        return self._handled

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Trail):
            return NotImplemented
        return (self.since, self.moves, dict(self.handled)) == (other.since, other.moves, dict(other.handled))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Trail(since={self.since!r}, moves={self.moves!r}, handled={dict(self.handled)!r})"


def history_of(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The entries of ``history`` that are mappings (anything else is ignored, as ``check`` reports it)."""
    h = data.get("history")
    return [e for e in h if isinstance(e, dict)] if isinstance(h, list) else []


def entered_state(data: Mapping[str, Any], history: list[dict[str, Any]] | None = None) -> Any:
    """When the ticket entered its current state: the ``at`` of the last history entry that moved it there
    (a self-loop does not count as entering), or its creation. Falls back to ``updated``/``created`` when no
    entry explains the state (a hand edit)."""
    state = data.get("state")
    found: Any = None
    for e in history_of(data) if history is None else history:
        if "to" not in e:
            continue
        if e.get("action") != "create" and "from" in e and e.get("from") == e.get("to"):
            continue  # a self-loop: the ticket stayed where it was
        found = e.get("at") if e.get("to") == state else None
    return found or data.get("updated") or data.get("created")


def trail_of(data: Mapping[str, Any]) -> Trail:
    """The trail of a ticket's front matter (the whole of it: with ``history``)."""
    history = history_of(data)
    handled: dict[str, Any] = {}
    for e in history:
        by = e.get("by")
        if isinstance(by, str):
            handled.pop(by, None)  # keep the order of last appearance
            handled[by] = e.get("at")
    flat = [x for e in history if e.get("to") is not None for x in (e.get("at"), e["to"])]
    return Trail(entered_state(data, history), flat, [x for item in handled.items() for x in item])


def encode(t: Trail) -> list[Any]:
    """A JSON-able form: ``[since, [at, to, …], [person, at, …]]``."""
    return [t.since, t._flat, t._people]


def decode(obj: Any) -> Trail | None:
    """The trail :func:`encode` gave; None when ``obj`` does not have that shape."""
    if type(obj) is not list or len(obj) != 3:
        return None
    since, flat, people = obj
    if type(flat) is not list or type(people) is not list or len(flat) % 2 or len(people) % 2:
        return None
    return Trail(since, flat, people)
