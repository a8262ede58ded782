"""``stats`` figures checked against a hand-computed fixture, pure and through the CLI.

The fixture (support workflow, 24x7, P1 30m/2h, P2 1h/4h, P3 24h; now = Wed 2026-11-25 12:00 +08:00):

    SUP-1 P1 [网络] 网络故障  Mon 11-16 10:00 create, 10:20 受理, 10:30 分级完成, 11:00 提交用户确认,
                              11:30 用户确认解决, 11:40 归档   → respond 20m, resolve 1h40m; met (70m counted)
    SUP-2 P1 [网络] 网络故障  Mon 11-16 14:00 create, 14:40 受理, 15:00, 15:30 (pause), 16:00, 16:30 归档
                              → respond 40m (breached), resolve 2h30m (120m counted: met); breached
    SUP-3 P2 [应用] 应用报错  Tue 11-17 09:00 create, 09:30 受理, 10:00 分级完成, still 处理中
                              → respond 30m (met), resolve open and breached
    SUP-4 P3 [网络] 网络故障  Wed 11-25 09:00 create, still 请求接入 → pending (3h of 24h)
    SUP-5 no priority         Tue 11-17 11:00 create, 11:15 关闭重复请求 → respond = resolve = 15m, no SLA
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Repo
from sla_support import TRIGGERS, at, build_support, clone_template, write_ticket

from sopflow.core.sla import parse_sla
from sopflow.core.workflow import parse_workflow
from sopflow.core.yamlio import load
from sopflow.stats import compute, median, p90, timeline

ROOT = Path(__file__).resolve().parent.parent
SH = dt.timezone(dt.timedelta(hours=8))
NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=SH)
M, H = 60, 3600

FIXTURE: list[dict[str, Any]] = [
    {"n": 1, "priority": "P1", "labels": ["网络"], "fields": {"problem_type": "网络故障"},
     "events": [("11-16 10:00", "请求接入"), ("11-16 10:20", "分类分级"), ("11-16 10:30", "处理中"),
                ("11-16 11:00", "待用户确认"), ("11-16 11:30", "复盘"), ("11-16 11:40", "知识归档")]},
    {"n": 2, "priority": "P1", "labels": ["网络"], "fields": {"problem_type": "网络故障"},
     "events": [("11-16 14:00", "请求接入"), ("11-16 14:40", "分类分级"), ("11-16 15:00", "处理中"),
                ("11-16 15:30", "待用户确认"), ("11-16 16:00", "复盘"), ("11-16 16:30", "知识归档")]},
    {"n": 3, "priority": "P2", "labels": ["应用"], "fields": {"problem_type": "应用报错"},
     "events": [("11-17 09:00", "请求接入"), ("11-17 09:30", "分类分级"), ("11-17 10:00", "处理中")]},
    {"n": 4, "priority": "P3", "labels": ["网络"], "fields": {"problem_type": "网络故障"},
     "events": [("11-25 09:00", "请求接入")]},
    {"n": 5, "priority": None, "labels": [], "fields": {},
     "events": [("11-17 11:00", "请求接入"), ("11-17 11:15", "已关闭")]},
]

EXPECTED: dict[str, Any] = {
    "now": "2026-11-25T12:00:00+08:00",
    "since": None,
    "types": ["support"],
    "tickets": {"total": 5, "open": 2, "closed": 3},
    "by_type": [{
        "type": "support", "title": "技术支持", "total": 5, "open": 2, "closed": 3,
        "states": [{"state": "请求接入", "count": 1}, {"state": "分类分级", "count": 0},
                   {"state": "处理中", "count": 1}, {"state": "待用户确认", "count": 0},
                   {"state": "复盘", "count": 0}, {"state": "知识归档", "count": 2},
                   {"state": "已关闭", "count": 1}],
    }],
    "weeks": [{"week": "2026-W47", "start": "2026-11-16", "created": 4, "closed": 3},
              {"week": "2026-W48", "start": "2026-11-23", "created": 1, "closed": 0}],
    # respond: 15m, 20m, 30m, 40m -> median (20+30)/2 = 25m, p90 = 4th of 4 = 40m
    "respond": {"count": 4, "median": 25 * M, "p90": 40 * M},
    # resolve: 15m, 1h40m, 2h30m -> median 1h40m, p90 = 3rd of 3 = 2h30m
    "resolve": {"count": 3, "median": 100 * M, "p90": 150 * M},
    "by_priority": [
        {"priority": "P1", "tickets": 2, "respond": {"count": 2, "median": 30 * M, "p90": 40 * M},
         "resolve": {"count": 2, "median": 125 * M, "p90": 150 * M}},
        {"priority": "P2", "tickets": 1, "respond": {"count": 1, "median": 30 * M, "p90": 30 * M},
         "resolve": {"count": 0, "median": None, "p90": None}},
        {"priority": "P3", "tickets": 1, "respond": {"count": 0, "median": None, "p90": None},
         "resolve": {"count": 0, "median": None, "p90": None}},
        {"priority": None, "tickets": 1, "respond": {"count": 1, "median": 15 * M, "p90": 15 * M},
         "resolve": {"count": 1, "median": 15 * M, "p90": 15 * M}},
    ],
    "time_in_state": [
        # 20m, 40m, 30m, 3h (SUP-4 up to now), 15m
        {"type": "support", "state": "请求接入", "tickets": 5, "total": 285 * M, "median": 30 * M, "p90": 3 * H},
        # 10m, 20m, 30m
        {"type": "support", "state": "分类分级", "tickets": 3, "total": 60 * M, "median": 20 * M, "p90": 30 * M},
        # 30m, 30m, and SUP-3 from 11-17 10:00 to 11-25 12:00 = 8d2h
        {"type": "support", "state": "处理中", "tickets": 3, "total": 60 * M + 194 * H, "median": 30 * M,
         "p90": 194 * H},
        {"type": "support", "state": "待用户确认", "tickets": 2, "total": 60 * M, "median": 30 * M, "p90": 30 * M},
        # 10m, 30m
        {"type": "support", "state": "复盘", "tickets": 2, "total": 40 * M, "median": 20 * M, "p90": 30 * M},
    ],
    "sla": [
        {"priority": "P1", "tickets": 2, "met": 1, "breached": 1, "pending": 0, "compliance": 0.5,
         "respond": {"met": 1, "breached": 1}, "resolve": {"met": 2, "breached": 0}},
        {"priority": "P2", "tickets": 1, "met": 0, "breached": 1, "pending": 0, "compliance": 0.0,
         "respond": {"met": 1, "breached": 0}, "resolve": {"met": 0, "breached": 1}},
        {"priority": "P3", "tickets": 1, "met": 0, "breached": 0, "pending": 1, "compliance": None,
         "respond": {"met": 0, "breached": 0}, "resolve": {"met": 0, "breached": 0}},
    ],
    "top": {"by": "labels", "values": [{"value": "网络", "count": 3}, {"value": "应用", "count": 1}],
            "distinct": 2, "none": 1},
}


def excerpt(spec: dict[str, Any]) -> dict[str, Any]:
    history = []
    prev = None
    for when, state in spec["events"]:
        entry: dict[str, Any] = {"at": at(when), "by": "wutao", "to": state}
        entry["action"] = "create" if prev is None else TRIGGERS[(prev, state)]
        history.append(entry)
        prev = state
    data: dict[str, Any] = {"id": f"SUP-{spec['n']}", "type": "support", "title": f"工单 {spec['n']}",
                            "state": prev, "created": history[0]["at"], "channel": "工单", "history": history}
    if spec["priority"]:
        data["priority"] = spec["priority"]
    if spec["labels"]:
        data["labels"] = spec["labels"]
    data.update(spec["fields"])
    return data


@pytest.fixture(scope="module")
def shipped() -> tuple[Any, Any]:
    raw = load((ROOT / "workflows" / "support.yaml").read_text("utf-8"))
    wf, problems = parse_workflow(raw, "support", "workflows/support.yaml")
    assert wf is not None and not [p for p in problems if p.severity == "error"]
    policy, sla_problems = parse_sla(wf.sla, SH)
    assert sla_problems == []
    return wf, policy


def report(shipped: tuple[Any, Any], **kw: Any) -> dict[str, Any]:
    wf, policy = shipped
    return compute([excerpt(s) for s in FIXTURE], {"support": wf}, {"support": policy}, NOW, SH, **kw)


# ------------------------------------------------------------------ pure


def test_median_and_p90_by_hand() -> None:
    assert median([]) is None and p90([]) is None
    assert median([3]) == 3 and p90([3]) == 3
    assert median([1, 2, 3, 4]) == 2.5
    assert median([4, 1, 3]) == 3
    assert p90(list(range(1, 11))) == 9  # ceil(9.0) = 9th
    assert p90(list(range(1, 12))) == 10  # ceil(9.9) = 10th
    assert p90([5, 1]) == 5


def test_timeline_sorted_and_fallback_to_created() -> None:
    data = {"state": "处理中", "created": "2026-11-20T10:00:00+08:00", "history": [
        {"at": "2026-11-20T11:00:00+08:00", "to": "处理中"}, {"at": "2026-11-20T10:00:00+08:00", "to": "请求接入"},
        {"at": "2026-11-20T12:00:00+08:00", "action": "comment"}, {"at": "garbage", "to": "复盘"}]}
    assert [s for _, s in timeline(data, SH)] == ["请求接入", "处理中"]
    bare = {"state": "请求接入", "created": "2026-11-20T10:00:00"}
    assert timeline(bare, SH) == [(dt.datetime(2026, 11, 20, 10, tzinfo=SH), "请求接入")]


def test_every_figure_of_the_hand_fixture(shipped: tuple[Any, Any]) -> None:
    got = report(shipped)
    for key, value in EXPECTED.items():
        assert got[key] == value, key
    assert got == EXPECTED


def test_since_keeps_tickets_created_from_that_date(shipped: tuple[Any, Any]) -> None:
    got = report(shipped, since=dt.date(2026, 11, 17))
    assert got["since"] == "2026-11-17"
    assert got["tickets"] == {"total": 3, "open": 2, "closed": 1}
    assert got["weeks"] == [{"week": "2026-W47", "start": "2026-11-16", "created": 2, "closed": 1},
                            {"week": "2026-W48", "start": "2026-11-23", "created": 1, "closed": 0}]
    assert [row["priority"] for row in got["sla"]] == ["P2", "P3"]


def test_top_values_of_a_field(shipped: tuple[Any, Any]) -> None:
    got = report(shipped, by="problem_type")
    assert got["top"] == {"by": "problem_type", "values": [{"value": "网络故障", "count": 3},
                                                           {"value": "应用报错", "count": 1}],
                          "distinct": 2, "none": 1}
    assert report(shipped, by="priority", top=2)["top"] == {
        "by": "priority", "values": [{"value": "P1", "count": 2}, {"value": "P2", "count": 1}],
        "distinct": 3, "none": 1}


def test_type_filter_and_unknown_types(shipped: tuple[Any, Any]) -> None:
    wf, policy = shipped
    other = {"id": "X-1", "type": "legacy", "state": "open", "created": "2026-11-20T10:00:00+08:00"}
    got = compute([*(excerpt(s) for s in FIXTURE), other], {"support": wf}, {"support": policy}, NOW, SH)
    assert got["tickets"]["total"] == 6
    assert [g["type"] for g in got["by_type"]] == ["legacy", "support"]
    assert got["by_type"][0]["states"] == [{"state": "open", "count": 1}]
    only = compute([*(excerpt(s) for s in FIXTURE), other], {"support": wf}, {"support": policy}, NOW, SH,
                   types={"support"})
    assert only == EXPECTED


def test_empty_report(shipped: tuple[Any, Any]) -> None:
    wf, policy = shipped
    got = compute([], {"support": wf}, {"support": policy}, NOW, SH, types={"support"})
    assert got["tickets"] == {"total": 0, "open": 0, "closed": 0}
    assert got["weeks"] == [] and got["sla"] == [] and got["time_in_state"] == []
    assert got["respond"] == {"count": 0, "median": None, "p90": None}


# ------------------------------------------------------------------ through the CLI


@pytest.fixture(scope="module")
def fixture_repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Repo]:
    base = tmp_path_factory.mktemp("stats")
    template = build_support(base / "template", base / "home")
    r = clone_template(template, base / "repo", base / "home")
    for s in FIXTURE:
        write_ticket(r, s["n"], s["events"], priority=s["priority"], labels=s["labels"], fields=s["fields"],
                     commit=False)
    r.commit_all("fixture")
    yield r


def stats_json(r: Repo, *args: str) -> dict[str, Any]:
    res = r.run("stats", "--format", "json", *args, now=at("11-25 12:00"))
    assert res.code == 0, res.err
    data: dict[str, Any] = json.loads(res.out)
    return data


def test_cli_json_equals_the_hand_computed_figures(fixture_repo: Repo) -> None:
    assert fixture_repo.run("check").code == 0
    assert stats_json(fixture_repo) == EXPECTED
    assert stats_json(fixture_repo, "--type", "support") == EXPECTED
    assert stats_json(fixture_repo, "--by", "problem_type")["top"]["values"][0] == {"value": "网络故障", "count": 3}
    assert stats_json(fixture_repo, "--since", "2026-11-17")["tickets"]["total"] == 3


def test_cli_text_tables_and_bars(fixture_repo: Repo) -> None:
    res = fixture_repo.run("stats", "--by", "problem_type", now=at("11-25 12:00"))
    assert res.code == 0, res.err
    out = res.out
    assert out.startswith("Tickets: 5 (open 2, closed 3)")
    for title in ("By type and state", "Created and closed per week", "Time to respond / resolve",
                  "Time in each state", "SLA compliance", "Top 2 by problem_type"):
        assert f"\n{title}" in out
    week = next(line for line in out.splitlines() if "2026-W47" in line)
    assert week.split()[:3] == ["2026-W47", "2026-11-16", "4"] and "█" in week
    p1 = next(line for line in out.splitlines() if line.strip().startswith("P1") and "%" in line)
    assert p1.split()[:6] == ["P1", "2", "1", "1", "0", "50%"]
    everyone = next(line for line in out.splitlines() if line.strip().startswith("all"))
    assert everyone.split() == ["all", "5", "4", "25m", "40m", "3", "1h40m", "2h30m"]
    assert "(1 ticket without a value)" in out


def test_cli_errors(fixture_repo: Repo) -> None:
    bad_by = fixture_repo.run("stats", "--by", "colour")
    assert bad_by.code == 1 and bad_by.err.startswith("sopflow: --by: unknown field 'colour' (one of: type,")
    bad_since = fixture_repo.run("stats", "--since", "last week")
    assert bad_since.code == 2 and "--since expects a date YYYY-MM-DD" in bad_since.err
    bad_type = fixture_repo.run("stats", "--type", "nope")
    assert bad_type.code == 1 and "unknown ticket type 'nope'" in bad_type.err
    assert fixture_repo.run("stats", "--format", "csv").code == 2
