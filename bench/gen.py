#!/usr/bin/env python3
"""Generate a realistic sopflow repository for benchmarks.

    python bench/gen.py OUT_DIR --tickets N --commits M --wiki W --seed S [--workflows DIR] [--example NAME]...

The repository is built from the shipped example workflows of the sopflow source tree (``workflows/<type>.yaml``
and ``examples/<name>/{example.yaml, sopflow.yaml, sops/, wiki/, templates/}``; all examples are merged into one
repository by default) or from ``--workflows DIR``: either such a source tree, or one directory holding workflow
files (``DIR/workflows/*.yaml`` or ``DIR/*.yaml``) with optional ``sopflow.yaml``, ``sops/``, ``wiki/``.

Tickets follow SPEC 2.4: histories come from walking legal transitions (who fires them follows SPEC 2.3, ``require:``
is honoured: fields set, roles bound, checklists ticked, notes given, wiki linked, children closed). The git history
is written with one ``git fast-import`` stream: every history entry of every ticket is one commit (several per commit
when there are more entries than commits), mixed with conventional commits touching ``src/`` and a few wiki edits,
with annotated tags ``v0.1`` (the root commit), ``v0.2``, … along the way. The last ten commits each move one
different ticket, for ``check --base HEAD~10``. Facts a benchmark needs (a ticket and a trigger that can be fired,
a busy person, a search word, the tags) are written to ``.git/sopflow-bench.json``.

Deterministic for a seed: the same arguments give the same commit IDs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import hashlib
import itertools
import json
import random
import re
import shutil
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import yaml

GENERATOR_VERSION = 1
TZ_OFFSET = 8 * 3600
END = int(dt.datetime(2026, 11, 20, 18, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))).timestamp())
START = END - 730 * 86400
NOW = END + 3600  # SOPFLOW_NOW for benchmarks
TAIL = 10  # the last TAIL commits each move one distinct ticket
MAX_HISTORY = 10
TEXT_WORD = "死锁"  # appears in ~2% of ticket bodies, for `list --text`
META_FILE = "sopflow-bench.json"
FI_TREE_BUDGET = 35_000_000  # tickets/ tree entries git fast-import may write in all (see generate)

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class GenError(Exception):
    """A problem with the generator's input (missing workflows, bad arguments)."""


# --------------------------------------------------------------------------------------------------------------
# YAML scalars, fast
# --------------------------------------------------------------------------------------------------------------

_PLAIN = re.compile(r"[^\s\-?:,\[\]{}#&*!|>'\"%@`=~][^?:#,\[\]{}\"'\n\r\t]*")
# characters YAML does not accept raw (or reads as line breaks / a byte order mark)
_UNSAFE = re.compile("[^\t\n\r\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]|[\u2028\u2029\ufeff]")
_RESOLVER = yaml.resolver.Resolver()


def _escape(m: re.Match[str]) -> str:
    c = ord(m.group())
    return f"\\u{c:04x}" if c <= 0xFFFF else f"\\U{c:08x}"


@functools.lru_cache(maxsize=65536)
def q(text: str) -> str:
    """``text`` as a YAML scalar usable in flow and block context: plain when safe, else double-quoted."""
    if (
        text
        and _PLAIN.fullmatch(text)
        and not _UNSAFE.search(text)
        and not text.endswith(" ")
        and _RESOLVER.resolve(yaml.ScalarNode, text, (True, False)) == "tag:yaml.org,2002:str"  # type: ignore[no-untyped-call]
    ):
        return text
    return _UNSAFE.sub(_escape, json.dumps(text, ensure_ascii=False))


def flow_list(items: list[str]) -> str:
    return "[" + ", ".join(q(i) for i in items) + "]"


def flow_map(items: list[tuple[str, str]]) -> str:
    """A flow mapping; values are already YAML text."""
    return "{" + ", ".join(f"{q(k)}: {v}" for k, v in items) + "}"


def iso(t: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t + TZ_OFFSET)) + "+08:00"


def day(t: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(t + TZ_OFFSET))


# --------------------------------------------------------------------------------------------------------------
# Source: workflows, config, SOPs, wiki
# --------------------------------------------------------------------------------------------------------------


@dataclass
class Source:
    config: dict[str, Any]
    workflows: dict[str, bytes]  # type -> file bytes
    files: dict[str, bytes]  # repo path -> bytes (sops, wiki, templates)
    examples: list[str]
    digest: str = ""


def _yaml_file(path: Path) -> Any:
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    except (OSError, yaml.YAMLError) as exc:
        raise GenError(f"{path}: {exc}") from exc


def _collect(root: Path, sub: str, files: dict[str, bytes], prefix: str | None = None) -> None:
    base = root / sub
    if not base.is_dir():
        return
    for p in sorted(base.rglob("*")):
        if p.is_file() and not p.name.startswith("."):
            files.setdefault(f"{prefix or sub}/{p.relative_to(base).as_posix()}", p.read_bytes())


def _merge_config(into: dict[str, Any], cfg: dict[str, Any]) -> None:
    for key, value in cfg.items():
        if key == "people" and isinstance(value, dict):
            people = into.setdefault("people", {})
            for pk, pv in value.items():
                pv = dict(pv or {})
                if pk in people:
                    old = people[pk]
                    roles = list(old.get("roles") or [])
                    roles += [r for r in pv.get("roles") or [] if r not in roles]
                    old["roles"] = roles
                    for k, v in pv.items():
                        old.setdefault(k, v)
                else:
                    people[pk] = pv
        elif isinstance(value, dict) and isinstance(into.get(key), dict):
            for k, v in value.items():
                into[key].setdefault(k, v)
        elif isinstance(value, list) and isinstance(into.get(key), list):
            into[key] += [v for v in value if v not in into[key]]
        else:
            into.setdefault(key, value)


def load_source(path: Path, examples: list[str] | None = None) -> Source:
    """Read workflows, config, SOPs and wiki from a sopflow source tree or a workflows directory."""
    path = path.resolve()
    config: dict[str, Any] = {}
    workflows: dict[str, bytes] = {}
    files: dict[str, bytes] = {}
    names: list[str] = []
    ex_root = path / "examples"
    ex_dirs = sorted(p.parent for p in ex_root.glob("*/example.yaml")) if ex_root.is_dir() else []
    if ex_dirs:
        if examples:
            unknown = sorted(set(examples) - {d.name for d in ex_dirs})
            if unknown:
                raise GenError(f"unknown example(s): {', '.join(unknown)}")
            ex_dirs = [d for d in ex_dirs if d.name in examples]
        for ex in ex_dirs:
            meta = _yaml_file(ex / "example.yaml") or {}
            names.append(ex.name)
            for wtype in meta.get("types") or []:
                for cand in (ex / "workflows" / f"{wtype}.yaml", path / "workflows" / f"{wtype}.yaml"):
                    if cand.is_file():
                        workflows.setdefault(str(wtype), cand.read_bytes())
                        break
                else:
                    raise GenError(f"{ex}: workflow {wtype!r} not found in workflows/")
                tmpl = path / "templates" / f"{wtype}.md"
                if tmpl.is_file():
                    files.setdefault(f"templates/{wtype}.md", tmpl.read_bytes())
            if (ex / "sopflow.yaml").is_file():
                _merge_config(config, _yaml_file(ex / "sopflow.yaml") or {})
            for sub in ("sops", "wiki", "templates"):
                _collect(ex, sub, files)
        rn = path / "templates" / "release-notes.md.j2"
        if rn.is_file():
            files.setdefault("templates/release-notes.md.j2", rn.read_bytes())
    else:
        wdir = path / "workflows" if (path / "workflows").is_dir() else path
        for p in sorted(wdir.glob("*.yaml")):
            if p.name in ("sopflow.yaml", "example.yaml"):
                continue
            workflows[p.stem] = p.read_bytes()
        if (path / "sopflow.yaml").is_file():
            _merge_config(config, _yaml_file(path / "sopflow.yaml") or {})
        for sub in ("sops", "wiki", "templates"):
            _collect(path, sub, files)
        names.append(path.name)
    if not workflows:
        raise GenError(f"no workflows found under {path} (pass --workflows DIR)")
    digest = hashlib.sha256()
    for name, data in sorted(workflows.items()) + sorted(files.items()):
        digest.update(name.encode() + b"\0" + data + b"\0")
    digest.update(json.dumps(config, sort_keys=True, ensure_ascii=False, default=str).encode())
    return Source(config, workflows, files, names, digest.hexdigest()[:16])


