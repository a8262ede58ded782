"""The excerpt index gives the same answers as parsing every ticket, whatever happens to the files or the cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import Repo

from sopflow import index
from sopflow.errors import SopflowError
from sopflow.project import Project

SRC = str(Path(__file__).resolve().parent.parent / "src")


def ticket(n: int, *, state: str = "维护人员处理", title: str | None = None, parent: str | None = None,
           extra: str = "", body: str = "") -> str:
    links = f"links: {{parent: ISS-{parent}}}\n" if parent else ""
    return (f"---\nid: ISS-{n}\ntype: issue_track\ntitle: {title or f'问题 {n} 设备告警'}\nstate: {state}\n"
            f"priority: P{n % 4}\nassignee: {'fan' if n % 2 else 'alice'}\nreporter: alice\n{links}"
            f"created: 2026-11-21T10:00:00+08:00\nupdated: 2026-11-21T10:00:00+08:00\nissue_level: 一般问题\n{extra}"
            f"history:\n  - {{at: 2026-11-21T10:00:00+08:00, by: alice, action: create, to: 维护人员处理}}\n"
            f"---\n{body or f'正文 {n}：connection timeout'}\n")


def settle() -> None:
    """Let file timestamps fall out of the index's "racily clean" window, so entries are really cached."""
    time.sleep(0.08)


def write_tickets(repo: Repo, n: int, **kw: Any) -> None:
    for i in range(1, n + 1):
        repo.write(f"tickets/ISS-{i}.md", ticket(i, **kw))


def reference(p: Project) -> list[dict[str, Any]]:
    """What the read path gave before the index: parse every ticket file."""
    out = []
    for path in p.ticket_paths():
        try:
            t = p.read_ticket(path)
        except SopflowError:
            continue
        d = dict(t.data)
        d["path"] = t.rel
        out.append(d)
    return out


def fresh(repo: Repo) -> Project:
    return Project(repo.root)


def same(a: Any, b: Any) -> bool:
    """Equal, with the same types and key order all the way down."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a) and all(type(k) is type(j) for k, j in
                                                                           zip(a, b, strict=True))
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def check_same(repo: Repo) -> index.Index:
    """The index answers as a full parse does (twice: building and then from the cache)."""
    for _ in range(2):
        p = fresh(repo)
        got = index.load_excerpts(p)
        want = reference(p)
        assert same(got, want), (got, want)
    check_trails(repo)
    return index.open_index(fresh(repo))


def check_trails(repo: Repo) -> None:
    """Every head's trail (from part T, or cut from the excerpt) is the one its whole front matter gives."""
    from sopflow.core.trail import trail_of

    for _ in range(2):
        p = fresh(repo)
        heads = index.load_heads(p)
        get = index.trails(p)
        want = {d["path"]: trail_of(d) for d in reference(p)}
        assert {h["path"]: get(h) for h in heads} == want


def cache_file(repo: Repo) -> Path:
    return repo.root / ".git" / "sopflow" / index.CACHE_NAME


def cached_names(repo: Repo) -> set[str]:
    return index.open_index(fresh(repo)).cached_names()


@pytest.fixture
def ten(repo: Repo) -> Repo:
    write_tickets(repo, 10)
    repo.commit_all("tickets")
    settle()
    check_same(repo)
    return repo


# ------------------------------------------------------------------ where the cache lives


def test_cache_is_under_git_dir_and_never_in_the_work_tree(ten: Repo) -> None:
    assert cache_file(ten).is_file()
    assert ten.git("status", "--porcelain") == ""
    assert cached_names(ten) == {f"ISS-{i}.md" for i in range(1, 11)}
    head = cache_file(ten).read_bytes().split(b"\n", 1)[0]
    meta = json.loads(head)
    assert meta["format"] == "sopflow-excerpts" and meta["tickets"] == str(ten.root / "tickets")


def test_git_dir_found_from_a_worktree_file_and_from_a_subfolder(tmp_path: Path) -> None:
    real = tmp_path / "real.git" / "worktrees" / "w"
    real.mkdir(parents=True)
    wt = tmp_path / "wt"
    (wt / "sub").mkdir(parents=True)
    (wt / ".git").write_text(f"gitdir: {real}\n")
    assert index.git_dir(wt / "sub") == real
    (wt / ".git").write_text("gitdir: ../real.git/worktrees/w\n")
    assert index.git_dir(wt) == wt / "../real.git/worktrees/w"


