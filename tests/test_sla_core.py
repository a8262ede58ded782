"""SLA arithmetic with chosen instants (SPEC 2.7; seed 004: P1 30m/2h, P2 1h/4h, P3/P4 24h)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from zoneinfo import ZoneInfo

import pytest

from sopflow.core.sla import (
    Calendar,
    Clock,
    EscalationRule,
    Goal,
    SlaPolicy,
    add_working,
    compute_clock,
    due_escalations,
    parse_sla,
    working_seconds,
)

SH = ZoneInfo("Asia/Shanghai")
NY = ZoneInfo("America/New_York")

NEW, DOING, WAIT, DONE, ARCHIVED = "新建", "处理中", "待用户确认", "已关闭", "已归档"
FINALS = {DONE, ARCHIVED}

SPEC_SLA: dict[str, object] = {
    "pause": [WAIT],
    "priorities": {
        "P1": {"respond": "30m", "resolve": "2h"},
        "P2": {"respond": "1h", "resolve": "4h"},
        "P3": {"respond": "24h"},
        "P4": {"respond": "24h"},
    },
    "escalate": [
        {"when": "resolve", "assign_to": "二线专家"},
        {"when": "resolve", "after": "2h", "assign_to": "研发"},
    ],
}
WORKWEEK: dict[str, object] = {"days": [1, 2, 3, 4, 5], "hours": "09:00-18:00"}


def t(text: str, tz: dt.tzinfo = SH) -> dt.datetime:
    """``"2026-03-06 17:00"`` (or with seconds) in the given zone."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=tz)


def policy(calendar: Mapping[str, object] | None = None, tz: dt.tzinfo = SH, **extra: object) -> SlaPolicy:
    raw: dict[str, object] = {**SPEC_SLA, **extra}
    if calendar is not None:
        raw["calendar"] = dict(calendar)
    pol, problems = parse_sla(raw, tz)
    assert problems == []
    assert pol is not None
    return pol


def clock(pol: SlaPolicy, prio: str | None, timeline: list[tuple[str, str]], now: str) -> Clock:
    c = compute_clock(pol, prio, [(t(w), s) for w, s in timeline], NEW, FINALS, t(now))
    assert c is not None
    return c


P24x7 = policy()
CREATED = [("2026-03-02 10:00", NEW)]


# ------------------------------------------------------------------ statuses


@pytest.mark.parametrize(
    ("now", "status"),
    [
        ("2026-03-02 10:00", "ok"),
        ("2026-03-02 10:23:59", "ok"),  # just below 80% of 30m
        ("2026-03-02 10:24", "at_risk"),  # exactly 80%
        ("2026-03-02 10:30", "at_risk"),  # exactly at due: the goal is used up, not yet passed
        ("2026-03-02 10:30:01", "breached"),
    ],
)
def test_respond_status_boundaries(now: str, status: str) -> None:
    c = clock(P24x7, "P1", CREATED, now)
    assert c.respond_status == status
    assert c.respond_due == t("2026-03-02 10:30")
    assert c.resolve_due == t("2026-03-02 12:00")
    assert c.status == status  # resolve (2h) is still ok, so the respond goal decides
    assert c.responded_at is None and c.resolved_at is None
    assert c.respond_breached_at == (t("2026-03-02 10:30") if status == "breached" else None)


def test_returned_times_are_aware_in_project_zone() -> None:
    c = compute_clock(P24x7, "P1", [(t("2026-03-02 02:00", dt.UTC), NEW)], NEW, FINALS, t("2026-03-02 10:00"))
    assert c is not None and c.respond_due is not None
    assert c.respond_due.tzinfo is SH
    assert c.respond_due == t("2026-03-02 10:30")


@pytest.mark.parametrize(
    ("now", "status"),
    [("2026-03-02 11:35:59", "ok"), ("2026-03-02 11:36", "at_risk"), ("2026-03-02 12:00:01", "breached")],
)
def test_resolve_status_boundaries(now: str, status: str) -> None:
    c = clock(P24x7, "P1", [*CREATED, ("2026-03-02 10:05", DOING)], now)
    assert c.respond_status == "met"
    assert c.responded_at == t("2026-03-02 10:05")
    assert c.resolve_status == status
    assert c.status == status


