"""``sopflow site build``: pages, escaping, relative links, commits in the history, incremental rebuilds."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from conftest import Repo

HOSTILE = "<script>alert('x')</script> & \"标题\" <img src=x onerror=alert(1)>"
SLA = """
sla:
  priorities:
    P1: {respond: 30m, resolve: 2h}
    P2: {respond: 1h, resolve: 4h}
"""
T0 = "2026-11-21T10:00:00+08:00"


def ok(r: object) -> None:
    code, out, err = r.code, r.out, r.err  # type: ignore[attr-defined]
    assert code == 0, f"exit {code}\nstdout:\n{out}\nstderr:\n{err}"


def make_site_repo(root: Path, home: Path) -> Repo:
    """Two tickets moved through the workflow by CLI actions, each a commit; an SLA on the workflow."""
    from conftest import CONFIG, ISSUE_TRACK, SOP, git_env

    root.mkdir(parents=True)
    home.mkdir(parents=True, exist_ok=True)
    repo = Repo(root, git_env(home))
    repo.git("init", "-q", "-b", "main")
    repo.write("sopflow.yaml", CONFIG)
    repo.write("workflows/issue_track.yaml", ISSUE_TRACK + SLA)
    repo.write("sops/issue-handling.md", SOP)
    repo.write("wiki/faq/cable.md", "---\ntitle: 线缆类问题排查\ntags: [硬件, 线缆]\ntickets: []\nowner: fan\n"
               "reviewed: 2026-10-01\nreview_every: 90d\n---\n故障现象 / 排查步骤 / 修复 / 预防\n")
    repo.write("wiki/kb/vpn.md", "---\ntitle: VPN 断网排查\ntags: [网络, VPN]\ntickets: [ISS-2]\n---\n"
               "# VPN 断网\n\n交换机端口闪断时先看 [线缆排查](../faq/cable.md)，再看 ISS-1。\n")
    repo.commit_all("setup")
    ok(repo.run("new", "issue_track", "--title", HOSTILE, "--priority", "P1", as_="alice",
                now="2026-11-21T10:00:00+08:00"))
    ok(repo.run("new", "issue_track", "--title", "【20261121】金融客户核心交换机端口闪断", "--priority", "P2",
                "--role", "维护处理人=alice", as_="fan", now="2026-11-21T10:05:00+08:00"))
    ok(repo.run("tick", "ISS-2", "1", "2", as_="alice", now="2026-11-21T10:10:00+08:00"))
    ok(repo.run("do", "ISS-2", "提交审核", "--note", "背景: 端口闪断; 进展: 已换线; 下一步: 观察",
                "--set", "customer_type=金融", "--role", "维护代表=fan", as_="alice", now="2026-11-21T10:20:00+08:00"))
    ok(repo.run("comment", "ISS-2", "客户确认恢复", as_="fan", now="2026-11-21T10:30:00+08:00"))
    ok(repo.run("link", "ISS-2", "--wiki", "wiki/faq/cable.md", as_="fan", now="2026-11-21T10:40:00+08:00"))
    return repo


@pytest.fixture(scope="module")
def site_repo_base(tmp_path_factory: pytest.TempPathFactory) -> Repo:
    base = tmp_path_factory.mktemp("site-base")
    return make_site_repo(base / "repo", base / "home")


@pytest.fixture
def site_repo(site_repo_base: Repo, tmp_path: Path) -> Repo:
    """A private copy of the module's repository (made once: CLI actions are the slow part)."""
    import shutil

    from conftest import git_env

    root = tmp_path / "repo"
    shutil.copytree(site_repo_base.root, root, symlinks=True)
    home = tmp_path / "home"
    shutil.copytree(site_repo_base.root.parent / "home", home)
    return Repo(root, git_env(home))


def build(repo: Repo, *args: str, now: str = "2026-11-21T13:00:00+08:00") -> Path:
    r = repo.run("site", "build", "--out", "out", *args, now=now)
    ok(r)
    return repo.root / "out"


def manifest(out: Path) -> dict[str, str]:
    data = json.loads((out / ".sopflow-site.json").read_text("utf-8"))
    pages: dict[str, str] = data["pages"]
    return pages


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.scripts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for k, v in attrs:
            if k in ("href", "src", "action") and v is not None:
                self.urls.append(v)
            if tag == "script" and k == "src" and v:
                self.scripts.append(v)