def test_no_git_dir_means_no_cache_but_same_answers(tmp_path: Path, repo: Repo) -> None:
    import shutil

    plain = tmp_path / "plain"
    shutil.copytree(repo.root, plain, ignore=shutil.ignore_patterns(".git"))
    for i in range(1, 4):
        (plain / "tickets").mkdir(exist_ok=True)
        (plain / "tickets" / f"ISS-{i}.md").write_text(ticket(i), "utf-8")
    p = Project(plain)
    if index.git_dir(plain) is None:
        assert index.load_excerpts(p) == reference(p)
        assert not list(plain.rglob(index.CACHE_NAME))


# ------------------------------------------------------------------ the repo changes under the cache


def test_edit_add_delete(ten: Repo) -> None:
    ten.write("tickets/ISS-3.md", ticket(3, state="关闭", title="改过的标题"))
    (ten.root / "tickets/ISS-4.md").unlink()
    ten.write("tickets/ISS-11.md", ticket(11))
    ten.write("tickets/README.txt", "not a ticket")
    ten.write("tickets/ISS-12.md", "---\nid: [unclosed\n---\nbroken\n")  # unparseable: no excerpt
    settle()
    idx = check_same(ten)
    by_path = {d["path"]: d for d in idx.excerpts()}
    assert by_path["tickets/ISS-3.md"]["title"] == "改过的标题"
    assert "tickets/ISS-4.md" not in by_path and "tickets/ISS-12.md" not in by_path
    assert "ISS-12.md" in idx.cached_names()  # a broken file is remembered as broken, not re-read every time


def test_hand_edit_with_same_size_and_mtime(ten: Repo) -> None:
    path = ten.root / "tickets/ISS-5.md"
    st = path.stat()
    assert "ISS-5.md" in cached_names(ten)
    text = path.read_text("utf-8")
    edited = text.replace("state: 维护人员处理", "state: 维护代表审核")
    assert len(edited.encode()) == st.st_size
    with open(path, "r+b") as fh:  # in place: same inode
        fh.write(edited.encode())
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == (st.st_size, st.st_mtime_ns, st.st_ino)
    idx = check_same(ten)
    assert next(d for d in idx.excerpts() if d["id"] == "ISS-5")["state"] == "维护代表审核"


def test_atomic_replace_and_renames(ten: Repo) -> None:
    # swap two files by renaming (mtimes travel with the files)
    t = ten.root / "tickets"
    os.rename(t / "ISS-1.md", t / "tmp.txt")
    os.rename(t / "ISS-2.md", t / "ISS-1.md")
    os.rename(t / "tmp.txt", t / "ISS-2.md")
    os.rename(t / "ISS-7.md", t / "ISS-7-renamed-slug.md")
    check_same(ten)
    # an atomic replace by the CLI itself
    res = ten.run("set", "ISS-9", "customer_type=金融", as_="fan")
    assert res.code == 0, res.err
    idx = check_same(ten)
    assert next(d for d in idx.excerpts() if d["id"] == "ISS-9")["customer_type"] == "金融"


def test_branch_switches(ten: Repo) -> None:
    ten.git("checkout", "-q", "-b", "other")
    ten.write("tickets/ISS-2.md", ticket(2, state="关闭"))
    (ten.root / "tickets/ISS-6.md").unlink()
    ten.write("tickets/ISS-20.md", ticket(20, parent="1"))
    ten.commit_all("other branch")
    settle()
    check_same(ten)
    ten.git("checkout", "-q", "main")
    idx = check_same(ten)
    assert len(idx.excerpts()) == 10
    ten.git("checkout", "-q", "other")
    idx = check_same(ten)
    assert {d["id"] for d in idx.excerpts()} == {f"ISS-{i}" for i in (1, 2, 3, 4, 5, 7, 8, 9, 10, 20)}


