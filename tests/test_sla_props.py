"""Properties of the SLA arithmetic (hypothesis)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from sopflow.core.sla import (
    STATUS_ORDER,
    Calendar,
    Clock,
    Goal,
    SlaPolicy,
    add_working,
    compute_clock,
    working_seconds,
)

ZONES = [ZoneInfo("Asia/Shanghai"), ZoneInfo("America/New_York"), ZoneInfo("Europe/London"), dt.UTC]
BASE = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)  # covers the 2026 spring DST changes of New York and London
SPAN_MINUTES = 120 * 24 * 60
NEW, DOING, WAIT, HOLD, DONE = "新建", "处理中", "待用户确认", "挂起", "已关闭"
STATES = [NEW, DOING, WAIT, HOLD, DONE]
FINALS = frozenset({DONE})

settings.register_profile("sla", max_examples=150, deadline=None)
settings.load_profile("sla")


def instants(span: int = SPAN_MINUTES) -> st.SearchStrategy[dt.datetime]:
    return st.integers(0, span * 60).map(lambda s: BASE + dt.timedelta(seconds=s))


@st.composite
def calendars(draw: st.DrawFn) -> Calendar:
    days = draw(st.frozensets(st.integers(1, 7), min_size=1))
    start = draw(st.integers(0, 23 * 4)) * 15
    end = draw(st.one_of(st.none(), st.integers(start // 15 + 1, 24 * 4 - 1).map(lambda q: q * 15)))
    holidays = draw(
        st.frozensets(st.integers(0, 130).map(lambda n: dt.date(2026, 1, 1) + dt.timedelta(days=n)))
    )
    return Calendar(
        days=days,
        start=dt.time(start // 60, start % 60),
        end=None if end is None else dt.time(end // 60, end % 60),
        holidays=holidays,
        tz=draw(st.sampled_from(ZONES)),
    )


maybe_calendars = st.one_of(st.none(), calendars())


@st.composite
def timelines(draw: st.DrawFn) -> list[tuple[dt.datetime, str]]:
    """A creation in NEW then distinct later entries; times are distinct so order is well defined."""
    offsets = draw(st.lists(st.integers(1, 20 * 24 * 60), max_size=8, unique=True))
    created = draw(instants(60 * 24 * 60))
    later = [(created + dt.timedelta(minutes=m), draw(st.sampled_from(STATES))) for m in sorted(offsets)]
    return [(created, NEW), *later]


goal_seconds = st.one_of(st.none(), st.integers(1, 5 * 24 * 60).map(lambda m: m * 60))


@st.composite
def policies(draw: st.DrawFn, pause: frozenset[str]) -> SlaPolicy:
    respond, resolve = draw(goal_seconds), draw(goal_seconds)
    cal = draw(maybe_calendars)
    return SlaPolicy(pause, cal, {"P": Goal(respond, resolve)}, (), cal.tz if cal else ZONES[0])


def _clock(pol: SlaPolicy, timeline: list[tuple[dt.datetime, str]], now: dt.datetime) -> Clock:
    c = compute_clock(pol, "P", timeline, NEW, FINALS, now)
    assert c is not None
    return c


def _rank(status: str | None) -> int:
    return -1 if status is None else STATUS_ORDER.index(status)


# ------------------------------------------------------------------ calendar arithmetic


@given(instants(), instants(), maybe_calendars)
def test_counted_time_never_exceeds_wall_time(a: dt.datetime, b: dt.datetime, cal: Calendar | None) -> None:
    counted = working_seconds(a, b, cal)
    assert 0 <= counted <= max(0.0, (b - a).total_seconds())


@given(instants(), instants(), instants(), calendars())
def test_counted_time_is_additive(a: dt.datetime, b: dt.datetime, c: dt.datetime, cal: Calendar) -> None:
    a, b, c = sorted((a, b, c))
    assert working_seconds(a, c, cal) == working_seconds(a, b, cal) + working_seconds(b, c, cal)


@given(instants(), st.integers(0, 30 * 86400), maybe_calendars)
def test_working_seconds_inverts_add_working(start: dt.datetime, seconds: int, cal: Calendar | None) -> None:
    due = add_working(start, seconds, cal)
    assert due.tzinfo is not None and due >= start
    assert abs(working_seconds(start, due, cal) - seconds) < 1
    if seconds > 0:  # the earliest such instant: a second earlier there was less than `seconds`
        assert working_seconds(start, due - dt.timedelta(seconds=1), cal) < seconds


@given(instants(), instants(), maybe_calendars)
def test_add_working_inverts_working_seconds(a: dt.datetime, b: dt.datetime, cal: Calendar | None) -> None:
    a, b = sorted((a, b))
    back = add_working(a, working_seconds(a, b, cal), cal)
    assert back <= b + dt.timedelta(seconds=1)
    assert working_seconds(back, b, cal) < 1  # only non-working time lies between


# ------------------------------------------------------------------ clocks


@given(st.data(), timelines(), st.integers(0, 30 * 24 * 60))
def test_pausing_never_makes_a_ticket_later(
    data: st.DataObject, timeline: list[tuple[dt.datetime, str]], after: int
) -> None:
    now = timeline[0][0] + dt.timedelta(minutes=after)
    fewer = data.draw(st.frozensets(st.sampled_from([WAIT, HOLD])))
    more = fewer | data.draw(st.frozensets(st.sampled_from([DOING, WAIT, HOLD])))
    base = data.draw(policies(fewer))
    paused = SlaPolicy(more, base.calendar, base.priorities, (), base.tz)
    c0, c1 = _clock(base, timeline, now), _clock(paused, timeline, now)
    for due0, due1 in ((c0.respond_due, c1.respond_due), (c0.resolve_due, c1.resolve_due)):
        assert (due0 is None) == (due1 is None)
        if due0 is not None and due1 is not None:
            assert due1 >= due0
    assert _rank(c1.respond_status) <= _rank(c0.respond_status)
    assert _rank(c1.resolve_status) <= _rank(c0.resolve_status)
    assert _rank(c1.status) <= _rank(c0.status)


@given(st.data(), timelines(), st.integers(0, 30 * 24 * 60))
def test_order_of_the_timeline_does_not_matter(
    data: st.DataObject, timeline: list[tuple[dt.datetime, str]], after: int
) -> None:
    now = timeline[0][0] + dt.timedelta(minutes=after)
    pol = data.draw(policies(frozenset({WAIT})))
    shuffled = data.draw(st.permutations(timeline))
    assert _clock(pol, shuffled, now) == _clock(pol, timeline, now)


@given(st.data(), timelines(), st.integers(0, 30 * 24 * 60))
def test_clock_is_consistent(
    data: st.DataObject, timeline: list[tuple[dt.datetime, str]], after: int
) -> None:
    now = timeline[0][0] + dt.timedelta(minutes=after)
    pol = data.draw(policies(frozenset({WAIT})))
    c = _clock(pol, timeline, now)
    goal = pol.priorities["P"]
    for due, status, breached_at, target in (
        (c.respond_due, c.respond_status, c.respond_breached_at, goal.respond),
        (c.resolve_due, c.resolve_status, c.resolve_breached_at, goal.resolve),
    ):
        assert (due is None) == (target is None) == (status is None)
        if due is None:
            continue
        assert due.tzinfo is not None
        assert due >= timeline[0][0]
        assert (status == "breached") == (breached_at is not None)
        if breached_at is not None:
            assert breached_at == due and breached_at < now
    if c.resolved_at is None:
        assert c.status in {"ok", "at_risk", "breached"}
    else:
        assert c.status in {"met", "breached"} and not c.paused
        assert c.resolve_status in {None, "met", "breached"}


def _counted(
    timeline: list[tuple[dt.datetime, str]],
    skip: frozenset[str],
    end: dt.datetime,
    until: dt.datetime,
    cal: Calendar | None,
) -> float:
    """Oracle: counted time from creation to ``until``, over the timeline cut at ``end`` and running on
    after it."""
    total = 0.0
    for i, (when, state) in enumerate(timeline):
        nxt = timeline[i + 1][0] if i + 1 < len(timeline) else end
        if state not in skip and when < end:
            total += working_seconds(when, min(nxt, end, until), cal)
    return total + working_seconds(end, until, cal)


@given(st.data(), timelines(), st.integers(0, 30 * 24 * 60))
def test_due_is_when_counted_time_reaches_the_goal(
    data: st.DataObject, timeline: list[tuple[dt.datetime, str]], after: int
) -> None:
    now = timeline[0][0] + dt.timedelta(minutes=after)
    pol = data.draw(policies(frozenset({WAIT})))
    c = _clock(pol, timeline, now)
    seen = [e for e in timeline if e[0] <= now]
    goal = pol.priorities["P"]
    one = dt.timedelta(seconds=1)
    if goal.respond is not None and c.respond_due is not None:
        end = c.responded_at or c.resolved_at or now
        assert _counted(seen, pol.pause, end, c.respond_due, pol.calendar) == goal.respond
        assert _counted(seen, pol.pause, end, c.respond_due - one, pol.calendar) < goal.respond
    if goal.resolve is not None and c.resolve_due is not None:
        end = c.resolved_at or now
        skip = pol.pause | FINALS
        assert _counted(seen, skip, end, c.resolve_due, pol.calendar) == goal.resolve
        assert _counted(seen, skip, end, c.resolve_due - one, pol.calendar) < goal.resolve