def default_source_dir() -> Path:
    """The sopflow source tree this script lives in."""
    return Path(__file__).resolve().parent.parent


# --------------------------------------------------------------------------------------------------------------
# Workflows
# --------------------------------------------------------------------------------------------------------------


@dataclass
class Transition:
    trigger: str
    sources: list[str]
    dest: str
    by: list[str]
    require: dict[str, Any]
    assign_to: str | None


@dataclass
class Workflow:
    type: str
    prefix: str
    roles: list[str]
    fields: dict[str, dict[str, Any]]
    states: list[str]
    checklist: dict[str, str]  # state -> SOP path
    initial: str
    finals: set[str]
    transitions: list[Transition]
    outgoing: dict[str, list[Transition]] = field(default_factory=dict)
    dist: dict[str, int] = field(default_factory=dict)  # steps to a final state
    needs_fields: list[str] = field(default_factory=list)
    needs_roles: list[str] = field(default_factory=list)
    needs_wiki: bool = False
    has_sla: bool = False


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)]


def parse_workflow(wtype: str, data: bytes) -> Workflow:
    doc = yaml.load(data.decode("utf-8"), Loader=_Loader)
    if not isinstance(doc, dict):
        raise GenError(f"workflows/{wtype}.yaml: not a mapping")
    states_raw = doc.get("states") or {}
    states = [str(s) for s in states_raw]
    if not states:
        raise GenError(f"workflows/{wtype}.yaml: no states")
    checklist: dict[str, str] = {}
    finals: set[str] = set()
    initial = states[0]
    for name, spec in states_raw.items():
        spec = spec or {}
        if spec.get("initial"):
            initial = str(name)
        if spec.get("final"):
            finals.add(str(name))
        if spec.get("checklist"):
            checklist[str(name)] = str(spec["checklist"])
    transitions = []
    for tr in doc.get("transitions") or []:
        sources = _as_list(tr.get("source"))
        if sources in (["*"], ["any"]):
            sources = [s for s in states if s not in finals]
        transitions.append(
            Transition(
                trigger=str(tr["trigger"]),
                sources=sources,
                dest=str(tr.get("dest", sources[0] if sources else initial)),
                by=_as_list(tr.get("by")),
                require=dict(tr.get("require") or {}),
                assign_to=str(tr["assign_to"]) if tr.get("assign_to") else None,
            )
        )
    wf = Workflow(
        type=str(doc.get("type", wtype)),
        prefix=str(doc.get("prefix") or wtype[:3].upper()),
        roles=_as_list(doc.get("roles")),
        fields={str(k): dict(v or {}) for k, v in (doc.get("fields") or {}).items()},
        states=states,
        checklist=checklist,
        initial=initial,
        finals=finals,
        transitions=transitions,
        has_sla=bool(doc.get("sla")),
    )
    for s in states:
        wf.outgoing[s] = [t for t in transitions if s in t.sources]
    # distance to a final state (reverse BFS)
    dist = {s: 0 for s in finals}
    queue = deque(finals)
    while queue:
        s = queue.popleft()
        for t in transitions:
            if t.dest == s:
                for src in t.sources:
                    if src not in dist:
                        dist[src] = dist[s] + 1
                        queue.append(src)
    wf.dist = {s: dist.get(s, 99) for s in states}
    for t in transitions:
        wf.needs_fields += [f for f in _as_list(t.require.get("fields")) if f not in wf.needs_fields]
        wf.needs_roles += [r for r in _as_list(t.require.get("roles")) if r not in wf.needs_roles]
        if t.require.get("wiki"):
            wf.needs_wiki = True
    return wf


_ITEM = re.compile(r"^\s*[-*] \[[ xX]\] (.+?)\s*$", re.M)


def sop_items(text: str) -> list[str]:
    body = text.split("\n---", 2)[-1] if text.startswith("---") else text
    return _ITEM.findall(body)


# --------------------------------------------------------------------------------------------------------------
# Content pools
# --------------------------------------------------------------------------------------------------------------

SITES = [("北京", "beijing"), ("上海", "shanghai"), ("广州", "guangzhou"), ("深圳", "shenzhen"),
         ("成都", "chengdu"), ("武汉", "wuhan"), ("西安", "xian"), ("南京", "nanjing"), ("杭州", "hangzhou"),
         ("重庆", "chongqing"), ("天津", "tianjin"), ("郑州", "zhengzhou"), ("长沙", "changsha")]
DEVICES = [("交换机", "switch"), ("路由器", "router"), ("服务器", "server"), ("存储阵列", "storage"),
           ("防火墙", "firewall"), ("负载均衡", "lb"), ("网关", "gateway"), ("数据库主机", "db-host"),
           ("UPS电源", "ups"), ("光模块", "optics"), ("采集终端", "collector")]
PROBLEMS = [("端口闪断", "port-flap"), ("内存泄漏", "mem-leak"), ("CPU占用过高", "high-cpu"),
            ("磁盘告警", "disk-alarm"), ("链路中断", "link-down"), ("证书过期", "cert-expired"),
            ("登录超时", "login-timeout"), ("配置丢失", "config-lost"), ("时钟不同步", "clock-skew"),
            ("日志堆积", "log-backlog"), ("性能下降", "slowdown"), ("异常重启", "reboot")]
MODULES = [("报表", "report"), ("计费", "billing"), ("告警", "alarm"), ("用户管理", "users"),
           ("工单", "tickets"), ("移动端", "mobile"), ("数据同步", "sync"), ("权限", "auth")]
FEATURES = [("批量导出", "bulk-export"), ("SLA 提醒", "sla-reminder"), ("单点登录", "sso"),
            ("暗色主题", "dark-theme"), ("操作审计", "audit-log"), ("企业微信通知", "wecom-notify"),
            ("多语言", "i18n"), ("看板筛选", "board-filter")]
EN_COMPONENTS = ["gateway", "billing", "auth", "search", "report", "mobile app", "admin console", "sync service",
                 "scheduler", "webhook"]
EN_PROBLEMS = ["timeout on large requests", "memory leak after 24h uptime", "crash on empty input",
               "wrong totals in monthly report", "slow first load", "duplicate notifications",
               "stale cache after deploy", "TLS handshake failure", "timezone off by 8 hours",
               "CSV export garbles Chinese text", "retry storm after network blip", "permission check skipped"]
CUSTOMERS = ["中国银行北京分行", "国家电网华东分部", "神华煤炭", "招商证券", "ACME Corp", "平安保险", "南方电网",
             "兖矿集团", "Globex Ltd", "华夏银行", "Initech", "中石化信息中心"]
LABELS = ["硬件", "软件", "网络", "数据库", "性能", "安全", "文档", "UX", "backend", "frontend", "regression",
          "客户投诉", "升级", "配置"]
