"""``sopflow demo``: a repository built from every shipped example, with tickets moved by different people.

Each ticket walks its workflow's main path as the people who hold the roles would: the right person fires
each transition, required roles are bound, required fields filled, checklists ticked, and every handoff
carries a note. One refused action is shown on purpose. Times advance from three days ago, so SLA clocks,
ages and release notes have something to say.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sopflow.core.workflow import Transition, Workflow
from sopflow.errors import SopflowError

EXAMPLES = ["issue-track", "feature", "launch", "support"]

TITLES: dict[str, list[str]] = {
    "issue_track": ["【20261120】华东局点 OSN 设备单板告警", "【20261121】金融客户核心交换机端口闪断",
                    "【20261122】电网局点光模块收光异常"],
    "improvement": ["单板告警自动抓取日志脚本", "线缆问题排查手册补充图片"],
    "buglist": ["光模块兼容性典型问题", "端口闪断典型问题"],
    "feature": ["BotHub 月报自动生成", "知识库按流程重组", "Add SSO login for enterprise customers"],
    "launch": ["借贷功能上线"],
    "feedback": ["用户无法提币", "借贷利率显示不一致", "新手引导文案有误"],
    "support": ["VPN 断网，连接超时", "登录报错 403", "申请开通报表权限", "订单页面 500 error"],
    "task": ["整理本周值班记录"],
}
STEPS = {  # how far along its main path each demo ticket of a type goes
    "issue_track": [99, 2, 0], "improvement": [3, 1], "buglist": [2, 0], "feature": [99, 4, 1],
    "launch": [2], "feedback": [99, 1, 0], "support": [1, 2, 0, 3], "task": [1],
}


def run_demo(path: str | None, out: Callable[[str], None] = print) -> Path:
    root = _target(path)
    from sopflow.adapters import gitrepo
    from sopflow.setup_repo import install

    gitrepo.init(root)
    install(root, EXAMPLES, project="sopflow-demo")
    base = datetime.now().astimezone().replace(microsecond=0, second=0) - timedelta(days=3)
    env = {"GIT_AUTHOR_NAME": "sopflow demo", "GIT_AUTHOR_EMAIL": "demo@example.com",
           "GIT_COMMITTER_NAME": "sopflow demo", "GIT_COMMITTER_EMAIL": "demo@example.com",
           "GIT_AUTHOR_DATE": base.isoformat(), "GIT_COMMITTER_DATE": base.isoformat()}
    rels = [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and ".git" not in p.parts]
    gitrepo.commit_paths(root, sorted(rels), "chore: sopflow init with the shipped examples\n", env=env)
    gitrepo.run(root, "tag", "v0.1", env=env)
    clock = _Clock(base)
    from sopflow.project import Project

    probe = Project(root)
    people = probe.config.people
    order = ["issue_track", "feature", "launch", "feedback", "improvement", "buglist", "task", "support"]
    created: dict[str, list[str]] = {}
    for wtype in order:
        wf = probe.workflows.get(wtype)
        if wf is None:
            continue
        for n, title in enumerate(TITLES.get(wtype, [])):
            reporter = _holder(probe, wf, _first_roles(wf)) or next(iter(people), "demo")
            prio = _priority(wf, n)
            tid = _act(root, clock, reporter, "new", wf.type, title, priority=prio)
            created.setdefault(wtype, []).append(tid)
            if wtype == "feedback" and created.get("launch"):
                _act(root, clock, reporter, "link", tid, parent_id=created["launch"][0])
            steps = STEPS.get(wtype, [1])[n % len(STEPS.get(wtype, [1]))]
            _walk(root, clock, wf, tid, steps)
    _show_refusal(root, clock, created, out)
    _report(root, created, out)
    return root


class _Clock:
    def __init__(self, start: datetime) -> None:
        self.t = start
        self.n = 0

    def tick(self) -> datetime:
        self.n += 1
        self.t += timedelta(minutes=[17, 43, 95, 38, 120, 26][self.n % 6])
        return self.t


def _target(path: str | None) -> Path:
    if path is None:
        return Path(tempfile.mkdtemp(prefix="sopflow-demo-"))
    root = Path(path).expanduser().resolve()
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise SopflowError(f"{path}: must be absent or an empty folder")
    root.mkdir(parents=True, exist_ok=True)
    return root


def _first_roles(wf: Workflow) -> tuple[str, ...]:
    for t in wf.transitions_from(wf.initial):
        if t.by:
            return t.by
    return wf.roles[:1]


def _holder(p: Any, wf: Workflow, roles: tuple[str, ...], data: dict[str, Any] | None = None) -> str | None:
    bound = (data or {}).get("roles") or {}
    for r in roles:
        if r == "assignee" and data and data.get("assignee"):
            return str(data["assignee"])
        if r == "reporter" and data and data.get("reporter"):
            return str(data["reporter"])
        if r in bound:
            return str(bound[r])
    for r in roles:
        holders = p.config.holders(r)
        if holders:
            return str(holders[0])
    return None


def _priority(wf: Workflow, n: int) -> str | None:
    prios = list((wf.sla or {}).get("priorities") or {}) if isinstance(wf.sla, dict) else []
    if prios:
        return str(prios[n % len(prios)])
    return ["P2", "P3", "P1"][n % 3]


def _act(root: Path, clock: _Clock, who: str, use_case: str, *args: Any, **kwargs: Any) -> str:
    """Run one Project use case as ``who`` at the demo's next instant, and commit it as them."""
    from sopflow.project import Project

    now = clock.tick()
    p = Project(root, actor=who, now=now, author_env=_author(root, who, now))
    change = getattr(p, use_case)(*args, **kwargs)
    p.apply(change)
    return str(change.tickets[0])