def test_met_when_resolved_before_due() -> None:
    timeline = [*CREATED, ("2026-03-02 10:20", DOING), ("2026-03-02 11:50", DONE)]
    c = clock(P24x7, "P1", timeline, "2026-03-03 09:00")
    assert (c.respond_status, c.resolve_status, c.status) == ("met", "met", "met")
    assert c.resolved_at == t("2026-03-02 11:50")
    assert c.respond_due == t("2026-03-02 10:30") and c.resolve_due == t("2026-03-02 12:00")
    assert c.respond_breached_at is None and c.resolve_breached_at is None
    assert not c.paused


def test_resolved_exactly_at_due_is_met() -> None:
    c = clock(
        P24x7, "P1", [*CREATED, ("2026-03-02 10:30", DOING), ("2026-03-02 12:00", DONE)], "2026-03-04 00:00"
    )
    assert (c.respond_status, c.resolve_status, c.status) == ("met", "met", "met")


def test_respond_met_but_resolve_breached() -> None:
    open_ = [*CREATED, ("2026-03-02 10:10", DOING)]
    c = clock(P24x7, "P1", open_, "2026-03-02 12:30")
    assert (c.respond_status, c.resolve_status, c.status) == ("met", "breached", "breached")
    assert c.resolve_breached_at == t("2026-03-02 12:00")
    closed = clock(P24x7, "P1", [*open_, ("2026-03-02 12:30", DONE)], "2026-03-02 13:00")
    assert (closed.respond_status, closed.resolve_status, closed.status) == ("met", "breached", "breached")


def test_respond_breached_but_resolve_met_is_breached_overall() -> None:
    c = clock(
        P24x7, "P1", [*CREATED, ("2026-03-02 10:40", DOING), ("2026-03-02 11:00", DONE)], "2026-03-02 11:00"
    )
    assert (c.respond_status, c.resolve_status, c.status) == ("breached", "met", "breached")
    assert c.respond_breached_at == t("2026-03-02 10:30")


def test_goal_without_resolve() -> None:
    c = clock(P24x7, "P3", CREATED, "2026-03-02 12:00")
    assert c.resolve_due is None and c.resolve_status is None and c.resolve_breached_at is None
    assert c.respond_due == t("2026-03-03 10:00")
    responded = clock(P24x7, "P3", [*CREATED, ("2026-03-02 11:00", DOING)], "2026-03-20 12:00")
    assert responded.respond_status == "met"
    assert responded.status == "ok"  # open, and its only goal was met


@pytest.mark.parametrize("prio", [None, "P9"])
def test_no_sla_without_known_priority(prio: str | None) -> None:
    assert (
        compute_clock(P24x7, prio, [(t("2026-03-02 10:00"), NEW)], NEW, FINALS, t("2026-03-02 11:00")) is None
    )


def test_empty_timeline_or_future_creation_has_no_clock() -> None:
    assert compute_clock(P24x7, "P1", [], NEW, FINALS, t("2026-03-02 11:00")) is None
    assert (
        compute_clock(P24x7, "P1", [(t("2026-03-02 12:00"), NEW)], NEW, FINALS, t("2026-03-02 11:00")) is None
    )


def test_entries_after_now_are_ignored() -> None:
    timeline = [*CREATED, ("2026-03-02 10:20", DOING), ("2026-03-02 11:00", DONE)]
    c = clock(P24x7, "P1", timeline, "2026-03-02 10:10")
    assert c.responded_at is None and c.resolved_at is None and c.status == "ok"


# ------------------------------------------------------------------ pause


def test_pause_moves_resolve_due_later() -> None:
    timeline = [
        ("2026-03-02 10:00", NEW),
        ("2026-03-02 10:30", DOING),
        ("2026-03-02 11:00", WAIT),
        ("2026-03-02 13:00", DOING),
    ]
    c = clock(P24x7, "P2", timeline, "2026-03-02 14:00")
    # counted: 10:00-11:00 and 13:00-14:00 = 2h of 4h; two paused hours push due from 14:00 to 16:00
    assert c.resolve_due == t("2026-03-02 16:00")
    assert c.resolve_status == "ok" and not c.paused
    unpaused = clock(policy(pause=[]), "P2", timeline, "2026-03-02 14:00")
    assert unpaused.resolve_due == t("2026-03-02 14:00")
    assert unpaused.resolve_status == "at_risk"


