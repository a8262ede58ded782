"""Whole-command benchmark of the knowledge commands on a generated 10,000-page repository.

    PYTHONPATH=src python bench/wiki_cli_bench.py [--pages 10000] [--repeat 5] [--keep DIR]

Builds a real sopflow repository (``sopflow init``, N wiki pages from tests/fixtures_wiki.py, one commit,
pages dated an hour ago as a checkout would leave them), then times each command as a user runs it: a new
``python -m sopflow`` process, wall clock, including interpreter start-up. ``bench/search_bench.py`` times
the pure index; this one adds reading the pages, the caches in ``.git/sopflow/`` and the CLI.
Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

from fixtures_wiki import make_pages  # noqa: E402

QUERIES = ("数据库连接超时", "登录报错403", "VPN 断网", "线缆", "connection timeout", "kafka 消费延迟")


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "SOPFLOW_"))}
    env.update({"HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"),
                "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
                "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@example.com",
                "SOPFLOW_USER": "bench", "SOPFLOW_NOW": "2026-11-21T10:00:00+08:00",
                "PYTHONPATH": str(ROOT / "src"), "NO_COLOR": "1"})
    return env


def _run(cwd: Path, env: dict[str, str], *args: str) -> tuple[float, str]:
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "sopflow", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, check=False)
    elapsed = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"sopflow {' '.join(args)} failed: {proc.stderr.strip()}")
    return elapsed, proc.stdout


def _median(cwd: Path, env: dict[str, str], repeat: int, *args: str) -> float:
    return statistics.median(_run(cwd, env, *args)[0] for _ in range(repeat))


def _age(root: Path) -> None:
    old = time.time_ns() - 3600 * 10**9
    for p in (root / "wiki").rglob("*.md"):
        os.utime(p, ns=(old, old))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=10000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--keep", metavar="DIR", help="Build the repository here and keep it.")
    args = ap.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="sopflow-wiki-bench-"))
    root = Path(args.keep).resolve() if args.keep else tmp / "repo"
    home = tmp / "home"
    home.mkdir()
    env = _env(home)
    try:
        root.mkdir(parents=True, exist_ok=False)
        subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, env=env, check=True)
        _run(root, env, "init")
        t = time.perf_counter()
        pages = make_pages(args.pages)
        for page in pages:
            f = root / page.key
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text(page.markdown(), "utf-8")
        subprocess.run(["git", "add", "-A"], cwd=root, env=env, check=True)
        subprocess.run(["git", "commit", "-qm", "wiki"], cwd=root, env=env, check=True)
        _age(root)
        t_setup = time.perf_counter() - t
        chars = sum(len(p.body) for p in pages)
        tid = _run(root, env, "new", "task", "--title", "订单服务数据库连接超时", "--body",
                   "高峰期订单服务日志出现 connection timeout，连接池打满。")[1].strip()

        rows: list[tuple[str, float]] = []
        rows.append(("`sopflow --version` (interpreter start-up)", _median(root, env, args.repeat, "--version")))
        cache = root / ".git" / "sopflow"
        rows.append(("`wiki search 数据库连接超时`, cold (no cache: read, parse, index, write cache)",
                     _run(root, env, "wiki", "search", "数据库连接超时")[0]))
        sizes = {p.name: p.stat().st_size for p in cache.glob("*.json")}
        for q in QUERIES:
            rows.append((f"`wiki search {q}`, warm (median of {args.repeat})",
                         _median(root, env, args.repeat, "wiki", "search", *q.split())))
        rows.append((f"`wiki search 数据库连接超时 --format json`, warm (median of {args.repeat})",
                     _median(root, env, args.repeat, "wiki", "search", "数据库连接超时", "--format", "json")))
        edited = root / pages[-1].key
        edited.write_text(edited.read_text("utf-8") + "\n补充：新增一条排查记录。\n", "utf-8")
        old = time.time_ns() - 60 * 10**9
        os.utime(edited, ns=(old, old))
        rows.append(("`wiki search 数据库连接超时` after one page changed (index rebuilt, 1 page re-parsed)",
                     _run(root, env, "wiki", "search", "数据库连接超时")[0]))
        rows.append((f"`wiki list --stale`, warm (median of {args.repeat})",
                     _median(root, env, args.repeat, "wiki", "list", "--stale", "--format", "json")))
        rows.append((f"`show {tid}` with related knowledge, warm (median of {args.repeat})",
                     _median(root, env, args.repeat, "show", tid)))
        _, shown = _run(root, env, "show", tid)
        _, top = _run(root, env, "wiki", "search", "数据库连接超时", "-n", "1")

        print(f"## `sopflow wiki search` on a {len(pages)}-page repository ({chars / 1e6:.1f} M characters)\n")
        print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs; setup (write pages, git add, commit) "
              f"{t_setup:.1f} s; caches: " + ", ".join(f"{n} {s / 1e6:.1f} MB" for n, s in sorted(sizes.items()))
              + "\n")
        print("| command | wall time |")
        print("|---|---:|")
        for label, secs in rows:
            print(f"| {label} | {secs * 1000:.0f} ms |")
        print("\nFirst hit:\n```\n" + top.strip() + "\n```")
        related = shown.split("\nRelated knowledge\n")[1].split("\n\n")[0] if "Related knowledge" in shown else ""
        print(f"\n`show {tid}`, related knowledge:\n```\n{related}\n```")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
