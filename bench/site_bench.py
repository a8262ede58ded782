"""Benchmark of ``sopflow site build`` on a generated repository.

    PYTHONPATH=src python bench/site_bench.py [--tickets 10000] [--seed 20261121] [--dir /tmp/site-bench]

Generates N tickets with tests/fixtures_site.py (the shipped issue-track and support examples, one commit),
then times: a cold build into an empty folder, a rebuild with nothing changed, and a rebuild after one
ticket changed (``sopflow comment``, committed). Prints a Markdown table and the pages the last rebuild
wrote.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

from fixtures_site import NOW, make_repo  # noqa: E402

from sopflow.project import Project  # noqa: E402
from sopflow.site import build_site  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tickets", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=20261121)
    ap.add_argument("--dir", default=None, help="work folder (default: a new temporary one, removed after)")
    args = ap.parse_args()
    work = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="sopflow-site-bench-"))
    if work.exists() and any(work.iterdir()):
        sys.exit(f"{work}: must be absent or empty")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update({"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
                "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.com",
                "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "SOPFLOW_NOW": NOW})
    os.environ.update(env)
    repo, out = work / "repo", work / "site"
    t0 = time.perf_counter()
    ids = make_repo(repo, args.tickets, seed=args.seed, env=env)
    gen = time.perf_counter() - t0
    rows = []
    cold = build_site(Project(repo), out)
    rows.append(("cold build", cold.seconds, len(cold.written)))
    warm = build_site(Project(repo), out)
    rows.append(("rebuild, nothing changed", warm.seconds, len(warm.written)))
    p = Project(repo, actor="fan")
    p.apply(p.comment(ids[len(ids) // 2], "基准测试：客户已确认恢复"))
    one = build_site(Project(repo), out)
    rows.append(("rebuild after one ticket changed", one.seconds, len(one.written)))
    print(f"{args.tickets} tickets generated in {gen:.1f}s; {cold.pages} pages\n")
    print("| build | seconds | pages written |")
    print("|---|---:|---:|")
    for name, secs, n in rows:
        print(f"| {name} | {secs:.1f} | {n} |")
    print("\npages written by the last rebuild: " + ", ".join(one.written))
    if not args.dir:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