def test_currently_paused_due_as_if_resumed_now() -> None:
    timeline = [("2026-03-02 10:00", NEW), ("2026-03-02 10:30", DOING), ("2026-03-02 11:00", WAIT)]
    c = clock(P24x7, "P2", timeline, "2026-03-02 12:00")
    assert c.paused
    assert c.resolve_due == t("2026-03-02 15:00")  # 1h counted, 3h left from now
    later = clock(P24x7, "P2", timeline, "2026-03-05 12:00")
    assert later.resolve_due == t("2026-03-05 15:00") and later.resolve_status == "ok"


def test_pause_in_a_reached_goal_keeps_the_breach() -> None:
    timeline = [("2026-03-02 10:00", NEW), ("2026-03-02 10:10", DOING), ("2026-03-02 13:00", WAIT)]
    c = clock(P24x7, "P1", timeline, "2026-03-02 15:00")
    assert c.paused and c.resolve_status == "breached" and c.resolve_breached_at == t("2026-03-02 12:00")


def test_waiting_for_the_user_counts_as_a_response() -> None:
    c = clock(P24x7, "P1", [*CREATED, ("2026-03-02 10:05", WAIT)], "2026-03-02 18:00")
    assert c.responded_at == t("2026-03-02 10:05") and c.respond_status == "met"
    assert c.resolve_status == "ok" and c.resolve_due == t("2026-03-02 19:55")


# ------------------------------------------------------------------ calendar

FRI_17 = [("2026-03-06 17:00", NEW)]  # 2026-03-06 is a Friday


@pytest.mark.parametrize(
    ("now", "status"),
    [
        ("2026-03-06 17:59", "ok"),
        ("2026-03-07 12:00", "ok"),  # Saturday
        ("2026-03-08 23:59:59", "ok"),  # Sunday
        ("2026-03-11 09:11:59", "ok"),  # Fri 1h + Mon 9h + Tue 9h = 19h; 80% of 24h is 19h12m
        ("2026-03-11 09:12", "at_risk"),
        ("2026-03-11 14:00", "at_risk"),
        ("2026-03-11 14:00:01", "breached"),
    ],
)
def test_p3_over_a_weekend(now: str, status: str) -> None:
    c = clock(policy(WORKWEEK), "P3", FRI_17, now)
    assert c.respond_due == t("2026-03-11 14:00")  # exactly 24 working hours after Friday 17:00
    assert c.respond_status == status


def test_calendar_working_seconds_and_add_working() -> None:
    cal = policy(WORKWEEK).calendar
    assert cal is not None
    assert working_seconds(t("2026-03-06 17:00"), t("2026-03-09 10:00"), cal) == 2 * 3600
    assert working_seconds(t("2026-03-07 00:00"), t("2026-03-08 23:00"), cal) == 0
    assert working_seconds(t("2026-03-09 10:00"), t("2026-03-06 17:00"), cal) == 0  # reversed
    assert add_working(t("2026-03-06 17:00"), 2 * 3600, cal) == t("2026-03-09 10:00")
    assert add_working(t("2026-03-06 17:00"), 3600, cal) == t("2026-03-06 18:00")  # end of window, not Monday
    assert add_working(t("2026-03-07 12:00"), 0, cal) == t("2026-03-07 12:00")
    assert add_working(t("2026-03-07 12:00"), 1, cal) == t("2026-03-09 09:00:01")


def test_holidays_and_ranges() -> None:
    pol = policy({**WORKWEEK, "holidays": ["2026-03-09"]})
    assert clock(pol, "P3", FRI_17, "2026-03-11 15:00").respond_due == t("2026-03-12 14:00")
    pol = policy({**WORKWEEK, "holidays": ["2026-03-09..2026-03-10", dt.date(2026, 3, 12)]})
    c = clock(pol, "P3", FRI_17, "2026-03-11 15:00")
    assert c.respond_due == t("2026-03-16 14:00")  # Fri 1h, Wed 9h, Fri 9h, Mon 5h
    assert c.respond_status == "ok"


