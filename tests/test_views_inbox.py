"""The inbox: a person's queue in three sections, with the SPEC's role rules, ordering, JSON and CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import Repo, git_env
from fixtures_views import NOW, PEOPLE, populate

from sopflow import views
from sopflow.core import fsm
from sopflow.project import Project
from sopflow.render import board as rb
from sopflow.render.text import width


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Repo]:
    base = tmp_path_factory.mktemp("inbox")
    (base / "home").mkdir()
    (base / "repo").mkdir()
    r = Repo(base / "repo", git_env(base / "home"))
    r.git("init", "-q", "-b", "main")
    populate(r.root)
    r.commit_all("tickets")
    yield r


@pytest.fixture
def project(big: Repo, monkeypatch: pytest.MonkeyPatch) -> Project:
    monkeypatch.setenv("SOPFLOW_NOW", NOW)
    return Project(big.root)


def expected_sections(p: Project, me: str) -> dict[str, set[str]]:
    """The SPEC's rules written out independently of views.inbox."""
    out: dict[str, set[str]] = {"assigned": set(), "waiting": set(), "handled": set()}
    for d in p.excerpts():
        if not p.is_open(d):
            continue
        if d.get("assignee") == me:
            out["assigned"].add(d["id"])
            continue
        wf = p.workflows[d["type"]]
        if any(tr.by and fsm.may_fire(p.config, me, tr.by, d) for tr in wf.transitions_from(d["state"])):
            out["waiting"].add(d["id"])
        elif any(e.get("by") == me for e in d.get("history", [])):
            out["handled"].add(d["id"])
    return out


@pytest.mark.parametrize("me", PEOPLE)
def test_sections_follow_the_rules(project: Project, me: str) -> None:
    data = views.inbox(project, me)
    assert data["person"] == me
    want = expected_sections(project, me)
    for key in ("assigned", "waiting", "handled"):
        assert {c["id"] for c in data[key]} == want[key], key
        keys = [views.by_priority_then_age(c) for c in data[key]]
        assert keys == sorted(keys)  # priority, then oldest in state first
        assert all("history" not in c for c in data[key])
    ids = [c["id"] for k in ("assigned", "waiting", "handled") for c in data[k]]
    assert len(ids) == len(set(ids))  # each ticket once, in the first section that applies


def test_waiting_names_the_triggers_and_roles(project: Project) -> None:
    data = views.inbox(project, "李娜")
    assert data["waiting"]
    for c in data["waiting"]:
        wf = project.workflows[c["type"]]
        t = project.load(c["id"])
        can = [tr.trigger for tr in wf.transitions_from(c["state"]) if tr.by and fsm.may_fire(project.config, "李娜",
                                                                                                  tr.by, t.data)]
        assert c["can_fire"] == list(dict.fromkeys(can))
        assert c["as_roles"] and all(r in wf.roles or r in ("assignee", "reporter") for r in c["as_roles"])


def test_bound_role_belongs_to_the_bound_person_only() -> None:
    from sopflow.core.config import Config, Person

    cfg = Config(people={"fan": Person("fan", roles=("维护代表",)), "li": Person("li", roles=("维护代表",))})
    data = {"roles": {"维护代表": "li"}, "reporter": "fan"}
    assert views.my_roles(cfg, "fan", ["维护代表"], data) == []
    assert views.my_roles(cfg, "li", ["维护代表"], data) == ["维护代表"]
    assert views.my_roles(cfg, "fan", ["reporter", "assignee"], data) == ["reporter"]
    assert views.my_roles(cfg, "fan", ["二线"], {}) == []


def test_transitions_anyone_may_fire_do_not_put_tickets_in_every_inbox(project: Project) -> None:
    data = views.inbox(project, "bob")  # bob holds 研发 only; task transitions have no by:
    assert not [c for c in data["waiting"] if c["type"] == "task"]


def test_handled_has_the_last_time_i_acted(project: Project) -> None:
    data = views.inbox(project, "alice")
    for c in data["handled"]:
        mine = [e for e in project.load(c["id"]).history if e.get("by") == "alice"]
        assert c["last_handled"] == mine[-1]["at"]


def test_text_sections_line_up(project: Project) -> None:
    data = views.inbox(project, "fan")
    text = rb.inbox_text(data, cols=100, people=project.config.people)
    lines = text.split("\n")
    assert lines[0].startswith("Inbox of fan (范慧阳): ")
    assert "Assigned to me (" in text and "Waiting on a role I hold (" in text and "Handled by me, still open (" in text
    assert all(width(line) <= 100 for line in lines)
    # in each section's table, the STATE column starts at the same display column on every row
    for head in [n for n, line in enumerate(lines) if line.startswith("  ID ")]:
        col = width(lines[head][: lines[head].index("STATE")])
        n = head + 1
        while n < len(lines) and lines[n].startswith("  ") and lines[n].strip():
            row = lines[n]
            prefix_w = 0
            for i, ch in enumerate(row):
                if prefix_w == col:
                    assert row[i - 1] == " " and row[i] != " "
                    break
                prefix_w += width(ch)
            else:
                raise AssertionError(f"no cell starts at column {col}: {row!r}")
            n += 1


def test_empty_sections_say_none(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    data = {"person": "nobody", "assigned": [], "waiting": [], "handled": []}
    text = rb.inbox_text(data, cols=80)
    assert text.count("(none)") == 3 and text.startswith("Inbox of nobody: 0 assigned, 0 waiting, 0 handled")


def test_inbox_command(big: Repo) -> None:
    res = big.run("inbox", as_="张伟")
    assert res.code == 0, res.err
    assert res.out.startswith("Inbox of 张伟: ")
    data = json.loads(big.run("inbox", "--format", "json", as_="张伟").out)
    assert set(data) == {"person", "assigned", "waiting", "handled"} and data["person"] == "张伟"
    rows = list(csv.reader(io.StringIO(big.run("inbox", "--format", "csv", as_="张伟").out)))
    assert rows[0][:3] == ["section", "id", "type"]
    assert len(rows) - 1 == sum(len(data[k]) for k in ("assigned", "waiting", "handled"))
    env = big.run("inbox", env={"SOPFLOW_USER": "fan"})
    assert env.out.startswith("Inbox of fan (范慧阳)")


def test_inbox_identity_from_git_email(big: Repo) -> None:
    big.git("config", "user.email", "LiNa@Example.com")
    try:
        res = big.run("inbox")
        assert res.code == 0 and res.out.startswith("Inbox of 李娜: ")
    finally:
        big.git("config", "--unset", "user.email")
    res = big.run("inbox", env={"GIT_CONFIG_GLOBAL": "/dev/null"})
    assert res.code == 1 and "cannot tell who you are" in res.err

