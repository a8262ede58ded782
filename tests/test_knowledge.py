"""Knowledge: wiki new/list/show/search/review, do --wiki-new, require wiki linked, related knowledge in show,
SOP ownership and review, and the page caches."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import ISSUE_TRACK, Repo
from fixtures_wiki import EXPECTED_FIRST, TARGETS, make_pages

CABLE = "wiki/faq/cable.md"
OLD_NS = 1_600_000_000 * 10**9  # 2020-09-13: pages this old are never "racy"


def new_iss(repo: Repo, title: str = "x", *args: str, as_: str = "alice") -> str:
    res = repo.run("new", "issue_track", "--title", title, *args, as_=as_)
    assert res.code == 0, res.err
    return res.out.strip()


def head(repo: Repo) -> str:
    return repo.git("rev-parse", "HEAD").strip()


def files_of_head(repo: Repo) -> list[str]:
    return sorted(repo.git("show", "--name-only", "--format=", "HEAD").split())


def show_json(repo: Repo, tid: str) -> dict:  # type: ignore[type-arg]
    res = repo.run("show", tid, "--format", "json")
    assert res.code == 0, res.err
    data: dict = json.loads(res.out)  # type: ignore[type-arg]
    return data


def age(root: Path, folder: str = "wiki") -> None:
    """Give every page an old mtime, as a page committed long ago has (so the caches may be written)."""
    for p in (root / folder).rglob("*.md"):
        os.utime(p, ns=(OLD_NS, OLD_NS))


# ------------------------------------------------------------------ wiki new


def test_wiki_new_creates_a_page_and_links_tickets_both_ways_in_one_commit(repo: Repo) -> None:
    tid = new_iss(repo, "数据库连接超时")
    before = head(repo)
    res = repo.run("wiki", "new", "wiki/faq/db-timeout", "--title", "数据库连接超时排查", "--tag", "数据库,网络",
                   "--tag", "MySQL", "--ticket", tid, as_="fan")
    assert res.code == 0, res.err
    assert res.out.strip() == "wiki/faq/db-timeout.md"
    page = repo.read("wiki/faq/db-timeout.md")
    assert page.startswith("---\ntitle: 数据库连接超时排查\ntags: [数据库, 网络, MySQL]\ntickets: [ISS-1]\n"
                           "owner: fan\nreviewed: 2026-11-21\nreview_every: 90d\n---\n# 数据库连接超时排查\n")
    for heading in ("## 故障现象", "## 排查步骤", "## 修复方案", "## 预防措施"):
        assert heading in page
    data = show_json(repo, tid)
    assert data["links"] == {"wiki": ["wiki/faq/db-timeout.md"]}
    assert data["history"][-1] == {"at": "2026-11-21T10:00:00+08:00", "by": "fan", "action": "link",
                                   "wiki": ["wiki/faq/db-timeout.md"]}
    assert repo.git("rev-list", "--count", f"{before}..HEAD").strip() == "1"
    assert files_of_head(repo) == [data["path"], "wiki/faq/db-timeout.md"]
    msg = repo.git("log", "-1", "--format=%B")
    assert msg.startswith("ISS-1 wiki new: wiki/faq/db-timeout.md\n")
    assert "Sopflow-Ticket: ISS-1" in msg and "Sopflow-Action: wiki-new" in msg
    assert repo.run("check").code == 0


def test_wiki_new_page_only_and_several_tickets(repo: Repo) -> None:
    res = repo.run("wiki", "new", "wiki/howto/vpn.md", "--title", "VPN 断网", "--review-every", "26w", as_="alice")
    assert res.code == 0, res.err
    msg = repo.git("log", "-1", "--format=%B")
    assert msg.startswith("wiki new: wiki/howto/vpn.md\n") and "Sopflow-Ticket" not in msg
    assert "Sopflow-Action: wiki-new" in msg
    assert "owner: alice\nreviewed: 2026-11-21\nreview_every: 26w\n" in repo.read("wiki/howto/vpn.md")
    a, b = new_iss(repo, "a"), new_iss(repo, "b")
    assert repo.run("wiki", "new", "wiki/x.md", "--title", "X", "--ticket", a, "--ticket", b, as_="alice").code == 0
    msg = repo.git("log", "-1", "--format=%B")
    assert msg.startswith("wiki new: wiki/x.md (ISS-1, ISS-2)\n")
    assert "Sopflow-Ticket: ISS-1" in msg and "Sopflow-Ticket: ISS-2" in msg
    assert len(files_of_head(repo)) == 3


def test_wiki_new_uses_the_repository_template_in_the_sandbox(repo: Repo) -> None:
    repo.write("templates/wiki-page.md", "# {{ title }} ({{ owner }}, {{ today }})\n{{ tags | join('/') }}\n")
    repo.commit_all("template")
    assert repo.run("wiki", "new", "wiki/t.md", "--title", "T", "--tag", "a", "--tag", "b", as_="fan").code == 0
    assert repo.read("wiki/t.md").endswith("---\n# T (fan, 2026-11-21)\na/b\n")
    repo.write("templates/wiki-page.md", "{{ ''.__class__.__mro__ }}\n")
    repo.commit_all("evil template")
    snap = repo.snapshot()
    res = repo.run("wiki", "new", "wiki/u.md", "--title", "U", as_="fan")
    assert res.code == 1 and "templates/wiki-page.md" in res.err
    assert repo.snapshot() == snap


@pytest.mark.parametrize(("args", "message"), [
    (("wiki/faq/cable.md", "--title", "T"), "wiki/faq/cable.md: already exists"),
    (("wiki/faq/cable", "--title", "T"), "wiki/faq/cable.md: already exists"),
    (("../outside.md", "--title", "T"), "outside the wiki/ folder"),
    (("tickets/x.md", "--title", "T"), "outside the wiki/ folder"),
    (("wiki/../sopflow.yaml", "--title", "T"), "outside the wiki/ folder"),
    (("/tmp/x.md", "--title", "T"), "must be relative"),
    (("wiki/a.md", "--title", " "), "title must be one non-empty line"),
    (("wiki/a.md", "--title", "T", "--ticket", "ISS-99"), "ISS-99: no such ticket"),
    (("wiki/a.md", "--title", "T", "--ticket", "../x"), "malformed ticket ID"),
    (("wiki/a.md", "--title", "T", "--review-every", "soon"), "not a duration"),
    (("wiki/a.md", "--title", "T", "--owner", "zed"), "unknown person 'zed'"),
    (("wiki/faq/cable.md/x.md", "--title", "T"), "wiki/faq/cable.md is a file"),
])
def test_wiki_new_refusals_write_nothing(repo: Repo, args: tuple[str, ...], message: str) -> None:
    snap, before = repo.snapshot(), head(repo)
    res = repo.run("wiki", "new", *args, as_="fan")
    assert res.code == 1 and message in res.err, res.err
    assert len(res.err.strip().splitlines()) == 1
    assert repo.snapshot() == snap and head(repo) == before


# ------------------------------------------------------------------ search


@pytest.fixture
def big_wiki(repo: Repo) -> Repo:
    """The 240-page Chinese fixture (hand-written targets among generated pages sharing their words)."""
    for page in make_pages():
        repo.write(page.key, page.markdown())
    age(repo.root)  # as if committed long ago: the first search writes the caches, the others read them
    return repo


def test_chinese_search_through_the_cli_returns_the_expected_pages_first(big_wiki: Repo) -> None:
    assert len(list((big_wiki.root / "wiki").rglob("*.md"))) >= 200
    for query, expected in EXPECTED_FIRST:
        res = big_wiki.run("wiki", "search", *query.split(), "--format", "json")
        assert res.code == 0, res.err
        hits = json.loads(res.out)
        assert hits and hits[0]["path"] == expected, (query, [h["path"] for h in hits[:3]])
        assert all(set(h) == {"path", "title", "score", "line"} for h in hits)
        assert len(hits) <= 20
    target = next(t for t in TARGETS if t.key == "wiki/faq/db-timeout.md")
    hits = json.loads(big_wiki.run("wiki", "search", "数据库连接超时", "--format", "json", "--limit", "3").out)
    assert len(hits) == 3
    assert hits[0]["title"] == target.title and "数据库连接超时" in hits[0]["line"]


def test_search_table_shows_the_matching_line_and_runs_as_a_subprocess(big_wiki: Repo) -> None:
    res = big_wiki.sub("wiki", "search", "登录报错403", "-n", "2")
    assert res.code == 0, res.err
    lines = res.out.splitlines()
    assert lines[0].startswith("wiki/faq/login-403.md  登录报错403排查  (")
    assert lines[1].lstrip()[0].isdigit() and "403" in lines[1]
    assert big_wiki.run("wiki", "search", "鸭嘴兽", "zebra").out.strip() == "(no pages match)"
    assert big_wiki.run("wiki", "search", "  ").code == 1


def test_list_text_finds_chinese_words_inside_chinese_text(repo: Repo) -> None:
    a = new_iss(repo, "华东局点订单服务异常", "--body", "日志显示数据库连接超时，重启后恢复")
    new_iss(repo, "华南局点光模块告警")
    res = repo.run("list", "--text", "连接超时", "--format", "json")
    assert [d["id"] for d in json.loads(res.out)] == [a]
    assert [d["id"] for d in json.loads(repo.run("list", "--text", "局点", "--format", "json").out)] == [a, "ISS-2"]


# ------------------------------------------------------------------ the page caches


def test_caches_are_used_refreshed_and_never_trusted_when_corrupt(big_wiki: Repo) -> None:
    from sopflow.wikistore import PageStore

    root = big_wiki.root
    age(root)
    cdir = root / ".git" / "sopflow"

    def store() -> PageStore:
        return PageStore(root, "wiki", cache_name="wiki")

    s = store()
    first = [h.key for h in s.index().search("数据库连接", 5)]
    assert s.rebuilt == ["pages", "index"]
    n = len(list((root / "wiki").rglob("*.md")))
    assert len(s.pages()) == n >= 240
    assert (cdir / "wiki-index.json").is_file() and (cdir / "wiki-pages.json").is_file()
    s = store()
    assert [h.key for h in s.index().search("数据库连接", 5)] == first and s.pages()
    assert s.rebuilt == []
    # a changed page: pages re-read (only that one parsed), index rebuilt
    page = root / "wiki/faq/db-timeout.md"
    page.write_text(page.read_text("utf-8").replace("title: 数据库连接超时", "title: 数据库连接超时（旧）"), "utf-8")
    os.utime(page, ns=(OLD_NS + 10**9, OLD_NS + 10**9))
    s = store()
    assert s.by_path()["wiki/faq/db-timeout.md"].title == "数据库连接超时（旧）"
    assert s.index().search("数据库连接超时", 1)[0].title == "数据库连接超时（旧）"
    assert sorted(s.rebuilt) == ["index", "pages"]
    # corrupt caches: truncated, garbage, a valid header over a changed payload, wrong format
    for damage in (lambda b: b[: len(b) // 2], lambda b: b"\x00garbage", lambda b: b.replace(b"vpn", b"xyz"),
                   lambda b: b.replace(b"sopflow-wiki-", b"sopflow-wiki-0")):
        for name in ("wiki-index.json", "wiki-pages.json"):
            f = cdir / name
            f.write_bytes(damage(f.read_bytes()))
        s = store()
        assert s.index().search("vpn", 1)[0].key == "wiki/network/vpn.md"
        assert len(s.pages()) == n and sorted(s.rebuilt) == ["index", "pages"]
        assert store().rebuilt == []  # rewritten whole
    # a page written just now is "racy": it is read again next time rather than trusted
    fresh = root / "wiki/new.md"
    fresh.write_text("---\ntitle: 新页面\n---\n刚写的\n", "utf-8")
    s = store()
    assert s.index().search("刚写", 1)[0].key == "wiki/new.md"
    again = store()
    again.index()
    assert "index" in again.rebuilt


def test_search_without_a_git_directory_still_works(tmp_path: Path) -> None:
    from sopflow.wikistore import PageStore

    (tmp_path / "wiki").mkdir()
    (tmp_path / "wiki/a.md").write_text("---\ntitle: 甲\ntags: [网络]\n---\n交换机端口闪断\n", "utf-8")
    (tmp_path / "wiki/bad.md").write_text("no front matter 端口\n", "utf-8")
    s = PageStore(tmp_path, "wiki", cache_name="wiki")
    assert sorted(h.key for h in s.index().search("端口", 5)) == ["wiki/a.md", "wiki/bad.md"]
    assert s.by_path()["wiki/bad.md"].error
    assert not (tmp_path / ".git").exists()


# ------------------------------------------------------------------ require wiki linked, do --wiki-new

CLOSE_WITH_WIKI = ISSUE_TRACK + """\
  - trigger: 直接关闭
    source: 维护人员处理
    dest: 关闭
    require: {wiki: linked}