def _author(root: Path, who: str, now: datetime) -> dict[str, str]:
    from sopflow.project import Project

    person = Project(root).config.people.get(who)
    name = (person.name if person and person.name else who) if person else who
    email = person.email if person and person.email else f"{who}@example.com"
    return {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_COMMITTER_NAME": name,
            "GIT_COMMITTER_EMAIL": email, "GIT_AUTHOR_DATE": now.isoformat(), "GIT_COMMITTER_DATE": now.isoformat()}


def _main_path_step(wf: Workflow, state: str, seen: set[str]) -> Transition | None:
    options = [t for t in wf.transitions_from(state) if t.dest != state]
    forward = [t for t in options if t.dest not in seen]
    for t in forward:
        if not any(w in t.trigger for w in ("拒绝", "取消", "不予", "重复", "非典型", "关闭重复")):
            return t
    return forward[0] if forward else None


def _walk(root: Path, clock: _Clock, wf: Workflow, tid: str, steps: int) -> None:
    from sopflow.core import checklist, fsm
    from sopflow.project import Project

    seen: set[str] = {wf.initial}
    for _ in range(steps):
        p = Project(root)
        t = p.load(tid)
        tr = _main_path_step(wf, t.state, seen)
        if tr is None:
            return
        seen.add(tr.dest)
        who = _holder(p, wf, tr.by, t.data) if tr.by else (t.data.get("assignee") or t.data.get("reporter"))
        who = str(who or "demo")
        sec = checklist.current(t.doc.body_lines(), t.state)
        if tr.require.checklist and sec is not None and sec.unticked:
            numbers = [str(sec.items.index(i) + 1) for i in sec.unticked]
            _act(root, clock, who, "tick", tid, numbers)
        roles = []
        bound = fsm.bound_roles(t.data)
        for r in tr.require.roles:
            if r not in bound:
                holder = _holder(p, wf, (r,))
                if holder:
                    roles.append((r, holder))
        sets = [(f, _sample(wf, f)) for f in tr.require.fields if not t.data.get(f)]
        note = None
        if tr.require.note or tr.assign_to:
            note = f"背景: {t.data.get('title')}; 进展: {t.state} 已完成; 下一步: {tr.dest}"
        if tr.require.wiki and not t.links.get("wiki"):
            pages = sorted((root / "wiki").rglob("*.md"))
            if pages:
                page = pages[0].relative_to(root).as_posix()
                _act(root, clock, who, "link", tid, wiki=[page])
        if tr.require.children:
            for child in Project(root).children_of(tid):
                cwf = p.workflows.get(str(child.get("type")))
                if cwf is not None and not cwf.is_final(str(child.get("state"))):
                    _walk(root, clock, cwf, str(child.get("id")), 99)
        _act(root, clock, who, "do", tid, tr.trigger, note=note, sets=sets, roles=roles)


def _sample(wf: Workflow, name: str) -> str:
    f = wf.fields.get(name)
    if f is None:
        return "示例"
    if f.choices:
        return str(f.choices[0])
    return {"int": "3", "bool": "true", "date": "2026-12-01", "datetime": "2026-12-01T10:00:00+08:00",
            "link": "https://example.com/demo", "person": ""}.get(f.type, f"示例：{f.title}")


def _show_refusal(root: Path, clock: _Clock, created: dict[str, list[str]], out: Callable[[str], None]) -> None:
    from sopflow.project import Project

    for tid in created.get("issue_track", [])[2:3]:
        p = Project(root, actor="fan", now=clock.tick())
        try:
            p.do(tid, "提交审核")
        except SopflowError as exc:
            out(f"$ sopflow --as fan do {tid} 提交审核      # refused on purpose, nothing written:")
            out(f"sopflow: {exc.line()}\n")


def _report(root: Path, created: dict[str, list[str]], out: Callable[[str], None]) -> None:
    import typer

    from sopflow.cli import app

    cmd = typer.main.get_command(app)
    show_id = (created.get("issue_track") or [next(iter(created.values()))[0]])[0]
    for args in (["list", "--open"], ["show", show_id], ["board", "--type", "support"], ["sla"],
                 ["release-notes"], ["check"]):
        names = getattr(cmd, "commands", {})
        if args[0] not in names:
            continue
        out(f"$ sopflow {' '.join(args)}")
        sys.stdout.flush()
        old = os.getcwd()
        os.chdir(root)
        try:
            cmd.main(args=args, prog_name="sopflow", standalone_mode=False)
        except SopflowError as exc:
            out(f"sopflow: {exc.line()}")
        except SystemExit:
            pass
        except Exception as exc:  # a view that fails must not hide the rest of the demo
            if type(exc).__name__ != "Exit":
                out(f"sopflow: {type(exc).__name__}: {exc}")
        finally:
            os.chdir(old)
        out("")
    out(f"Demo repository: {root}")
    out(f"Try: cd {root} && sopflow board && sopflow --as wutao inbox && sopflow log {show_id} && git log --oneline")
