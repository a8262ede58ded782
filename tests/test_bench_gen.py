"""Smoke tests of the benchmark repository generator (bench/gen.py)."""

from __future__ import annotations

import datetime as dt
import importlib.util
import itertools
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = Path(__file__).resolve().parent / "bench_fixture"
RESERVED = ["id", "type", "title", "state", "priority", "assignee", "reporter", "roles", "labels", "links",
            "created", "updated"]
Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _load_gen() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_gen", ROOT / "bench" / "gen.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules["bench_gen"] = mod
    spec.loader.exec_module(mod)
    return mod


gen = _load_gen()


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def split(path: Path) -> tuple[dict[str, Any], list[str], str]:
    text = path.read_text(encoding="utf-8")
    assert text.startswith("---\n"), path
    front, body = text[4:].split("\n---\n", 1)
    keys = [m.group(1) for m in re.finditer(r"^([^\s#-][^:]*):", front, re.M)]
    data = yaml.load(front, Loader=Loader)
    assert isinstance(data, dict), path
    return data, keys, body


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("gen") / "repo"
    meta = gen.generate(out, 50, 200, 10, 7, gen.load_source(FIXTURE))
    return out, meta


def test_git_history(repo: tuple[Path, dict[str, Any]]) -> None:
    out, meta = repo
    assert int(git(out, "rev-list", "--count", "HEAD")) == 200 == meta["commits"]
    assert git(out, "status", "--porcelain") == ""
    tags = git(out, "tag").split()
    assert "v0.1" in tags and len(tags) >= 2 and tags == meta["tags"]
    assert git(out, "rev-list", "--max-parents=0", "HEAD").strip() == git(out, "rev-parse", "v0.1^{commit}").strip()
    log = git(out, "log", "--format=%s%x1f%(trailers:key=Sopflow-Ticket,valueonly,separator=%x2c)")
    subjects = [line.split("\x1f") for line in log.strip().splitlines()]
    assert any(re.match(r"(feat|fix)(\(\w+\))?!?: ", s) for s, _ in subjects)
    assert any(re.match(r"[A-Z]+-\d+ \S+: \S+ → \S+$", s) and t for s, t in subjects)
    assert any(re.match(r"[A-Z]+-\d+ create: ", s) and t for s, t in subjects)
    # the last ten commits each change one distinct ticket, by a sopflow-style commit
    changed = []
    for k in range(10):
        files = git(out, "diff-tree", "--no-commit-id", "--name-only", "-r", f"HEAD~{k}").split()
        assert len(files) == 1 and files[0].startswith("tickets/")
        changed.append(files[0])
        body = git(out, "log", "-1", "--format=%B", f"HEAD~{k}")
        assert "Sopflow-Ticket: " in body and "Sopflow-Action: " in body
    assert len(set(changed)) == 10
    assert sorted(meta["tail_tickets"]) == sorted(Path(p).name.split("-")[0] + "-" + Path(p).name.split("-")[1]
                                                  .removesuffix(".md") for p in changed)
    assert (out / ".git" / gen.META_FILE).is_file()


