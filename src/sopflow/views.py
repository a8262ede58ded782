"""Read-side use cases shared by list, board and inbox.

Each function takes the project and returns plain data (the shapes ``--format json`` prints); rendering is
done elsewhere (``sopflow.render.board``). "Now" is the project's clock (``SOPFLOW_NOW``), never the wall clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any

from sopflow.core import fsm
from sopflow.core.durations import parse_instant
from sopflow.core.query import PRIORITY_ORDER, Criteria, matches, selects_all
from sopflow.core.trail import Trail, entered_state, history_of, trail_of

__all__ = ["board", "card", "entered_state", "history_of", "inbox", "select"]

if TYPE_CHECKING:
    from sopflow.core.config import Config
    from sopflow.project import Project

#: A ticket on its way to the board: (excerpt, trail, seconds in its state or None).
_Entry = tuple[Mapping[str, Any], Trail, int | None]
#: Keys of a ticket excerpt that the views leave out of their cards (long, and shown by ``show``/``log``).
CARD_OMIT = ("history", "body")


def select(p: Project, c: Criteria, *, text: str | None = None,
           keys: Iterable[str] | None = None) -> list[Mapping[str, Any]]:
    """Excerpts matching ``c`` (and ``text``). With ``keys`` (the keys the caller reads besides the reserved
    ones, e.g. sort keys), the excerpts may lack history and long free text elsewhere: faster to load."""
    def final(d: Mapping[str, Any]) -> bool:
        return not p.is_open(d)

    if keys is not None and not c.extra:
        from sopflow.index import load_heads

        source = load_heads(p, [*keys, *(k for k, _ in c.where)])
    else:
        source = p.excerpts()
    items: list[Mapping[str, Any]] = list(source) if selects_all(c) else [d for d in source if matches(d, c, final)]
    if text and text.strip():
        from sopflow.index import text_filter

        items = text_filter(p, items, text)
    return items


# ---------------------------------------------------------------- time in state

#: An ISO 8601 time from front matter (a naive one read in the project's zone); None when it is not one.
parse_time = parse_instant


def card(d: Mapping[str, Any], now: datetime, tz: tzinfo, flag: str | None = None,
         trail: Trail | None = None) -> dict[str, Any]:
    """A ticket excerpt as shown on the board and in the inbox: its front matter without history and body,
    plus ``since`` (entered the current state), ``age_seconds`` (now − since; null when unknown) and ``flag``.
    ``trail`` is the ticket's trail when the caller has it (``d`` may then lack its history)."""
    out = dict(d)
    for k in CARD_OMIT:
        out.pop(k, None)
    since = (trail or trail_of(d)).since
    out["since"] = str(since) if since is not None else None
    out["age_seconds"] = _age(since, now, tz)
    out["flag"] = flag
    return out


def _age(since: Any, now: datetime, tz: tzinfo) -> int | None:
    moment = parse_time(since, tz)
    return max(0, int((now - moment).total_seconds())) if moment is not None else None


def _priority_key(c: Mapping[str, Any]) -> tuple[int, str]:
    prio = c.get("priority")
    return (PRIORITY_ORDER.get(str(prio), 99) if prio is not None else 100, str(prio or ""))


def _id_key(c: Mapping[str, Any]) -> tuple[str, int]:
    prefix, _, n = str(c.get("id", "")).rpartition("-")
    return (prefix, int(n)) if n.isdigit() else (str(c.get("id", "")), 0)


def by_priority_then_age(c: Mapping[str, Any]) -> tuple[Any, ...]:
    """Sort key of a card: highest priority first, then longest in its state first, then ID."""
    return _open_order(c, c.get("age_seconds"))


def _open_order(d: Mapping[str, Any], age: Any) -> tuple[Any, ...]:
    """Order of an open column (:func:`by_priority_then_age`) for a ticket ``age`` seconds in its state."""
    return (*_priority_key(d), -(age if isinstance(age, int) else -1), _id_key(d))


def _final_order(d: Mapping[str, Any], age: Any) -> tuple[Any, ...]:
    """Order of a final column: most recent first, then ID."""
    return (age if isinstance(age, int) else 1 << 62, _id_key(d))


