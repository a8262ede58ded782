"""Checks of the shipped example data: workflows/, templates/ and examples/.

These tests read the files with PyYAML only (safe loader) and the standard library, so they hold the
data to the contract of SPEC.md sections 2.1-2.7 independently of sopflow's own loader.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import deque
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / "workflows"
TEMPLATES = ROOT / "templates"
EXAMPLES = ROOT / "examples"

Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

EXAMPLE_NAMES = ["issue-track", "feature", "launch", "support", "task"]
PSEUDO_ROLES = {"assignee", "reporter"}
RESERVED_KEYS = {
    "id", "type", "title", "state", "priority", "assignee", "reporter",
    "roles", "labels", "links", "created", "updated", "history",
}  # fmt: skip
FIELD_TYPES = {"string", "text", "int", "date", "datetime", "choice", "multi", "person", "link", "bool"}
FIELD_KEYS = {
    "label",
    "type",
    "required",
    "default",
    "readonly",
    "help",
    "choices",
    "min",
    "max",
    "max_length",
}
WORKFLOW_KEYS = {"type", "title", "prefix", "roles", "fields", "states", "transitions", "sla", "rules"}
STATE_KEYS = {"initial", "final", "checklist"}
TRANSITION_KEYS = {"trigger", "source", "dest", "by", "require", "assign_to"}
REQUIRE_VALUES: dict[str, object] = {
    "checklist": "complete",
    "note": True,
    "children": "closed",
    "wiki": "linked",
}
RULE_KEYS = {"name", "match", "set", "priority", "labels", "assign_to"}
DURATION = re.compile(r"^(?:\d+[wdhms])+$")
PRIORITY = re.compile(r"^P[0-9]$")
PREFIX = re.compile(r"^[A-Z][A-Z0-9]*$")
CHECKLIST_PATH = re.compile(r"^sops/[^/]+\.md$")
TEMPLATE_VARS = {"title", "type", "id", "reporter", "now", "fields"}
WIKI_TEMPLATE_VARS = {"title", "tags", "tickets", "now"}


# ---------------------------------------------------------------- helpers


def load_yaml(path: Path) -> Any:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=Loader)


def split_front_matter(path: Path) -> tuple[dict[str, Any], str]:
    text = path.read_text(encoding="utf-8")
    assert text.startswith("---\n"), f"{path}: no front matter"
    end = text.find("\n---\n", 3)
    assert end > 0, f"{path}: front matter not closed"
    meta = yaml.load(text[4 : end + 1], Loader=Loader)
    assert isinstance(meta, dict), f"{path}: front matter is not a mapping"
    return meta, text[end + 5 :]


def as_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else [value]


def workflow(type_name: str) -> dict[str, Any]:
    data = load_yaml(WORKFLOWS / f"{type_name}.yaml")
    assert isinstance(data, dict)
    return data


def example_types(name: str) -> list[str]:
    types = load_yaml(EXAMPLES / name / "example.yaml")["types"]
    assert isinstance(types, list)
    return types


def example_config(name: str) -> dict[str, Any]:
    data = load_yaml(EXAMPLES / name / "sopflow.yaml")
    assert isinstance(data, dict)
    return data


def example_roles(name: str) -> set[str]:
    roles: set[str] = set()
    for t in example_types(name):
        roles.update(workflow(t).get("roles") or [])
    return roles


def referenced_roles(wf: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(where, role, pseudo-role allowed) for every role named anywhere in a workflow."""
    out: list[tuple[str, str, bool]] = []
    for t in wf.get("transitions") or []:
        where = f"transition {t.get('trigger')}"
        out += [(f"{where} by", r, True) for r in t.get("by") or []]
        if "assign_to" in t:
            out.append((f"{where} assign_to", t["assign_to"], True))
        out += [(f"{where} require.roles", r, False) for r in (t.get("require") or {}).get("roles") or []]
    for i, rule in enumerate((wf.get("sla") or {}).get("escalate") or []):
        out.append((f"sla.escalate[{i}]", rule.get("assign_to"), False))
    for rule in wf.get("rules") or []:
        if "assign_to" in rule:
            out.append((f"rule {rule.get('name')}", rule["assign_to"], False))
    return out