def test_tickets_are_valid(repo: tuple[Path, dict[str, Any]]) -> None:
    out, meta = repo
    config = yaml.load((out / "sopflow.yaml").read_text(encoding="utf-8"), Loader=Loader)
    people = config["people"]
    assert {"fan", "alice", "bob", "carol", "dave", "lilei"} <= set(people)
    workflows = {p.stem: gen.parse_workflow(p.stem, p.read_bytes()) for p in (out / "workflows").glob("*.yaml")}
    assert set(workflows) == {"issue_track", "support"}
    paths = sorted((out / "tickets").glob("*.md"))
    assert len(paths) == 50
    tickets = {}
    for path in paths:
        data, keys, body = split(path)
        assert re.fullmatch(r"[A-Z]+-\d+(-[a-z0-9-]+)?\.md", path.name)
        assert path.name.startswith(data["id"] + "-") or path.name == data["id"] + ".md"
        tickets[data["id"]] = (data, keys, body)
    titles = " ".join(d["title"] for d, _k, _b in tickets.values())
    assert re.search(r"[\u4e00-\u9fff]", titles) and re.search(r"[A-Za-z]{4} [a-z]+", titles)
    wiki = {p.relative_to(out).as_posix() for p in (out / "wiki").rglob("*.md")}
    for tid, (data, keys, body) in tickets.items():
        wf = workflows[data["type"]]
        fields = [k for k in keys if k not in RESERVED and k != "history"]
        assert [k for k in keys if k in RESERVED] == [k for k in RESERVED if k in data]
        assert keys[-1] == "history" and keys[: len(keys) - len(fields) - 1] == [k for k in RESERVED if k in data]
        assert data["state"] in wf.states and data["priority"] in ("P1", "P2", "P3", "P4")
        assert data["assignee"] in people and data["reporter"] in people
        for role, person in data["roles"].items():
            assert role in wf.roles and person in people
        for name in fields:
            check_field(wf.fields[name], data[name], people, tickets)
        for f, spec in wf.fields.items():
            if spec.get("required"):
                assert f in data
        links = data.get("links", {})
        if "parent" in links:
            assert links["parent"] in tickets
        for other in links.get("relates", []):
            assert other in tickets
        for page in links.get("wiki", []):
            assert page in wiki
        history = data["history"]
        assert 1 <= len(history) <= 10
        assert history[0]["action"] == "create" and history[0]["to"] == wf.initial
        assert history[-1].get("to") == data["state"]
        assert history[0]["at"] == data["created"] and history[-1]["at"] == data["updated"]
        assert data["created"].utcoffset() == dt.timedelta(hours=8)
        state = wf.initial
        for prev, entry in itertools.pairwise(history):
            assert entry["at"] >= prev["at"]
            assert entry["by"] in people
            if "to" not in entry:
                assert entry["action"] in ("tick", "comment")
                assert entry.get("items") if entry["action"] == "tick" else entry.get("note")
                continue
            (tr,) = [t for t in wf.transitions if t.trigger == entry["action"]]
            assert entry["from"] == state and state in tr.sources and entry["to"] == tr.dest
            assert may_fire(tr, entry["by"], data, people), (tid, entry)
            if tr.require.get("note"):
                assert entry.get("note")
            state = tr.dest
        moved = [e["assignee"] for e in history if "assignee" in e]
        if moved:
            assert moved[-1] == data["assignee"]
        # checklist sections: one per entry into a checklist state (the initial one included)
        sections = re.findall(r"^## Checklist: (.+)$", body, re.M)
        entered = [wf.initial] + [e["to"] for e in history[1:] if "to" in e and e["to"] != e["from"]]
        assert sections == [s for s in entered if s in wf.checklist]
        assert len(body.splitlines()) >= 20
    assert any("- [x] " in b for _d, _k, b in tickets.values())
    assert any("- [ ] " in b for _d, _k, b in tickets.values())
    assert any("parent" in d.get("links", {}) or "relates" in d.get("links", {}) for d, _k, _b in tickets.values())
    sample = meta["sample"]
    assert sample and sample["id"] in tickets and sample["as"] in people


def may_fire(tr: Any, who: str, ticket: dict[str, Any], people: dict[str, Any]) -> bool:
    if not tr.by:
        return True
    for role in tr.by:
        if role in ("assignee", "reporter"):
            return True
        if ticket["roles"].get(role) == who or role in (people[who].get("roles") or []):
            return True
    return False


def check_field(spec: dict[str, Any], value: Any, people: dict[str, Any], tickets: dict[str, Any]) -> None:
    ftype = spec.get("type", "string")
    if ftype == "choice":
        assert value in spec["choices"]
    elif ftype == "multi":
        assert isinstance(value, list) and set(value) <= set(spec["choices"])
    elif ftype == "int":
        assert isinstance(value, int) and spec.get("min", value) <= value <= spec.get("max", value)
    elif ftype == "date":
        assert isinstance(value, dt.date) and not isinstance(value, dt.datetime)
    elif ftype == "bool":
        assert isinstance(value, bool)
    elif ftype == "person":
        assert value in people
    elif ftype == "link":
        assert value in tickets or str(value).startswith("https://")
    elif ftype == "string":
        assert isinstance(value, str) and "\n" not in value
        assert len(value) <= spec.get("max_length", len(value))
    else:
        assert isinstance(value, str)


