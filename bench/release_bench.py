"""Benchmark `release_notes()` against a bare `git log` of the same range.

Usage::

    PYTHONPATH=src python bench/release_bench.py [--commits 50000] [--tickets 600] [--runs 5] [--keep DIR]

It generates a sopflow repository with ``git fast-import`` (workflows, a few hundred tickets whose history
grows commit by commit, code commits with conventional subjects, merges, reverts and tags), then times, in
the same run and alternating, for a few ranges:

* ``git log --format=%H RANGE`` (the floor: git only walks the range), and
* ``python -c 'release_notes(...)'`` as a whole process (interpreter start-up, imports, every git call,
  parsing, the JSON object), and the same plus rendering the built-in Markdown template.

Each figure is the median of ``--runs`` runs. It prints a Markdown table with wall-clock times and CPU
times (user + system, the process and its children), and the machine's load on stderr: other work on the
machine slows both sides, and release_notes() more, as it keeps two cores busy (git and Python
overlap); the CPU columns do not depend on the load.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WORKFLOW = """\
type: issue_track
title: 网上问题处理
prefix: ISS
roles: [维护处理人, 维护代表, 改进提取SE]
fields:
  issue_level:   {label: 问题级别, type: choice, choices: [一般问题, 严重问题, 紧急问题], default: 一般问题}
  customer_type: {label: 客户类别, type: choice, choices: [金融, 电网, 煤炭, 其他]}
  release_note:  {label: 发布说明, type: text}
states:
  维护人员处理: {initial: true}
  维护代表审核: {}
  SE分析改进:   {}
  关闭:         {final: true}
transitions:
  - {trigger: 更新进展, source: 维护人员处理, dest: 维护人员处理}
  - {trigger: 提交审核, source: 维护人员处理, dest: 维护代表审核}
  - {trigger: 转SE分析改进, source: 维护代表审核, dest: SE分析改进}
  - {trigger: 问题关闭, source: [SE分析改进, 维护代表审核], dest: 关闭}
"""

FEATURE = """\
type: feature
title: 功能需求
prefix: FEAT
fields:
  release_note: {label: 发布说明, type: text}
states:
  需求提出: {initial: true}
  开发:     {}
  完成:     {final: true}
transitions:
  - {trigger: 开始开发, source: 需求提出, dest: 开发}
  - {trigger: 发版, source: 开发, dest: 完成}