def test_make_up_workday() -> None:
    pol = policy({**WORKWEEK, "workdays": ["2026-03-07"]})  # 调休: Saturday counts
    assert clock(pol, "P3", FRI_17, "2026-03-07 12:00").respond_due == t("2026-03-10 14:00")


def test_whole_day_calendar_and_24_00() -> None:
    pol = policy({"days": [1, 2, 3, 4, 5], "hours": "00:00-24:00"})
    assert pol.calendar is not None and pol.calendar.end is None
    assert clock(pol, "P3", FRI_17, "2026-03-08 12:00").respond_due == t("2026-03-09 17:00")
    default_hours = policy({"days": [1, 2, 3, 4, 5]})
    assert default_hours.calendar == pol.calendar


def test_calendar_evaluated_in_its_zone_across_dst() -> None:
    # 2026-03-08 is the day New York springs forward (02:00 -> 03:00): that local day has 23 hours.
    whole = Calendar(frozenset(range(1, 8)), dt.time(0), None, frozenset(), NY)
    assert working_seconds(t("2026-03-08 00:00", NY), t("2026-03-09 00:00", NY), whole) == 23 * 3600
    assert add_working(t("2026-03-08 00:00", NY), 24 * 3600, whole) == t("2026-03-09 01:00", NY)
    office = Calendar(frozenset({1, 2, 3, 4, 5}), dt.time(9), dt.time(18), frozenset(), NY)
    assert add_working(t("2026-03-06 17:00", NY), 2 * 3600, office) == t("2026-03-09 10:00", NY)
    # A Shanghai instant is read as the same instant, and the result is in the calendar's zone.
    due = add_working(t("2026-03-07 06:00", SH), 3600, office)  # = Fri 17:00 New York
    assert due == t("2026-03-06 18:00", NY) and due.tzinfo is NY


def test_24x7_in_a_dst_zone_counts_real_hours() -> None:
    pol = policy(tz=NY)
    c = compute_clock(pol, "P3", [(t("2026-03-08 00:00", NY), NEW)], NEW, FINALS, t("2026-03-08 12:00", NY))
    assert c is not None and c.respond_due == t("2026-03-09 01:00", NY)
    assert add_working(t("2026-03-08 00:00", NY), 24 * 3600, None) == t("2026-03-09 01:00", NY)
    assert working_seconds(t("2026-03-08 00:00", NY), t("2026-03-09 00:00", NY), None) == 23 * 3600


def test_long_goal_over_holiday_calendar_is_fast() -> None:
    holidays = [f"2026-{m:02d}-{d:02d}" for m in range(1, 13) for d in (1, 2, 3, 15)]
    pol = policy({**WORKWEEK, "holidays": ["2026-10-01..2026-10-08", *holidays]})
    cal = pol.calendar
    assert cal is not None
    began = time.perf_counter()
    for _ in range(50):
        due = add_working(t("2026-09-25 10:00"), 7 * 86400, cal)  # 1w = 168 working hours ≈ 19 days
        assert working_seconds(t("2026-09-25 10:00"), due, cal) == 7 * 86400
        working_seconds(t("2020-01-01 00:00"), t("2030-01-01 00:00"), cal)
    assert time.perf_counter() - began < 2.0
    assert due.date() > dt.date(2026, 10, 8)


def test_calendar_refuses_impossible_hours() -> None:
    with pytest.raises(ValueError):
        Calendar(frozenset({1}), dt.time(18), dt.time(9), frozenset(), SH)
    with pytest.raises(ValueError):
        Calendar(frozenset({0}), dt.time(9), dt.time(18), frozenset(), SH)
    only_makeup = Calendar(
        frozenset(), dt.time(9), dt.time(18), frozenset(), SH, frozenset({dt.date(2026, 3, 7)})
    )
    assert add_working(t("2026-03-01 00:00"), 3600, only_makeup) == t("2026-03-07 10:00")
    with pytest.raises(ValueError, match="no working time"):
        add_working(t("2026-03-01 00:00"), 10 * 3600, only_makeup)