def flags(p: Project, items: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Card flags from every ``hooks.BOARD_FLAGS`` function (several flags on one card are joined)."""
    from sopflow import hooks

    out: dict[str, str] = {}
    for spec in hooks.BOARD_FLAGS:
        got = hooks.resolve(spec)(p, list(items)) or {}
        for tid, flag in got.items():
            if flag:
                out[str(tid)] = f"{out[str(tid)]} {flag}" if str(tid) in out else str(flag)
    return out


# ---------------------------------------------------------------- board

def board(p: Project, *, types: Sequence[str] = (), assignees: Sequence[str] = (),
          mine: bool = False, whole: bool = True, final_limit: int | None = None) -> dict[str, Any]:
    """The board: one block per type, a column per state in workflow order.

    Open columns are ordered by priority then age in state (oldest first); final columns most recent
    first. Every matching ticket is in the data (the text view shortens final columns, not this).
    Shape: ``{"types": [{"type", "title", "columns": [{"state", "final", "tickets": [card…]}]}]}``;
    a column for a state the workflow does not know has ``"unknown": true``.
    With ``whole=False`` the cards may lack long free text in workflow fields (never a reserved key): enough
    for the table and CSV, and faster to load. With ``final_limit`` (for the table), a final column keeps
    only that many cards (the most recent) and has ``"count"``: how many it holds in all.
    """
    for t in types:
        p.workflow(t)  # unknown or invalid type: a clear error
    who = list(assignees)
    if mine:
        who.append(p.require_actor())
    items = select(p, Criteria(types=tuple(dict.fromkeys(types)), assignees=tuple(dict.fromkeys(who))),
                   keys=None if whole else ())
    now, tz = p.now, p.tz
    from sopflow.index import trails_of

    # (excerpt, trail, age in state) by type: columns are sorted and cut before any card is made
    by_type: dict[str, list[_Entry]] = {}
    for d, tr in zip(items, trails_of(p, items), strict=True):
        by_type.setdefault(str(d.get("type")), []).append((d, tr, _age(tr.since, now, tz)))
    order = list(dict.fromkeys(types)) or [*[t for t in p.workflows if t in by_type],
                                          *sorted(t for t in by_type if t not in p.workflows)]
    shaped: list[tuple[str, str, list[tuple[dict[str, Any], list[_Entry]]]]] = []
    for t in order:
        entries = by_type.get(t, [])
        wf = p.workflows.get(t)
        columns: list[tuple[dict[str, Any], list[_Entry]]] = []
        known = list(wf.states) if wf else []
        for name in known:
            final = bool(wf and wf.is_final(name))
            col = [e for e in entries if e[0].get("state") == name]
            col.sort(key=_final_entry if final else _open_entry)
            head: dict[str, Any] = {"state": name, "final": final}
            if final and final_limit is not None and len(col) > final_limit:
                head["count"] = len(col)
                col = col[:final_limit]
            columns.append((head, col))
        for name in dict.fromkeys(str(e[0].get("state")) for e in entries if e[0].get("state") not in known):
            col = sorted((e for e in entries if str(e[0].get("state")) == name), key=_open_entry)
            columns.append(({"state": name, "final": False, "unknown": True}, col))
        shaped.append((t, wf.title if wf else t, columns))
    marks = flags(p, [e[0] for _, _, columns in shaped for _, col in columns for e in col])
    blocks = []
    for t, title, columns in shaped:
        out = []
        for head, col in columns:
            cards = [card(d, now, tz, marks.get(str(d.get("id"))), tr) for d, tr, _ in col]
            count = head.pop("count", None)
            out.append({**head, "tickets": cards, **({"count": count} if count is not None else {})})
        blocks.append({"type": t, "title": title, "columns": out})
    return {"types": blocks}


def _open_entry(e: _Entry) -> tuple[Any, ...]:
    return _open_order(e[0], e[2])


def _final_entry(e: _Entry) -> tuple[Any, ...]:
    return _final_order(e[0], e[2])


# ---------------------------------------------------------------- inbox

def my_roles(config: Config, person: str, by: Iterable[str], data: Mapping[str, Any]) -> list[str]:
    """The roles of ``by`` through which ``person`` may fire (SPEC 2.3), pseudo-roles included."""
    bound = fsm.bound_roles(data)
    out = []
    for role in by:
        if role in ("assignee", "reporter"):
            ok = data.get(role) == person
        elif role in bound:
            ok = bound[role] == person
        else:
            ok = fsm.holds(config, person, role)
        if ok:
            out.append(role)
    return out


def inbox(p: Project, person: str | None = None, *, whole: bool = True) -> dict[str, Any]:
    """One person's queue of open tickets, each ticket in the first section that applies.

    - ``assigned``: assigned to the person;
    - ``waiting``: its current state has a transition whose ``by:`` names a role the person may act as
      (bound to them, or unbound and held by them; ``reporter`` when they reported it); each such card has
      ``can_fire`` (the triggers) and ``as_roles``;
    - ``handled``: the person appears in its history (``by``); each card has ``last_handled`` (when).
    Each section is ordered by priority, then age in state (oldest first).
    """
    from sopflow.index import trails

    trail_for = trails(p)
    me = person or p.require_actor()
    now, tz = p.now, p.tz
    if whole:
        source: Sequence[Mapping[str, Any]] = p.excerpts()
    else:
        from sopflow.index import load_heads

        source = load_heads(p)
    open_items = [d for d in source if p.is_open(d)]
    marks = flags(p, open_items)
    assigned: list[dict[str, Any]] = []
    waiting: list[dict[str, Any]] = []
    handled: list[dict[str, Any]] = []
    for d in open_items:
        trail = trail_for(d)
        c = card(d, now, tz, marks.get(str(d.get("id"))), trail)
        if d.get("assignee") == me:
            assigned.append(c)
            continue
        wf = p.workflows.get(str(d.get("type")))
        triggers: list[str] = []
        roles: list[str] = []
        if wf is not None:
            for tr in wf.transitions_from(str(d.get("state"))):
                if not tr.by:
                    continue  # anyone may fire it: it waits on nobody in particular
                via = my_roles(p.config, me, tr.by, d)
                if via:
                    triggers.append(tr.trigger)
                    roles.extend(via)
        if triggers:
            c["can_fire"] = list(dict.fromkeys(triggers))
            c["as_roles"] = list(dict.fromkeys(roles))
            waiting.append(c)
            continue
        if me in trail.handled:
            c["last_handled"] = trail.handled[me]
            handled.append(c)
    for section in (assigned, waiting, handled):
        section.sort(key=by_priority_then_age)
    return {"person": me, "assigned": assigned, "waiting": waiting, "handled": handled}
