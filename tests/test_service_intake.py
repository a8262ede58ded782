"""Intake rules of the shipped support example, through ``sopflow new`` and ``sopflow check`` on real repos."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Repo
from sla_support import at, build_support, clone_template

from sopflow.core.frontmatter import Document

FIRST_LINE = ["wutao", "lucy", "hejia"]


@pytest.fixture(scope="session")
def support_template(tmp_path_factory: pytest.TempPathFactory) -> Repo:
    base = tmp_path_factory.mktemp("support-intake")
    return build_support(base / "repo", base / "home")


@pytest.fixture
def support(support_template: Repo, tmp_path: Path, home: Path) -> Iterator[Repo]:
    yield clone_template(support_template, tmp_path / "support", home)


def new(r: Repo, title: str, *args: str) -> dict[str, object]:
    res = r.run("new", "support", "--title", title, "--format", "json", *args, as_="lucy", now=at("11-20 10:00"))
    assert res.code == 0, res.err
    data: dict[str, object] = json.loads(res.out)
    return data


@pytest.mark.parametrize(
    ("title", "problem_type", "priority", "label"),
    [
        ("办公网络断网，无法访问内网", "网络故障", "P2", "网络"),
        ("VPN connection timeout", "网络故障", "P2", "网络"),
        ("报表页面报错 500", "应用报错", "P3", "应用"),
        ("Login throws an Exception", "应用报错", "P3", "应用"),
        ("申请开通 CRM 权限", "权限需求", "P4", "权限"),
        ("need ACCESS to the wiki", "权限需求", "P4", "权限"),
    ],
)
def test_new_classifies_and_routes(support: Repo, title: str, problem_type: str, priority: str, label: str) -> None:
    t = new(support, title)
    assert t["problem_type"] == problem_type
    assert t["priority"] == priority
    assert t["labels"] == [label]
    assert t["assignee"] in FIRST_LINE
    assert t["roles"] == {"一线支持": t["assignee"]}
    assert support.run("check").code == 0


def test_rule_names_and_pick_are_told_on_stderr(support: Repo) -> None:
    res = support.run("new", "support", "--title", "网络断网", as_="lucy", now=at("11-20 10:00"))
    assert res.code == 0
    assert "SUP-1: intake rule '网络故障' applied" in res.err
    assert "SUP-1: role 一线支持 bound to wutao (fewest open tickets)" in res.err
    second = support.run("new", "support", "--title", "又断网了", as_="lucy", now=at("11-20 10:05"))
    assert "bound to lucy" in second.err  # wutao has one open ticket now


def test_later_rules_override_and_alerts_go_to_the_expert(support: Repo) -> None:
    t = new(support, "交易系统网络中断", "--set", "channel=告警")
    assert t["priority"] == "P1"  # the alert rule comes last and wins over 网络故障's P2
    assert t["problem_type"] == "网络故障"
    assert t["labels"] == ["网络", "告警"]
    assert t["assignee"] in ("majun", "tom")
    assert t["roles"] == {"二线专家": t["assignee"]}


def test_explicit_options_win_and_unmatched_titles_are_left_alone(support: Repo) -> None:
    t = new(support, "网络断网", "--priority", "P1", "--assignee", "hejia", "--set", "problem_type=其他")
    assert (t["priority"], t["assignee"], t["problem_type"]) == ("P1", "hejia", "其他")
    plain = new(support, "请帮忙看看打印机")
    assert "priority" not in plain and "problem_type" not in plain and "assignee" not in plain
    assert plain["channel"] == "工单"


def test_body_keywords_count(support: Repo) -> None:
    t = new(support, "用户反馈问题", "--body", "日志显示 connection timeout\n")
    assert t["problem_type"] == "网络故障"


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        ("  - {name: 坏规则, match: {keywords: [x]}, set: {no_such_field: 1}}\n", "unknown field 'no_such_field'"),
        ("  - {name: 坏规则, set: {problem_type: 网络故障}}\n", "match needs keywords"),
        ("  - {name: 坏规则, match: {keywords: [x]}, set: {problem_type: 火灾}}\n", "坏规则: problem_type"),
        ("  - {name: 坏规则, match: {keywords: [x]}, assign_to: 保安}\n", "unknown role '保安'"),
        ("  - {name: 坏规则, match: {keywords: [x]}, colour: red}\n", "unknown key 'colour'"),
    ],
)
def test_check_rejects_a_malformed_rule(support: Repo, rule: str, words: str) -> None:
    text = support.read("workflows/support.yaml")
    support.write("workflows/support.yaml", text.rstrip("\n") + "\n" + rule)
    res = support.run("check", "--format", "json")
    assert res.code == 1
    report = json.loads(res.out)
    assert report["ok"] is False
    bad = [p for p in report["problems"] if p["severity"] == "error"]
    assert bad and all(p["path"] == "workflows/support.yaml" for p in bad)
    assert any(words in p["message"] for p in bad), bad
    lines = len(text.rstrip("\n").split("\n")) + 1
    assert any(p["line"] == lines for p in bad)
    text_out = support.run("check")
    assert f"workflows/support.yaml:{lines}: error:" in text_out.out


def test_new_tickets_carry_the_intake_in_the_file(support: Repo) -> None:
    new(support, "网络断网")
    doc = Document.parse(support.read("tickets/SUP-1.md"))
    assert doc.data["history"] == [
        {"at": "2026-11-20T10:00:00+08:00", "by": "lucy", "action": "create", "to": "请求接入"}]
