"""Benchmark of sopflow's full-text search on a generated wiki.

    PYTHONPATH=src python bench/search_bench.py [--pages 10000] [--seed 20261101] [--repeat 20]

Generates N pages (~30 lines each) with tests/fixtures_wiki.py, then times: building the index, its JSON
round trip (what a cache would do), and the median over ``--repeat`` runs of each of 20 queries (Chinese,
English, mixed). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")
ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

from fixtures_wiki import make_pages  # noqa: E402

from sopflow.core.search import Hit, SearchIndex, matches  # noqa: E402

QUERIES = (
    "数据库连接",
    "数据库连接超时",
    "登录报错403",
    "线缆",
    "VPN 断网",
    "权限开通",
    "磁盘空间不足",
    "客户投诉",
    "排查",
    "网",
    "慢查询 索引",
    "nginx 502",
    "connection timeout",
    "No space left on device",
    "OutOfMemoryError",
    "ISS-12",
    "kafka 消费延迟",
    "CPU 使用率过高",
    "P1 告警",
    "Redis 缓存 超时",
)


def _timed(fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> tuple[R, float]:
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=20261101)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--limit", type=int, default=20)
    args = ap.parse_args(argv)

    pages, t_gen = _timed(make_pages, args.pages, args.seed)
    docs = [p.doc() for p in pages]
    lines = sum(len(d.text.splitlines()) for d in docs)
    chars = sum(len(d.text) for d in docs)

    index, t_build = _timed(SearchIndex.build, docs)
    data, t_dump = _timed(lambda: json.dumps(index.to_dict(), ensure_ascii=False))
    loaded, t_load = _timed(lambda: SearchIndex.from_dict(json.loads(data)))
    _, t_first = _timed(loaded.search, "数据库 连接", args.limit)

    rows = []
    for q in QUERIES:
        times = []
        hits: list[Hit] = []
        for _ in range(args.repeat):
            hits, t = _timed(index.search, q, args.limit)
            times.append(t)
        total = len(index.search(q, None))
        top = hits[0].title if hits else "-"
        rows.append((q, statistics.median(times), total, top))

    _, t_matches = _timed(lambda: sum(matches("数据库 连接", d.text) for d in docs))

    medians = [r[1] for r in rows]
    print(f"## sopflow search benchmark: {len(docs)} pages, {lines} lines, {chars / 1e6:.1f} M characters\n")
    print("| step | time |")
    print("|---|---:|")
    print(f"| generate corpus | {t_gen:.2f} s |")
    print(f"| build index | {t_build:.2f} s |")
    print(f"| to_dict + json.dumps ({len(data.encode()) / 1e6:.1f} MB) | {t_dump:.2f} s |")
    print(f"| json.loads + from_dict | {t_load:.2f} s |")
    print(f"| first query after from_dict (数据库 连接) | {t_first * 1000:.1f} ms |")
    print(f"| query, median of the {len(rows)} query medians | {statistics.median(medians) * 1000:.1f} ms |")
    print(f"| query, slowest median | {max(medians) * 1000:.1f} ms |")
    print(f"| `matches` over every page (list --text) | {t_matches * 1000:.0f} ms |")
    print()
    print(f"| query | median of {args.repeat} (ms) | pages hit | first hit |")
    print("|---|---:|---:|---|")
    for q, t, total, top in rows:
        print(f"| {q} | {t * 1000:.2f} | {total} | {top} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
