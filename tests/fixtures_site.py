"""Generated sopflow repositories for the site tests and the site benchmark.

``make_repo(root, n)`` installs the shipped ``issue-track`` and ``support`` examples and writes ``n``
tickets straight to disk (no CLI, so 10,000 take seconds): each walks its workflow's main path a seeded
number of steps, with history entries, checklists (ticked where the walk moved on), roles, priorities
and links to wiki pages. ``commit=True`` commits everything in one git commit.
"""

from __future__ import annotations

import random
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sopflow.core import checklist, yamlio
from sopflow.core.frontmatter import Document
from sopflow.core.workflow import Workflow

TZ = timezone(timedelta(hours=8))
START = datetime(2026, 11, 1, 9, 0, tzinfo=TZ)
NOW = "2026-11-21T10:00:00+08:00"

PLACES = ["华东", "华南", "华北", "西南", "东北", "西北", "华中", "上海", "北京", "深圳"]
THINGS = ["OSN 设备单板告警", "核心交换机端口闪断", "光模块收光异常", "VPN 断网，连接超时", "登录报错 403",
          "数据库连接超时", "订单页面 500 error", "报表权限申请", "Kafka 消费延迟", "磁盘空间不足",
          "Redis 缓存命中率下降", "nginx 502 Bad Gateway", "证书即将过期", "CPU 使用率过高"]


def _walk(wf: Workflow, steps: int) -> list[str]:
    """States along the workflow's main path (first forward transition each time)."""
    path = [wf.initial]
    seen = {wf.initial}
    for _ in range(steps):
        nxt = [t.dest for t in wf.transitions_from(path[-1]) if t.dest not in seen]
        if not nxt:
            break
        path.append(nxt[0])
        seen.add(nxt[0])
    return path


def make_repo(root: Path, n: int, *, seed: int = 20261121, commit: bool = True,
              env: dict[str, str] | None = None) -> list[str]:
    """Write a sopflow repo with ``n`` generated tickets under ``root``; return the ticket IDs."""
    from sopflow.project import Project
    from sopflow.setup_repo import install

    root.mkdir(parents=True, exist_ok=True)
    install(root, ["issue-track", "support"], project="站点基准")
    p = Project(root)
    wfs = [p.workflow("support"), p.workflow("issue_track")]
    people = list(p.config.people)
    sop_items: dict[str, list[str]] = {}
    for wf in wfs:
        for s in wf.states.values():
            if s.checklist and s.checklist not in sop_items:
                doc = Document.parse((root / s.checklist).read_text("utf-8"))
                sop_items[s.checklist] = checklist.sop_items(doc.body)
    wiki = sorted(x.relative_to(root).as_posix() for x in (root / "wiki").rglob("*.md"))
    rng = random.Random(seed)
    tdir = root / "tickets"
    tdir.mkdir(exist_ok=True)
    counters = {wf.prefix: 0 for wf in wfs}
    ids = []
    for i in range(n):
        wf = wfs[i % len(wfs)]
        counters[wf.prefix] += 1
        tid = f"{wf.prefix}-{counters[wf.prefix]}"
        ids.append(tid)
        states = _walk(wf, rng.choice([0, 0, 1, 1, 2, 3, 9]))
        t = START + timedelta(minutes=rng.randrange(0, 20 * 24 * 60 - 600))
        reporter = rng.choice(people)
        assignee = rng.choice(people)
        title = f"【2026{rng.randrange(1001, 1130)}】{rng.choice(PLACES)}局点{rng.choice(THINGS)} #{i + 1}"
        history = [{"at": t.isoformat(), "by": reporter, "action": "create", "to": states[0]}]
        body = [f"【问题现象】: {title}", "【问题影响】: 部分用户无法访问，需尽快恢复。", ""]
        for k, st in enumerate(states):
            sop = wf.states[st].checklist
            moved_on = k < len(states) - 1
            if sop:
                body.append(f"## Checklist: {st}")
                body += [f"- [{'x' if moved_on else ' '}] {item}" for item in sop_items[sop]]
                body.append("")
            if moved_on:
                t += timedelta(minutes=rng.randrange(10, 300))
                tr = next(x for x in wf.transitions_from(st) if x.dest == states[k + 1])
                history.append({"at": t.isoformat(), "by": rng.choice(people), "action": tr.trigger,
                                "from": st, "to": states[k + 1], "note": f"背景: … 进展: {st} 已完成; 下一步: …"})
        data = {
            "id": tid, "type": wf.type, "title": title, "state": states[-1],
            "priority": rng.choice(["P1", "P2", "P3", "P4"]), "assignee": assignee, "reporter": reporter,
            "roles": {wf.roles[0]: reporter}, "labels": [rng.choice(["硬件", "网络", "权限", "数据"])],
        }
        for name, f in wf.fields.items():
            if f.required and f.default is not None:
                data[name] = f.default
        if wiki and rng.random() < 0.2:
            data["links"] = {"wiki": [rng.choice(wiki)]}
        data["created"] = history[0]["at"]
        data["updated"] = history[-1]["at"]
        lines = ["---"] + [f"{k}: {yamlio.emit_value(v)}" for k, v in data.items()]
        lines.append("history:")
        lines += [f"  - {yamlio.emit_flow(e)}" for e in history]
        lines += ["---", *body]
        (tdir / f"{tid}.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if commit:
        def git(*args: str) -> None:
            subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)

        if not (root / ".git").exists():
            git("init", "-q", "-b", "main")
        git("add", "-A")
        git("commit", "-qm", f"generated {n} tickets")
    return ids
