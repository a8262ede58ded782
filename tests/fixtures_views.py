"""A deterministic repository for the everyday views: several types, Chinese names, 60+ tickets.

``populate(root)`` writes the config, three workflows (the SPEC's issue_track, the shipped support and task)
and tickets whose histories walk their workflows, with seeded randomness so the same call always writes the
same files. Tickets are written as files (as sopflow writes them), not through the CLI, to keep tests fast.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from conftest import ISSUE_TRACK

from sopflow.core.frontmatter import Document

ROOT = Path(__file__).resolve().parent.parent
SEED = 20261121
NOW = "2026-11-21T10:00:00+08:00"

CONFIG = """\
project: 视图测试
timezone: Asia/Shanghai
commit: true
people:
  fan:   {name: 范慧阳, email: fan@example.com, roles: [维护处理人, 维护代表]}
  alice: {name: Alice, email: alice@example.com, roles: [维护处理人, 改进提取SE]}
  张伟:  {name: 张伟, email: zhangwei@example.com, roles: [维护处理人, 一线支持]}
  李娜:  {email: lina@example.com, roles: [改进提取SE, 二线专家, 支持主管]}
  bob:   {email: bob@example.com, roles: [研发]}
"""

PEOPLE = ["fan", "alice", "张伟", "李娜", "bob"]
TITLES = [
    "【20261121】某银行局点XX设备发生掉电问题，业务中断约十分钟",
    "数据库连接超时",
    "Network cable issue at site B",
    "登录报错403：新员工无法访问报表系统，需要开通权限后重新验证",
    "交易系统宕机",
    "升级后 VPN 客户端 timeout，混合 English 与中文的超长标题用于测试截断是否整齐",
    "短",
    "打印机卡纸",
    "月度巡检：检查 12 台服务器的磁盘、内存与日志告警",
    "Ünïcödé títle with àccents and emoji 🚀 rocket",
]


def _walks(wf: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for t in wf["transitions"]:
        sources = t["source"] if isinstance(t["source"], list) else [t["source"]]
        for s in sources:
            out.setdefault(s, []).append(t)
    return out


def populate(root: Path, *, per_type: int = 22, seed: int = SEED) -> list[dict[str, Any]]:
    """Write the repository's files under ``root``; return the tickets' front matter."""
    import yaml

    rng = random.Random(seed)
    (root / "workflows").mkdir(parents=True, exist_ok=True)
    (root / "tickets").mkdir(exist_ok=True)
    (root / "sopflow.yaml").write_text(CONFIG, "utf-8")
    (root / "workflows" / "issue_track.yaml").write_text(ISSUE_TRACK, "utf-8")
    for t in ("support", "task"):
        (root / "workflows" / f"{t}.yaml").write_text((ROOT / "workflows" / f"{t}.yaml").read_text("utf-8"), "utf-8")
    now = datetime.fromisoformat(NOW)
    written = []
    for wtype, prefix in (("issue_track", "ISS"), ("support", "SUP"), ("task", "TASK")):
        wf = yaml.safe_load((root / "workflows" / f"{wtype}.yaml").read_text("utf-8"))
        initial = next(n for n, s in wf["states"].items() if (s or {}).get("initial"))
        finals = {n for n, s in wf["states"].items() if (s or {}).get("final")}
        moves = _walks(wf)
        for n in range(1, per_type + 1):
            tid = f"{prefix}-{n}"
            at = now - timedelta(hours=rng.randint(1, 24 * 40), minutes=rng.randint(0, 59))
            reporter = rng.choice(PEOPLE)
            state = initial
            history: list[dict[str, Any]] = [{"at": at.isoformat(), "by": reporter, "action": "create", "to": state}]
            for _ in range(rng.randint(0, 5)):
                if state in finals or state not in moves:
                    break
                tr = rng.choice(moves[state])
                at = at + timedelta(minutes=rng.randint(5, 60 * 30))
                if at >= now:
                    break
                history.append({"at": at.isoformat(), "by": rng.choice(PEOPLE), "action": tr["trigger"],
                                "from": state, "to": tr["dest"]})
                state = tr["dest"]
            data: dict[str, Any] = {"id": tid, "type": wtype, "title": rng.choice(TITLES), "state": state}
            prio = rng.choice(["P1", "P2", "P3", "P4", None])
            if prio:
                data["priority"] = prio
            assignee = rng.choice([*PEOPLE, None])
            if assignee:
                data["assignee"] = assignee
            data["reporter"] = reporter
            if wtype == "issue_track" and rng.random() < 0.5:
                data["roles"] = {"维护代表": rng.choice(["fan", "李娜"])}
            data["created"] = history[0]["at"]
            data["updated"] = history[-1]["at"]
            if wtype == "issue_track":
                data["issue_level"] = "一般问题"
            data["history"] = history
            doc = Document.new(data, "正文\n")
            (root / "tickets" / f"{tid}.md").write_text(doc.text(), "utf-8")
            written.append(data)
    return written