def value_problem(spec: dict[str, Any], value: object) -> str | None:
    """Why ``value`` is not valid for the field ``spec``, or None."""
    kind = spec["type"]
    if kind == "bool":
        return None if isinstance(value, bool) else "not a bool"
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            return "not an int"
        if "min" in spec and value < spec["min"]:
            return "below min"
        if "max" in spec and value > spec["max"]:
            return "above max"
        return None
    if kind == "choice":
        return None if value in spec["choices"] else f"{value!r} not in choices"
    if kind == "multi":
        ok = isinstance(value, list) and all(v in spec["choices"] for v in value)
        return None if ok else "not a list of choices"
    if kind == "date":
        return None if type(value) is dt.date else "not a date"
    if not isinstance(value, str):
        return "not a string"
    if kind == "string" and "max_length" in spec and len(value) > spec["max_length"]:
        return "too long"
    return None


def all_workflow_files() -> list[Path]:
    return sorted(WORKFLOWS.glob("*.yaml"))


def all_data_files() -> list[Path]:
    return sorted(p for d in (WORKFLOWS, TEMPLATES, EXAMPLES) for p in d.rglob("*") if p.is_file())


# ---------------------------------------------------------------- layout


def test_examples_present() -> None:
    assert sorted(p.name for p in EXAMPLES.iterdir() if p.is_dir()) == sorted(EXAMPLE_NAMES)
    assert not list(ROOT.glob("workflows/.keep")) and not list(ROOT.glob("examples/.keep"))


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_example_yaml_lists_existing_workflows(name: str) -> None:
    data = load_yaml(EXAMPLES / name / "example.yaml")
    assert set(data) == {"title", "description", "types"}
    assert isinstance(data["title"], str) and data["title"].strip()
    assert isinstance(data["description"], str) and data["description"].strip()
    assert data["types"] and len(set(data["types"])) == len(data["types"])
    for t in data["types"]:
        assert (WORKFLOWS / f"{t}.yaml").is_file(), f"{name}: no workflow {t}"
        assert (TEMPLATES / f"{t}.md").is_file(), f"{name}: no template {t}"


def test_every_workflow_and_template_belongs_to_an_example() -> None:
    used = {t for name in EXAMPLE_NAMES for t in example_types(name)}
    assert {p.stem for p in all_workflow_files()} == used
    assert {p.stem for p in TEMPLATES.glob("*.md")} == used | {"wiki-page"}
    assert example_types("task") == ["task"]


def test_prefixes_are_unique() -> None:
    prefixes = [workflow(p.stem)["prefix"] for p in all_workflow_files()]
    assert len(prefixes) == len(set(prefixes)), prefixes