def test_build_writes_every_kind_of_page(site_repo: Repo) -> None:
    out = build(site_repo)
    for rel in ("index.html", "boards/issue_track.html", "tickets/ISS-1.html", "tickets/ISS-2.html", "wiki.html",
                "wiki/faq/cable.html", "wiki/kb/vpn.html", "workflows/issue_track.html", "sla.html",
                "search.html", "search-index.js", "assets/style.css", "assets/search.js"):
        assert (out / rel).is_file(), rel
    tags = sorted(p.name for p in (out / "tags").iterdir())
    assert "网络.html" in tags and any(t.startswith("vpn-") for t in tags)  # "VPN" is not lower-case: hashed
    index = (out / "index.html").read_text("utf-8")
    assert "网上问题处理" in index and "维护代表审核" in index
    board = (out / "boards/issue_track.html").read_text("utf-8")
    for state in ("维护人员处理", "维护代表审核", "SE分析改进", "关闭"):
        assert state in board
    assert 'href="../tickets/ISS-2.html"' in board
    wf = (out / "workflows/issue_track.html").read_text("utf-8")
    assert "<svg" in wf and "提交审核" in wf


def test_ticket_page_shows_fields_roles_checklist_links_and_history(site_repo: Repo) -> None:
    out = build(site_repo)
    page = (out / "tickets/ISS-2.html").read_text("utf-8")
    assert "金融客户核心交换机端口闪断" in page
    assert "维护代表" in page and "范慧阳" in page  # role bound to fan, shown by name
    assert "客户类别" in page and "金融" in page  # a field by its label
    assert "☑" in page  # earlier checklist, ticked
    assert 'href="../wiki/faq/cable.html"' in page  # linked wiki
    assert 'href="../wiki/kb/vpn.html"' in page  # a wiki page naming the ticket
    assert "客户确认恢复" in page and "背景: 端口闪断" in page
    for action in ("create", "tick", "提交审核", "comment", "link"):
        assert f'<strong class="action">{action}</strong>' in page


def test_history_shows_the_commit_of_each_step(site_repo: Repo) -> None:
    out = build(site_repo)
    page = (out / "tickets/ISS-2.html").read_text("utf-8")
    log = site_repo.git("log", "--reverse", "--format=%H %s", "--", "tickets/").splitlines()
    mine = [line.split(" ", 1) for line in log if " ISS-2 " in f" {line.split(' ', 1)[1]} "]
    assert len(mine) == 5
    shown = re.findall(r'<code title="([0-9a-f]{40})">', page)
    assert shown == [sha for sha, _ in mine]
    assert "尚未提交" not in page


def test_uncommitted_step_is_marked(site_repo: Repo) -> None:
    ok(site_repo.run("--no-commit", "comment", "ISS-1", "还没提交", as_="fan"))
    out = build(site_repo)
    page = (out / "tickets/ISS-1.html").read_text("utf-8")
    assert page.count("<code title=") == 1 and "尚未提交" in page


def test_hostile_title_is_escaped_everywhere(site_repo: Repo) -> None:
    out = build(site_repo)
    for rel in ("tickets/ISS-1.html", "boards/issue_track.html", "sla.html"):
        text = (out / rel).read_text("utf-8")
        assert "<script>alert" not in text and "<img src=x" not in text, rel
        assert "&lt;script&gt;alert(" in text, rel
    index_js = (out / "search-index.js").read_text("utf-8")
    assert "<script" not in index_js and "\\u003cscript>" in index_js


def test_every_link_is_relative_and_resolves(site_repo: Repo) -> None:
    out = build(site_repo)
    pages = sorted(out.rglob("*.html"))
    assert len(pages) > 10
    checked = 0
    for page in pages:
        parser = Links()
        parser.feed(page.read_text("utf-8"))
        for url in parser.urls:
            parts = urlsplit(url)
            if parts.scheme in ("http", "https", "mailto"):
                continue
            assert not parts.scheme and not url.startswith("/"), f"{page}: {url}"
            if not parts.path:
                continue
            target = (page.parent / unquote(parts.path)).resolve()
            assert out.resolve() in target.parents, f"{page}: {url} leaves the site"
            assert target.is_file(), f"{page.relative_to(out)}: {url} -> missing {target}"
            checked += 1
    assert checked > 100


