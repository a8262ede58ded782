"""``sopflow escalate`` through the CLI on real repos: a two-level chain, idempotence, dry run, one commit.

Support example: escalate rule 1 hands a ticket whose resolve goal is breached to 二线专家 (majun, tom),
rule 2 two hours later to 研发 (dengchao, jack). P1: resolve 2h.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Repo
from sla_support import at, build_support, clone_template, commits, write_ticket

from sopflow.core.frontmatter import Document


@pytest.fixture(scope="session")
def support_template(tmp_path_factory: pytest.TempPathFactory) -> Repo:
    base = tmp_path_factory.mktemp("support-escalate")
    return build_support(base / "repo", base / "home")


@pytest.fixture
def support(support_template: Repo, tmp_path: Path, home: Path) -> Iterator[Repo]:
    yield clone_template(support_template, tmp_path / "support", home)


RESPONDED = [("11-20 10:00", "请求接入"), ("11-20 10:10", "分类分级")]


def front(r: Repo, tid: str) -> dict[str, Any]:
    return Document.parse(r.read(f"tickets/{tid}.md")).data


def escalations(r: Repo, tid: str) -> list[dict[str, Any]]:
    return [e for e in front(r, tid)["history"] if e["action"] == "escalate"]


def escalate(r: Repo, now: str, *args: str, as_: str | None = None) -> Any:
    return r.run("escalate", *args, now=at(now), as_=as_)


def test_two_level_chain_idempotent_between_runs(support: Repo) -> None:
    res = support.run("new", "support", "--title", "交易系统宕机", "--priority", "P1", "--assignee", "wutao",
                      "--role", "一线支持=wutao", as_="wutao", now=at("11-20 10:00"))
    assert res.code == 0, res.err
    assert support.run("do", "SUP-1", "受理", as_="wutao", now=at("11-20 10:10")).code == 0
    n = commits(support)

    # at the due time the goal is not yet passed
    first = escalate(support, "11-20 12:00")
    assert (first.code, first.out.strip()) == (0, "nothing to escalate")
    assert commits(support) == n

    # one second later: first line → second-line expert (fewest open tickets; tie: first in people order)
    res = escalate(support, "11-20 12:00:01")
    assert res.code == 0, res.err
    assert res.out.strip() == ("escalated: SUP-1 P1 rule 1: resolve goal breached 11-20 12:00: "
                               "wutao → majun (二线专家)")
    assert "SUP-1: role 二线专家 bound to majun (fewest open tickets)" in res.err
    assert "SUP-1: escalated to majun (二线专家)" in res.err
    data = front(support, "SUP-1")
    assert data["assignee"] == "majun"
    assert data["roles"] == {"一线支持": "wutao", "二线专家": "majun"}
    assert data["updated"] == "2026-11-20T12:00:01+08:00"
    assert escalations(support, "SUP-1") == [{
        "at": "2026-11-20T12:00:01+08:00", "by": "sopflow", "action": "escalate", "rule": 1, "when": "resolve",
        "assignee": "majun", "role": "二线专家",
    }]
    assert commits(support) == n + 1
    message = support.git("log", "-1", "--format=%B")
    assert message.splitlines()[0] == "escalate: SUP-1 → majun"
    assert "Sopflow-Ticket: SUP-1\nSopflow-Action: escalate" in message
    assert support.git("show", "--name-only", "--format=", "HEAD").split() == ["tickets/SUP-1.md"]

    # idempotent: the same instant again, and later before rule 2 is due, do nothing
    snap = support.snapshot()
    for now in ("11-20 12:00:01", "11-20 13:59:59"):
        again = escalate(support, now)
        assert (again.code, again.out.strip(), again.err) == (0, "nothing to escalate", "")
    assert support.snapshot() == snap and commits(support) == n + 1

    # two hours after the breach: second-line → R&D
    res = escalate(support, "11-20 14:00")
    assert res.code == 0, res.err
    assert "majun → dengchao (研发)" in res.out
    data = front(support, "SUP-1")
    assert data["assignee"] == "dengchao"
    assert data["roles"] == {"一线支持": "wutao", "二线专家": "majun", "研发": "dengchao"}
    assert [(e["rule"], e["assignee"], e["role"]) for e in escalations(support, "SUP-1")] == [
        (1, "majun", "二线专家"), (2, "dengchao", "研发")]
    assert commits(support) == n + 2
    assert escalate(support, "11-21 09:00").out.strip() == "nothing to escalate"
    assert support.run("check").code == 0
    log = support.run("show", "SUP-1", now=at("11-21 09:00"))
    assert "escalate  assignee=dengchao  role=研发  rule=2" in log.out


def test_dry_run_prints_the_plan_and_changes_nothing(support: Repo) -> None:
    write_ticket(support, 1, RESPONDED)
    snap, n = support.snapshot(), commits(support)
    res = escalate(support, "11-20 14:00", "--dry-run")
    assert res.code == 0, res.err
    assert res.out.splitlines() == [
        "would escalate: SUP-1 P1 rule 1: resolve goal breached 11-20 12:00: wutao → majun (二线专家)",
        "would escalate: SUP-1 P1 rule 2: resolve goal breached 11-20 12:00 + 2h: majun → dengchao (研发)",
    ]
    js = escalate(support, "11-20 14:00", "--dry-run", "--format", "json")
    plan = json.loads(js.out)
    assert plan["dry_run"] is True and [e["rule"] for e in plan["escalated"]] == [1, 2]
    assert support.snapshot() == snap and commits(support) == n
    assert support.git("status", "--porcelain") == ""


def test_catching_up_applies_both_rules_in_one_commit(support: Repo) -> None:
    write_ticket(support, 1, RESPONDED)
    n = commits(support)
    res = escalate(support, "11-20 15:00", "--format", "json")
    assert res.code == 0, res.err
    out = json.loads(res.out)
    assert out["now"] == "2026-11-20T15:00:00+08:00" and out["dry_run"] is False and out["by"] == "sopflow"
    assert out["skipped"] == []
    assert out["escalated"] == [
        {"id": "SUP-1", "type": "support", "title": "工单 1", "priority": "P1", "rule": 1, "when": "resolve",
         "after": 0, "role": "二线专家", "breached_at": "2026-11-20T12:00:00+08:00",
         "due_at": "2026-11-20T12:00:00+08:00", "from": "wutao", "assignee": "majun", "picked": True},
        {"id": "SUP-1", "type": "support", "title": "工单 1", "priority": "P1", "rule": 2, "when": "resolve",
         "after": 7200, "role": "研发", "breached_at": "2026-11-20T12:00:00+08:00",
         "due_at": "2026-11-20T14:00:00+08:00", "from": "majun", "assignee": "dengchao", "picked": True},
    ]
    assert commits(support) == n + 1
    assert front(support, "SUP-1")["assignee"] == "dengchao"
    assert [e["rule"] for e in escalations(support, "SUP-1")] == [1, 2]


def test_several_tickets_one_commit_spread_over_the_experts(support: Repo) -> None:
    write_ticket(support, 1, RESPONDED)
    write_ticket(support, 2, RESPONDED)
    write_ticket(support, 3, [("11-20 11:00", "请求接入"), ("11-20 11:05", "分类分级")])  # breached at 13:00
    write_ticket(support, 4, RESPONDED, priority="P3")  # no resolve goal: never escalated
    write_ticket(support, 5, [*RESPONDED, ("11-20 10:20", "已关闭")])  # closed
    n = commits(support)
    res = escalate(support, "11-20 13:30", as_="qianmin")
    assert res.code == 0, res.err
    assert [(e["id"]) for e in json.loads(escalate(support, "11-20 13:30", "--dry-run", "--format",
                                                    "json").out)["escalated"]] == []
    assert front(support, "SUP-1")["assignee"] == "majun"
    assert front(support, "SUP-2")["assignee"] == "tom"
    assert front(support, "SUP-3")["assignee"] == "majun"  # majun 1, tom 1: the first in people order
    assert escalations(support, "SUP-4") == [] and escalations(support, "SUP-5") == []
    assert escalations(support, "SUP-1")[0]["by"] == "qianmin"
    assert commits(support) == n + 1
    message = support.git("log", "-1", "--format=%B")
    assert message.splitlines()[0] == "escalate: 3 tickets (SUP-1 → majun, SUP-2 → tom, SUP-3 → majun)"
    assert [line for line in message.splitlines() if line.startswith("Sopflow-")] == [
        "Sopflow-Ticket: SUP-1", "Sopflow-Ticket: SUP-2", "Sopflow-Ticket: SUP-3", "Sopflow-Action: escalate"]
    assert sorted(support.git("show", "--name-only", "--format=", "HEAD").split()) == [
        "tickets/SUP-1.md", "tickets/SUP-2.md", "tickets/SUP-3.md"]


def test_a_role_bound_on_the_ticket_wins_over_the_pick(support: Repo) -> None:
    write_ticket(support, 1, RESPONDED, roles={"一线支持": "wutao", "二线专家": "tom"})
    res = escalate(support, "11-20 12:30")
    assert res.code == 0, res.err
    assert "bound to" not in res.err
    data = front(support, "SUP-1")
    assert data["assignee"] == "tom" and data["roles"] == {"一线支持": "wutao", "二线专家": "tom"}
    assert support.run("check").code == 0


def test_a_ticket_already_with_the_expert_still_records_the_escalation(support: Repo) -> None:
    write_ticket(support, 1, RESPONDED, assignee="majun", roles={"二线专家": "majun"})
    res = escalate(support, "11-20 12:30")
    assert "stays with majun (二线专家)" in res.out
    assert front(support, "SUP-1")["assignee"] == "majun"
    assert len(escalations(support, "SUP-1")) == 1
    assert escalate(support, "11-20 12:30").out.strip() == "nothing to escalate"


def test_paused_tickets_after_a_breach_and_respond_rules(support: Repo) -> None:
    text = support.read("workflows/support.yaml").replace(
        "    - {when: resolve, assign_to: 二线专家}",
        "    - {when: respond, after: 10m, assign_to: 支持主管}\n    - {when: resolve, assign_to: 二线专家}")
    support.write("workflows/support.yaml", text)
    support.commit_all("respond rule")
    write_ticket(support, 1, [("11-20 10:00", "请求接入")])
    assert escalate(support, "11-20 10:39:59").out.strip() == "nothing to escalate"
    res = escalate(support, "11-20 10:40")
    assert "rule 1: respond goal breached 11-20 10:30 + 10m: wutao → majun (支持主管)" in res.out
    assert escalations(support, "SUP-1")[0]["when"] == "respond"


def test_nobody_holds_the_role_skips_and_warns(support: Repo) -> None:
    cfg = support.read("sopflow.yaml").replace("roles: [研发]", "roles: []")
    support.write("sopflow.yaml", cfg)
    support.commit_all("no R&D")
    write_ticket(support, 1, RESPONDED)
    res = escalate(support, "11-20 14:30", "--format", "json")
    assert res.code == 0, res.err
    out = json.loads(res.out)
    assert [e["rule"] for e in out["escalated"]] == [1]
    assert [(e["rule"], e["reason"]) for e in out["skipped"]] == [(2, "nobody in sopflow.yaml holds role 研发")]
    assert "SUP-1: cannot escalate (rule 2): nobody in sopflow.yaml holds role 研发" in res.err
    assert [e["rule"] for e in escalations(support, "SUP-1")] == [1]
    # told again on the next run, and applied once someone holds the role
    again = escalate(support, "11-20 14:31")
    assert "cannot escalate: SUP-1 P1 rule 2" in again.out
    jack = "jack: {name: Jack, email: jack@example.com, roles: []}"
    assert jack in cfg
    support.write("sopflow.yaml", cfg.replace(jack, jack.replace("[]", "[研发]")))
    support.commit_all("jack is R&D")
    last = escalate(support, "11-20 14:32")
    assert "majun → jack (研发)" in last.out


def test_invalid_sla_is_refused_and_nothing_written(support: Repo) -> None:
    text = support.read("workflows/support.yaml").replace("after: 2h", "after: soon")
    support.write("workflows/support.yaml", text)
    support.commit_all("broken")
    write_ticket(support, 1, RESPONDED)
    snap, n = support.snapshot(), commits(support)
    res = escalate(support, "11-20 14:30")
    assert res.code == 1
    assert res.err.startswith("sopflow: workflows/support.yaml: invalid sla.escalate[1].after")
    assert res.err.count("\n") == 1 and "Traceback" not in res.err
    assert support.snapshot() == snap and commits(support) == n
    # the listing still works, and says nothing about escalations it cannot plan
    listing = support.run("sla", now=at("11-20 14:30"))
    assert listing.code == 0 and "escalat" not in listing.err


def test_no_commit_writes_and_leaves_unstaged(support: Repo) -> None:
    write_ticket(support, 1, RESPONDED)
    n = commits(support)
    res = support.run("--no-commit", "escalate", now=at("11-20 12:30"))
    assert res.code == 0, res.err
    assert commits(support) == n
    assert support.git("status", "--porcelain").strip() == "M tickets/SUP-1.md"
    assert front(support, "SUP-1")["assignee"] == "majun"


def test_escalate_from_a_real_subprocess(support: Repo) -> None:
    write_ticket(support, 1, RESPONDED)
    res = support.sub("escalate", "--format", "json", env={"SOPFLOW_NOW": at("11-20 12:30")})
    assert res.code == 0, res.err
    assert json.loads(res.out)["escalated"][0]["assignee"] == "majun"
    assert support.sub("escalate", env={"SOPFLOW_NOW": at("11-20 12:30")}).out.strip() == "nothing to escalate"


def test_applied_rules_reads_rule_numbers_from_history() -> None:
    from sopflow.service import applied_rules

    history = [{"action": "escalate", "rule": 1}, {"action": "escalate", "rule": "2"},
               {"action": "comment", "rule": 3}, {"action": "escalate", "rule": True},
               {"action": "escalate", "rule": 0}, "junk"]
    assert applied_rules({"history": history}) == {0, 1}
    assert applied_rules({"history": "junk"}) == set() and applied_rules({}) == set()