def test_racily_clean_files_are_not_trusted(ten: Repo) -> None:
    """A file changed right after the index read it, within its timestamp granularity, is read again."""
    path = ten.root / "tickets/ISS-8.md"
    ten.write("tickets/ISS-8.md", ticket(8, title="甲"))
    st = path.stat()
    idx = index.open_index(fresh(ten))
    idx.excerpts()
    assert "ISS-8.md" not in idx.cached_names()  # too fresh to be trusted: parsed, not cached
    with open(path, "r+b") as fh:
        fh.write(ticket(8, title="乙").encode())
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    check_same(ten)


def test_symlinks_and_files_json_cannot_carry(ten: Repo) -> None:
    outside = ten.root.parent / "outside.md"
    outside.write_text(ticket(30), "utf-8")
    os.symlink(outside, ten.root / "tickets/ISS-30.md")  # outside the repository: refused, as before
    os.symlink(ten.root / "tickets/ISS-1.md", ten.root / "tickets/ISS-31.md")
    ten.write("tickets/ISS-32.md", ticket(32, extra="checked: {1: one, x: y}\n"))  # int key: JSON cannot carry it
    settle()
    idx = check_same(ten)
    assert "ISS-32.md" not in idx.cached_names() and "ISS-31.md" not in idx.cached_names()
    got = next(d for d in idx.excerpts() if d.get("id") == "ISS-32")
    assert got["checked"] == {1: "one", "x": "y"}


def test_tickets_folder_moved_by_config(ten: Repo) -> None:
    (ten.root / "tickets").rename(ten.root / "work")
    ten.write("sopflow.yaml", ten.read("sopflow.yaml") + "paths: {tickets: work}\n")
    idx = check_same(ten)
    assert {d["path"] for d in idx.excerpts()} == {f"work/ISS-{i}.md" for i in range(1, 11)}
    head = json.loads(cache_file(ten).read_bytes().split(b"\n", 1)[0])
    assert head["tickets"] == str(ten.root / "work")


# ------------------------------------------------------------------ the cache itself is damaged


def _parts(path: Path) -> list[Any]:
    raw = path.read_bytes()
    head, rest = raw.split(b"\n", 1)
    out, at = [], 0
    for size, _ in json.loads(head)["parts"]:
        out.append(json.loads(rest[at:at + size]))
        at += size
    return out


def _rewrite_valid(path: Path, a: Any, b: Any, h: Any = None, t: Any = None) -> None:
    """A cache with correct lengths and digests but the given content (a tampered or buggy writer):
    parts A, H (default: as B), B and T (default: no trails)."""
    head = json.loads(path.read_bytes().split(b"\n", 1)[0])
    parts = [json.dumps(x, ensure_ascii=False).encode() for x in
             (a, b if h is None else h, b, [None] * len(b) if t is None and isinstance(b, list) else t)]
    meta = {k: head[k] for k in ("sopflow", "root", "tickets")}
    path.write_bytes(index._header(index.FORMAT, meta, parts) + b"".join(parts))


