"""`sopflow release-notes` through the CLI: formats, output targets, templates, errors."""

from __future__ import annotations

import json

import pytest
from conftest import Repo


def closed_ticket(repo: Repo) -> None:
    assert repo.run("new", "issue_track", "--title", "光模块告警", "--role", "维护代表=fan",
                    "--set", "customer_type=金融", "--set", "release_note=修复光模块告警误报", as_="alice").code == 0
    repo.run("tick", "ISS-1", "1", "2", as_="alice")
    assert repo.run("do", "ISS-1", "提交审核", "--note", "n", as_="alice").code == 0
    assert repo.run("do", "ISS-1", "问题关闭", as_="fan").code == 0


def test_release_notes_markdown_json_output_and_prepend(repo: Repo) -> None:
    repo.git("tag", "v1.0")
    closed_ticket(repo)
    repo.write("src.txt", "x\n")
    repo.commit_all("feat!: new API")
    res = repo.run("release-notes")
    assert res.code == 0, res.err
    assert "修复光模块告警误报" in res.out and "ISS-1" in res.out and "new API" in res.out
    data = json.loads(repo.run("release-notes", "--format", "json").out)
    assert data["range"] == "v1.0..HEAD"
    assert [t["id"] for t in data["tickets"]] == ["ISS-1"]
    assert data["tickets"][0]["release_note"] == "修复光模块告警误报"
    assert data["other_commits"][0]["breaking"] is True
    assert repo.run("release-notes", "--output", "NOTES.md").code == 0
    assert "修复光模块告警误报" in repo.read("NOTES.md")
    repo.write("CHANGELOG.md", "# Changelog\n\n## v0.9\n- old\n")
    assert repo.run("release-notes", "--prepend", "CHANGELOG.md").code == 0
    text = repo.read("CHANGELOG.md")
    assert text.startswith("# Changelog\n") and text.endswith("## v0.9\n- old\n") and "修复光模块告警误报" in text


def test_release_notes_refuses_escapes_and_bad_ranges(repo: Repo) -> None:
    closed_ticket(repo)
    repo.write("evil.j2", "{{ ''.__class__.__mro__[1].__subclasses__() }}")
    before = repo.snapshot()
    res = repo.run("release-notes", "--template", "evil.j2")
    assert res.code == 1 and "sandbox" in res.err and res.err.count("\n") == 1
    res = repo.run("release-notes", "--template", "../outside.j2")
    assert res.code == 1
    res = repo.run("release-notes", "nosuch..HEAD")
    assert res.code == 1 and "Traceback" not in res.err
    res = repo.run("release-notes", "--output", "../x.md")
    assert res.code == 1
    assert repo.snapshot() == before


def test_long_histories_show_a_progress_bar_on_a_terminal_only(repo: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading a long history shows 'reading history [###…]' on a terminal's stderr (after a second; here at
    once), erased at the end; piped or captured, stderr stays empty; stdout is the same either way."""
    from sopflow import progress
    from sopflow.adapters import gitlog

    closed_ticket(repo)
    for n in range(30):
        repo.write("src.txt", f"{n}\n")
        repo.commit_all(f"fix: step {n}")
    quiet = repo.run("release-notes")
    assert quiet.code == 0 and quiet.err == ""
    monkeypatch.setattr(progress, "_is_tty", lambda stream: True)
    monkeypatch.setattr(progress, "DELAY", 0.0)
    monkeypatch.setattr(progress, "INTERVAL", 0.0)
    monkeypatch.setattr(gitlog.LogReader, "_CHUNK", 256)  # many reads: many updates
    loud = repo.run("release-notes")
    assert loud.code == 0 and loud.out == quiet.out
    assert "\rreading history [" in loud.err and loud.err.endswith("\r\x1b[K")
    assert "[##############################]" in loud.err  # it reaches the end


@pytest.mark.parametrize("enabled", [True, False])
def test_release_notes_leave_the_collector_as_they_found_it(repo: Repo, enabled: bool) -> None:
    """The collector rests while the command runs (gcpause.paused) and is as it was afterwards, in every
    format and on a refusal."""
    import gc

    closed_ticket(repo)
    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        for args in (["release-notes"], ["release-notes", "--format", "json"], ["release-notes", "nope..HEAD"]):
            repo.run(*args)
            assert gc.isenabled() is enabled, args
    finally:
        (gc.enable if was else gc.disable)()