@pytest.mark.parametrize("path", all_data_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_file_is_utf8_and_parses(path: Path) -> None:
    text = path.read_bytes().decode("utf-8")
    assert "\r" not in text and text.endswith("\n")
    if path.suffix == ".yaml":
        assert isinstance(load_yaml(path), dict)
    elif path.suffix == ".md" and path.is_relative_to(EXAMPLES):
        split_front_matter(path)
    elif path.is_relative_to(TEMPLATES):
        assert not text.startswith("---"), "a template is a body without front matter"


# ---------------------------------------------------------------- workflows


@pytest.mark.parametrize("path", all_workflow_files(), ids=lambda p: p.stem)
def test_workflow_schema(path: Path) -> None:
    wf = load_yaml(path)
    assert set(wf) <= WORKFLOW_KEYS, set(wf) - WORKFLOW_KEYS
    assert wf["type"] == path.stem
    assert isinstance(wf["title"], str) and wf["title"]
    assert PREFIX.match(wf["prefix"]), wf["prefix"]
    roles = wf["roles"]
    assert isinstance(roles, list) and len(roles) == len(set(roles))
    assert all(isinstance(r, str) and r not in PSEUDO_ROLES for r in roles)

    fields = wf.get("fields") or {}
    for key, spec in fields.items():
        assert key not in RESERVED_KEYS, f"field {key} is a reserved key"
        assert set(spec) <= FIELD_KEYS, f"{key}: {set(spec) - FIELD_KEYS}"
        assert spec["type"] in FIELD_TYPES, f"{key}: {spec['type']}"
        if spec["type"] in {"choice", "multi"}:
            choices = spec["choices"]
            assert choices and len(choices) == len(set(choices)), key
            assert all(isinstance(c, str) for c in choices), key
        else:
            assert "choices" not in spec, key
        if "default" in spec:
            assert value_problem(spec, spec["default"]) is None, f"{key}: bad default"
        if "min" in spec and "max" in spec:
            assert spec["min"] <= spec["max"], key
        for flag in ("required", "readonly"):
            assert isinstance(spec.get(flag, False), bool), key

    states = wf["states"]
    assert isinstance(states, dict) and states
    for name, st in states.items():
        st = st or {}
        assert set(st) <= STATE_KEYS, f"state {name}: {set(st) - STATE_KEYS}"
        if "checklist" in st:
            assert CHECKLIST_PATH.match(st["checklist"]), st["checklist"]
        assert not (st.get("initial") and st.get("final")), name
    initials = [n for n, st in states.items() if (st or {}).get("initial") is True]
    assert len(initials) == 1, initials
    assert any((st or {}).get("final") is True for st in states.values())

    triggers: set[tuple[str, str]] = set()
    for t in wf["transitions"]:
        assert set(t) <= TRANSITION_KEYS, set(t) - TRANSITION_KEYS
        assert isinstance(t["trigger"], str) and t["trigger"]
        for src in as_list(t["source"]):
            assert src in states, f"{t['trigger']}: unknown source {src}"
            assert not (states[src] or {}).get("final"), f"{t['trigger']}: leaves final state {src}"
            assert (src, t["trigger"]) not in triggers, f"duplicate trigger {t['trigger']} from {src}"
            triggers.add((src, t["trigger"]))
        assert t["dest"] in states, f"{t['trigger']}: unknown dest {t['dest']}"
        require = t.get("require") or {}
        for key, value in require.items():
            if key in {"fields", "roles"}:
                assert isinstance(value, list) and value, f"{t['trigger']}: require.{key}"
            else:
                assert REQUIRE_VALUES.get(key, object()) == value, f"{t['trigger']}: require.{key}: {value!r}"
        for f in require.get("fields") or []:
            assert f in fields, f"{t['trigger']}: require.fields names unknown field {f}"

    for where, role, pseudo_ok in referenced_roles(wf):
        assert role in roles or (pseudo_ok and role in PSEUDO_ROLES), f"{where}: undeclared role {role}"


@pytest.mark.parametrize("path", all_workflow_files(), ids=lambda p: p.stem)
def test_workflow_graph(path: Path) -> None:
    wf = load_yaml(path)
    states = wf["states"]
    edges: dict[str, set[str]] = {s: set() for s in states}
    for t in wf["transitions"]:
        for src in as_list(t["source"]):
            edges[src].add(t["dest"])
    initial = next(n for n, st in states.items() if (st or {}).get("initial"))
    seen = {initial}
    queue = deque([initial])
    while queue:
        for nxt in edges[queue.popleft()]:
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    assert seen == set(states), f"unreachable: {set(states) - seen}"
    finals = {n for n, st in states.items() if (st or {}).get("final")}
    good = set(finals)
    changed = True
    while changed:
        changed = False
        for s, outs in edges.items():
            if s not in good and outs & good:
                good.add(s)
                changed = True
    assert good == set(states), f"no final reachable from: {set(states) - good}"


@pytest.mark.parametrize("path", all_workflow_files(), ids=lambda p: p.stem)
def test_sla_and_rules_schema(path: Path) -> None:
    wf = load_yaml(path)
    states, fields, roles = wf["states"], wf.get("fields") or {}, wf["roles"]
    sla = wf.get("sla")
    if sla is not None:
        assert set(sla) <= {"pause", "calendar", "priorities", "escalate"}
        assert all(s in states for s in sla.get("pause") or [])
        for prio, goals in sla["priorities"].items():
            assert PRIORITY.match(prio), prio
            assert goals and set(goals) <= {"respond", "resolve"}, prio
            assert all(DURATION.match(d) for d in goals.values()), goals
        for rule in sla.get("escalate") or []:
            assert set(rule) <= {"when", "after", "assign_to"}, rule
            assert rule["when"] in {"respond", "resolve"}, rule
            assert "after" not in rule or DURATION.match(rule["after"]), rule
            assert rule["assign_to"] in roles, rule
    for rule in wf.get("rules") or []:
        assert set(rule) <= RULE_KEYS, set(rule) - RULE_KEYS
        assert isinstance(rule["name"], str) and rule["name"]
        match = rule["match"]
        assert match and set(match) <= {"keywords", "fields"}, rule["name"]
        for kw in match.get("keywords") or []:
            assert isinstance(kw, str) and kw.strip(), f"{rule['name']}: keyword {kw!r} (quote numbers)"
        for key, value in (match.get("fields") or {}).items():
            assert key in fields, f"{rule['name']}: match on unknown field {key}"
            assert value_problem(fields[key], value) is None, f"{rule['name']}: match {key}={value!r}"
        for key, value in (rule.get("set") or {}).items():
            assert key in fields, f"{rule['name']}: set unknown field {key}"
            assert value_problem(fields[key], value) is None, f"{rule['name']}: set {key}={value!r}"
        assert "priority" not in rule or PRIORITY.match(rule["priority"]), rule["name"]
        assert all(isinstance(label, str) for label in rule.get("labels") or []), rule["name"]
        assert set(rule) - {"name", "match"}, f"{rule['name']}: does nothing"


def test_issue_track_matches_spec() -> None:
    wf = workflow("issue_track")
    assert wf["prefix"] == "ISS"
    assert wf["roles"] == ["维护处理人", "维护代表", "改进提取SE"]
    assert {
        "detail", "current_process", "issue_level", "customer_type", "class_1", "class_2", "class_3",
        "buglist", "improvement", "release_note",
    } <= set(wf["fields"])  # fmt: skip
    f = wf["fields"]
    assert f["issue_level"]["choices"] == ["一般问题", "严重问题", "紧急问题"]
    assert f["customer_type"]["choices"] == ["金融", "电网", "煤炭", "其他"]
    assert f["class_1"]["choices"] == ["软件", "硬件", "结构", "误操作", "配置"]
    assert f["buglist"]["type"] == f["improvement"]["type"] == "link"
    assert list(wf["states"]) == ["维护人员处理", "维护代表审核", "SE分析改进", "关闭"]
    trans = {t["trigger"]: t for t in wf["transitions"]}
    assert list(trans) == ["更新进展", "提交审核", "打回补充信息", "转SE分析改进", "问题关闭"]
    assert trans["更新进展"]["assign_to"] == "reporter"
    assert trans["提交审核"]["require"] == {
        "fields": ["issue_level"], "roles": ["维护代表"], "checklist": "complete", "note": True,
    }  # fmt: skip
    assert trans["提交审核"]["assign_to"] == "维护代表"
    assert trans["打回补充信息"]["assign_to"] == "维护处理人"
    assert trans["转SE分析改进"]["assign_to"] == "改进提取SE"
    assert trans["问题关闭"]["source"] == ["SE分析改进", "维护代表审核"]


def test_feature_handoffs_require_a_note() -> None:
    wf = workflow("feature")
    assert set(wf["roles"]) == {"CSM", "产品设计", "开发", "测试", "文档"}
    order = [
        "需求提出",
        "功能设计",
        "前后端开发",
        "测试用例",
        "UAT",
        "用例修正",
        "文档更新",
        "用户通知",
        "功能发版",
        "功能测试",
    ]
    assert list(wf["states"])[: len(order)] == order
    dests = {(src, t["dest"]) for t in wf["transitions"] for src in as_list(t["source"])}
    for a, b in zip(order, [*order[1:], "完成"], strict=True):
        assert (a, b) in dests, f"no step {a} → {b}"
    assert ("UAT", "前后端开发") in dests
    for t in wf["transitions"]:
        target = t.get("assign_to")
        if target in wf["roles"] and target not in (t.get("by") or []):
            assert (t.get("require") or {}).get("note") is True, f"handoff {t['trigger']} without note"
    request = next(t for t in wf["transitions"] if t["source"] == "需求提出" and t["dest"] == "功能设计")
    assert {"background", "customer", "expected_result", "deadline"} <= set(request["require"]["fields"])


def test_launch_waits_for_children() -> None:
    wf = workflow("launch")
    review = next(t for t in wf["transitions"] if t["dest"] == "复盘")
    assert review["source"] == "上线跟进" and review["require"]["children"] == "closed"
    fb = workflow("feedback")
    assert fb["fields"]["category"]["choices"] == ["需求", "Bug", "紧急资金问题"]
    assert fb["fields"]["affects_funds"]["type"] == "bool"
    assert {n for n, st in fb["states"].items() if (st or {}).get("final")} >= {"已解决"}


def test_support_sla_and_rules() -> None:
    wf = workflow("support")
    assert list(wf["states"])[:6] == ["请求接入", "分类分级", "处理中", "待用户确认", "复盘", "知识归档"]
    assert wf["states"]["知识归档"] == {"final": True}
    assert wf["sla"] == {
        "pause": ["待用户确认"],
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
    f = wf["fields"]
    assert f["problem_type"]["choices"] == ["网络故障", "应用报错", "权限需求", "数据问题", "其他"]
    assert f["channel"]["choices"] == ["工单", "IM", "电话", "告警"]
    assert (f["satisfaction"]["min"], f["satisfaction"]["max"]) == (1, 5)
    archive = next(t for t in wf["transitions"] if t["dest"] == "知识归档")
    assert archive["source"] == "复盘" and archive["require"]["wiki"] == "linked"
    edges = {(src, t["dest"]) for t in wf["transitions"] for src in as_list(t["source"])}
    assert {("处理中", "待用户确认"), ("待用户确认", "处理中")} <= edges
    rules = {r["name"]: r for r in wf["rules"]}
    assert {"网络故障", "应用报错", "权限需求"} <= set(rules)
    assert rules["网络故障"]["match"]["keywords"] == ["网络", "断网", "连接超时", "timeout", "network"]
    assert {"报错", "500", "403", "error", "exception", "异常"} <= set(rules["应用报错"]["match"]["keywords"])
    assert {"权限", "开通", "permission", "access"} <= set(rules["权限需求"]["match"]["keywords"])
    alarm = [r for r in wf["rules"] if r["match"].get("fields") == {"channel": "告警"}]
    assert alarm and alarm[0]["priority"] == "P1" and alarm[0]["assign_to"] == "二线专家"


# ---------------------------------------------------------------- per example


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_project_config(name: str) -> None:
    cfg = example_config(name)
    assert set(cfg) <= {"project", "timezone", "commit", "people", "paths"}
    assert isinstance(cfg["project"], str) and cfg["project"]
    assert cfg["timezone"] == "Asia/Shanghai"
    assert cfg["commit"] is True
    people = cfg["people"]
    assert isinstance(people, dict)
    roles = example_roles(name)
    holders: dict[str, list[str]] = {r: [] for r in roles}
    emails = []
    for key, person in people.items():
        assert re.match(r"^[a-z][a-z0-9_-]*$", key), key
        assert set(person) <= {"name", "email", "roles"}, key
        assert isinstance(person["name"], str) and person["name"], key
        assert person["email"] == f"{key}@example.com", key
        emails.append(person["email"])
        for role in person["roles"]:
            assert role in roles, f"{key}: role {role} is in no workflow of {name}"
            holders[role].append(key)
    assert len(emails) == len(set(emails))
    assert all(holders.values()), f"roles nobody holds: {[r for r, h in holders.items() if not h]}"
    if name == "task":
        assert cfg["project"] == "my-project" and people == {} and roles == set()
    else:
        assert len(people) >= 4
        assert any(re.search(r"[\u4e00-\u9fff]", p["name"]) for p in people.values())
        assert any(re.fullmatch(r"[A-Za-z ]+", p["name"]) for p in people.values())
        assert sum(len(h) >= 2 for h in holders.values()) >= 2, "main roles need several holders"


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_checklists_exist_and_match(name: str) -> None:
    people = example_config(name)["people"]
    sops_dir = EXAMPLES / name / "sops"
    referenced: set[str] = set()
    for t in example_types(name):
        for state, st in workflow(t)["states"].items():
            path = (st or {}).get("checklist")
            if path is None:
                continue
            referenced.add(path)
            file = EXAMPLES / name / path
            assert file.is_file(), f"{name}: {t}/{state}: missing {path}"
            meta, body = split_front_matter(file)
            assert meta["applies_to"] == {"type": t, "state": state}, path
    on_disk = {f"sops/{p.name}" for p in sops_dir.glob("*.md")} if sops_dir.is_dir() else set()
    assert on_disk == referenced, f"{name}: unreferenced SOPs {on_disk - referenced}"
    for rel in sorted(on_disk):
        meta, body = split_front_matter(EXAMPLES / name / rel)
        assert set(meta) == {"title", "applies_to", "owner", "reviewed", "review_every"}, rel
        assert isinstance(meta["title"], str) and meta["title"], rel
        assert meta["owner"] in people, f"{rel}: owner {meta['owner']}"
        assert type(meta["reviewed"]) is dt.date, rel
        assert DURATION.match(meta["review_every"]), rel
        lines = [ln for ln in body.splitlines() if ln.strip()]
        assert lines[0] == "## Steps", rel
        items = lines[1:]
        assert items and all(ln.startswith("- [ ] ") and ln[6:].strip() for ln in items), rel
        texts = [ln[6:] for ln in items]
        assert len(texts) == len(set(texts)), f"{rel}: duplicate items"


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_wiki_pages(name: str) -> None:
    people = example_config(name)["people"]
    pages = sorted((EXAMPLES / name / "wiki").rglob("*.md"))
    if name != "task":
        assert pages, f"{name}: no wiki pages"
    for page in pages:
        meta, body = split_front_matter(page)
        rel = page.relative_to(EXAMPLES / name)
        assert set(meta) <= {"title", "tags", "tickets", "owner", "reviewed", "review_every"}, rel
        assert isinstance(meta["title"], str) and meta["title"], rel
        assert meta["tags"] and all(isinstance(t, str) for t in meta["tags"]), rel
        assert isinstance(meta.get("tickets", []), list), rel
        assert meta["owner"] in people, rel
        assert type(meta["reviewed"]) is dt.date, rel
        assert DURATION.match(meta["review_every"]), rel
        assert len(body.strip()) > 200, f"{rel}: page too thin"
    if name == "support":
        for page in pages:
            _, body = split_front_matter(page)
            for heading in ("## 故障现象", "## 排查步骤", "## 修复脚本", "## 预防措施"):
                assert heading in body, f"{page.name}: missing {heading}"


# ---------------------------------------------------------------- templates

_EXPR = re.compile(r"\{\{\s*([A-Za-z_]\w*)|\{%-?\s*(?:if|elif|for\s+\w+\s+in)\s+([A-Za-z_]\w*)")


@pytest.mark.parametrize("path", sorted(TEMPLATES.glob("*.md")), ids=lambda p: p.name)
def test_template_uses_known_variables(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert "{#" not in text, "'{#' opens a Jinja comment"
    assert text.count("{{") == text.count("}}") and text.count("{%") == text.count("%}")
    allowed = WIKI_TEMPLATE_VARS if path.stem == "wiki-page" else TEMPLATE_VARS
    for m in _EXPR.finditer(text):
        var = m.group(1) or m.group(2)
        assert var in allowed, f"{path.name}: unknown variable {var}"