def test_wiki_and_sops(repo: tuple[Path, dict[str, Any]]) -> None:
    out, meta = repo
    pages = sorted((out / "wiki").rglob("*.md"))
    assert len(pages) == meta["wiki"] == 11  # 10 generated + the fixture's page
    for page in pages:
        data, _keys, body = split(page)
        assert data["title"] and isinstance(data["tags"], list)
        assert re.fullmatch(r"wiki/[a-z]+/[a-z0-9-]+\.md", page.relative_to(out).as_posix())
        assert re.search(r"[\u4e00-\u9fff]", body)
    assert (out / "sops" / "support-triage.md").read_bytes() == (FIXTURE / "sops" / "support-triage.md").read_bytes()


def test_deterministic(repo: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    out, _meta = repo
    again = tmp_path / "again"
    gen.generate(again, 50, 200, 10, 7, gen.load_source(FIXTURE))
    assert git(again, "rev-parse", "HEAD") == git(out, "rev-parse", "HEAD")
    other = tmp_path / "other"
    gen.generate(other, 50, 200, 10, 8, gen.load_source(FIXTURE))
    assert git(other, "rev-parse", "HEAD") != git(out, "rev-parse", "HEAD")


def test_examples_tree_is_merged(tmp_path: Path) -> None:
    """A source tree with workflows/ and examples/<name>/ merges every example into one repository."""
    src = tmp_path / "src"
    shutil.copytree(FIXTURE / "workflows", src / "workflows")
    for name, wtype, keep_people, sops in (
        ("issue-track", "issue_track", ["fan", "alice"], ["issue-handling.md"]),
        ("support", "support", ["alice", "bob", "carol", "dave"], ["support-intake.md", "support-triage.md"]),
    ):
        ex = src / "examples" / name
        (ex / "sops").mkdir(parents=True)
        (ex / "example.yaml").write_text(f"title: {name}\ndescription: test\ntypes: [{wtype}]\n", encoding="utf-8")
        full = yaml.load((FIXTURE / "sopflow.yaml").read_text(encoding="utf-8"), Loader=Loader)
        people = {k: full["people"][k] for k in keep_people}
        if name == "support":
            people["alice"] = {"name": "Alice", "email": "alice@example.com", "roles": ["一线客服", "服务经理"]}
        cfg = {"project": name, "people": people}
        (ex / "sopflow.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
        for sop in sops:
            shutil.copy(FIXTURE / "sops" / sop, ex / "sops" / sop)
    source = gen.load_source(src)
    assert source.examples == ["issue-track", "support"]
    assert sorted(source.workflows) == ["issue_track", "support"]
    assert set(source.config["people"]) == {"fan", "alice", "bob", "carol", "dave"}
    assert source.config["people"]["alice"]["roles"] == ["维护处理人", "改进提取SE", "一线客服", "服务经理"]
    out = tmp_path / "repo"
    meta = gen.generate(out, 30, 40, 3, 1, source)
    assert meta["commits"] == 40
    # the review SOP is missing from the examples: the generator writes a stand-in so checklists resolve
    assert (out / "sops" / "support-review.md").is_file()
    assert (out / "sops" / "issue-handling.md").is_file()
    with pytest.raises(gen.GenError):
        gen.load_source(src, ["nope"])


def test_cli_refuses_non_empty_dir(tmp_path: Path) -> None:
    (tmp_path / "x").write_text("x", encoding="utf-8")
    script = str(ROOT / "bench" / "gen.py")
    res = subprocess.run([sys.executable, script, str(tmp_path), "--tickets", "5", "--commits", "30",
                          "--workflows", str(FIXTURE)], capture_output=True, text=True)
    assert res.returncode == 1 and "not empty" in res.stderr


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=30))
def test_scalar_round_trip(text: str) -> None:
    doc = f"a: {gen.q(text)}\nb: [{gen.q(text)}, x]\nc: {{k: {gen.q(text)}, z: 1}}\n"
    data = yaml.load(doc, Loader=yaml.SafeLoader)
    assert data == {"a": text, "b": [text, "x"], "c": {"k": text, "z": 1}}