"""


@pytest.fixture
def wiki_required(repo: Repo) -> Repo:
    repo.write("workflows/issue_track.yaml", CLOSE_WITH_WIKI)
    repo.commit_all("close needs a wiki page")
    return repo


def test_require_wiki_linked_refuses_then_do_wiki_new_passes_in_one_commit(wiki_required: Repo) -> None:
    repo = wiki_required
    tid = new_iss(repo, "光模块收光异常", "--label", "硬件")
    snap, before = repo.snapshot(), head(repo)
    res = repo.run("do", tid, "直接关闭", as_="alice")
    assert res.code == 1 and "a wiki page must be linked" in res.err and tid in res.err
    assert repo.snapshot() == snap and head(repo) == before
    shown = repo.run("show", tid).out
    assert f"none linked yet: sopflow link {tid} --wiki PATH" in shown
    # a refused transition with --wiki-new creates no page either
    res = repo.run("do", tid, "问题关闭", "--wiki-new", "wiki/faq/optic.md", as_="alice")
    assert res.code == 1 and "cannot be fired from state" in res.err
    assert repo.snapshot() == snap and head(repo) == before
    res = repo.run("do", tid, "直接关闭", "--wiki-new", CABLE, as_="alice")
    assert res.code == 1 and "already exists" in res.err
    assert repo.snapshot() == snap
    res = repo.run("do", tid, "直接关闭", "--wiki-new", "wiki/faq/optic", "--note", "已更换光模块", as_="alice")
    assert res.code == 0, res.err
    assert "created wiki/faq/optic.md" in res.err
    assert repo.git("rev-list", "--count", f"{before}..HEAD").strip() == "1"
    assert len(files_of_head(repo)) == 2 and "wiki/faq/optic.md" in files_of_head(repo)
    msg = repo.git("log", "-1", "--format=%B")
    assert msg.startswith(f"{tid} 直接关闭: 维护人员处理 → 关闭\n")
    assert "wiki new: wiki/faq/optic.md" in msg and f"Sopflow-Ticket: {tid}" in msg
    data = show_json(repo, tid)
    assert data["state"] == "关闭" and data["links"] == {"wiki": ["wiki/faq/optic.md"]}
    assert [e["action"] for e in data["history"]] == ["create", "link", "直接关闭"]
    page = repo.read("wiki/faq/optic.md")
    assert "title: 光模块收光异常\ntags: [硬件]\ntickets: [ISS-1]\nowner: alice\n" in page
    assert repo.run("check").code == 0


def test_require_wiki_linked_passes_when_linked_either_way(wiki_required: Repo) -> None:
    repo = wiki_required
    a, b = new_iss(repo, "a"), new_iss(repo, "b")
    assert repo.run("link", a, "--wiki", CABLE, as_="alice").code == 0
    assert repo.run("do", a, "直接关闭", as_="alice").code == 0
    # the page lists the ticket (written by hand): that counts too
    repo.write(CABLE, repo.read(CABLE).replace("tickets: [ISS-1]", "tickets: [ISS-1, ISS-2]"))
    repo.commit_all("page lists ISS-2")
    assert repo.run("do", b, "直接关闭", as_="alice").code == 0


# ------------------------------------------------------------------ show: SOP, linked and related knowledge


def test_show_lists_linked_pages_both_ways_then_related_ones_with_reasons(repo: Repo) -> None:
    repo.write("wiki/faq/optic.md", "---\ntitle: 光模块收光异常处理\ntags: [光模块]\ntickets: [ISS-1]\n---\n"
               "光模块收光功率过低时，先清洁端面。\n")
    repo.write("wiki/faq/db.md", "---\ntitle: 数据库连接超时\ntags: [数据库]\nfields: {customer_type: 金融}\n---\n"
               "连接池打满。\n")
    repo.write("wiki/faq/power.md", "---\ntitle: 电源告警\ntags: [电源]\n---\n检查电源模块。\n")
    repo.commit_all("pages")
    tid = new_iss(repo, "【20261121】华东局点设备光模块收光异常", "--label", "线缆", "--set", "customer_type=金融")
    assert repo.run("link", tid, "--wiki", CABLE, as_="alice").code == 0
    out = repo.run("show", tid).out
    knowledge = out.split("\nKnowledge\n")[1].split("\n\n")[0].splitlines()
    assert knowledge == [f"  {CABLE} — 线缆类问题排查 (linked both ways)",
                         "  wiki/faq/optic.md — 光模块收光异常处理 (the page lists this ticket)"]
    # a link written on the ticket only (by hand) shows as one-way
    t = repo.root / show_json(repo, tid)["path"]
    t.write_text(t.read_text("utf-8").replace("links: {wiki: [wiki/faq/cable.md]}",
                                              "links: {wiki: [wiki/faq/cable.md, wiki/faq/gone.md]}"), "utf-8")
    out = repo.run("show", tid).out
    assert "  wiki/faq/gone.md — (missing page) (linked from the ticket)" in out
    related = out.split("\nRelated knowledge\n")[1].split("\n\n")[0].splitlines()
    assert related == ["  wiki/faq/db.md — 数据库连接超时 (field customer_type=金融)"]
    sop = out.split("\nSOP\n")[1].split("\n\n")[0].splitlines()
    assert sop == ["  sops/issue-handling.md — 网上问题处理 SOP", "  owner fan (范慧阳) · no review schedule"]
    assert out.index("Checklist: 维护人员处理") < out.index("\nSOP\n") < out.index("\nKnowledge\n") < \
        out.index("\nHistory\n")


def test_related_knowledge_by_tag_and_text(repo: Repo) -> None:
    repo.write("wiki/faq/optic.md", "---\ntitle: 光模块收光异常处理\ntags: [光模块]\n---\n"
               "光模块收光功率过低时，先清洁端面。\n")
    repo.write("wiki/faq/power.md", "---\ntitle: 电源告警\ntags: [电源]\n---\n检查电源模块。\n")
    repo.commit_all("pages")
    tid = new_iss(repo, "华东局点光模块收光异常", "--label", "硬件")
    out = repo.run("show", tid).out
    related = out.split("\nRelated knowledge\n")[1].split("\n\n")[0].splitlines()
    assert related[0].startswith("  wiki/faq/optic.md — 光模块收光异常处理 (text: ")
    assert "收光异常" in related[0] or "光模块收光异常" in related[0]
    assert f"  {CABLE} — 线缆类问题排查 (tag 硬件)" in related
    assert not any("power.md" in line for line in related)
    # a field value of the ticket found among a page's tags
    repo.write("wiki/faq/bank.md", "---\ntitle: 金融客户注意事项\ntags: [金融]\n---\n报备后再操作。\n")
    repo.commit_all("bank page")
    tid = new_iss(repo, "y", "--set", "customer_type=金融")
    out = repo.run("show", tid).out
    assert "  wiki/faq/bank.md — 金融客户注意事项 (field customer_type=金融)" in out


def test_related_knowledge_in_a_large_wiki_preselects_candidates(big_wiki: Repo,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import sopflow.knowledge

    monkeypatch.setattr(sopflow.knowledge, "SMALL_WIKI", 20)
    tid = new_iss(big_wiki, "订单服务数据库连接超时", "--body", "高峰期日志出现 connection timeout，连接池打满。")
    out = big_wiki.run("show", tid).out
    related = out.split("\nRelated knowledge\n")[1].split("\n\n")[0].splitlines()
    assert len(related) == 5
    assert related[0].startswith("  wiki/faq/db-timeout.md — 数据库连接超时 (text: ")


def test_cache_dir_follows_a_worktree_git_file(tmp_path: Path) -> None:
    from sopflow.wikistore import cache_dir

    (tmp_path / "gitdir").mkdir()
    (tmp_path / "wt").mkdir()
    (tmp_path / "wt/.git").write_text("gitdir: ../gitdir\n", "utf-8")
    assert cache_dir(tmp_path / "wt") == tmp_path / "wt/../gitdir/sopflow"
    (tmp_path / "wt/.git").write_text("gitdir: /nonexistent/x\n", "utf-8")
    assert cache_dir(tmp_path / "wt") is None


# ------------------------------------------------------------------ review


def test_stale_pages_with_sopflow_now_and_wiki_review(repo: Repo) -> None:
    repo.write("wiki/a.md", "---\ntitle: A\nowner: alice\nreviewed: 2026-12-01\nreview_every: 30d\n---\nA\n")
    repo.write("wiki/b.md", "---\ntitle: B\nowner: alice\nreview_every: 30d\n---\nB\n")
    repo.write("wiki/c.md", "---\ntitle: C\nowner: bob\n---\nC\n")
    repo.commit_all("pages")
    rows = json.loads(repo.run("wiki", "list", "--format", "json").out)
    assert [(r["path"], r["status"], r["due"]) for r in rows] == [
        ("wiki/a.md", "ok", "2026-12-31"), ("wiki/b.md", "never-reviewed", None), ("wiki/c.md", "unscheduled", None),
        (CABLE, "ok", "2026-12-30")]
    assert [r["path"] for r in json.loads(repo.run("wiki", "list", "--stale", "--format", "json").out)] == ["wiki/b.md"]
    later = "2027-01-05T09:00:00+08:00"
    stale = json.loads(repo.run("wiki", "list", "--stale", "--format", "json", now=later).out)
    assert [(r["owner"], r["path"], r["status"]) for r in stale] == [
        ("alice", "wiki/b.md", "never-reviewed"), ("alice", "wiki/a.md", "overdue"), ("fan", CABLE, "overdue")]
    mine = json.loads(repo.run("wiki", "list", "--stale", "--owner", "fan", "--format", "json", now=later).out)
    assert [r["path"] for r in mine] == [CABLE]
    check = json.loads(repo.run("check", "--format", "json", now=later).out)
    assert {(p["path"], p["code"]) for p in check["problems"]} >= {(CABLE, "review-overdue"), ("wiki/a.md",
                                                                                                "review-overdue")}
    table = repo.run("wiki", "list", "--stale", now=later).out
    assert "overdue" in table and "wiki/faq/cable.md" in table

    before_text = repo.read(CABLE)
    res = repo.run("wiki", "review", CABLE, as_="fan", now=later)
    assert res.code == 0, res.err
    assert res.out.strip() == f"wiki review: {CABLE}"
    after_text = repo.read(CABLE)
    assert after_text == before_text.replace("reviewed: 2026-10-01\n", "reviewed: 2027-01-05\nreviewed_by: fan\n")
    msg = repo.git("log", "-1", "--format=%B")
    assert msg.startswith(f"wiki review: {CABLE}\n") and "Sopflow-Action: wiki-review" in msg
    assert files_of_head(repo) == [CABLE]
    mine = json.loads(repo.run("wiki", "list", "--stale", "--owner", "fan", "--format", "json", now=later).out)
    assert mine == []
    snap = repo.snapshot()
    res = repo.run("wiki", "review", "faq/cable", as_="fan", now=later)
    assert res.code == 1 and "already reviewed today by fan" in res.err and repo.snapshot() == snap
    assert repo.run("wiki", "review", "faq/cable", "--every", "180d", as_="alice", now=later).code == 0
    assert "reviewed: 2027-01-05\nreviewed_by: alice\nreview_every: 180d\n" in repo.read(CABLE)
    for bad in ("../sopflow.yaml", "wiki/../sopflow.yaml", "wiki/nope.md", "/etc/passwd"):
        res = repo.run("wiki", "review", bad, as_="fan")
        assert res.code == 1, bad
        assert repo.snapshot() != {} and len(res.err.splitlines()) == 1


def test_wiki_show_and_list_filters(repo: Repo) -> None:
    tid = new_iss(repo, "a")
    assert repo.run("link", tid, "--wiki", CABLE, as_="alice").code == 0
    out = repo.run("wiki", "show", "faq/cable").out
    assert out.startswith("线缆类问题排查\n")
    assert "\n  review  reviewed 2026-10-01, next review 2026-12-30\n" in out
    assert f"  {tid}  维护人员处理" in out and "故障现象 / 排查步骤" in out
    data = json.loads(repo.run("wiki", "show", CABLE, "--format", "json").out)
    assert data["path"] == CABLE and data["tickets"] == [tid] and data["review"] == {"due": "2026-12-30",
                                                                                      "status": "ok"}
    assert repo.run("wiki", "show", "../sopflow.yaml").code == 1
    res = repo.run("wiki", "show", "faq/nope")
    assert res.code == 1 and "wiki/faq/nope.md: no such wiki page" in res.err
    assert [r["path"] for r in json.loads(repo.run("wiki", "list", "--tag", "线缆", "--format", "json").out)] == [CABLE]
    assert json.loads(repo.run("wiki", "list", "--tag", "软件", "--format", "json").out) == []
    csv_out = repo.run("wiki", "list", "--format", "csv").out.splitlines()
    assert csv_out[0].startswith("path,title,tags") and csv_out[1].startswith(CABLE)


# ------------------------------------------------------------------ SOPs


def test_sop_list_show_review_and_the_show_section(repo: Repo) -> None:
    rows = json.loads(repo.run("sop", "list", "--format", "json").out)
    assert rows == [{"name": "issue-handling", "path": "sops/issue-handling.md", "title": "网上问题处理 SOP",
                     "owner": "fan", "reviewed": None, "reviewed_by": None, "review_every": None, "due": None,
                     "status": "unscheduled", "applies_to": {"type": "issue_track", "state": "维护人员处理"},
                     "used_by": [{"type": "issue_track", "state": "维护人员处理"}]}]
    data = json.loads(repo.run("sop", "show", "issue-handling", "--format", "json").out)
    assert data["items"] == ["记录时间、局点、设备型号", "判断是否为典型问题，是则在 Buglist 中登记"]
    text = repo.run("sop", "show", "sops/issue-handling.md").out
    assert "\n  used by     issue_track: 维护人员处理\n" in text and "  2. [ ] 判断是否为典型问题" in text
    res = repo.run("sop", "review", "issue-handling", "--every", "180d", as_="fan")
    assert res.code == 0 and res.out.strip() == "sop review: sops/issue-handling.md"
    assert "Sopflow-Action: sop-review" in repo.git("log", "-1", "--format=%B")
    assert "owner: fan\nreviewed: 2026-11-21\nreviewed_by: fan\nreview_every: 180d\n---\n" in repo.read(
        "sops/issue-handling.md")
    tid = new_iss(repo, "x")
    sop = repo.run("show", tid, now="2027-06-01T09:00:00+08:00").out.split("\nSOP\n")[1].split("\n\n")[0]
    assert sop.splitlines() == ["  sops/issue-handling.md — 网上问题处理 SOP  [review overdue]",
                                "  owner fan (范慧阳) · review overdue since 2027-05-20 (reviewed 2026-11-21, "
                                "every 180d)"]
    assert [r["name"] for r in json.loads(repo.run("sop", "list", "--stale", "--format", "json",
                                                   now="2027-06-01T09:00:00+08:00").out)] == ["issue-handling"]
    assert repo.run("sop", "show", "../sopflow").code == 1
    assert repo.run("sop", "show", "nope").code == 1


# ------------------------------------------------------------------ help


def test_every_knowledge_command_has_help_with_an_example(repo: Repo) -> None:
    for cmd in (("wiki", "new"), ("wiki", "list"), ("wiki", "show"), ("wiki", "search"), ("wiki", "review"),
                ("sop", "list"), ("sop", "show"), ("sop", "review")):
        res = repo.run(*cmd, "--help")
        assert res.code == 0 and "Example: sopflow " + cmd[0] in res.out, cmd


def test_top_level_help_does_not_import_the_knowledge_modules(repo: Repo) -> None:
    import subprocess
    import sys

    code = ("import sys\nfrom sopflow.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "bad = [m for m in ('sopflow.knowledge', 'sopflow.wikistore', 'sopflow.core.search', 'jinja2') "
            "if m in sys.modules]\nassert not bad, bad\n")
    env = {**repo.env, "PYTHONPATH": str(Path(__file__).resolve().parent.parent / "src")}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


# ------------------------------------------------------------------ the cheap body split


def test_body_of_agrees_with_the_front_matter_parser() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from sopflow.core.frontmatter import Document, FrontMatterError
    from sopflow.wikistore import body_of

    line = st.sampled_from(["---", "--- ", "...", "title: 甲", "tags: [a]", "正文", "# 标题", "", "----", " ---"])
    nl = st.sampled_from(["\n", "\r\n"])

    @settings(max_examples=300, deadline=None)
    @given(st.booleans(), st.lists(st.tuples(line, nl), max_size=8))
    def check(bom: bool, parts: list[tuple[str, str]]) -> None:
        text = ("\ufeff" if bom else "") + "".join(a + b for a, b in parts)
        try:
            doc = Document.parse(text)
        except FrontMatterError:
            return
        assert body_of(text) == doc.body

    check()
