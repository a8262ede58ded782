"""Helpers for the service-level tests: a real repo made by ``sopflow init --example support``, and tickets
written by hand with a chosen history (times in Asia/Shanghai, the example's time zone)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from conftest import Repo, git_env, run_inprocess

INITIAL = "请求接入"
#: The support workflow's trigger for each (source, dest), so hand-written histories read like real ones.
TRIGGERS = {
    ("请求接入", "分类分级"): "受理",
    ("分类分级", "处理中"): "分级完成",
    ("处理中", "待用户确认"): "提交用户确认",
    ("待用户确认", "处理中"): "用户反馈未解决",
    ("待用户确认", "复盘"): "用户确认解决",
    ("复盘", "知识归档"): "归档",
    ("请求接入", "已关闭"): "关闭重复请求",
    ("分类分级", "已关闭"): "关闭重复请求",
}
CALENDAR_LINE = '  calendar: {days: [1,2,3,4,5], hours: "09:00-18:00"}\n'


def at(text: str) -> str:
    """``"11-20 10:00"`` or ``"2026-11-20 10:00:01"`` → ISO 8601 with the +08:00 offset."""
    if len(text) <= 11 or text[4] != "-":
        text = f"2026-{text}"
    date, time = text.split(" ")
    if time.count(":") == 1:
        time += ":00"
    return f"{date}T{time}+08:00"


def build_support(root: Path, home: Path) -> Repo:
    root.mkdir(parents=True)
    r = Repo(root, git_env(home))
    r.git("init", "-q", "-b", "main")
    res = run_inprocess(["init", "--example", "support"], r.env, root)
    assert res.code == 0, res.err
    return r


def clone_template(template: Repo, root: Path, home: Path) -> Repo:
    shutil.copytree(template.root, root, symlinks=True)
    return Repo(root, git_env(home))


def with_calendar(r: Repo, extra: str = "") -> None:
    """Add a Mon-Fri 09:00-18:00 calendar to the support workflow's sla: block (committed)."""
    text = r.read("workflows/support.yaml")
    text = text.replace("  pause: [待用户确认]\n", "  pause: [待用户确认]\n" + CALENDAR_LINE + extra, 1)
    r.write("workflows/support.yaml", text)
    r.commit_all("calendar")


def write_ticket(
    r: Repo,
    n: int,
    events: Sequence[tuple[str, str]],
    *,
    priority: str | None = "P1",
    assignee: str | None = "wutao",
    roles: dict[str, str] | None = None,
    labels: Sequence[str] = (),
    fields: dict[str, Any] | None = None,
    title: str | None = None,
    extra_history: Sequence[dict[str, Any]] = (),
    commit: bool = True,
) -> str:
    """Write ``tickets/SUP-<n>.md`` whose history enters each ``(when, state)`` of ``events`` in turn."""
    from sopflow.core import yamlio

    tid = f"SUP-{n}"
    history: list[dict[str, Any]] = []
    prev = None
    for when, state in events:
        entry: dict[str, Any] = {"at": at(when), "by": "wutao"}
        if prev is None:
            entry.update(action="create", to=state)
        else:
            entry.update(action=TRIGGERS[(prev, state)], **{"from": prev}, to=state)
        history.append(entry)
        prev = state
    history += extra_history
    lines = ["---", f"id: {tid}", "type: support", f"title: {title or f'工单 {n}'}", f"state: {prev}"]
    if priority:
        lines.append(f"priority: {priority}")
    if assignee:
        lines.append(f"assignee: {assignee}")
    lines.append("reporter: wutao")
    if roles:
        lines.append(f"roles: {yamlio.emit_flow(roles)}")
    if labels:
        lines.append(f"labels: {yamlio.emit_flow(list(labels))}")
    lines += [f"created: {history[0]['at']}", f"updated: {history[-1]['at']}", "channel: 工单"]
    for k, v in (fields or {}).items():
        lines.append(f"{k}: {yamlio.emit_value(v)}")
    lines.append("history:")
    lines += [f"  - {yamlio.emit_flow(e)}" for e in history]
    lines += ["---", "## 问题描述", ""]
    r.write(f"tickets/{tid}.md", "\n".join(lines))
    if commit:
        r.commit_all(f"{tid} by hand")
    return tid


def sla_json(r: Repo, now: str, *args: str) -> list[dict[str, Any]]:
    res = r.run("sla", "--format", "json", *args, now=at(now))
    assert res.code == 0, res.err
    data: list[dict[str, Any]] = json.loads(res.out)
    return data


def one(r: Repo, now: str, tid: str, *args: str) -> dict[str, Any]:
    rows = [x for x in sla_json(r, now, "--all", *args) if x["id"] == tid]
    assert len(rows) == 1, rows
    return rows[0]


def commits(r: Repo) -> int:
    return int(r.git("rev-list", "--count", "HEAD").strip())