# ------------------------------------------------------------------ timeline order, re-open


def test_timeline_out_of_order_gives_the_same_clock() -> None:
    timeline = [
        ("2026-03-02 10:00", NEW),
        ("2026-03-02 10:40", DOING),
        ("2026-03-02 11:00", WAIT),
        ("2026-03-02 12:00", DOING),
        ("2026-03-02 13:30", DONE),
    ]
    pol = policy(WORKWEEK)
    ordered = clock(pol, "P2", timeline, "2026-03-03 10:00")
    shuffled = clock(
        pol, "P2", [timeline[3], timeline[0], timeline[4], timeline[2], timeline[1]], "2026-03-03 10:00"
    )
    assert ordered == shuffled
    assert ordered.responded_at == t("2026-03-02 10:40") and ordered.resolved_at == t("2026-03-02 13:30")
    assert ordered.status == "met"


def test_reopen_after_close() -> None:
    timeline = [
        ("2026-03-02 10:00", NEW),
        ("2026-03-02 10:10", DOING),
        ("2026-03-02 11:00", DONE),
        ("2026-03-02 13:00", DOING),  # re-opened: open again
    ]
    c = clock(P24x7, "P1", timeline, "2026-03-02 13:10")
    assert c.resolved_at is None and c.is_open
    # the 2h spent closed do not count: 1h before the close, 10m since the re-open
    assert c.resolve_due == t("2026-03-02 14:00") and c.resolve_status == "ok"
    late = clock(P24x7, "P1", timeline, "2026-03-02 14:30")
    assert late.resolve_status == "breached" and late.resolve_breached_at == t("2026-03-02 14:00")
    closed_again = clock(P24x7, "P1", [*timeline, ("2026-03-02 13:30", DONE)], "2026-03-02 20:00")
    assert closed_again.resolved_at == t("2026-03-02 13:30")  # the last resolution counts
    assert closed_again.status == "met" and closed_again.resolve_due == t("2026-03-02 14:00")


def test_moving_between_final_states_keeps_the_first_resolution() -> None:
    timeline = [
        *CREATED,
        ("2026-03-02 10:10", DOING),
        ("2026-03-02 11:00", DONE),
        ("2026-03-02 15:00", ARCHIVED),
    ]
    c = clock(P24x7, "P1", timeline, "2026-03-02 16:00")
    assert c.resolved_at == t("2026-03-02 11:00") and c.status == "met"


# ------------------------------------------------------------------ escalation


def test_escalation_rules_due_in_order_with_after() -> None:
    pol = P24x7
    rules = pol.escalate
    timeline = [*CREATED, ("2026-03-02 10:10", DOING)]  # resolve due 12:00

    def due(now: str, applied: set[int] = set()) -> list[tuple[int, EscalationRule]]:  # noqa: B006
        return due_escalations(pol, clock(pol, "P1", timeline, now), applied, t(now))

    assert due("2026-03-02 12:00") == []
    assert due("2026-03-02 12:00:01") == [(0, rules[0])]
    assert rules[0].assign_to == "二线专家" and rules[1].assign_to == "研发"
    assert due("2026-03-02 13:59:59") == [(0, rules[0])]
    assert due("2026-03-02 14:00") == [(0, rules[0]), (1, rules[1])]
    assert due("2026-03-02 14:00", {0}) == [(1, rules[1])]
    assert due("2026-03-02 14:00", {0, 1}) == []
    resolved = clock(pol, "P1", [*timeline, ("2026-03-02 14:00", DONE)], "2026-03-02 15:00")
    assert due_escalations(pol, resolved, set(), t("2026-03-02 15:00")) == []
    assert due_escalations(pol, None, set(), t("2026-03-02 15:00")) == []