"""

PEOPLE = ["alice", "bob", "fan", "carol", "dave"]
KINDS = ["feat", "fix", "docs", "refactor", "perf", "test", "chore", "build"]
STEPS_ISS = [
    ("更新进展", "维护人员处理", "维护人员处理"),
    ("提交审核", "维护人员处理", "维护代表审核"),
    ("转SE分析改进", "维护代表审核", "SE分析改进"),
    ("问题关闭", "SE分析改进", "关闭"),
]
STEPS_FEAT = [("开始开发", "需求提出", "开发"), ("发版", "开发", "完成")]
BASE_EPOCH = 1_767_225_600  # 2026-01-01T00:00:00Z


class _Ticket:
    def __init__(self, n: int, kind: str, created: int, who: str) -> None:
        self.kind = kind
        self.id = f"{'ISS' if kind == 'issue_track' else 'FEAT'}-{n}"
        self.title = f"【2026】局点{n}设备发生第{n}类问题" if kind == "issue_track" else f"功能{n}：导出报表"
        self.slug = f"case-{n}"
        self.customer = ["金融", "电网", "煤炭", "其他"][n % 4]
        self.state = "维护人员处理" if kind == "issue_track" else "需求提出"
        self.history = [f"  - {{at: {_iso(created)}, by: {who}, action: create, to: {self.state}}}"]
        self.updates = 0
        self.step = 0

    def text(self) -> str:
        lines = [
            "---",
            f"id: {self.id}",
            f"type: {self.kind}",
            f"title: {self.title}",
            f"state: {self.state}",
            "priority: P2",
            f"customer_type: {self.customer}",
        ]
        if int(self.id.split("-")[1]) % 3 == 0:
            lines.append(f"release_note: 修复了局点{self.id}的问题")
        lines += ["history:", *self.history, "---", "【问题现象】: 设备重启", ""]
        return "\n".join(lines)


def _iso(epoch: int) -> str:
    t = time.gmtime(epoch + 8 * 3600)
    return time.strftime("%Y-%m-%dT%H:%M:%S+08:00", t)


def generate(repo: Path, commits: int, tickets: int, seed: int = 7) -> dict[str, str]:
    """Write a repository of ``commits`` commits into ``repo``; return a few tag names for ranges."""
    rnd = random.Random(seed)
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    rfd, wfd = os.pipe()
    proc = subprocess.Popen(
        ["git", "fast-import", "--quiet", "--done", f"--cat-blob-fd={wfd}"],
        cwd=repo,
        stdin=subprocess.PIPE,
        pass_fds=(wfd,),
    )
    os.close(wfd)
    answers = os.fdopen(rfd, "rb")
    assert proc.stdin is not None
    out = proc.stdin

    def sha_of(m: int) -> str:
        out.write(b"get-mark :%d\n" % m)
        out.flush()
        return answers.readline().decode().strip()

    mark = 0
    epoch = BASE_EPOCH
    open_tickets: list[_Ticket] = []
    made = 0
    tags: list[str] = []
    last_ticket_commit: dict[str, int] = {}
    code_marks: list[tuple[int, str]] = []

    def data(text: str) -> bytes:
        raw = text.encode()
        return b"data %d\n%s\n" % (len(raw), raw)

    def commit(
        subject: str,
        body: str,
        files: dict[str, str],
        who: str,
        merge: int | None = None,
        ref: str = "refs/heads/main",
        parent: int | None = None,
        delete: str | None = None,
    ) -> int:
        nonlocal mark, epoch
        mark += 1
        epoch += rnd.randint(30, 600)
        msg = subject + ("\n\n" + body if body else "") + "\n"
        chunks = [
            b"commit %s\nmark :%d\n" % (ref.encode(), mark),
            b"author %s <%s@example.com> %d +0800\n" % (who.encode(), who.encode(), epoch),
            b"committer %s <%s@example.com> %d +0800\n" % (who.encode(), who.encode(), epoch),
            data(msg),
        ]
        if parent is not None:
            chunks.append(b"from :%d\n" % parent)
        if merge is not None:
            chunks.append(b"merge :%d\n" % merge)
        if delete:
            chunks.append(b"D %s\n" % delete.encode())
        for path, content in files.items():
            chunks.append(b"M 100644 inline %s\n" % path.encode())
            chunks.append(data(content))
        out.write(b"".join(chunks))
        return mark

    commit(
        "chore: initial sopflow project",
        "",
        {
            "sopflow.yaml": "project: Bench\ntimezone: Asia/Shanghai\n",
            "workflows/issue_track.yaml": WORKFLOW,
            "workflows/feature.yaml": FEATURE,
            "src/app.py": "print('hello')\n",
        },
        "alice",
    )
    made = 1
    next_id = {"issue_track": 1, "feature": 1}
    created_total = 0
    tag_every = max(1, commits // 20)
    next_tag = tag_every
    main_tip = 1
    while made < commits:
        r = rnd.random()
        who = rnd.choice(PEOPLE)
        if created_total < tickets and made >= created_total * commits / tickets:
            kind = "issue_track" if rnd.random() < 0.8 else "feature"
            t = _Ticket(next_id[kind], kind, epoch, who)
            next_id[kind] += 1
            created_total += 1
            open_tickets.append(t)
            main_tip = commit(
                f"{t.id} create",
                f"Sopflow-Ticket: {t.id}\nSopflow-Action: create",
                {f"tickets/{t.id}-{t.slug}.md": t.text()},
                who,
                parent=main_tip,
            )
            last_ticket_commit[t.id] = main_tip
        elif r < 0.55 and open_tickets:
            t = rnd.choice(open_tickets)
            steps = STEPS_ISS if t.kind == "issue_track" else STEPS_FEAT
            if t.kind == "issue_track" and t.step == 0 and t.updates < 80 and rnd.random() < 0.97:
                action, src, dst = steps[0]
                t.updates += 1
            else:
                if t.kind == "issue_track" and t.step == 0:
                    t.step = 1
                action, src, dst = steps[t.step]
                t.step += 1
            t.state = dst
            t.history.append(
                f"  - {{at: {_iso(epoch)}, by: {who}, action: {action}, from: {src}, to: {dst}}}"
            )
            old = None
            if rnd.random() < 0.01:  # an occasional rename, in the same commit
                old = f"tickets/{t.id}-{t.slug}.md"
                t.slug += "-x"
            files = {f"tickets/{t.id}-{t.slug}.md": t.text()}
            main_tip = commit(
                f"{t.id} {action}",
                f"Sopflow-Ticket: {t.id}\nSopflow-Action: {action}",
                files,
                who,
                parent=main_tip,
                delete=old,
            )
            last_ticket_commit[t.id] = main_tip
            if t.state in ("关闭", "完成"):
                open_tickets.remove(t)
        elif 0.55 <= r < 0.57 and code_marks:
            # a revert of a recent code commit
            m, subj = code_marks.pop()
            main_tip = commit(
                f'Revert "{subj}"',
                f"This reverts commit {sha_of(m)}.",
                {"src/app.py": f"# {made}\n"},
                who,
                parent=main_tip,
            )
        elif 0.57 <= r < 0.59 and made + 3 < commits:
            # a small side branch merged back
            side = commit(
                "fix: side branch work",
                "",
                {"src/side.py": f"# {made}\n"},
                who,
                ref="refs/heads/side",
                parent=main_tip,
            )
            main_tip = commit("docs: main work", "", {"docs/x.md": f"{made}\n"}, who, parent=main_tip)
            main_tip = commit("Merge branch 'side'", "", {}, who, merge=side, parent=main_tip)
            made += 2
        else:
            kind = rnd.choice(KINDS)
            bang = "!" if rnd.random() < 0.01 else ""
            subj = f"{kind}{bang}: change {made} in module {made % 50}"
            body = "BREAKING CHANGE: config key renamed" if rnd.random() < 0.005 else ""
            if rnd.random() < 0.05 and created_total:
                subj = f"fix: follow-up for ISS-{rnd.randint(1, max(1, next_id['issue_track'] - 1))}"
            main_tip = commit(subj, body, {f"src/m{made % 50}.py": f"# {made}\n"}, who, parent=main_tip)
            code_marks.append((main_tip, subj))
            code_marks[:] = code_marks[-20:]
        made += 1
        if made >= next_tag and made < commits:
            next_tag += tag_every
            name = f"v0.{len(tags) + 1}"
            tags.append(name)
            if len(tags) % 2:
                out.write(
                    b"tag %s\nfrom :%d\ntagger alice <alice@example.com> %d +0800\n"
                    % (name.encode(), main_tip, epoch)
                )
                out.write(data(f"release {name}"))
            else:
                out.write(b"reset refs/tags/%s\nfrom :%d\n\n" % (name.encode(), main_tip))
    out.write(b"done\n")
    out.close()
    if proc.wait() != 0:
        raise SystemExit("git fast-import failed")
    subprocess.run(["git", "checkout", "-q", "-f", "main"], cwd=repo, check=True)
    return {"first_tag": tags[0], "mid_tag": tags[len(tags) // 2], "last_tag": tags[-1]}


def _time(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds: user + system of the process and all its children)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--commits", type=int, default=50_000)
    ap.add_argument("--tickets", type=int, default=600)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--keep", type=Path, help="generate into (or reuse) this directory")
    args = ap.parse_args()

    src = Path(__file__).resolve().parents[1] / "src"
    env = dict(os.environ, PYTHONPATH=str(src), GIT_CONFIG_NOSYSTEM="1")
    tmp = None
    if args.keep:
        repo = args.keep
        fresh = not (repo / ".git").exists()
    else:
        tmp = tempfile.mkdtemp(prefix="sopflow-bench-")
        repo = Path(tmp) / "repo"
        fresh = True
    try:
        if fresh:
            t0 = time.perf_counter()
            tags = generate(repo, args.commits, args.tickets)
            print(f"generated {args.commits} commits in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
        else:
            names = subprocess.run(
                ["git", "tag", "--sort=v:refname"], cwd=repo, check=True, capture_output=True, text=True
            ).stdout.split()
            tags = {"first_tag": names[0], "mid_tag": names[len(names) // 2], "last_tag": names[-1]}
        ranges: list[tuple[str, str | None, str]] = [
            ("whole history", "HEAD", "HEAD"),
            (f"{tags['first_tag']}..HEAD", f"{tags['first_tag']}..HEAD", f"{tags['first_tag']}..HEAD"),
            (f"{tags['mid_tag']}..HEAD", f"{tags['mid_tag']}..HEAD", f"{tags['mid_tag']}..HEAD"),
            (f"default ({tags['last_tag']}..HEAD)", None, f"{tags['last_tag']}..HEAD"),
        ]
        load = os.getloadavg()
        print(f"machine: {os.cpu_count()} CPUs, load average {load[0]:.2f} before the runs", file=sys.stderr)
        print(
            "| range | commits | bare `git log` ms | release_notes() ms | ratio | + render ms | ratio "
            "| CPU: git log ms | CPU: release_notes() ms | CPU ratio |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for label, rng, git_range in ranges:
            count = subprocess.run(
                ["git", "rev-list", "--count", git_range],
                cwd=repo,
                check=True,
                capture_output=True,
                text=True,
            ).stdout.strip()
            code = (
                "from pathlib import Path; from sopflow.release_notes import release_notes; "
                f"n = release_notes(Path('.'), {rng!r})"
            )
            code_r = (
                "import sys; from pathlib import Path; "
                "from sopflow.release_notes import release_notes, render_release_notes; "
                f"sys.stdout.write(render_release_notes(release_notes(Path('.'), {rng!r}), None))"
            )
            bare = ["git", "log", "--format=%H", git_range]
            ours = [sys.executable, "-c", code]
            ours_r = [sys.executable, "-c", code_r]
            for cmd in (bare, ours, ours_r):  # warm the caches
                _time(cmd, repo, env)
            runs: dict[str, list[tuple[float, float]]] = {"bare": [], "ours": [], "render": []}
            for _ in range(args.runs):  # alternate, so a change of load hits all three alike
                runs["bare"].append(_time(bare, repo, env))
                runs["ours"].append(_time(ours, repo, env))
                runs["render"].append(_time(ours_r, repo, env))
            wb, wo, wr = (statistics.median(w for w, _ in runs[k]) * 1000 for k in ("bare", "ours", "render"))
            cb, co = (statistics.median(c for _, c in runs[k]) * 1000 for k in ("bare", "ours"))
            print(
                f"| {label} | {count} | {wb:.0f} | {wo:.0f} | {wo / wb:.1f}x | {wr:.0f} | {wr / wb:.1f}x "
                f"| {cb:.0f} | {co:.0f} | {co / cb:.1f}x |"
            )
        load = os.getloadavg()
        print(f"load average {load[0]:.2f} after the runs", file=sys.stderr)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