ZH_SENTENCES = [
    "客户反馈问题在业务高峰期更加明显，晚间基本可以恢复。",
    "初步排查排除了网络抖动，怀疑与最近一次版本升级有关。",
    "现场工程师已经收集了设备日志和抓包文件，上传到共享目录。",
    "同类问题在其他局点也出现过，需要确认是否为典型问题。",
    "临时规避方案是重启服务，但无法根治，需要研发定位根因。",
    "建议在下一个维护窗口更换硬件并观察一周。",
    "该问题影响客户的月度结算，客户要求尽快给出书面答复。",
    "已与客户约定每天 18:00 同步一次进展。",
    "复现环境已经搭建完毕，问题可以稳定复现。",
    "监控显示连接数在故障前五分钟陡增。",
]
EN_SENTENCES = [
    "The issue started right after the 3.2 upgrade; rollback was not possible.",
    "Logs show repeated connection resets from the upstream service.",
    "We could reproduce it on staging with 200 concurrent users.",
    "Workaround: restart the worker pool, which clears the queue for a few hours.",
    "Root cause is probably a missing index on the events table.",
    "Customer asked for an RCA document by the end of the week.",
    "No data loss has been observed so far.",
    "Metrics dashboards attached; see the spike at 14:05.",
]
STEPS = ["登录管理控制台 (admin console)", "进入报表页面并选择上月数据", "批量导入 5000 条记录",
         "断开主链路并切换到备链路", "执行 `systemctl restart agent`", "在移动端提交一张工单",
         "打开看板并按优先级排序", "等待定时任务在 02:00 执行"]
LOG_MSGS = ["upstream timeout after 30s", "connection reset by peer", "OOM killer invoked",
            "certificate verify failed", "disk usage 95% on /data", "deadline exceeded while syncing",
            "too many open files", "slow query (2.3s): SELECT * FROM events"]
NOTES = [
    "背景: 客户报障，影响业务。进展: 已收集日志并复现。下一步: 提交审核，等待维护代表确认。",
    "背景: 问题已定位到配置项。进展: 修改配置后观察 24h 无复发。下一步: 关闭前确认客户满意。",
    "背景: 需要研发协助。进展: 已提供抓包和日志。下一步: 研发给出修复版本。",
    "Background: customer escalation. Progress: workaround applied. Next: permanent fix in next release.",
    "背景: 信息不全。进展: 缺少设备型号和版本。下一步: 请补充后重新提交。",
    "进展: 方案已发给客户, 等待确认 (ETA 2d)。",
]
COMMENTS = ["已电话联系客户，确认问题仍存在。", "附上最新日志 logs-0312.tar.gz", "Ping: any update on this?",
            "客户同意在周末维护窗口操作。", "转给二线专家看一下 dump 文件。", "Duplicate of an older report?"]
RELEASE_NOTES = ["修复{m}模块{p}的问题", "Fixed {pe} in {c}", "优化{m}在高并发下的性能", "{m}: 修正统计口径"]
WIKI_TOPICS = [("faq", "常见问题"), ("hardware", "硬件"), ("network", "网络"), ("database", "数据库"),
               ("runbook", "运维手册"), ("onboarding", "新人指南"), ("release", "发版"), ("support", "客户支持")]
PEOPLE_POOL = [("zhangwei", "张伟"), ("wangfang", "王芳"), ("lina", "李娜"), ("liuyang", "刘洋"),
               ("chenjing", "陈静"), ("yangmin", "杨敏"), ("zhaolei", "赵磊"), ("huangyan", "黄艳"),
               ("zhoujie", "周杰"), ("wuhao", "吴昊"), ("xuqian", "徐倩"), ("sunpeng", "孙鹏"), ("mali", "马丽"),
               ("zhutao", "朱涛"), ("hulin", "胡林"), ("guoqiang", "郭强"), ("hexin", "何欣"), ("linfeng", "林峰"),
               ("luoyu", "罗宇"), ("liangchen", "梁晨"), ("emma", "Emma Li"), ("jack", "Jack Wang"),
               ("olivia", "Olivia Chen"), ("noah", "Noah Zhang"), ("sophia", "Sophia Liu"), ("liam", "Liam Zhou")]
SRC_MODULES = ["api", "auth", "billing", "board", "cache", "config", "export", "gateway", "notify", "report",
               "search", "sla", "storage", "sync", "ui"]
COMMIT_SUBJECTS = {
    "feat": ["支持按优先级排序", "add CSV export", "新增企业微信通知", "support dark theme", "看板支持按负责人筛选",
             "add audit log", "支持批量导入", "allow custom SLA calendars"],
    "fix": ["修复登录超时", "handle empty payload", "修正时区换算错误", "fix race in cache invalidation",
            "修复导出中文乱码", "avoid double notification", "修正分页越界", "close file handles on error"],
    "docs": ["更新部署文档", "document the release process", "补充 FAQ"],
    "refactor": ["拆分服务层", "extract query builder", "简化配置加载"],
    "perf": ["减少一次数据库往返", "cache parsed templates", "批量写入日志"],
    "test": ["补充边界用例", "add regression test", "稳定偶发失败的测试"],
    "chore": ["升级依赖", "bump version", "清理无用脚本"],
}


# --------------------------------------------------------------------------------------------------------------
# People
# --------------------------------------------------------------------------------------------------------------


@dataclass
class People:
    order: list[str]
    info: dict[str, dict[str, Any]]
    holders: dict[str, list[str]]  # role -> people listing it
    weights: dict[str, float]

    def name(self, key: str) -> str:
        return str(self.info.get(key, {}).get("name") or key)

    def email(self, key: str) -> str:
        return str(self.info.get(key, {}).get("email") or f"{key}@example.com")