def test_escalation_on_respond_and_after_in_wall_time() -> None:
    pol = policy(
        WORKWEEK,
        escalate=[
            {"when": "respond", "assign_to": "一线主管"},
            {"when": "respond", "after": "1h", "assign_to": "二线专家"},
            {"when": "resolve", "assign_to": "研发"},
        ],
    )
    created = [("2026-03-06 17:00", NEW)]  # P1 respond: 30 working minutes -> Friday 17:30
    c = clock(pol, "P1", created, "2026-03-06 18:29")
    assert c.respond_breached_at == t("2026-03-06 17:30")
    assert [i for i, _ in due_escalations(pol, c, (), t("2026-03-06 18:29"))] == [0]
    # "after" is wall time: 1h after 17:30 is 18:30 the same evening, though the calendar is closed then
    c = clock(pol, "P1", created, "2026-03-06 18:30")
    assert [i for i, _ in due_escalations(pol, c, (), t("2026-03-06 18:30"))] == [0, 1]
    # a late response does not cancel a breach that happened
    c = clock(pol, "P1", [*created, ("2026-03-09 09:10", DOING)], "2026-03-09 09:20")
    assert [i for i, _ in due_escalations(pol, c, {0}, t("2026-03-09 09:20"))] == [1]


# ------------------------------------------------------------------ parse_sla


def test_parse_spec_example() -> None:
    pol, problems = parse_sla({**SPEC_SLA, "calendar": {**WORKWEEK, "holidays": ["2026-10-01"]}}, SH)
    assert problems == []
    assert pol is not None
    assert pol.pause == frozenset({WAIT})
    assert pol.priorities["P1"] == Goal(respond=1800, resolve=7200)
    assert pol.priorities["P2"] == Goal(respond=3600, resolve=4 * 3600)
    assert pol.priorities["P3"] == Goal(respond=86400, resolve=None)
    assert pol.escalate == (
        EscalationRule(when="resolve", assign_to="二线专家", after=0),
        EscalationRule(when="resolve", assign_to="研发", after=7200),
    )
    assert pol.calendar == Calendar(
        frozenset({1, 2, 3, 4, 5}), dt.time(9), dt.time(18), frozenset({dt.date(2026, 10, 1)}), SH
    )
    assert pol.tz is SH


def test_parse_absent_and_minimal() -> None:
    assert parse_sla(None, SH) == (None, [])
    pol, problems = parse_sla({"priorities": {"P1": {"resolve": "1h30m"}}}, SH)
    assert problems == []
    assert pol == SlaPolicy(frozenset(), None, {"P1": Goal(None, 5400)}, (), SH)


def problems_of(raw: object) -> list[tuple[str, str]]:
    return parse_sla(raw, SH)[1]