def test_rebuild_rewrites_only_what_changed(site_repo: Repo) -> None:
    out = build(site_repo)
    first = manifest(out)
    untouched = (out / "tickets/ISS-2.html").stat().st_mtime_ns
    r = site_repo.run("site", "build", "--out", "out", now="2026-11-21T13:00:00+08:00")
    ok(r)
    assert "0 written" in r.err
    assert manifest(out) == first
    ok(site_repo.run("comment", "ISS-1", "新的进展", as_="alice", now="2026-11-21T12:00:00+08:00"))
    r = site_repo.run("site", "build", "--out", "out", now="2026-11-21T13:00:00+08:00")
    ok(r)
    second = manifest(out)
    changed = sorted(k for k in second if second[k] != first.get(k))
    assert "tickets/ISS-1.html" in changed
    assert "tickets/ISS-2.html" not in changed and "wiki/faq/cable.html" not in changed
    assert set(changed) <= {"tickets/ISS-1.html", "index.html", "sla.html", "boards/issue_track.html",
                            "search-index.js"}
    assert (out / "tickets/ISS-2.html").stat().st_mtime_ns == untouched
    assert "新的进展" in (out / "tickets/ISS-1.html").read_text("utf-8")
    # the commit of the new step comes from 'git log OLD..HEAD' on top of the cached answer
    head = site_repo.git("rev-parse", "HEAD").strip()
    assert f'<code title="{head}">' in (out / "tickets/ISS-1.html").read_text("utf-8")


def test_a_changed_title_reaches_board_and_search_but_not_other_tickets(site_repo: Repo) -> None:
    out = build(site_repo)
    first = manifest(out)
    ok(site_repo.run("set", "ISS-2", "title=交换机端口闪断（已定位）", as_="fan", now="2026-11-21T12:00:00+08:00"))
    out = build(site_repo)
    second = manifest(out)
    changed = {k for k in second if second[k] != first.get(k)}
    assert {"tickets/ISS-2.html", "boards/issue_track.html", "search-index.js", "wiki/kb/vpn.html"} <= changed
    assert "tickets/ISS-1.html" not in changed
    assert "交换机端口闪断（已定位）" in (out / "search-index.js").read_text("utf-8")


def test_removed_ticket_page_is_deleted_and_nothing_else(site_repo: Repo) -> None:
    out = build(site_repo)
    (out / "CNAME").write_text("sop.example.com\n", encoding="utf-8")  # a file the site does not own
    (site_repo.root / "tickets/ISS-1.md").unlink()
    site_repo.commit_all("drop ISS-1")
    r = site_repo.run("site", "build", "--out", "out")
    ok(r)
    assert not (out / "tickets/ISS-1.html").exists()
    assert (out / "CNAME").is_file()
    assert "1 removed" in r.err


def test_build_leaves_the_repository_untouched(site_repo: Repo) -> None:
    before = site_repo.snapshot()
    status = site_repo.git("status", "--porcelain")
    r = site_repo.run("site", "build", "--out", str(site_repo.root.parent / "public"))
    ok(r)
    assert site_repo.snapshot() == before
    assert site_repo.git("status", "--porcelain") == status
    assert (site_repo.root.parent / "public/index.html").is_file()


@pytest.mark.parametrize("where", [".", "..", ".git/site"])
def test_refuses_to_write_over_the_repository(site_repo: Repo, where: str) -> None:
    before = site_repo.snapshot()
    r = site_repo.run("site", "build", "--out", where)
    assert r.code == 1 and r.err.count("\n") == 1 and "Traceback" not in r.err
    assert site_repo.snapshot() == before


def test_refuses_a_folder_that_is_not_a_site(site_repo: Repo, tmp_path: Path) -> None:
    other = tmp_path / "docs"
    other.mkdir()
    (other / "index.html").write_text("mine", encoding="utf-8")
    r = site_repo.run("site", "build", "--out", str(other))
    assert r.code == 1 and "not empty" in r.err
    assert (other / "index.html").read_text("utf-8") == "mine"


def test_english_ui_and_bad_language(site_repo: Repo) -> None:
    out = build(site_repo, "--lang", "en")
    page = (out / "tickets/ISS-2.html").read_text("utf-8")
    assert "History" in page and 'lang="en"' in page and "历史" not in page
    r = site_repo.run("site", "build", "--out", "out", "--lang", "fr")
    assert r.code == 1 and "unknown language" in r.err


