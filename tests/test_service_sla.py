"""``sopflow sla`` / ``show`` / board flags through the CLI on real repos, with SOPFLOW_NOW at chosen instants.

The shipped support example: P1 respond 30m / resolve 2h, P2 1h / 4h, P3 and P4 respond 24h; 待用户确认 pauses
the clocks; 24x7 unless a calendar is added.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Repo
from sla_support import at, build_support, clone_template, one, sla_json, with_calendar, write_ticket

from sopflow import hooks
from sopflow.project import Project


@pytest.fixture(scope="session")
def support_template(tmp_path_factory: pytest.TempPathFactory) -> Repo:
    base = tmp_path_factory.mktemp("support-template")
    return build_support(base / "repo", base / "home")


@pytest.fixture
def support(support_template: Repo, tmp_path: Path, home: Path) -> Iterator[Repo]:
    yield clone_template(support_template, tmp_path / "support", home)


# ------------------------------------------------------------------ status boundaries


@pytest.mark.parametrize(
    ("now", "status"),
    [
        ("11-20 10:00", "ok"),
        ("11-20 10:23:59", "ok"),  # below 80% of 30m
        ("11-20 10:24", "at_risk"),  # exactly 80%
        ("11-20 10:30", "at_risk"),  # at the due time: used up, not yet passed
        ("11-20 10:30:01", "breached"),
    ],
)
def test_respond_boundaries_of_a_ticket_made_by_new(support: Repo, now: str, status: str) -> None:
    res = support.run("new", "support", "--title", "交易系统宕机", "--set", "channel=告警", as_="wutao",
                      now=at("11-20 10:00"))
    assert res.code == 0, res.err
    assert res.out.strip() == "SUP-1"
    assert sla_json(support, now) == [{
        "id": "SUP-1", "priority": "P1", "state": "请求接入",
        "respond_due": "2026-11-20T10:30:00+08:00", "resolve_due": "2026-11-20T12:00:00+08:00",
        "responded_at": None, "resolved_at": None, "status": status,
    }]


@pytest.mark.parametrize(
    ("now", "status"),
    [("11-20 11:35:59", "ok"), ("11-20 11:36", "at_risk"), ("11-20 12:00", "at_risk"),
     ("11-20 12:00:01", "breached")],
)
def test_resolve_boundaries_after_a_response_by_do(support: Repo, now: str, status: str) -> None:
    assert support.run("new", "support", "--title", "交易系统宕机", "--priority", "P1", as_="wutao",
                       now=at("11-20 10:00")).code == 0
    res = support.run("do", "SUP-1", "受理", as_="wutao", now=at("11-20 10:10"))
    assert res.code == 0, res.err
    row = one(support, now, "SUP-1")
    assert row["responded_at"] == "2026-11-20T10:10:00+08:00"
    assert row["resolve_due"] == "2026-11-20T12:00:00+08:00"
    assert row["state"] == "分类分级"
    assert row["status"] == status


def test_met_and_breached_closed_tickets_only_with_all(support: Repo) -> None:
    write_ticket(support, 1, [("11-20 10:00", "请求接入"), ("11-20 10:20", "已关闭")])
    write_ticket(support, 2, [("11-20 10:00", "请求接入"), ("11-20 10:40", "已关闭")])
    write_ticket(support, 3, [("11-20 10:00", "请求接入")], priority="P3")
    assert [r["id"] for r in sla_json(support, "11-20 12:00")] == ["SUP-3"]
    rows = {r["id"]: r for r in sla_json(support, "11-20 12:00", "--all")}
    assert rows["SUP-1"]["status"] == "met"
    assert rows["SUP-1"]["resolved_at"] == rows["SUP-1"]["responded_at"] == "2026-11-20T10:20:00+08:00"
    assert rows["SUP-2"]["status"] == "breached"  # answered 10 minutes late, even though resolved in time
    assert rows["SUP-3"]["status"] == "ok" and rows["SUP-3"]["resolve_due"] is None
    assert [r["id"] for r in sla_json(support, "11-20 12:00", "--all", "--breached")] == ["SUP-2"]


def test_no_priority_or_unknown_priority_has_no_sla(support: Repo) -> None:
    write_ticket(support, 1, [("11-20 10:00", "请求接入")], priority=None)
    write_ticket(support, 2, [("11-20 10:00", "请求接入")], priority="P9")
    assert sla_json(support, "11-21 10:00", "--all") == []
    res = support.run("sla", now=at("11-21 10:00"))
    assert res.code == 0 and "(no tickets with an SLA open)" in res.out


# ------------------------------------------------------------------ pause


def test_pause_moves_the_due_time_and_resumes(support: Repo) -> None:
    events = [("11-20 10:00", "请求接入"), ("11-20 10:10", "分类分级"), ("11-20 10:20", "处理中"),
              ("11-20 11:00", "待用户确认")]
    write_ticket(support, 1, events, priority="P2")
    # paused since 11:00 with 1h of 4h counted: due as if it resumed now, 3h later
    row = one(support, "11-20 15:00", "SUP-1")
    assert (row["status"], row["resolve_due"]) == ("ok", "2026-11-20T18:00:00+08:00")
    table = support.run("sla", now=at("11-20 15:00"))
    assert "ok (paused: 待用户确认)" in table.out
    # the user says it is not solved at 16:00: the clock runs again from there
    write_ticket(support, 1, [*events, ("11-20 16:00", "处理中")], priority="P2")
    assert one(support, "11-20 16:30", "SUP-1")["resolve_due"] == "2026-11-20T19:00:00+08:00"
    assert one(support, "11-20 18:11:59", "SUP-1")["status"] == "ok"  # 1h + 2h11m59s < 80% of 4h (3h12m)
    assert one(support, "11-20 18:12", "SUP-1")["status"] == "at_risk"
    assert one(support, "11-20 19:00", "SUP-1")["status"] == "at_risk"
    assert one(support, "11-20 19:00:01", "SUP-1")["status"] == "breached"


def test_without_the_pause_the_same_ticket_is_breached(support: Repo) -> None:
    text = support.read("workflows/support.yaml").replace("  pause: [待用户确认]\n", "", 1)
    support.write("workflows/support.yaml", text)
    support.commit_all("no pause")
    events = [("11-20 10:00", "请求接入"), ("11-20 10:10", "分类分级"), ("11-20 10:20", "处理中"),
              ("11-20 11:00", "待用户确认")]
    write_ticket(support, 1, events, priority="P2")
    row = one(support, "11-20 15:00", "SUP-1")
    assert (row["status"], row["resolve_due"]) == ("breached", "2026-11-20T14:00:00+08:00")


# ------------------------------------------------------------------ calendar


@pytest.mark.parametrize(
    ("now", "status"),
    [
        ("11-21 12:00", "ok"),  # Saturday: 1h of 24 working hours counted (Friday 17:00-18:00)
        ("11-23 17:00", "ok"),  # Monday evening: 9h
        ("11-25 09:11:59", "ok"),  # Wednesday: 19h11m59s < 80%
        ("11-25 09:12", "at_risk"),  # 19.2h = 80%
        ("11-25 14:00", "at_risk"),  # due: Fri 1h + Mon 9h + Tue 9h + Wed 5h
        ("11-25 14:00:01", "breached"),
    ],
)
def test_p3_created_friday_17_is_not_breached_on_saturday(support: Repo, now: str, status: str) -> None:
    with_calendar(support)
    write_ticket(support, 1, [("11-20 17:00", "请求接入")], priority="P3")
    row = one(support, now, "SUP-1")
    assert row["respond_due"] == "2026-11-25T14:00:00+08:00"
    assert row["status"] == status


def test_p3_over_the_weekend_without_a_calendar_runs_24x7(support: Repo) -> None:
    write_ticket(support, 1, [("11-20 17:00", "请求接入")], priority="P3")
    assert one(support, "11-21 17:00", "SUP-1")["status"] == "at_risk"
    row = one(support, "11-21 17:00:01", "SUP-1")
    assert (row["status"], row["respond_due"]) == ("breached", "2026-11-21T17:00:00+08:00")


def test_calendar_holidays_push_the_due_time(support: Repo) -> None:
    with_calendar(support)
    text = support.read("workflows/support.yaml").replace(
        CAL := '  calendar: {days: [1,2,3,4,5], hours: "09:00-18:00"}\n',
        '  calendar: {days: [1,2,3,4,5], hours: "09:00-18:00", holidays: [2026-11-23..2026-11-24]}\n')
    assert CAL not in text
    support.write("workflows/support.yaml", text)
    support.commit_all("holidays")
    write_ticket(support, 1, [("11-20 17:00", "请求接入")], priority="P3")
    # Fri 1h, Mon and Tue are holidays, Wed 9h, Thu 9h, Fri 27th 5h
    assert one(support, "11-25 12:00", "SUP-1")["respond_due"] == "2026-11-27T14:00:00+08:00"
    assert support.run("check").code == 0


# ------------------------------------------------------------------ options and output


def test_table_order_filters_csv_and_errors(support: Repo) -> None:
    write_ticket(support, 1, [("11-20 10:00", "请求接入")], priority="P3", title="慢查询")
    write_ticket(support, 2, [("11-20 10:00", "请求接入")], priority="P1", title="交易系统宕机")
    write_ticket(support, 3, [("11-20 10:00", "请求接入"), ("11-20 10:05", "分类分级")], priority="P2")
    now = "11-20 10:50"
    assert [r["id"] for r in sla_json(support, now)] == ["SUP-2", "SUP-3", "SUP-1"]
    assert [r["id"] for r in sla_json(support, now, "--breached")] == ["SUP-2"]
    assert [r["id"] for r in sla_json(support, now, "--type", "support")] == ["SUP-2", "SUP-3", "SUP-1"]
    res = support.run("sla", now=at(now))
    lines = res.out.splitlines()
    assert lines[0].split() == ["ID", "PRI", "STATE", "SLA", "RESPOND", "RESOLVE", "ASSIGNEE", "TITLE"]
    assert lines[1].startswith("SUP-2") and "✖ breached" in lines[1] and "20m over" in lines[1]
    assert lines[2].startswith("SUP-3") and " ok " in lines[2]  # respond met; resolve 50m of 4h
    csv = support.run("sla", "--format", "csv", now=at(now))
    assert csv.code == 0
    assert csv.out.splitlines()[0] == ("id,priority,state,respond_due,resolve_due,responded_at,resolved_at,"
                                       "status,type,assignee,title")
    assert csv.out.splitlines()[1].startswith("SUP-2,P1,请求接入,2026-11-20T10:30:00+08:00,")
    bad = support.run("sla", "--type", "nope", now=at(now))
    assert bad.code == 1 and "unknown ticket type 'nope'" in bad.err and bad.err.count("\n") == 1
    assert support.run("sla", "--format", "xml").code == 2


def test_sla_hints_at_due_escalations(support: Repo) -> None:
    write_ticket(support, 1, [("11-20 10:00", "请求接入"), ("11-20 10:10", "分类分级")])
    quiet = support.run("sla", now=at("11-20 12:00"))
    assert "escalat" not in quiet.err
    res = support.run("sla", now=at("11-20 14:00"))
    assert "2 escalations due: run 'sopflow escalate'" in res.err
    assert support.run("sla", "--format", "json", now=at("11-20 14:00")).out.startswith("[")


# ------------------------------------------------------------------ show and board hooks


def test_show_has_an_sla_section(support: Repo) -> None:
    write_ticket(support, 1, [("11-20 10:00", "请求接入"), ("11-20 10:10", "分类分级")])
    res = support.run("show", "SUP-1", now=at("11-20 12:30"))
    assert res.code == 0, res.err
    section = res.out.split("\nSLA\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert section == [
        "  status   ✖ breached",
        "  respond  ✓ 11-20 10:10 (due 11-20 10:30) · ✓ met",
        "  resolve  11-20 12:00 · 30m over · ✖ breached",
        "  escalate rule 1: due now → 二线专家 (run sopflow escalate)",
        "  escalate rule 2: → 研发 at 11-20 14:00",
    ]


def project_at(r: Repo, now: str, monkeypatch: pytest.MonkeyPatch) -> Project:
    monkeypatch.setenv("SOPFLOW_NOW", at(now))
    return Project(r.root)


def test_show_section_hook_directly(support: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    from sopflow.service import show_section

    assert "sopflow.service:show_section" in hooks.SHOW_SECTIONS
    write_ticket(support, 1, [("11-20 10:00", "请求接入")], priority=None)
    write_ticket(support, 2, [("11-20 10:00", "请求接入"), ("11-20 10:05", "分类分级"),
                              ("11-20 10:10", "处理中"), ("11-20 10:30", "待用户确认")], priority="P2")
    p = project_at(support, "11-20 11:00", monkeypatch)
    none = show_section(p, p.load("SUP-1"))
    assert none == [("SLA", ["none: no priority (goals exist for P1, P2, P3, P4; sopflow set SUP-1 priority=…)"])]
    (title, lines), = show_section(p, p.load("SUP-2"))
    assert title == "SLA"
    assert lines[0] == "status   ok (paused: 待用户确认)"
    assert lines[2] == "resolve  11-20 14:30 · 3h30m left · ok"  # 30m counted, 3h30m to go from now


def test_show_section_absent_for_a_workflow_without_sla(repo: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    from sopflow.service import board_flags, show_section

    assert repo.run("new", "issue_track", "--title", "x", "--priority", "P1", as_="fan").code == 0
    p = project_at(repo, "2026-12-01 10:00", monkeypatch)
    assert show_section(p, p.load("ISS-1")) == []
    assert board_flags(p, p.excerpts()) == {}


def test_board_flags_hook(support: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    from sopflow.service import board_flags

    assert "sopflow.service:board_flags" in hooks.BOARD_FLAGS
    write_ticket(support, 1, [("11-20 10:00", "请求接入")])  # P1: respond due 10:30
    write_ticket(support, 2, [("11-20 10:00", "请求接入")], priority="P2")  # respond due 11:00
    write_ticket(support, 3, [("11-20 10:00", "请求接入")], priority="P3")
    write_ticket(support, 4, [("11-20 09:00", "请求接入"), ("11-20 09:10", "已关闭")])  # closed: no flag
    write_ticket(support, 5, [("11-20 09:00", "请求接入")], priority=None)
    p = project_at(support, "11-20 10:50", monkeypatch)
    flags = hooks.resolve("sopflow.service:board_flags")(p, p.excerpts())
    assert flags == {"SUP-1": "✖ breached", "SUP-2": "⚠ at risk"}
    assert board_flags(p, [d for d in p.excerpts() if d["id"] == "SUP-3"]) == {}


def test_excerpts_without_history_read_the_ticket(support: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    from sopflow.service import clock_for

    write_ticket(support, 1, [("11-20 10:00", "请求接入")])
    p = project_at(support, "11-20 10:50", monkeypatch)
    slim = {k: v for k, v in p.excerpts()[0].items() if k != "history"}
    clock = clock_for(p, slim)
    assert clock is not None and clock.status == "breached"