@pytest.mark.parametrize(
    ("raw", "path", "words"),
    [
        ("P1 30m", "sla", "mapping"),
        ({**SPEC_SLA, "pauses": [WAIT]}, "sla.pauses", "unknown key"),
        ({**SPEC_SLA, "pause": WAIT}, "sla.pause", "list of states"),
        ({**SPEC_SLA, "pause": [WAIT, 3]}, "sla.pause[1]", "state name"),
        ({"pause": []}, "sla.priorities", "must map priorities"),
        ({"priorities": {"P1": {"respond": "30 minutes"}}}, "sla.priorities.P1.respond", "not a duration"),
        ({"priorities": {"P1": {"respond": 30}}}, "sla.priorities.P1.respond", "needs a unit"),
        ({"priorities": {"P1": {"respond": "0m"}}}, "sla.priorities.P1.respond", "longer than zero"),
        ({"priorities": {"P1": {"respnd": "30m"}}}, "sla.priorities.P1.respnd", "unknown key"),
        ({"priorities": {"P1": {}}}, "sla.priorities.P1", "respond or resolve"),
        ({"priorities": {"P1": "30m"}}, "sla.priorities.P1", "mapping"),
        ({"priorities": {1: {"respond": "30m"}}}, "sla.priorities.1", "text"),
        ({**SPEC_SLA, "calendar": "workdays"}, "sla.calendar", "mapping"),
        ({**SPEC_SLA, "calendar": {"days": [1, 8]}}, "sla.calendar.days[1]", "1 (Mon) .. 7 (Sun)"),
        ({**SPEC_SLA, "calendar": {"days": [True]}}, "sla.calendar.days[0]", "weekday"),
        ({**SPEC_SLA, "calendar": {"days": []}}, "sla.calendar.days", "non-empty"),
        ({**SPEC_SLA, "calendar": {"hours": "9-18"}}, "sla.calendar.hours", "HH:MM-HH:MM"),
        ({**SPEC_SLA, "calendar": {"hours": "18:00-09:00"}}, "sla.calendar.hours", "start must be before"),
        ({**SPEC_SLA, "calendar": {"hours": "09:00-25:00"}}, "sla.calendar.hours", "not a time of day"),
        ({**SPEC_SLA, "calendar": {"holidays": ["2026-02-30"]}}, "sla.calendar.holidays[0]", "not a date"),
        ({**SPEC_SLA, "calendar": {"holidays": ["10/01/2026"]}}, "sla.calendar.holidays[0]", "not a date"),
        ({**SPEC_SLA, "calendar": {"holidays": "2026-10-01"}}, "sla.calendar.holidays", "list of dates"),
        (
            {**SPEC_SLA, "calendar": {"holidays": ["2026-10-08..2026-10-01"]}},
            "sla.calendar.holidays[0]",
            "forwards",
        ),
        (
            {**SPEC_SLA, "calendar": {"holidays": ["2026-10-01"], "workdays": ["2026-10-01"]}},
            "sla.calendar.workdays",
            "holidays too",
        ),
        ({**SPEC_SLA, "calendar": {"weekdays": [1]}}, "sla.calendar.weekdays", "unknown key"),
        ({**SPEC_SLA, "escalate": {"when": "resolve"}}, "sla.escalate", "list of rules"),
        ({**SPEC_SLA, "escalate": ["研发"]}, "sla.escalate[0]", "mapping"),
        ({**SPEC_SLA, "escalate": [{True: "resolve", "assign_to": "研发"}]}, "sla.escalate[0].on", "when:"),
        ({**SPEC_SLA, "escalate": [{"assign_to": "研发"}]}, "sla.escalate[0].when", "missing"),
        (
            {**SPEC_SLA, "escalate": [{"when": "close", "assign_to": "研发"}]},
            "sla.escalate[0].when",
            "respond or resolve",
        ),
        ({**SPEC_SLA, "escalate": [{"when": "resolve"}]}, "sla.escalate[0].assign_to", "role"),
        (
            {**SPEC_SLA, "escalate": [{"when": "resolve", "assign_to": "研发", "after": "2 hours"}]},
            "sla.escalate[0].after",
            "duration",
        ),
        (
            {**SPEC_SLA, "escalate": [{"when": "resolve", "assign_to": "研发", "notify": "x"}]},
            "sla.escalate[0].notify",
            "unknown key",
        ),
    ],
)
def test_parse_problems(raw: object, path: str, words: str) -> None:
    problems = problems_of(raw)
    assert any(p == path and words in m for p, m in problems), problems


def test_on_instead_of_when_is_reported_once_and_the_rule_dropped() -> None:
    pol, problems = parse_sla({**SPEC_SLA, "escalate": [{True: "resolve", "assign_to": "研发"}]}, SH)
    assert len(problems) == 1 and problems[0][0] == "sla.escalate[0].on"
    assert "YAML" in problems[0][1]
    assert pol is not None and pol.escalate == ()


def test_on_from_real_yaml() -> None:
    import yaml

    raw = yaml.safe_load(
        "escalate:\n  - {on: resolve, assign_to: 二线专家}\npriorities: {P1: {resolve: 2h}}\n"
    )
    assert [p for p, _ in problems_of(raw)] == ["sla.escalate[0].on"]


def test_parse_is_best_effort() -> None:
    pol, problems = parse_sla(
        {
            "pause": [WAIT],
            "calendar": {"days": [9]},
            "priorities": {"P1": {"respond": "soon"}, "P2": {"respond": "1h"}},
            "escalate": [{"when": "never", "assign_to": "x"}, {"when": "respond", "assign_to": "二线专家"}],
        },
        SH,
    )
    assert {p for p, _ in problems} == {
        "sla.calendar.days[0]",
        "sla.priorities.P1.respond",
        "sla.escalate[0].when",
    }
    assert pol is not None
    assert pol.calendar is None and list(pol.priorities) == ["P2"]
    assert pol.escalate == (EscalationRule("respond", "二线专家"),)