def test_sla_page_lists_breached_tickets(site_repo: Repo) -> None:
    out = build(site_repo, now="2026-11-21T13:00:00+08:00")
    sla = (out / "sla.html").read_text("utf-8")
    assert 'href="tickets/ISS-1.html"' in sla  # P1 created 10:00, never responded: breached at 13:00
    board = (out / "boards/issue_track.html").read_text("utf-8")
    assert "card-breached" in board


def test_commit_url(site_repo: Repo) -> None:
    out = build(site_repo, "--commit-url", "https://git.example.com/sop/commit/{sha}")
    head = site_repo.git("rev-parse", "HEAD").strip()
    assert f'href="https://git.example.com/sop/commit/{head}"' in (out / "tickets/ISS-2.html").read_text("utf-8")
    r = site_repo.run("site", "build", "--out", "out", "--commit-url", "https://x/commit/")
    assert r.code == 1 and "{sha}" in r.err


def test_repo_template_overrides_the_package_and_stays_escaped(site_repo: Repo) -> None:
    site_repo.write("templates/site/board.html",
                    "{% extends 'base.html' %}{% block main %}<h1>自定义看板</h1>"
                    "{% for col in columns %}{% for c in col.cards %}<p>{{ c.title }}</p>{% endfor %}{% endfor %}"
                    "{% endblock %}")
    out = build(site_repo)
    board = (out / "boards/issue_track.html").read_text("utf-8")
    assert "自定义看板" in board and "&lt;script&gt;" in board and "<script>alert" not in board


def test_a_template_cannot_escape_the_sandbox(site_repo: Repo) -> None:
    site_repo.write("templates/site/sla.html", "{{ ''.__class__.__mro__[1].__subclasses__() }}")
    r = site_repo.run("site", "build", "--out", "out")
    assert r.code == 1 and "sla.html" in r.err and "Traceback" not in r.err
    # the failed build can be retried once the template is fixed
    (site_repo.root / "templates/site/sla.html").unlink()
    ok(site_repo.run("site", "build", "--out", "out"))


def test_unreadable_ticket_is_left_out_with_a_message(site_repo: Repo) -> None:
    site_repo.write("tickets/ISS-9.md", "---\nid: [broken\n---\n")
    r = site_repo.run("site", "build", "--out", "out")
    ok(r)
    assert "tickets/ISS-9.md" in r.err
    assert not (site_repo.root / "out/tickets/ISS-9.html").exists()


def test_site_commands_have_help_with_an_example(repo: Repo) -> None:
    for cmd in (["site", "build", "--help"], ["site", "serve", "--help"]):
        r = repo.run(*cmd)
        ok(r)
        assert "Example: sopflow site" in r.out


def test_serve_builds_and_answers_on_localhost(site_repo: Repo) -> None:
    import subprocess
    import sys
    import time
    import urllib.request

    env = dict(site_repo.env)
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent / "src")
    proc = subprocess.Popen([sys.executable, "-m", "sopflow", "site", "serve", "--port", "0", "--out", "out"],
                            cwd=site_repo.root, env=env, stderr=subprocess.PIPE, text=True)
    try:
        url = None
        deadline = time.monotonic() + 30
        assert proc.stderr is not None
        while time.monotonic() < deadline and url is None:
            line = proc.stderr.readline()
            m = re.search(r"(http://127\.0\.0\.1:\d+/)", line)
            if m:
                url = m.group(1)
        assert url, "serve did not print its address"
        with urllib.request.urlopen(url + "tickets/ISS-2.html", timeout=10) as resp:
            assert "金融客户核心交换机端口闪断" in resp.read().decode("utf-8")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_shallow_clone_shows_no_commit_for_steps_older_than_the_clone(site_repo: Repo, tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    site_repo.git("clone", "-q", "--depth", "1", f"file://{site_repo.root}", str(clone))
    shallow = Repo(clone, site_repo.env)
    ok(shallow.run("comment", "ISS-2", "克隆后的新评论", as_="fan", now="2026-11-21T12:00:00+08:00"))
    r = shallow.run("site", "build", "--out", "out")
    ok(r)
    assert "shallow clone" in r.err
    page = (clone / "out/tickets/ISS-2.html").read_text("utf-8")
    assert "提交不详（浅克隆）" in page and "尚未提交" not in page
    head = shallow.git("rev-parse", "HEAD").strip()
    assert re.findall(r'<code title="([0-9a-f]{40})">', page) == [head]  # only the step made after the clone