def build_people(config: dict[str, Any], workflows: list[Workflow], n_tickets: int, rng: random.Random) -> People:
    info: dict[str, dict[str, Any]] = {str(k): dict(v or {}) for k, v in (config.get("people") or {}).items()}
    all_roles: list[str] = []
    for wf in workflows:
        for role in wf.roles:
            if role not in all_roles:
                all_roles.append(role)
    target = min(200, max(len(info), n_tickets // 150))
    if not info:
        target = max(target, 6)
    i = 0
    while len(info) < target:
        key, name = PEOPLE_POOL[i % len(PEOPLE_POOL)]
        round_ = i // len(PEOPLE_POOL)
        if round_:
            key, name = f"{key}{round_ + 1}", f"{name}{round_ + 1}"
        i += 1
        if key in info:
            continue
        roles = rng.sample(all_roles, k=min(len(all_roles), rng.choice([1, 1, 2, 2, 3]))) if all_roles else []
        info[key] = {"name": name, "email": f"{key}@example.com", "roles": roles}
    order = list(info)
    holders: dict[str, list[str]] = {}
    for key in order:
        for role in info[key].get("roles") or []:
            holders.setdefault(str(role), []).append(key)
    ranks = order[:]
    rng.shuffle(ranks)
    weights = {k: 1.0 / (r + 1) ** 0.7 for r, k in enumerate(ranks)}
    return People(order, info, holders, weights)


def render_config(config: dict[str, Any], people: People) -> str:
    lines = ["project: Bench", "timezone: Asia/Shanghai", "commit: true", "people:"]
    for key in people.order:
        p = people.info[key]
        parts = [(k, q(str(p[k]))) for k in ("name", "email") if p.get(k)]
        parts.append(("roles", flow_list([str(r) for r in p.get("roles") or []])))
        for k, v in p.items():
            if k not in ("name", "email", "roles"):
                parts.append((str(k), q(str(v))))
        lines.append(f"  {q(key)}: {flow_map(parts)}")
    rest = {k: v for k, v in config.items() if k not in ("project", "timezone", "commit", "people", "paths")}
    text = "\n".join(lines) + "\n"
    if rest:
        text += yaml.safe_dump(rest, allow_unicode=True, sort_keys=False, default_flow_style=None, width=1000)
    return text


# --------------------------------------------------------------------------------------------------------------
# Tickets
# --------------------------------------------------------------------------------------------------------------


@dataclass(eq=False)
class Event:
    at: int
    by: str
    action: str
    frm: str | None
    to: str | None
    note: str | None
    state: str
    assignee: str
    roles: tuple[tuple[str, str], ...]
    sections: tuple[tuple[str, tuple[bool, ...]], ...]
    new_assignee: bool = False  # a transition that moved the assignee records it (as `sopflow do` does)
    items: tuple[str, ...] = ()  # the items a tick entry ticked
    commit: int = -1


@dataclass(eq=False)
class Ticket:
    idx: int
    wf: Workflow
    id: str
    path: str
    title: str
    slug_hint: str
    priority: str
    reporter: str
    created: int
    labels: list[str] = field(default_factory=list)
    links: dict[str, Any] = field(default_factory=dict)
    fields: list[tuple[str, str]] = field(default_factory=list)
    body: str = ""
    events: list[Event] = field(default_factory=list)
    needs_closed_children: bool = False
    needs_wiki: bool = False

    @property
    def final(self) -> bool:
        return self.events[-1].state in self.wf.finals


class Generator:
    def __init__(self, source: Source, n_tickets: int, n_commits: int, n_wiki: int, seed: int) -> None:
        self.source = source
        self.n_tickets = n_tickets
        self.n_commits = n_commits
        self.n_wiki = n_wiki
        self.seed = seed
        self.rng = random.Random(seed)
        self.workflows = [parse_workflow(t, d) for t, d in source.workflows.items()]
        self.files: dict[str, bytes] = dict(source.files)
        self.items: dict[str, list[str]] = {}  # SOP path -> items
        for wf in self.workflows:
            for state, sop in wf.checklist.items():
                if sop not in self.files:
                    self.files[sop] = self._make_sop(wf, state).encode()
                self.items[sop] = sop_items(self.files[sop].decode("utf-8")) or ["完成本阶段工作"]
        self.people = build_people(source.config, self.workflows, n_tickets, self.rng)
        self.tickets: list[Ticket] = []
        self.wiki_paths: list[str] = sorted(p for p in self.files if p.startswith("wiki/") and p.endswith(".md"))
        self.new_wiki: dict[str, Any] = {}
        self._cum: dict[int, list[float]] = {}  # id(candidate list) -> cumulative weights

    # -- helpers ------------------------------------------------------------------------------------------------
    def _make_sop(self, wf: Workflow, state: str) -> str:
        steps = ["确认输入信息完整", "按规范记录处理过程", "通知下一环节负责人"]
        return (f"---\ntitle: {q(state + ' SOP')}\napplies_to: {{type: {q(wf.type)}, state: {q(state)}}}\n---\n"
                "## Steps\n" + "".join(f"- [ ] {s}\n" for s in steps))

    def pick_person(self, candidates: list[str] | None = None) -> str:
        pool = candidates or self.people.order
        cum = self._cum.get(id(pool))
        if cum is None:
            cum = self._cum[id(pool)] = list(itertools.accumulate(self.people.weights[p] for p in pool))
        return self.rng.choices(pool, cum_weights=cum)[0]

    def gap(self) -> int:
        return int(min(4 * 86400, max(120, self.rng.expovariate(1 / (7 * 3600)))))

    # -- titles and bodies --------------------------------------------------------------------------------------
    def make_title(self, created: int) -> tuple[str, str]:
        r = self.rng
        kind = r.random()
        if kind < 0.35:
            site, dev, prob = r.choice(SITES), r.choice(DEVICES), r.choice(PROBLEMS)
            date = day(created - r.randrange(3 * 86400)).replace("-", "")
            slug = f"{site[1]}-{dev[1]}-{prob[1]}" if r.random() < 0.6 else ""
            return f"【{date}】{site[0]}局点{dev[0]}发生{prob[0]}问题", slug
        if kind < 0.55:
            mod, prob = r.choice(MODULES), r.choice(PROBLEMS)
            return f"{mod[0]}模块{prob[0]}", (f"{mod[1]}-{prob[1]}" if r.random() < 0.5 else "")
        if kind < 0.65:
            feat = r.choice(FEATURES)
            return f"新增{feat[0]}功能", feat[1]
        if kind < 0.72:
            return f"客户反馈：{r.choice(CUSTOMERS)}{r.choice(PROBLEMS)[0]}", ""
        comp, prob2 = r.choice(EN_COMPONENTS), r.choice(EN_PROBLEMS)
        title = f"{comp.capitalize()}: {prob2}" if r.random() < 0.5 else f"{prob2.capitalize()} in {comp}"
        slug = "-".join(re.findall(r"[a-z0-9]+", title.lower())[:6])
        return title, slug

    def make_body(self, created: int) -> str:
        r = self.rng
        site, dev, prob = r.choice(SITES), r.choice(DEVICES), r.choice(PROBLEMS)
        comp = r.choice(EN_COMPONENTS)
        stamp = iso(created - r.randrange(2 * 86400))[:19].replace("T", " ")
        n = r.randint(3, 5000)
        analysis = r.sample(ZH_SENTENCES, 2)
        if r.random() < 0.02:
            analysis.append(f"线程栈显示两个 worker 互相等待锁，确认是{TEXT_WORD} (deadlock)。")
        lines = [
            f"【问题现象】{site[0]}局点的{dev[0]}{prob[0]}，客户 {r.choice(CUSTOMERS)} 反馈影响业务。",
            f"【发生时间】{stamp}",
            f"【影响范围】约 {n} 个用户 / about {n} users affected.",
            f"【环境信息】version 3.{r.randint(0, 9)}.{r.randint(0, 20)}, CentOS 7.9, firmware V{r.randint(100, 999)}",
            "",
            "## 背景 Background",
            r.choice(ZH_SENTENCES),
            r.choice(EN_SENTENCES),
            "",
            "## 复现步骤 Steps to reproduce",
            *(f"{i}. {s}" for i, s in enumerate(r.sample(STEPS, 3), 1)),
            "",
            "## 日志 Logs",
            "```text",
            f"{stamp} ERROR [{comp}] {r.choice(LOG_MSGS)}",
            f"{stamp} WARN  [{comp}] retry {r.randint(1, 3)}/3",
            "```",
            "",
            "## 分析 Analysis",
            *analysis,
            r.choice(EN_SENTENCES),
        ]
        return "\n".join(lines) + "\n"

    # -- fields ---------------------------------------------------------------------------------------------------
    def field_value(self, t: Ticket, spec: dict[str, Any]) -> str | None:
        r = self.rng
        ftype = str(spec.get("type", "string"))
        choices = [str(c) for c in spec.get("choices") or []]
        if spec.get("default") is not None and spec.get("required") and r.random() < 0.5:
            default = spec["default"]
            if isinstance(default, bool):
                return "true" if default else "false"
            if isinstance(default, int):
                return str(default)
            if isinstance(default, list):
                return flow_list([str(d) for d in default])
            return q(str(default))
        if ftype == "choice":
            return q(r.choice(choices)) if choices else None
        if ftype == "multi":
            if not choices:
                return flow_list([r.choice(LABELS)])
            return flow_list(r.sample(choices, k=r.randint(1, min(2, len(choices)))))
        if ftype == "int":
            lo = int(spec.get("min", 0))
            hi = int(spec.get("max", lo + 100))
            return str(r.randint(lo, max(lo, hi)))
        if ftype == "date":
            return day(t.created + r.randint(1, 30) * 86400)
        if ftype == "datetime":
            return iso(t.created + r.randint(1, 30) * 3600)
        if ftype == "bool":
            return r.choice(["true", "false"])
        if ftype == "person":
            return q(self.pick_person())
        if ftype == "link":
            if t.idx > 0 and r.random() < 0.7:
                return q(self.tickets[r.randrange(t.idx)].id)
            return q(f"https://bugs.example.com/show_bug.cgi?id={r.randint(1000, 99999)}")
        if ftype == "text":
            return q(r.choice(ZH_SENTENCES) + " " + r.choice(EN_SENTENCES))
        text = r.choice(CUSTOMERS)
        max_len = spec.get("max_length")
        if isinstance(max_len, int) and max_len > 0:
            text = text[:max_len]
        return q(text)

    def set_fields(self, t: Ticket) -> None:
        wf = t.wf
        for name, spec in wf.fields.items():
            if spec.get("readonly"):
                continue
            must = bool(spec.get("required")) or name in wf.needs_fields
            if name == "release_note":
                if t.final and self.rng.random() < 0.7:
                    m, p = self.rng.choice(MODULES)[0], self.rng.choice(PROBLEMS)[0]
                    tmpl = self.rng.choice(RELEASE_NOTES)
                    text = tmpl.format(m=m, p=p, pe=self.rng.choice(EN_PROBLEMS), c=self.rng.choice(EN_COMPONENTS))
                    t.fields.append((name, q(text)))
                continue
            if must or self.rng.random() < 0.45:
                value = self.field_value(t, spec)
                if value is not None:
                    t.fields.append((name, value))

    # -- simulation ---------------------------------------------------------------------------------------------
    def bind_holder(self, role: str, roles: dict[str, str]) -> str:
        if role not in roles:
            roles[role] = self.pick_person(self.people.holders.get(role))
        return roles[role]

    def actor(self, tr: Transition, roles: dict[str, str], assignee: str, reporter: str) -> str:
        """Someone allowed to fire ``tr`` (SPEC 2.3), binding a role if it has to."""
        if not tr.by:
            return assignee
        for role in tr.by:
            if role == "assignee":
                return assignee
            if role == "reporter":
                return reporter
            if role in roles:
                return roles[role]
        role = tr.by[0] if tr.by[0] not in ("assignee", "reporter") else tr.by[-1]
        holders = self.people.holders.get(role)
        if holders:
            return self.pick_person(holders)  # unbound role: anyone listing it may fire
        return self.bind_holder(role, roles)

    def assign(self, target: str | None, roles: dict[str, str], assignee: str, reporter: str) -> str:
        if target is None or target == "assignee":
            return assignee
        if target == "reporter":
            return reporter
        return self.bind_holder(target, roles)

    def simulate(self, t: Ticket, limit: int) -> None:
        r = self.rng
        wf = t.wf
        roles: dict[str, str] = {}
        for role in wf.roles:
            if role in wf.needs_roles or r.random() < 0.5:
                self.bind_holder(role, roles)
        first = [tr for tr in wf.outgoing.get(wf.initial, []) if tr.by]
        assignee = t.reporter
        if first:
            role = first[0].by[0]
            if role not in ("assignee", "reporter"):
                assignee = self.bind_holder(role, roles)
        sections: list[tuple[str, list[bool]]] = []
        state = wf.initial
        if state in wf.checklist:
            sections.append((state, [False] * len(self.items[wf.checklist[state]])))

        def snap(at: int, by: str, action: str, frm: str | None, to: str | None, note: str | None) -> Event:
            return Event(at, by, action, frm, to, note, state, assignee, tuple(roles.items()),
                         tuple((s, tuple(ticks)) for s, ticks in sections))

        t.events.append(snap(t.created, t.reporter, "create", None, state, None))
        now = t.created
        age = END - t.created
        closing = r.random() < (0.9 if age > 120 * 86400 else 0.5 if age > 30 * 86400 else 0.15)
        goal = MAX_HISTORY if closing else r.randint(1, 6)
        while state not in wf.finals and len(t.events) < goal:
            outs = wf.outgoing.get(state) or []
            if not closing:  # stays open: avoid final states
                outs = [tr for tr in outs if tr.dest not in wf.finals]
            if not outs:
                break
            forward = [tr for tr in outs if wf.dist[tr.dest] < wf.dist[state]]
            # one step closer (the main path) rather than a shortcut such as 取消 straight to a final state
            step = [tr for tr in forward if wf.dist[tr.dest] == wf.dist[state] - 1 and tr.dest not in wf.finals]
            if forward and ((closing and r.random() < 0.85) or r.random() < 0.5):
                tr = r.choice(step if step and r.random() < 0.9 else forward)
            else:
                tr = r.choice(outs)
            section = sections[-1][1] if sections and sections[-1][0] == state else None
            need_full = tr.require.get("checklist") == "complete" and section is not None and not all(section)
            pre: list[str] = []
            if need_full:
                pre.append("tick-all")
            elif section and not all(section) and r.random() < 0.4:
                pre.append("tick-some")
            if r.random() < 0.1:
                pre.append("comment")
            if len(t.events) + len(pre) + 1 > MAX_HISTORY:
                if need_full:
                    break
                pre = []
                if len(t.events) + 1 > MAX_HISTORY:
                    break
            times = []
            for _ in range(len(pre) + 1):
                now += self.gap()
                times.append(now)
            if now > limit:
                break
            by = self.actor(tr, roles, assignee, t.reporter)
            for kind, at in zip(pre, times, strict=False):
                if kind == "comment":
                    t.events.append(snap(at, self.pick_person(), "comment", None, None, r.choice(COMMENTS)))
                    continue
                assert section is not None
                done = section.index(False)
                k = len(section) if kind == "tick-all" else r.randint(done + 1, len(section))
                ticked = self.items[wf.checklist[state]][done:k]
                section[done:k] = [True] * (k - done)
                t.events.append(snap(at, assignee, "tick", None, None, None))
                t.events[-1].items = tuple(ticked)
            if tr.require.get("wiki"):
                t.needs_wiki = True
            if tr.require.get("children"):
                t.needs_closed_children = True
            note = r.choice(NOTES) if tr.require.get("note") or r.random() < 0.2 else None
            frm, before = state, assignee
            assignee = self.assign(tr.assign_to, roles, assignee, t.reporter)
            if tr.dest != state and tr.dest in wf.checklist:
                sections.append((tr.dest, [False] * len(self.items[wf.checklist[tr.dest]])))
            state = tr.dest
            t.events.append(snap(times[-1], by, tr.trigger, frm, state, note))
            t.events[-1].new_assignee = assignee != before

    # -- rendering ----------------------------------------------------------------------------------------------
    @staticmethod
    def history_line(e: Event) -> str:
        parts = [("at", iso(e.at)), ("by", q(e.by)), ("action", q(e.action))]
        if e.frm is not None:
            parts.append(("from", q(e.frm)))
        if e.to is not None:
            parts.append(("to", q(e.to)))
        if e.new_assignee:
            parts.append(("assignee", q(e.assignee)))
        if e.items:
            parts.append(("items", flow_list(list(e.items))))
        if e.note:
            parts.append(("note", q(e.note)))
        return "  - " + flow_map(parts)

    def render_ticket(self, t: Ticket, upto: int, hist: list[str]) -> bytes:
        e = t.events[upto]
        links: list[tuple[str, str]] = []
        if "parent" in t.links:
            links.append(("parent", q(t.links["parent"])))
        if "relates" in t.links:
            links.append(("relates", flow_list(t.links["relates"])))
        if "wiki" in t.links:
            links.append(("wiki", flow_list(t.links["wiki"])))
        out = [
            "---",
            f"id: {t.id}",
            f"type: {q(t.wf.type)}",
            f"title: {q(t.title)}",
            f"state: {q(e.state)}",
            f"priority: {t.priority}",
            f"assignee: {q(e.assignee)}",
            f"reporter: {q(t.reporter)}",
            f"roles: {flow_map([(k, q(v)) for k, v in e.roles])}",
            f"labels: {flow_list(t.labels)}",
        ]
        if links:
            out.append(f"links: {flow_map(links)}")
        out += [f"created: {iso(t.created)}", f"updated: {iso(e.at)}"]
        out += [f"{q(k)}: {v}" for k, v in t.fields]
        out.append("history:")
        out += hist[: upto + 1]
        out.append("---")
        text = "\n".join(out) + "\n" + t.body
        for state, ticks in e.sections:
            items = self.items[t.wf.checklist[state]]
            text += f"\n## Checklist: {state}\n" + "".join(
                f"- [{'x' if done else ' '}] {item}\n" for done, item in zip(ticks, items, strict=False)
            )
        return text.encode("utf-8")

    # -- wiki ---------------------------------------------------------------------------------------------------
    def make_wiki(self) -> None:
        r = self.rng
        used = set(self.wiki_paths)
        for i in range(self.n_wiki):
            topic, topic_zh = r.choice(WIKI_TOPICS)
            dev, prob = r.choice(DEVICES), r.choice(PROBLEMS)
            slug = f"{dev[1]}-{prob[1]}"
            path = f"wiki/{topic}/{slug}.md"
            n = 2
            while path in used:
                path = f"wiki/{topic}/{slug}-{n}.md"
                n += 1
            used.add(path)
            title = r.choice([f"{dev[0]}{prob[0]}排查指南", f"{topic_zh}：{prob[0]}处理经验", f"如何处理{dev[0]}{prob[0]}"])
            tags = [topic_zh, *r.sample(LABELS, r.randint(0, 2))]
            tickets = []
            if self.tickets and r.random() < 0.4:
                tickets = sorted({self.tickets[r.randrange(len(self.tickets))].id for _ in range(r.randint(1, 3))})
            every = r.choice(["90d", "180d", "365d", "365d"])
            reviewed = END - r.randint(0, int(int(every[:-1]) * 1.05)) * 86400  # ~5% overdue
            front = [f"title: {q(title)}", f"tags: {flow_list(tags)}"]
            if tickets:
                front.append(f"tickets: {flow_list(tickets)}")
            front += [f"owner: {q(self.pick_person())}", f"reviewed: {day(reviewed)}", f"review_every: {every}"]
            steps = r.sample(STEPS, 3)
            body = [
                "## 故障现象",
                f"{dev[0]}出现{prob[0]}，常见于业务高峰期。{r.choice(EN_SENTENCES)}",
                "",
                "## 排查步骤",
                *(f"{k}. {s}" for k, s in enumerate(steps, 1)),
                f"{len(steps) + 1}. 检查日志中是否有 `{r.choice(LOG_MSGS)}`",
                "",
                "## 修复",
                r.choice(ZH_SENTENCES),
                "",
                "## 预防",
                r.choice(ZH_SENTENCES),
                r.choice(EN_SENTENCES),
            ]
            self.new_wiki[path] = ("---\n" + "\n".join(front) + "\n---\n" + "\n".join(body) + "\n", i)
        self.wiki_paths = sorted(used)

    # -- the whole repository -----------------------------------------------------------------------------------
    def plan_tickets(self) -> None:
        r = self.rng
        weights = [r.uniform(0.6, 1.4) for _ in self.workflows]
        limit = END - 3 * 3600
        created = sorted(START + r.randrange(limit - START - 86400) for _ in range(self.n_tickets))
        counters: dict[str, int] = {}
        for idx in range(self.n_tickets):
            wf = r.choices(self.workflows, weights=weights)[0]
            counters[wf.prefix] = counters.get(wf.prefix, 0) + 1
            tid = f"{wf.prefix}-{counters[wf.prefix]}"
            title, slug = self.make_title(created[idx])
            path = f"tickets/{tid}-{slug}.md" if slug else f"tickets/{tid}.md"
            prio = r.choices(["P1", "P2", "P3", "P4"], weights=[5, 20, 50, 25])[0]
            self.tickets.append(Ticket(idx, wf, tid, path, title, slug, prio, self.pick_person(), created[idx]))
        for t in self.tickets:
            t.labels = r.sample(LABELS, r.choice([0, 1, 1, 2, 3]))
            t.body = self.make_body(t.created)
            self.simulate(t, limit)
        for t in self.tickets:
            self.set_fields(t)

    def link_tickets(self) -> None:
        r = self.rng
        no_open_children = {t.id for t in self.tickets if t.needs_closed_children}
        for t in self.tickets:
            if t.idx > 0 and r.random() < 0.08:
                for _ in range(5):
                    parent = self.tickets[r.randrange(t.idx)]
                    if t.final or parent.id not in no_open_children:
                        t.links["parent"] = parent.id
                        break
            if t.idx > 0 and r.random() < 0.08:
                t.links["relates"] = sorted({self.tickets[r.randrange(t.idx)].id for _ in range(r.randint(1, 2))})
            if self.wiki_paths and (t.needs_wiki or r.random() < 0.12):
                t.links["wiki"] = sorted(set(r.sample(self.wiki_paths, k=min(len(self.wiki_paths), r.randint(1, 2)))))

    def pick_tail(self) -> list[Ticket]:
        """Move the last history entry of TAIL tickets to the very end of the timeline."""
        cands = [t for t in self.tickets if len(t.events) >= 2 and t.events[-1].to is not None]
        cands.sort(key=lambda t: (-t.events[-1].at, t.idx))
        cands = cands[: max(TAIL * 3, len(cands) // 20)]  # among the most recently active
        tail = self.rng.sample(cands, k=min(TAIL, len(cands)))
        tail.sort(key=lambda t: t.idx)
        for k, t in enumerate(tail):
            t.events[-1].at = END - (len(tail) - k) * 420
        return tail


# --------------------------------------------------------------------------------------------------------------
# git fast-import
# --------------------------------------------------------------------------------------------------------------


@dataclass
class Commit:
    at: int
    author: str
    message: str
    kind: str  # root | ticket | code | wiki
    files: list[tuple[str, int]] = field(default_factory=list)  # path, blob mark
    trees: list[tuple[str, str]] = field(default_factory=list)  # path, tree id
    events: list[tuple[Ticket, int]] = field(default_factory=list)
    tag: str | None = None
    payload: Any = None


class Stream:
    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.mark = 0
        self.bytes = 0

    def blob(self, data: bytes) -> int:
        self.mark += 1
        self.out.write(b"blob\nmark :%d\ndata %d\n" % (self.mark, len(data)))
        self.out.write(data)
        self.out.write(b"\n")
        self.bytes += len(data)
        return self.mark

    def raw(self, text: str) -> None:
        self.out.write(text.encode("utf-8"))

    def data(self, text: str) -> None:
        b = text.encode("utf-8")
        self.out.write(b"data %d\n" % len(b))
        self.out.write(b)
        self.out.write(b"\n")


def src_file(name: str, version: int) -> bytes:
    funcs = []
    for k in range(version % 7 + 3):
        n = version * 3 + k
        funcs.append(f"\n\ndef handle_{name}_{n}(payload: dict) -> dict:\n"
                     f'    """Step {n} of the {name} pipeline."""\n'
                     f'    return {{"ok": True, "module": "{name}", "rev": {version}, "step": {n}}}\n')
    return (f'"""{name}: generated source for sopflow benchmarks."""\n\nVERSION = {version}\n' + "".join(funcs)).encode()


def generate(
    out: Path,
    n_tickets: int,
    n_commits: int,
    n_wiki: int,
    seed: int,
    source: Source,
    ticket_commits: int | None = None,
    verbose: bool = False,
    bulk: bool = False,
) -> dict[str, Any]:
    """Write the repository into ``out`` (absent or empty) and return the metadata also stored in .git.

    ``ticket_commits`` is how many commits carry ticket changes (default: 80% of the commits, capped so that
    git fast-import, which rewrites the whole flat tickets/ tree for each of them, stays fast).
    ``bulk`` puts every ticket's final version in the root commit instead (the other commits are code
    commits): git fast-import looks entries up in a tree linearly, so creating 100,000 files in one folder
    through it is quadratic; with ``bulk`` the tickets/ tree is made by ``git mktree`` in one step.
    """
    t0 = time.perf_counter()
    if n_tickets < 1 or n_commits < 2:
        raise GenError("--tickets must be at least 1 and --commits at least 2")
    if out.exists() and any(out.iterdir()):
        raise GenError(f"{out} is not empty (use --force)")
    g = Generator(source, n_tickets, n_commits, n_wiki, seed)
    r = g.rng
    log = _Log(verbose)
    g.plan_tickets()
    log("simulated tickets")
    g.make_wiki()
    g.link_tickets()
    tail = g.pick_tail() if n_commits > 2 * TAIL + 2 and not bulk else []
    tail_ids = {t.id for t in tail}

    # ---- commits: root, ticket event groups, code/wiki commits, tail ---------------------------------------
    events: list[tuple[int, int, int, Ticket]] = []  # (at, ticket idx, event idx, ticket)
    tail_events: list[tuple[int, int, int, Ticket]] = []
    for t in [] if bulk else g.tickets:
        for k, e in enumerate(t.events):
            item = (e.at, t.idx, k, t)
            (tail_events if t.id in tail_ids and k == len(t.events) - 1 else events).append(item)
    events.sort(key=lambda x: (x[0], x[1], x[2]))
    tail_events.sort(key=lambda x: x[0])
    budget = n_commits - 1 - len(tail_events)
    if budget < 1 and events:
        raise GenError("--commits too small")
    # git fast-import re-serializes the whole tickets/ tree for every commit that touches it (~0.3 us per
    # entry): cap the number of ticket commits so the stream stays fast; the rest become batch commits.
    if ticket_commits is None:
        ticket_commits = min(round(budget * 0.8), FI_TREE_BUDGET // max(1, n_tickets // 2))
    n_ticket_commits = 0 if bulk else max(1, min(len(events), budget, ticket_commits))
    n_other = max(0, budget - n_ticket_commits)

    commits: list[Commit] = []
    root = Commit(START - 3600, g.pick_person(), "chore: 初始化 sopflow 仓库\n\n工作流、SOP 与知识库。\n", "root")
    commits.append(root)
    ev_commits: list[Commit] = []
    lo = 0
    for size in group_sizes(len(events), n_ticket_commits, r):
        group = events[lo : lo + size]
        lo += size
        c = Commit(group[-1][0], group[-1][3].events[group[-1][2]].by, "", "ticket")
        c.events = [(x[3], x[2]) for x in group]
        ev_commits.append(c)
    other: list[Commit] = []
    wiki_edit_paths = sorted(g.new_wiki) or sorted(p for p in g.files if p.startswith("wiki/"))
    code_end = tail_events[0][0] - 60 if tail_events else END
    for _ in range(n_other):
        at = START + r.randrange(max(1, code_end - START))
        if wiki_edit_paths and r.random() < 0.05:
            other.append(Commit(at, g.pick_person(), "", "wiki", payload=r.choice(wiki_edit_paths)))
        else:
            other.append(Commit(at, g.pick_person(), "", "code", payload=r.choice(SRC_MODULES)))
    middle = sorted(ev_commits + other, key=lambda c: (c.at, 0 if c.kind == "ticket" else 1))
    commits += middle
    for x in tail_events:
        c = Commit(x[0], x[3].events[x[2]].by, "", "ticket")
        c.events = [(x[3], x[2])]
        commits.append(c)
    last_at = START - 3600
    for c in commits:  # committer dates never go backwards
        c.at = max(c.at, last_at)
        last_at = c.at
    for ci, c in enumerate(commits):
        for t, k in c.events:
            t.events[k].commit = ci
    n_tags = max(1, min(8, len(commits) // 500 + 2))
    for k in range(n_tags):
        pos = 0 if k == 0 else int(len(commits) * (0.92 * k / (n_tags - 1 if n_tags > 1 else 1)))
        pos = min(pos, max(0, len(commits) - TAIL - 2))
        if commits[pos].tag is None:
            commits[pos].tag = f"v0.{k + 1}"

    log("planned commits")
    # ---- git ---------------------------------------------------------------------------------------------------
    out.mkdir(parents=True, exist_ok=True)
    env_git = ["git", "-C", str(out)]
    subprocess.run([*env_git, "init", "-q", "-b", "main"], check=True)
    proc = subprocess.Popen([*env_git, "fast-import", "--quiet", "--date-format=raw", "--done"],
                            stdin=subprocess.PIPE, bufsize=1 << 20)
    assert proc.stdin is not None
    s = Stream(proc.stdin)
    s.raw("feature done\n")
    # root files
    root_files: dict[str, bytes] = {}
    root_files["sopflow.yaml"] = render_config(source.config, g.people).encode()
    for wtype, data in source.workflows.items():
        root_files[f"workflows/{wtype}.yaml"] = data
    root_files.update(g.files)
    for path, (text, _i) in g.new_wiki.items():
        root_files[path] = text.encode()
    root_files["README.md"] = (
        f"# Bench\n\nGenerated by `bench/gen.py` (seed {seed}): {n_tickets} tickets, {n_commits} commits, "
        f"{len(g.wiki_paths)} wiki pages, from {', '.join(source.examples)}.\n"
    ).encode()
    for name in SRC_MODULES:
        root_files[f"src/app/{name}.py"] = src_file(name, 0)
    root.files = [(p, s.blob(d)) for p, d in sorted(root_files.items())]
    if bulk:  # every ticket's final version in the root commit, as a tree made by `git mktree`
        listing = []
        for t in g.tickets:
            data = g.render_ticket(t, len(t.events) - 1, [g.history_line(e) for e in t.events])
            s.blob(data)
            oid = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
            listing.append(f"100644 blob {oid}\t{t.path.removeprefix('tickets/')}\n")
        tree = subprocess.run([*env_git, "mktree", "--missing"], input="".join(listing), check=True,
                              capture_output=True, text=True).stdout.strip()
        root.trees.append(("tickets", tree))
    # ticket blobs, grouped per ticket so fast-import deltas them against each other
    for t in [] if bulk else g.tickets:
        hist = [g.history_line(e) for e in t.events]
        k = 0
        while k < len(t.events):
            ci = t.events[k].commit
            while k + 1 < len(t.events) and t.events[k + 1].commit == ci:
                k += 1
            commits[ci].files.append((t.path, s.blob(g.render_ticket(t, k, hist))))
            k += 1
    log("ticket blobs streamed")
    # code and wiki edits
    src_version = dict.fromkeys(SRC_MODULES, 0)
    wiki_version: dict[str, int] = {}
    for c in commits:
        if c.kind == "code":
            mod = c.payload
            src_version[mod] += 1
            c.files.append((f"src/app/{mod}.py", s.blob(src_file(mod, src_version[mod]))))
            kind = r.choices(list(COMMIT_SUBJECTS), weights=[30, 33, 4, 9, 6, 9, 9])[0]
            subj = r.choice(COMMIT_SUBJECTS[kind])
            bang = "!" if kind == "feat" and r.random() < 0.03 else ""
            scope = f"({mod})" if r.random() < 0.6 else ""
            # a few commits are not conventional
            msg = f"{subj}\n" if r.random() < 0.04 else f"{kind}{scope}{bang}: {subj}\n"
            if r.random() < 0.05:
                msg = msg.rstrip("\n") + f" ({r.choice(g.tickets).id})\n"
            if r.random() < 0.3:
                msg += f"\n{r.choice(EN_SENTENCES)}\n"
            if bang or (kind == "feat" and r.random() < 0.02):
                msg += "\nBREAKING CHANGE: 配置项 `gateway.timeout` 改为秒为单位\n"
            c.message = msg
        elif c.kind == "wiki":
            path = c.payload
            wiki_version[path] = wiki_version.get(path, 0) + 1
            v = wiki_version[path]
            base = g.new_wiki[path][0] if path in g.new_wiki else g.files[path].decode("utf-8")
            hist_lines = "".join(f"- r{i}: {day(c.at)} 补充排查经验\n" for i in range(max(1, v - 4), v + 1))
            c.files.append((path, s.blob((base + "\n## 修订记录\n" + hist_lines).encode())))
            c.message = f"docs(wiki): 更新 {path.removeprefix('wiki/')}\n"
        elif c.kind == "ticket":
            c.message = ticket_message(c)
    # commits
    commit_mark0 = s.mark + 1
    for ci, c in enumerate(commits):
        s.raw("commit refs/heads/main\n")
        s.raw(f"mark :{commit_mark0 + ci}\n")
        who = f"{g.people.name(c.author)} <{g.people.email(c.author)}> {c.at} +0800"
        s.raw(f"author {who}\ncommitter {who}\n")
        s.data(c.message)
        for path, mark in c.files:
            s.raw(f"M 100644 :{mark} {path}\n")
        for path, tree in c.trees:
            s.raw(f"M 040000 {tree} {path}\n")
        s.raw("\n")
    for ci, c in enumerate(commits):
        if c.tag:
            who = f"{g.people.name(c.author)} <{g.people.email(c.author)}> {c.at} +0800"
            s.raw(f"tag {c.tag}\nfrom :{commit_mark0 + ci}\ntagger {who}\n")
            s.data(f"Release {c.tag}\n")
    s.raw("done\n")
    proc.stdin.close()
    log("stream written")
    if proc.wait() != 0:
        raise GenError("git fast-import failed")
    log("fast-import done")
    subprocess.run([*env_git, "reset", "-q", "--hard", "main"], check=True)
    log("work tree checked out")

    # ---- metadata for the benchmark runner -----------------------------------------------------------------
    meta = {
        "generator": GENERATOR_VERSION,
        "tickets": n_tickets,
        "commits": len(commits),
        "wiki": len(g.wiki_paths),
        "seed": seed,
        "source": source.examples,
        "source_digest": source.digest,
        "now": iso(NOW),
        "tags": [c.tag for c in commits if c.tag],
        "text_word": TEXT_WORD,
        "types": {wf.type: sum(1 for t in g.tickets if t.wf is wf) for wf in g.workflows},
        "open": sum(1 for t in g.tickets if not t.final),
        "events": sum(len(t.events) for t in g.tickets),
        "ticket_commits": sum(1 for c in commits if c.kind == "ticket"),
        "bulk": bulk,
        "busy_person": busiest(g),
        "sample": sample_action(g, tail_ids),
        "tail_tickets": [t.id for t in tail],
        "blob_bytes": s.bytes,
        "seconds": round(time.perf_counter() - t0, 2),
    }
    git_dir = subprocess.run([*env_git, "rev-parse", "--absolute-git-dir"], check=True, capture_output=True,
                             text=True).stdout.strip()
    Path(git_dir, META_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return meta


class _Log:
    def __init__(self, on: bool) -> None:
        self.on = on
        self.t0 = time.perf_counter()

    def __call__(self, what: str) -> None:
        if self.on:
            print(f"  {time.perf_counter() - self.t0:7.2f} s  {what}", file=sys.stderr)


def group_sizes(n_events: int, n_commits: int, rng: random.Random) -> list[int]:
    """Sizes of consecutive event groups, one per commit: mostly single actions, the rest in batches."""
    if n_events <= n_commits:
        return [1] * n_events
    singles = min(int(n_commits * 0.7), n_commits - 1)
    batches = n_commits - singles
    rest = n_events - singles
    sizes = [1] * singles + [(i + 1) * rest // batches - i * rest // batches for i in range(batches)]
    rng.shuffle(sizes)
    return sizes


def ticket_message(c: Commit) -> str:
    touched: list[Ticket] = []
    for t, _k in c.events:
        if t not in touched:
            touched.append(t)
    if len(c.events) == 1:
        t, k = c.events[0]
        e = t.events[k]
        body = f"\n{e.note}\n" if e.note else ""
        return f"{subject(t, e)}\n{body}\nSopflow-Ticket: {t.id}\nSopflow-Action: {e.action}\n"
    if len(touched) == 1:
        t = touched[0]
        e = t.events[c.events[-1][1]]
        return f"{subject(t, e)}\n\nSopflow-Ticket: {t.id}\nSopflow-Action: {e.action}\n"
    trailers = "".join(f"Sopflow-Ticket: {t.id}\n" for t in touched)
    return f"sync: {len(c.events)} ticket updates\n\n{trailers}Sopflow-Action: sync\n"


def _short(text: str, n: int = 40) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def subject(t: Ticket, e: Event) -> str:
    """The subject `sopflow` writes for this action."""
    if e.action == "create":
        return f"{t.id} create: {t.title}"
    if e.action == "tick":
        return f"{t.id} tick: " + "; ".join(_short(i) for i in e.items)
    if e.action == "comment":
        return f"{t.id} comment: {_short(e.note or '')}"
    return f"{t.id} {e.action}: {e.frm} → {e.to}"


def busiest(g: Generator) -> str:
    counts: dict[str, int] = {}
    for t in g.tickets:
        if not t.final:
            a = t.events[-1].assignee
            counts[a] = counts.get(a, 0) + 1
    return max(g.people.order, key=lambda p: (counts.get(p, 0), -g.people.order.index(p)))


def sample_action(g: Generator, exclude: set[str]) -> dict[str, Any] | None:
    """An open ticket and a transition the benchmark can fire on it with ``do``."""
    for t in g.tickets[len(g.tickets) // 2:] + g.tickets[: len(g.tickets) // 2]:
        if t.final or t.id in exclude:
            continue
        e = t.events[-1]
        roles = dict(e.roles)
        field_names = {k for k, _v in t.fields}
        for tr in t.wf.outgoing.get(e.state) or []:
            req = tr.require
            if req.get("checklist") or req.get("children") or (req.get("wiki") and "wiki" not in t.links):
                continue
            if any(f not in field_names for f in _as_list(req.get("fields"))):
                continue
            if any(role not in roles for role in _as_list(req.get("roles"))):
                continue
            who: str | None = None
            if not tr.by:
                who = e.assignee
            for role in tr.by:
                if who:
                    break
                if role == "assignee":
                    who = e.assignee
                elif role == "reporter":
                    who = t.reporter
                elif role in roles:
                    who = roles[role]
                elif g.people.holders.get(role):
                    who = g.people.holders[role][0]
            if not who:
                continue
            args = ["do", t.id, tr.trigger]
            if req.get("note"):
                args += ["--note", "背景: benchmark. 进展: none. 下一步: none."]
            return {"id": t.id, "trigger": tr.trigger, "as": who, "args": args}
    return None


# --------------------------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("out", type=Path, help="directory to create (absent or empty)")
    ap.add_argument("--tickets", type=int, default=1000)
    ap.add_argument("--commits", type=int, default=5000)
    ap.add_argument("--wiki", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workflows", type=Path, default=None,
                    help="a sopflow source tree or a directory of workflows (default: this source tree)")
    ap.add_argument("--example", action="append", default=None, help="only this example (repeatable)")
    ap.add_argument("--ticket-commits", type=int, default=None,
                    help="commits that change tickets (default: 80%% of --commits, capped for speed)")
    ap.add_argument("--force", action="store_true", help="delete OUT first if it exists")
    ap.add_argument("--bulk", action="store_true",
                    help="all tickets (final versions) in the root commit: fast for 100,000 tickets")
    ap.add_argument("-v", "--verbose", action="store_true", help="print the time each phase took")
    args = ap.parse_args(argv)
    try:
        source = load_source(args.workflows or default_source_dir(), args.example)
        if args.force and args.out.exists():
            shutil.rmtree(args.out)
        meta = generate(args.out, args.tickets, args.commits, args.wiki, args.seed, source, args.ticket_commits,
                        args.verbose, args.bulk)
    except GenError as exc:
        print(f"gen.py: {exc}", file=sys.stderr)
        return 1
    print(f"{args.out}: {meta['tickets']} tickets ({meta['open']} open, {meta['events']} history entries), "
          f"{meta['commits']} commits, {meta['wiki']} wiki pages, tags {', '.join(meta['tags'])} "
          f"in {meta['seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
