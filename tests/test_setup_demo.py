"""init, demo and start-up: a newcomer's first commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Repo, git_env, run_inprocess

SRC = str(Path(__file__).resolve().parent.parent / "src")


@pytest.mark.parametrize("example", ["issue-track", "feature", "launch", "support", None])
def test_init_example_passes_check(tmp_path: Path, home: Path, example: str | None) -> None:
    root = tmp_path / "r"
    root.mkdir()
    env = git_env(home)
    args = ["init"] + (["--example", example] if example else [])
    res = run_inprocess(args, env, root)
    assert res.code == 0, res.err
    assert (root / ".git").is_dir() and (root / "sopflow.yaml").is_file()
    res = run_inprocess(["check", "--format", "json"], env, root)
    data = json.loads(res.out)
    assert data["ok"] is True, data
    assert not [p for p in data["problems"] if p["severity"] == "error"]
    r = Repo(root, env)
    assert r.git("status", "--porcelain").strip() == ""
    assert "sopflow init" in r.git("log", "-1", "--format=%s")
    again = run_inprocess(args, env, root)
    assert again.code == 1 and "already a sopflow repository" in again.err


def test_init_unknown_example(tmp_path: Path, home: Path) -> None:
    res = run_inprocess(["init", "--example", "nope"], git_env(home), tmp_path)
    assert res.code == 1 and "unknown example 'nope'" in res.err
    assert not (tmp_path / "sopflow.yaml").exists()


def test_issue_track_example_is_faithful_to_seed_002(tmp_path: Path, home: Path) -> None:
    env = git_env(home)
    run_inprocess(["init", "--example", "issue-track"], env, tmp_path)
    res = run_inprocess(["workflow", "show", "issue_track", "--format", "json"], env, tmp_path)
    wf = json.loads(res.out)
    assert list(wf["states"]) == ["维护人员处理", "维护代表审核", "SE分析改进", "关闭"]
    edges = {(t["trigger"], tuple(t["source"]), t["dest"]) for t in wf["transitions"]}
    assert {("更新进展", ("维护人员处理",), "维护人员处理"), ("提交审核", ("维护人员处理",), "维护代表审核"),
            ("打回补充信息", ("维护代表审核",), "维护人员处理"), ("转SE分析改进", ("维护代表审核",), "SE分析改进")} <= edges
    assert any(t[0] == "问题关闭" and "SE分析改进" in t[1] and t[2] == "关闭" for t in edges)
    assert wf["roles"] == ["维护处理人", "维护代表", "改进提取SE"]
    assert wf["fields"]["issue_level"]["choices"] == ["一般问题", "严重问题", "紧急问题"]
    types = json.loads(run_inprocess(["workflow", "list", "--format", "json"], env, tmp_path).out)
    assert {t["type"] for t in types} >= {"issue_track", "improvement", "buglist"}


def test_demo_builds_a_repo_that_passes_check(tmp_path: Path, home: Path) -> None:
    target = tmp_path / "demo"
    env = git_env(home)
    env.pop("SOPFLOW_NOW")
    res = run_inprocess(["demo", str(target)], env, tmp_path)
    assert res.code == 0, res.err
    assert "refused on purpose" in res.out and "$ sopflow list --open" in res.out
    assert f"Demo repository: {target}" in res.out
    data = json.loads(run_inprocess(["check", "--format", "json"], env, target).out)
    assert data["ok"], data
    tickets = json.loads(run_inprocess(["list", "--format", "json"], env, target).out)
    assert len(tickets) >= 15
    assert {t["type"] for t in tickets} >= {"issue_track", "feature", "launch", "feedback", "support"}
    authors = Repo(target, env).git("log", "--format=%an").split("\n")
    assert len(set(authors)) >= 4  # different people moved the tickets
    res = run_inprocess(["demo", str(target)], env, tmp_path)
    assert res.code == 1 and "absent or an empty folder" in res.err


def test_help_is_fast_and_light(tmp_path: Path) -> None:
    code = ("import sys; sys.argv=['sopflow','--help']\n"
            "from sopflow.cli import main\n"
            "try:\n main()\nexcept SystemExit: pass\n"
            "bad=[m for m in ('git','jinja2','yaml.emitter','yaml','rich','sopflow.project','sopflow.index')"
            " if m in sys.modules]\n"
            "print('HEAVY', bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"PYTHONPATH": SRC, "PATH": "/usr/bin:/bin"})
    assert "HEAVY []" in out.stdout, out.stdout + out.stderr
    assert "Example" in out.stdout


def test_every_command_has_help_with_an_example(tmp_path: Path, home: Path) -> None:
    import typer

    from sopflow.cli import app

    group = typer.main.get_command(app)

    def walk(cmd, path):  # type: ignore[no-untyped-def]
        subs = getattr(cmd, "commands", None)
        if subs:
            for name, sub in subs.items():
                yield from walk(sub, [*path, name])
        else:
            yield path, cmd

    missing = [" ".join(p) for p, c in walk(group, []) if not c.hidden and "Example" not in (c.help or "")]
    assert not missing, f"commands without an Example in their help: {missing}"


def test_cached_top_level_help_matches_typer() -> None:
    from sopflow.entry import HELP_FILE, render_help

    assert HELP_FILE.read_text("utf-8") == render_help(), (
        "src/sopflow/_help.txt is stale: run python -m sopflow.entry --regen")


def test_console_entry_help_imports_almost_nothing() -> None:
    code = ("import sys; sys.argv=['sopflow','--help']\n"
            "from sopflow.entry import main\n"
            "try:\n main()\nexcept SystemExit: pass\n"
            "print('HEAVY', [m for m in ('typer','git','jinja2','yaml','rich') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"PYTHONPATH": SRC, "PATH": "/usr/bin:/bin"})
    assert "HEAVY []" in out.stdout and "Usage: sopflow" in out.stdout, out.stdout + out.stderr


def test_commands_convert_parameters_without_pydantic(repo: Repo) -> None:
    """Typer 0.2x would build a pydantic TypeAdapter per parameter (70 ms, 14 MiB a command): sopflow's
    plain converters give the same values, so a command run never imports pydantic."""
    code = ("import sys\n"
            "from sopflow.cli import main\n"
            "try:\n main(['list', '--type', 'issue_track', '--format', 'json'])\n"
            "except SystemExit as e: print('EXIT', e.code)\n"
            "print('PYDANTIC', 'pydantic' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=repo.root,
                         env={**os.environ, "PYTHONPATH": SRC})
    assert "EXIT 0" in out.stdout and "PYDANTIC False" in out.stdout, out.stdout + out.stderr


def test_read_commands_never_import_pyyaml(repo: Repo) -> None:
    """Config, workflows and tickets in the common subset are read by fastyaml, whose copy of PyYAML's
    implicit resolvers (held equal to PyYAML's by test_index_fastyaml) spares importing PyYAML (9 ms)."""
    assert repo.run("new", "issue_track", "--title", "磁盘告警 disk alarm", as_="alice").code == 0
    for args in (["list"], ["board"], ["show", "ISS-1"]):
        code = ("import sys\n"
                "from sopflow.cli import main\n"
                f"try:\n main({args!r})\n"
                "except SystemExit as e: print('EXIT', e.code)\n"
                "print('PYYAML', 'yaml' in sys.modules)")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=repo.root,
                             env={**os.environ, "PYTHONPATH": SRC})
        assert "EXIT 0" in out.stdout and "PYYAML False" in out.stdout, (args, out.stdout + out.stderr)


