"""The numbers managers ask for: counts, throughput, times, SLA compliance, repeated problems (``sopflow stats``).

Pure: every function takes ticket excerpts (front-matter mappings with ``history``), workflows, SLA policies and
``now``; nothing here reads files, git, the clock or the environment. :func:`compute` returns the very object
``stats --format json`` prints, so a test can check each figure against a hand-computed fixture.

Definitions (all times are wall-clock seconds; only the SLA section counts working time):

* A ticket's *timeline* is the list of ``(at, to)`` of its history entries that have ``to:`` (creation
  included), sorted by time; without any such entry it is ``[(created, state)]``.
* *Created* is the first timeline instant (``created:`` when the history is empty).
* *Responded* is the first entry into a state other than the workflow's initial state; *resolved* is, for a
  ticket now in a final state, when it entered the final state(s) after its last re-open (SPEC 2.7).
* *Time to respond / resolve* runs from created to responded / resolved.
* *Time in a state* is, per ticket, the sum of its stays in that state (a stay ends at the next timeline entry,
  or at ``now`` for the state the ticket is in); final states are not measured.
* *Median*: the middle value (the mean of the two middle values for an even count). *p90*: nearest rank, the
  ``ceil(0.9 n)``-th smallest value.
* *Weeks* are ISO weeks (Monday to Sunday) in the project's time zone; a ticket counts as created in the week
  of its creation and as closed in the week it was resolved (if it is resolved now).
* *SLA compliance* of a priority is ``met / (met + breached)``: ``met`` counts resolved tickets that met
  every goal, ``breached`` every ticket (open or resolved) that missed a goal; open tickets that have not
  breached are ``pending`` and left out of the ratio.
* *Top values* of ``by``: tickets counted per value of that key (each element of a list such as ``labels``);
  ties are ordered by value; tickets with no value are counted apart, as ``none``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sopflow.core.durations import parse_instant
from sopflow.core.sla import Clock, SlaPolicy, compute_clock
from sopflow.core.workflow import Workflow

__all__ = [
    "CATEGORY_KEYS",
    "TOP_N",
    "Facts",
    "compute",
    "facts",
    "median",
    "p90",
    "parse_instant",
    "summary",
    "timeline",
]

TOP_N = 10
#: Reserved ticket keys that make sense as ``--by`` categories (besides every workflow field).
CATEGORY_KEYS = ("type", "state", "priority", "assignee", "reporter", "labels")


# ------------------------------------------------------------------ timelines


def timeline(data: Mapping[str, Any], tz: dt.tzinfo,
             moves: Iterable[tuple[Any, Any]] | None = None) -> list[tuple[dt.datetime, str]]:
    """``(at, state entered)`` of every history entry with ``to:``, sorted by time (stably). ``moves`` are
    those entries' ``(at, to)`` when the caller has them (a :class:`~sopflow.core.trail.Trail`'s), so that
    ``data`` may lack its history."""
    out: list[tuple[dt.datetime, str]] = []
    if moves is None:
        history = data.get("history")
        moves = [(e.get("at"), e["to"]) for e in history if isinstance(e, dict) and e.get("to") is not None] \
            if isinstance(history, list) else []
    for when, state in moves:
        at = parse_instant(when, tz)
        if at is not None:
            out.append((at, str(state)))
    if not out:
        created = parse_instant(data.get("created"), tz)
        if created is not None and data.get("state") is not None:
            out.append((created, str(data["state"])))
    out.sort(key=lambda item: item[0])
    return out


@dataclass(frozen=True)
class Facts:
    """What the statistics need to know about one ticket."""

    id: str
    type: str
    state: str
    priority: str | None
    created: dt.datetime | None
    responded: dt.datetime | None
    resolved: dt.datetime | None
    is_open: bool
    in_state: Mapping[str, float]  # seconds per non-final state
    clock: Clock | None


def facts(
    data: Mapping[str, Any], wf: Workflow | None, policy: SlaPolicy | None, now: dt.datetime, tz: dt.tzinfo
) -> Facts:
    """The :class:`Facts` of one ticket at ``now`` (events after ``now`` are ignored)."""
    events = [e for e in timeline(data, tz) if e[0] <= now]
    state = str(data.get("state", ""))
    finals = wf.finals if wf is not None else frozenset()
    initial = wf.initial if wf is not None else (events[0][1] if events else state)
    is_open = state not in finals
    created = events[0][0] if events else parse_instant(data.get("created"), tz)
    responded = next((at for at, s in events if s != initial), None)
    resolved: dt.datetime | None = None
    if events and events[-1][1] in finals:
        i = len(events) - 1
        while i > 0 and events[i - 1][1] in finals:
            i -= 1
        resolved = events[i][0]
    in_state: dict[str, float] = {}
    for i, (at, s) in enumerate(events):
        if s in finals:
            continue
        end = events[i + 1][0] if i + 1 < len(events) else now
        in_state[s] = in_state.get(s, 0.0) + max(0.0, (end - at).total_seconds())
    priority = data.get("priority")
    prio = str(priority) if priority not in (None, "") else None
    clock = None
    if policy is not None and wf is not None:
        clock = compute_clock(policy, prio, events, wf.initial, finals, now)
    return Facts(
        id=str(data.get("id", "")),
        type=str(data.get("type", "")),
        state=state,
        priority=prio,
        created=created,
        responded=responded,
        resolved=resolved,
        is_open=is_open,
        in_state=in_state,
        clock=clock,
    )


# ------------------------------------------------------------------ small statistics


def _number(x: float) -> int | float:
    return int(x) if float(x).is_integer() else round(x, 1)


def median(values: Sequence[float]) -> int | float | None:
    if not values:
        return None
    xs = sorted(values)
    mid = len(xs) // 2
    value = xs[mid] if len(xs) % 2 else (xs[mid - 1] + xs[mid]) / 2
    return _number(value)


def p90(values: Sequence[float]) -> int | float | None:
    if not values:
        return None
    xs = sorted(values)
    return _number(xs[math.ceil(0.9 * len(xs)) - 1])


def summary(values: Sequence[float]) -> dict[str, Any]:
    """``{"count", "median", "p90"}`` of durations in seconds (None when there are none)."""
    return {"count": len(values), "median": median(values), "p90": p90(values)}


# ------------------------------------------------------------------ the report


def _week(day: dt.date) -> tuple[str, dt.date]:
    year, week, weekday = day.isocalendar()
    return f"{year}-W{week:02d}", day - dt.timedelta(days=weekday - 1)


def _values(data: Mapping[str, Any], key: str) -> list[str]:
    value = data.get(key)
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if item is None or item == "" or item == []:
            continue
        if item is True or item is False:
            out.append("true" if item else "false")
        else:
            out.append(" ".join(str(item).split()))
    return list(dict.fromkeys(out))


def _priority_key(name: str) -> tuple[int, str]:
    return (0, name) if name != "(none)" else (1, name)


def compute(
    excerpts: Iterable[Mapping[str, Any]],
    workflows: Mapping[str, Workflow],
    policies: Mapping[str, SlaPolicy | None],
    now: dt.datetime,
    tz: dt.tzinfo,
    *,
    types: Collection[str] = (),
    since: dt.date | None = None,
    by: str = "labels",
    top: int = TOP_N,
) -> dict[str, Any]:
    """The ``stats`` report as a JSON-ready object (see the module docstring for every definition).

    ``types`` keeps only those ticket types (all when empty); ``since`` keeps tickets created on or after that
    date in ``tz``. Durations are seconds; dates are ``YYYY-MM-DD``.
    """
    selected: list[tuple[Mapping[str, Any], Facts]] = []
    for data in excerpts:
        wtype = str(data.get("type", ""))
        if types and wtype not in types:
            continue
        f = facts(data, workflows.get(wtype), policies.get(wtype), now, tz)
        if since is not None and (f.created is None or f.created.astimezone(tz).date() < since):
            continue
        selected.append((data, f))

    # --- counts by type and state
    by_type: list[dict[str, Any]] = []
    type_names = sorted({f.type for _, f in selected} | (set(types) & set(workflows)))
    for wtype in type_names:
        group = [f for _, f in selected if f.type == wtype]
        wf = workflows.get(wtype)
        states: dict[str, int] = dict.fromkeys(wf.states, 0) if wf is not None else {}
        for f in group:
            states[f.state] = states.get(f.state, 0) + 1
        by_type.append({
            "type": wtype,
            "title": wf.title if wf is not None else wtype,
            "total": len(group),
            "open": sum(1 for f in group if f.is_open),
            "closed": sum(1 for f in group if not f.is_open),
            "states": [{"state": s, "count": n} for s, n in states.items()],
        })

    # --- created and closed per week
    created_w: dict[str, int] = {}
    closed_w: dict[str, int] = {}
    starts: dict[str, dt.date] = {}
    for _, f in selected:
        for moment, bucket in ((f.created, created_w), (f.resolved, closed_w)):
            if moment is None:
                continue
            label, start = _week(moment.astimezone(tz).date())
            bucket[label] = bucket.get(label, 0) + 1
            starts[label] = start
    weeks: list[dict[str, Any]] = []
    if starts:
        first = min(starts.values())
        if since is not None:
            first = min(first, _week(since)[1])
        last = max(starts.values())
        day = first
        while day <= last:
            label, _ = _week(day)
            weeks.append({"week": label, "start": day.isoformat(), "created": created_w.get(label, 0),
                          "closed": closed_w.get(label, 0)})
            day += dt.timedelta(days=7)

    # --- time to respond / resolve
    def durations(group: Iterable[Facts], attr: str) -> list[float]:
        out = []
        for f in group:
            end = getattr(f, attr)
            if end is not None and f.created is not None:
                out.append(max(0.0, (end - f.created).total_seconds()))
        return out

    all_facts = [f for _, f in selected]
    prio_names = sorted({f.priority or "(none)" for f in all_facts}, key=_priority_key)
    by_priority = []
    for name in prio_names:
        group = [f for f in all_facts if (f.priority or "(none)") == name]
        by_priority.append({
            "priority": None if name == "(none)" else name,
            "tickets": len(group),
            "respond": summary(durations(group, "responded")),
            "resolve": summary(durations(group, "resolved")),
        })

    # --- time in each state
    in_state: list[dict[str, Any]] = []
    for wtype in type_names:
        wf = workflows.get(wtype)
        group = [f for f in all_facts if f.type == wtype]
        names: list[str] = [s for s in wf.states if s not in wf.finals] if wf is not None else []
        for f in group:
            names += [s for s in f.in_state if s not in names]
        for s in names:
            spent = [f.in_state[s] for f in group if s in f.in_state]
            if not spent:
                continue
            in_state.append({"type": wtype, "state": s, "tickets": len(spent), "total": _number(sum(spent)),
                             "median": median(spent), "p90": p90(spent)})

    # --- SLA compliance per priority
    sla_rows: dict[str, dict[str, Any]] = {}
    for f in all_facts:
        c = f.clock
        if c is None:
            continue
        row = sla_rows.setdefault(c.priority, {
            "priority": c.priority, "tickets": 0, "met": 0, "breached": 0, "pending": 0, "compliance": None,
            "respond": {"met": 0, "breached": 0}, "resolve": {"met": 0, "breached": 0},
        })
        row["tickets"] += 1
        if c.status == "breached":
            row["breached"] += 1
        elif c.status == "met":
            row["met"] += 1
        else:
            row["pending"] += 1
        for goal, status in (("respond", c.respond_status), ("resolve", c.resolve_status)):
            if status in ("met", "breached"):
                row[goal][status] += 1
    for row in sla_rows.values():
        decided = row["met"] + row["breached"]
        row["compliance"] = round(row["met"] / decided, 4) if decided else None
    sla = [sla_rows[k] for k in sorted(sla_rows, key=_priority_key)]

    # --- top values
    counts: dict[str, int] = {}
    without = 0
    for data, _ in selected:
        values = _values(data, by)
        if not values:
            without += 1
        for v in values:
            counts[v] = counts.get(v, 0) + 1
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    top_values = [{"value": v, "count": n} for v, n in ranked[:top]]

    return {
        "now": now.astimezone(tz).replace(microsecond=0).isoformat(),
        "since": since.isoformat() if since is not None else None,
        "types": sorted(types) if types else type_names,
        "tickets": {
            "total": len(all_facts),
            "open": sum(1 for f in all_facts if f.is_open),
            "closed": sum(1 for f in all_facts if not f.is_open),
        },
        "by_type": by_type,
        "weeks": weeks,
        "respond": summary(durations(all_facts, "responded")),
        "resolve": summary(durations(all_facts, "resolved")),
        "by_priority": by_priority,
        "time_in_state": in_state,
        "sla": sla,
        "top": {"by": by, "values": top_values, "distinct": len(ranked), "none": without},
    }