@pytest.mark.parametrize("damage", [
    "truncate", "flip", "garbage", "empty", "version", "shape-b", "shape-a", "lengths", "directory",
    "shape-t", "lengths-t",
])
def test_corrupt_cache_is_detected_and_rebuilt(ten: Repo, damage: str) -> None:
    path = cache_file(ten)
    raw = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(raw[: len(raw) * 2 // 3])
    elif damage == "flip":
        i = len(raw) - 200
        path.write_bytes(raw[:i] + bytes([raw[i] ^ 0x20]) + raw[i + 1:])
    elif damage == "garbage":
        path.write_bytes(os.urandom(len(raw)))
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "version":
        assert f'"version":{index.VERSION},'.encode() in raw
        path.write_bytes(raw.replace(f'"version":{index.VERSION},'.encode(), b'"version":99,', 1))
    elif damage == "shape-b":
        a = json.loads(raw.split(b"\n", 1)[1][: json.loads(raw.split(b"\n", 1)[0])["parts"][0][0]])
        _rewrite_valid(path, a, ["not a dict"] * len(a["names"]))
    elif damage == "shape-a":
        _rewrite_valid(path, {"names": [1, 2], "keys": "x", "parents": None}, [])
    elif damage == "lengths":
        a = json.loads(raw.split(b"\n", 1)[1][: json.loads(raw.split(b"\n", 1)[0])["parts"][0][0]])
        _rewrite_valid(path, a, [])
    elif damage == "directory":
        path.unlink()
        path.mkdir()
    elif damage in ("shape-t", "lengths-t"):  # trails of the wrong shape, or too few: cut from the excerpts
        a, h, b, t = _parts(path)
        bad = ["x", [1, [2], []], [None, [], ["p"]], None] * len(t) if damage == "shape-t" else t[:-1]
        _rewrite_valid(path, a, b, h, bad[:len(t)] if damage == "shape-t" else bad)
        check_trails(ten)
    ten.write("tickets/ISS-2.md", ticket(2, title="换了"))
    settle()
    check_same(ten)
    if damage != "directory":
        head = json.loads(path.read_bytes().split(b"\n", 1)[0])
        assert head["version"] == index.VERSION  # rebuilt and written back


def test_cache_of_another_checkout_is_ignored(ten: Repo, tmp_path: Path) -> None:
    """A cache copied along with the repository names the old root: not trusted."""
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(ten.root, copy, symlinks=True)
    (copy / "tickets/ISS-1.md").write_text(ticket(1, title="副本"), "utf-8")
    p = Project(copy)
    assert index.load_excerpts(p) == reference(p)
    settle()
    assert index.load_excerpts(Project(copy)) == reference(p)
    assert json.loads((copy / ".git/sopflow" / index.CACHE_NAME).read_bytes().split(b"\n", 1)[0])["root"] == str(copy)


def test_unwritable_cache_dir_is_harmless(ten: Repo) -> None:
    d = ten.root / ".git" / "sopflow"
    for f in d.iterdir():
        f.unlink()
    d.rmdir()
    d.write_text("a file where the directory should be")
    check_same(ten)


def test_concurrent_processes(ten: Repo) -> None:
    """Several sopflow processes reading and rebuilding at once all see valid, complete answers."""
    code = (
        "import json, sys; from pathlib import Path; from sopflow.project import Project; from sopflow import index\n"
        "for _ in range(6):\n"
        "    got = index.load_excerpts(Project(Path(sys.argv[1])))\n"
        "    assert len(got) >= 10, len(got)\n"
        "    assert all(d['path'].startswith('tickets/') and d['id'] for d in got)\n"
        "print('ok')\n"
    )
    env = dict(os.environ, PYTHONPATH=SRC)
    procs = [subprocess.Popen([sys.executable, "-c", code, str(ten.root)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    for i in range(11, 31):  # the repository changes meanwhile
        ten.write(f"tickets/ISS-{i}.md", ticket(i))
        cache_file(ten).unlink(missing_ok=True)
        time.sleep(0.01)
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert out.strip() == "ok"
    settle()
    check_same(ten)
    assert not [f for f in (ten.root / ".git/sopflow").iterdir() if f.name.endswith(".tmp")]


# ------------------------------------------------------------------ children and text


def test_children_without_loading_every_excerpt(ten: Repo) -> None:
    ten.write("tickets/ISS-11.md", ticket(11, parent="3"))
    ten.write("tickets/ISS-12.md", ticket(12, parent="3"))
    ten.write("tickets/ISS-13.md", ticket(13, parent="4"))
    settle()
    check_same(ten)
    idx = index.open_index(fresh(ten))
    kids = idx.children("ISS-3")
    assert idx._data is None  # part B was not read
    assert [d["id"] for d in kids] == ["ISS-11", "ISS-12"]
    p = fresh(ten)
    assert p.children_of("ISS-3") == [d for d in reference(p) if d.get("links", {}).get("parent") == "ISS-3"]
    res = ten.run("show", "ISS-3")
    assert res.code == 0 and "ISS-11" in res.out and "ISS-12" in res.out


@pytest.mark.parametrize("query", ["timeout", "TIMEOUT", "设备", "正文 7", "ＣＯＮＮＥＣＴＩＯＮ", "特别", "iss-3", "nothing"])
def test_text_filter_matches_a_full_search(ten: Repo, query: str) -> None:
    from sopflow.core.search import matches

    ten.write("tickets/ISS-4.md", ticket(4, body="特别的正文 connection\n"))
    settle()
    for _ in range(2):  # building the text cache, then using it
        p = fresh(ten)
        items = index.load_excerpts(p)
        got = index.text_filter(p, items, query)
        want = [d for d in reference(p) if matches(query, f"{d.get('title', '')}\n"
                                                         f"{p.read_ticket(p.root / d['path']).doc.body}")]
        assert [d["path"] for d in got] == [d["path"] for d in want]
    assert (ten.root / ".git/sopflow" / index.TEXT_CACHE_NAME).is_file()
    res = ten.run("list", "--text", query, "--format", "json")
    assert res.code == 0, res.err
    assert sorted(d["path"] for d in json.loads(res.out)) == sorted(d["path"] for d in want)


def test_text_cache_follows_edits(ten: Repo) -> None:
    p = fresh(ten)
    assert index.text_filter(p, index.load_excerpts(p), "独角兽") == []
    ten.write("tickets/ISS-6.md", ticket(6, body="独角兽出现\n"))
    settle()
    p = fresh(ten)
    assert [d["id"] for d in index.text_filter(p, index.load_excerpts(p), "独角兽")] == ["ISS-6"]


# ------------------------------------------------------------------ the cold path parses as Document does


def test_front_matter_agrees_with_document() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from sopflow.core.frontmatter import Document, FrontMatterError

    pieces = ["---", "--- ", "---\u3000", "--- x", "...", "....", "\n", "\r\n", "\r", "a: 1", "title: 标题",
              "<<<<<<< HEAD", "=======", ">>>>>>> b", "|||||||", "\ufeff", "\x00", " ", "b: [1, 2]", "c: {d: e}",
              "#c", "x", "- y", "k: 2026-01-01", "1: one", "[a]", "history:\n  - {at: t, by: b}"]

    @settings(max_examples=1500, deadline=None)
    @given(st.lists(st.sampled_from(pieces), max_size=14))
    def run(parts: list[str]) -> None:
        text = "".join(parts)
        try:
            doc = Document.parse(text)
        except FrontMatterError:
            assert index.front_matter(text)[0] is None, text
            return
        data, _ = index.front_matter(text)
        assert data == doc.data, text
        assert index.body_of(text) == doc.body, text

    run()


# ------------------------------------------------------------------ progress


def test_progress_bar_only_on_a_terminal() -> None:
    import io

    from sopflow.progress import Progress

    quiet = io.StringIO()
    bar = Progress(100, "x", stream=quiet, delay=0)
    for n in range(1, 101):
        bar.update(n)
    bar.close()
    assert quiet.getvalue() == ""  # not a terminal
    loud = io.StringIO()
    bar = Progress(100, "indexing", stream=loud, delay=0, force=True)
    bar.update(50)
    bar.close()
    assert "indexing [" in loud.getvalue() and "50/100" in loud.getvalue()
    assert loud.getvalue().endswith("\r\x1b[K")


# ------------------------------------------------------------------ check reuses the index, same results


def test_check_gives_the_same_problems_from_the_index(ten: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = {
        11: ticket(11, state="不存在"), 12: ticket(12).replace("title: ", "title: \n_old: ", 1),
        13: ticket(13).replace("id: ISS-13", "id: ISS-1"), 14: ticket(14, extra="path: own/path\nextra_key: 1\n"),
        15: ticket(15).replace("history:\n", "history:\n  - {at: x}\n", 1), 16: ticket(16, parent="999"),
        17: ticket(17, extra="when: !!timestamp 2026-01-01\n"), 18: ticket(18) + "<<<<<<< HEAD\n",
        19: "---\nid: ISS-19\ntitle: [unclosed\n---\n", 20: ticket(20, extra="roles: {1: fan}\n"),
    }
    for n, text in broken.items():
        ten.write(f"tickets/ISS-{n}.md", text)
    (ten.root / "tickets/ISS-21.md").write_bytes(b"---\nid: ISS-21\n\xff\n---\n")
    os.symlink(ten.root / "tickets/ISS-2.md", ten.root / "tickets/ISS-22.md")
    settle()
    runs = [ten.run("check", "--format", "json") for _ in range(2)]  # building the index, then from it
    import sopflow.index as ix

    full = ix.ticket_front_matters
    monkeypatch.setattr(ix, "ticket_front_matters",
                        lambda p: [(path, rel, None) for path, rel, _ in full(p)])  # every file parsed by check
    runs.append(ten.run("check", "--format", "json"))
    assert runs[0].out == runs[1].out == runs[2].out
    problems = json.loads(runs[0].out)["problems"]
    codes = {(p["path"], p["code"]) for p in problems}
    for expected in [("tickets/ISS-11.md", "unknown-state"), ("tickets/ISS-14.md", "unknown-field"),
                     ("tickets/ISS-15.md", "history"), ("tickets/ISS-18.md", "conflict"),
                     ("tickets/ISS-21.md", "encoding"), ("tickets/ISS-22.md", "symlink")]:
        assert expected in codes
    assert any(p["code"] == "history" and p["line"] for p in problems)  # a line number, read from the file


# ------------------------------------------------------------------ list reads heads and copies JSON from the cache


def list_reference(repo: Repo, fmt: str) -> str:
    """What ``list --format FMT`` printed before the index: render the fully parsed tickets."""
    import contextlib
    import io

    from sopflow.cli.context import echo_json
    from sopflow.core.query import sort
    from sopflow.render.tickets import list_csv, list_table

    items = sort(reference(fresh(repo)), None)
    if fmt == "json":
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            echo_json([{k: v for k, v in d.items() if k != "body"} for d in items])
        return out.getvalue()
    return (list_csv(items) if fmt == "csv" else list_table(items) + "\n")


@pytest.mark.parametrize("fmt", ["json", "csv", "table"])
def test_list_output_is_what_a_full_parse_gives(ten: Repo, fmt: str) -> None:
    ten.write("tickets/ISS-11.md", ticket(11, extra="body: a key named body\n"))
    ten.write("tickets/ISS-12.md", ticket(12, extra="path: a key named path\n"))
    outside = ten.root / "elsewhere"
    outside.mkdir()
    (outside / "x.md").write_text(ticket(13), "utf-8")
    os.symlink(outside / "x.md", ten.root / "tickets/ISS-13.md")  # read every time, never cached
    settle()
    want = list_reference(ten, fmt)
    for _ in range(3):  # building the index, then from parts H and B
        res = ten.run("list", "--format", fmt)
        assert res.code == 0, res.err
        assert res.out == want


@pytest.mark.parametrize("part", [1, 2])
def test_list_json_when_one_part_is_damaged(ten: Repo, part: int) -> None:
    """Part H (heads) or part B (whole excerpts) damaged: the history still comes out, from the files."""
    want = list_reference(ten, "json")
    path = cache_file(ten)
    raw = path.read_bytes()
    head = json.loads(raw.split(b"\n", 1)[0])
    start = len(raw.split(b"\n", 1)[0]) + 1 + sum(size for size, _ in head["parts"][:part])
    i = start + head["parts"][part][0] // 2
    path.write_bytes(raw[:i] + bytes([raw[i] ^ 0x01]) + raw[i + 1:])
    res = ten.run("list", "--format", "json")
    assert res.code == 0, res.err
    assert res.out == want
    assert all("history" in d for d in json.loads(res.out))


def test_heads_are_excerpts_without_history(ten: Repo) -> None:
    p = fresh(ten)
    heads = index.load_heads(p)
    assert heads == [{k: v for k, v in d.items() if k != "history"} for d in reference(p)]
    idx = index.open_index(p)
    assert idx._data is None  # part B not parsed
    assert [idx.full(h) for h in heads] == reference(p)
    assert index.ticket_names(p) == [x.name for x in p.ticket_paths()]


def test_heads_leave_out_long_text_but_never_what_is_asked_for(ten: Repo) -> None:
    long = "很长的详细描述 " * 20
    ten.write("tickets/ISS-11.md", ticket(11, extra=f"detail: {long.strip()}\n"))
    settle()
    check_same(ten)
    p = fresh(ten)
    heads = index.load_heads(p)
    h11 = next(h for h in heads if h["id"] == "ISS-11")
    assert "detail" not in h11 and "history" not in h11 and h11["title"]
    assert "detail" in next(h for h in index.load_heads(fresh(ten), ["detail"]) if h["id"] == "ISS-11")
    res = ten.run("list", "--where", f"detail={long.strip()}", "--format", "json")
    assert [d["id"] for d in json.loads(res.out)] == ["ISS-11"]
    assert json.loads(res.out)[0]["history"]
    res = ten.run("list", "--sort", "detail,id", "--format", "csv")
    assert res.out.splitlines()[1].startswith("ISS-11,")


# ------------------------------------------------------------------ parsing in two processes


def _count_forks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The sizes of the slices forkmap hands to worker processes from now on (in a list that grows)."""
    from sopflow.adapters import forkmap

    forks: list[int] = []
    real = forkmap.Batch._fork

    def spy(self: Any, part: Any) -> Any:
        forks.append(len(part))
        return real(self, part)

    monkeypatch.setattr(forkmap.Batch, "_fork", spy)
    return forks


def test_parallel_first_build_gives_the_same_answers(ten: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    """With many files to parse, a forked child parses half of them: the answers are the serial ones."""
    write_tickets(ten, 40, body="并行解析 parallel")
    ten.write("tickets/ISS-41.md", "---\nid: [unclosed\n---\nbroken\n")
    settle()
    cache_file(ten).unlink()
    monkeypatch.setattr(index, "PARALLEL_AFTER", 2)
    from sopflow.adapters import forkmap

    forks = _count_forks(monkeypatch)
    check_same(ten)
    assert len(cached_names(ten)) == 41
    if forkmap.can_fork() and forkmap.cpus() > 1:
        assert forks  # really parsed in two processes


@pytest.mark.parametrize("dir_fd", [True, False])
def test_identities_taken_in_two_processes_give_the_same_answers(
    ten: Repo, monkeypatch: pytest.MonkeyPatch, dir_fd: bool
) -> None:
    """With many files, a forked child stats most of them while this process reads the cache: edits, a hand
    edit of the same size and mtime, deletions, additions and links are seen as a serial scan sees them
    (and without ``dir_fd``, by path)."""
    from sopflow.adapters import forkmap

    monkeypatch.setattr(index, "PARALLEL_SCAN_AFTER", 2)
    monkeypatch.setattr(forkmap, "cpus", lambda: 2)
    if not dir_fd:
        monkeypatch.setattr(os, "supports_dir_fd", set())
    forks = _count_forks(monkeypatch)
    check_same(ten)
    path = ten.root / "tickets/ISS-5.md"
    st = path.stat()
    text = path.read_text("utf-8")
    edited = text.replace("state: 维护人员处理", "state: 维护代表审核")
    with open(path, "r+b") as fh:
        fh.write(edited.encode())
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    (ten.root / "tickets/ISS-4.md").unlink()
    ten.write("tickets/ISS-11.md", ticket(11))
    os.symlink(ten.root / "tickets/ISS-1.md", ten.root / "tickets/ISS-31.md")
    settle()
    idx = check_same(ten)
    assert next(d for d in idx.excerpts() if d["id"] == "ISS-5")["state"] == "维护代表审核"
    if forkmap.can_fork():
        assert forks  # really in two processes


def test_a_failing_child_leaves_its_share_to_the_parent(ten: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    write_tickets(ten, 30)
    settle()
    cache_file(ten).unlink()
    monkeypatch.setattr(index, "PARALLEL_AFTER", 2)
    parent = os.getpid()
    real = index.Index._parse_own

    def dies_in_the_child(self: index.Index, name: str) -> Any:
        if os.getpid() != parent:
            os._exit(3)
        return real(self, name)

    monkeypatch.setattr(index.Index, "_parse_own", dies_in_the_child)
    check_same(ten)


def test_cache_files_of_earlier_formats_are_removed(ten: Repo) -> None:
    folder = cache_file(ten).parent
    for old in ("excerpts-v1.json", "tickets-text-v1.json"):
        (folder / old).write_text("{}", "utf-8")
    ten.write("tickets/ISS-3.md", ticket(3, title="又改了"))
    settle()
    check_same(ten)
    assert not (folder / "excerpts-v1.json").exists() and not (folder / "tickets-text-v1.json").exists()
    assert cache_file(ten).exists()