def test_plain_converters_give_typers_values_and_errors(repo: Repo) -> None:
    assert repo.run("new", "issue_track", "--title", "磁盘告警 disk alarm", as_="alice").code == 0
    ok = repo.run("wiki", "search", "磁盘", "--limit", " 3 ", "--format", "json")
    assert ok.code == 0, ok.err
    bad = repo.run("wiki", "search", "磁盘", "--limit", "three")
    assert bad.code == 2 and "'three' is not a valid integer" in bad.err
    many = repo.run("list", "--type", "issue_track", "--type", "task", "--format", "json")
    assert many.code == 0 and "磁盘告警" in many.out


def test_each_command_is_registered_by_the_module_the_table_names() -> None:
    """A run registers only the module of its command (sopflow.cli.COMMANDS): the table must be complete."""
    import typer

    from sopflow import cli

    seen: dict[str, str] = {}
    for module in cli.MODULES:
        group = typer.main.get_command(cli.build_app((module,)))
        for name in getattr(group, "commands", {}):
            seen[name] = module
    assert seen == cli.COMMANDS
    full = typer.main.get_command(cli.app)
    assert set(getattr(full, "commands", {})) == set(seen)


@pytest.mark.parametrize(("args", "name"), [
    (["list"], "list"), (["-C", "x", "--as", "fan", "--no-commit", "do", "A-1", "t"], "do"),
    (["-C", "board", "show", "A-1"], "show"), (["--help"], None), (["--", "list"], None), ([], None),
    (["--as=fan", "wiki", "list"], "wiki"),
])
def test_command_of_skips_the_global_options(args: list[str], name: str | None) -> None:
    from sopflow.cli import command_of

    assert command_of(args) == name
