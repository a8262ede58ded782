"""The hostile-input catalogue: one case per input, each ending in a clear one-line error or a safe result,
in bounded time and memory, never a traceback, and never an escape sequence reaching the terminal raw.

Every case runs the CLI in a forked child with an address-space limit (RLIMIT_AS: what the test process
uses plus ``MEMORY_MB``) and a wall-clock limit (``SECONDS``; the child is killed past it). A refused
mutating command must leave every file byte-identical (and files outside the repository too).
"""

from __future__ import annotations

import os
import re
import resource
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import Repo, cli_in_child

SECONDS = 8.0
MEMORY_MB = 700

TICKET = """---
id: {id}
type: issue_track
title: {title}
state: 维护人员处理
reporter: alice
created: 2026-11-21T10:00:00+08:00
updated: 2026-11-21T10:00:00+08:00
issue_level: 一般问题
history:
  - {{at: 2026-11-21T10:00:00+08:00, by: alice, action: create, to: 维护人员处理}}
---
body
"""


def ticket(tid: str = "ISS-9", title: str = "t", extra: str = "") -> str:
    text = TICKET.format(id=tid, title=title)
    return text.replace("history:\n", extra + "history:\n") if extra else text


def laughs(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


BOMB_TICKET = ticket(extra=laughs())
DEEP_FLOW = ticket(extra="x: " + "[" * 100_000 + "]" * 100_000 + "\n")
DEEP_BLOCK = ticket(extra="x: \n" + "  " + "- " * 60_000 + "1\n")
DEEP_MAPS = ticket(extra="x: " + "{a: " * 30_000 + "1" + "}" * 30_000 + "\n")
JUST_TOO_DEEP = ticket(extra="x: " + "[" * 70 + "]" * 70 + "\n")
CONFIG_PATHS = __import__("conftest").CONFIG + "paths: {tickets: PATH}\n"
OUTSIDE = "outside.md"  # a file next to the repository, never to be read as a ticket nor written


@dataclass
class Case:
    name: str
    argv: list[str]
    files: dict[str, str | bytes] = field(default_factory=dict)
    code: int = 1  # expected exit code
    match: str = ""  # regular expression expected in stderr (or stdout for check)
    setup: Callable[[Repo], None] | None = None  # more preparation
    child: Callable[[], None] | None = None  # run in the child before the command
    after: Callable[[Repo, str, str], None] | None = None  # extra checks on (repo, out, err)
    unchanged: bool = True  # for a refusal: every file byte-identical


def _symlink(link: str, target: str) -> Callable[[Repo], None]:
    def setup(repo: Repo) -> None:
        path = repo.root / link
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            path.unlink()
        path.symlink_to(target if target.startswith("/") else repo.root.parent / target)

    return setup


def _tickets_dir_outside(repo: Repo) -> None:
    outside = repo.root.parent / "outside-tickets"
    outside.mkdir()
    (outside / "ISS-9.md").write_text(ticket(), "utf-8")
    (repo.root / "tickets").symlink_to(outside)


def _fifo(rel: str) -> Callable[[Repo], None]:
    def setup(repo: Repo) -> None:
        path = repo.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            path.unlink()
        os.mkfifo(path)

    return setup


def _mkdir(rel: str) -> Callable[[Repo], None]:
    return lambda repo: (repo.root / rel).mkdir(parents=True)


def _template_time_limit() -> None:
    from sopflow.adapters import templates

    templates.TIME_LIMIT = 0.5


def _other_branch_has(tid: str) -> Callable[[Repo], None]:
    def setup(repo: Repo) -> None:
        repo.git("checkout", "-q", "-b", "other")
        repo.write(f"tickets/{tid}.md", ticket(tid))
        repo.commit_all("other branch")
        repo.git("checkout", "-q", "main")

    return setup


def _no_raw_escape(repo: Repo, out: str, err: str) -> None:
    assert "\x1b" not in out + err and "\x07" not in out + err


def _bom_kept(repo: Repo, out: str, err: str) -> None:
    data = (repo.root / "tickets/ISS-9.md").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf---\n") and data.count(b"\xef\xbb\xbf") == 1


def _crlf_kept(repo: Repo, out: str, err: str) -> None:
    data = (repo.root / "tickets/ISS-9.md").read_bytes()
    assert data.count(b"\n") == data.count(b"\r\n") and b"action: comment" in data


def _not_run(repo: Repo, out: str, err: str) -> None:
    assert not (repo.root.parent / "PWNED").exists()


def _id_is(tid: str) -> Callable[[Repo, str, str], None]:
    def check(repo: Repo, out: str, err: str) -> None:
        assert out.strip() == tid

    return check


def _clean_commit_message(repo: Repo, out: str, err: str) -> None:
    log = repo.git("log", "-1", "--format=%B")
    assert "\x1b" not in log and "\\x1b[31m" in log


ESC = "\x1b[2J\x1b]0;pwned\x07\x1b[31m"
WORKFLOW_ESC = "workflows/issue_track.yaml"

CASES: list[Case] = [
    # ---------------------------------------------------------------- YAML bombs
    Case("billion-laughs-ticket", ["show", "ISS-9"], {"tickets/ISS-9.md": BOMB_TICKET}, match="anchors and aliases"),
    Case("billion-laughs-ticket-check", ["check"], {"tickets/ISS-9.md": BOMB_TICKET}, match="ISS-9.md.*anchors"),
    Case("billion-laughs-ticket-list", ["list"], {"tickets/ISS-9.md": BOMB_TICKET}, code=0),
    Case("billion-laughs-config", ["list"], {"sopflow.yaml": "project: x\n" + laughs()}, match="sopflow.yaml.*anchors"),
    Case("billion-laughs-workflow", ["new", "issue_track", "--title", "x"],
         {"workflows/issue_track.yaml": "type: issue_track\n" + laughs()}, match="issue_track.*invalid"),
    Case("billion-laughs-workflow-check", ["check"], {"workflows/issue_track.yaml": "type: issue_track\n" + laughs()},
         match="anchors"),
    Case("deep-flow-nesting", ["show", "ISS-9"], {"tickets/ISS-9.md": DEEP_FLOW}, match="nested too deeply"),
    Case("deep-block-nesting", ["show", "ISS-9"], {"tickets/ISS-9.md": DEEP_BLOCK}, match="nested too deeply"),
    Case("deep-mapping-nesting", ["show", "ISS-9"], {"tickets/ISS-9.md": DEEP_MAPS}, match="nested too deeply"),
    Case("deep-nesting-check", ["check"], {"tickets/ISS-9.md": DEEP_FLOW, "wiki/deep.md": DEEP_MAPS},
         match="nested too deeply"),
    Case("deep-nesting-workflow", ["check"], {"workflows/issue_track.yaml": "type: issue_track\nx: " + "[" * 50_000},
         match="issue_track.yaml"),
    Case("nesting-just-over-the-limit", ["show", "ISS-9"], {"tickets/ISS-9.md": JUST_TOO_DEEP},
         match="nested too deeply"),
    # ---------------------------------------------------------------- tags
    Case("python-object-apply", ["show", "ISS-9"],
         {"tickets/ISS-9.md": ticket(extra='x: !!python/object/apply:os.system ["touch ../PWNED"]\n')},
         match="YAML tag not allowed", after=_not_run),
    Case("python-object-apply-check", ["check"],
         {"tickets/ISS-9.md": ticket(extra='x: !!python/object/apply:os.system ["touch ../PWNED"]\n')},
         match="tag not allowed", after=_not_run),
    Case("python-name", ["show", "ISS-9"], {"tickets/ISS-9.md": ticket(extra="x: !!python/name:os.system\n")},
         match="YAML tag not allowed"),
    Case("python-tag-in-config", ["list"], {"sopflow.yaml": "project: !!python/object/new:os.system [id]\n"},
         match="sopflow.yaml.*tag not allowed"),
    Case("binary-tag", ["show", "ISS-9", "--format", "json"],
         {"tickets/ISS-9.md": ticket(extra="x: !!binary aGVsbG8=\n")}, match="tag not allowed: !!binary"),
    Case("set-tag", ["show", "ISS-9", "--format", "json"], {"tickets/ISS-9.md": ticket(extra="x: !!set {a, b}\n")},
         match="tag not allowed: !!set"),
    Case("timestamp-tag", ["list", "--format", "json"],
         {"tickets/ISS-9.md": ticket(extra="x: !!timestamp 2026-01-01\n")}, code=0),
    Case("omap-tag", ["show", "ISS-9"], {"tickets/ISS-9.md": ticket(extra="x: !!omap [a: 1]\n")},
         match="tag not allowed: !!omap"),
    Case("custom-tag", ["show", "ISS-9"], {"tickets/ISS-9.md": ticket(extra="x: !evil thing\n")},
         match="tag not allowed"),
    Case("not-a-number", ["show", "ISS-9"], {"tickets/ISS-9.md": ticket(extra="effort: .nan\n")},
         match="not-a-number"),
    Case("huge-integer", ["show", "ISS-9"], {"tickets/ISS-9.md": ticket(extra="effort: " + "9" * 5000 + "\n")},
         match="invalid value"),
    Case("huge-integer-check", ["check"], {"tickets/ISS-9.md": ticket(extra="effort: " + "9" * 5000 + "\n")},
         match="invalid value"),
    # ---------------------------------------------------------------- huge files and lines
    Case("huge-ticket-file", ["show", "ISS-9"], {"tickets/ISS-9.md": ticket() + "x" * 20_000_000},
         match="file too large"),
    Case("huge-ticket-file-check", ["check"], {"tickets/ISS-9.md": ticket() + "x" * 20_000_000},
         match="ISS-9.md.*file too large"),
    Case("huge-ticket-file-list", ["list"], {"tickets/ISS-9.md": ticket() + "x" * 20_000_000}, code=0),
    Case("huge-front-matter-line", ["show", "ISS-9"], {"tickets/ISS-9.md": ticket(title="t" * 2_000_000)},
         match="YAML too large"),
    Case("huge-body-line", ["show", "ISS-9"], {"tickets/ISS-9.md": ticket() + "y" * 5_000_000 + "\n"}, code=0),
    Case("huge-config", ["list"], {"sopflow.yaml": "project: x\n" + "#" * 20_000_000}, match="file too large"),
    Case("huge-note-argument", ["comment", "ISS-9", "n" * 2_000_000], {"tickets/ISS-9.md": ticket()},
         match="YAML too large"),
    Case("huge-title-argument", ["new", "issue_track", "--title", "t" * 2_000_000], match="too large"),
    Case("long-ticket-id", ["show", "ISS-" + "1" * 5000], match="malformed ticket ID"),
    Case("long-ticket-id-300", ["comment", "ISS-" + "1" * 300, "x"], match="malformed ticket ID"),
    # ---------------------------------------------------------------- bytes and line endings
    Case("nul-bytes", ["show", "ISS-9"], {"tickets/ISS-9.md": ticket().replace("body", "bo\x00dy")},
         match="NUL bytes"),
    Case("nul-bytes-check", ["check"], {"tickets/ISS-9.md": ticket().replace("body", "bo\x00dy")}, match="NUL"),
    Case("invalid-utf8", ["show", "ISS-9"], {"tickets/ISS-9.md": ticket().encode() + b"\xff\xfe\xc3("},
         match=r"not valid UTF-8 \(byte \d+\)"),
    Case("invalid-utf8-check", ["check"], {"tickets/ISS-9.md": b"---\nid: \xc3(\n---\n"}, match="not valid UTF-8"),
    Case("invalid-utf8-config", ["list"], {"sopflow.yaml": b"project: \xff\n"}, match="sopflow.yaml.*UTF-8"),
    Case("utf16-file", ["show", "ISS-9"], {"tickets/ISS-9.md": ticket().encode("utf-16")}, match="not valid UTF-8"),
    Case("bom", ["comment", "ISS-9", "with a BOM"], {"tickets/ISS-9.md": "\ufeff" + ticket()}, code=0,
         after=_bom_kept),
    Case("crlf", ["comment", "ISS-9", "with CRLF"], {"tickets/ISS-9.md": ticket().replace("\n", "\r\n")}, code=0,
         after=_crlf_kept),
    Case("cr-only", ["show", "ISS-9"], {"tickets/ISS-9.md": ticket().replace("\n", "\r")}, match="CR-only"),
    Case("cr-only-comment", ["comment", "ISS-9", "x"], {"tickets/ISS-9.md": ticket().replace("\n", "\r")},
         match="CR-only"),
    Case("conflict-markers", ["comment", "ISS-9", "x"],
         {"tickets/ISS-9.md": ticket().replace("state: 维护人员处理\n", "<<<<<<< HEAD\nstate: 维护人员处理\n=======\n"
                                                "state: 关闭\n>>>>>>> other\n")}, match="merge conflict markers"),
    Case("conflict-markers-check", ["check"],
         {"tickets/ISS-9.md": ticket().replace("body", "<<<<<<< HEAD\na\n=======\nb\n>>>>>>> x")},
         match=r"conflict\]"),
    Case("duplicate-key", ["do", "ISS-9", "更新进展"],
         {"tickets/ISS-9.md": ticket().replace("state: 维护人员处理\n", "state: 维护人员处理\nstate: 关闭\n")},
         match="'state' is written twice"),
    Case("empty-file", ["show", "ISS-9"], {"tickets/ISS-9.md": ""}, match="empty file"),
    Case("front-matter-not-a-mapping", ["show", "ISS-9"], {"tickets/ISS-9.md": "---\n- a\n- b\n---\n"},
         match="must be a mapping"),
    Case("non-text-key", ["show", "ISS-9"], {"tickets/ISS-9.md": "---\nid: ISS-9\n1: x\n---\n"}, match="not text"),
    Case("binary-garbage-workflow", ["check"], {"workflows/issue_track.yaml": bytes(range(256)) * 10},
         match="issue_track.yaml"),
    Case("workflow-is-a-list", ["new", "issue_track", "--title", "x"], {"workflows/issue_track.yaml": "- a\n- b\n"},
         match="issue_track"),
    # ---------------------------------------------------------------- symlinks, paths and IDs
    Case("ticket-symlink-out", ["comment", "ISS-9", "x"], {"../" + OUTSIDE: ticket()},
         setup=_symlink("tickets/ISS-9.md", OUTSIDE), match="outside the repository"),
    Case("ticket-symlink-out-show", ["show", "ISS-9"], {"../" + OUTSIDE: ticket()},
         setup=_symlink("tickets/ISS-9.md", OUTSIDE), match="tickets/ISS-9.md: symbolic link"),
    Case("ticket-symlink-out-check", ["check"], {"../" + OUTSIDE: ticket()},
         setup=_symlink("tickets/ISS-9.md", OUTSIDE), match=r"tickets/ISS-9.md.*\[symlink\]"),
    Case("tickets-folder-symlink-out", ["comment", "ISS-9", "x"], setup=_tickets_dir_outside,
         match="tickets folder is a symbolic link"),
    Case("tickets-folder-symlink-out-check", ["check"], setup=_tickets_dir_outside, match="path-outside"),
    Case("wiki-symlink-out", ["link", "ISS-9", "--wiki", "wiki/evil.md"],
         {"tickets/ISS-9.md": ticket(), "../" + OUTSIDE: "---\ntitle: x\n---\n"},
         setup=_symlink("wiki/evil.md", OUTSIDE), match="outside the wiki/ folder"),
    Case("wiki-dotdot", ["link", "ISS-9", "--wiki", "wiki/../sopflow.yaml"], {"tickets/ISS-9.md": ticket()},
         match="outside the wiki/ folder"),
    Case("wiki-absolute", ["link", "ISS-9", "--wiki", "/etc/passwd"], {"tickets/ISS-9.md": ticket()},
         match="must be relative"),
    Case("id-dotdot", ["show", "../../etc/passwd"], match="malformed ticket ID"),
    Case("id-absolute", ["comment", "/etc/passwd", "x"], match="malformed ticket ID"),
    Case("id-slash", ["show", "ISS-1/../ISS-2"], match="malformed ticket ID"),
    Case("id-glob", ["show", "ISS-*"], match="malformed ticket ID"),
    Case("id-newline", ["show", "ISS-1\n"], match="malformed ticket ID"),
    Case("id-file-name", ["show", "ISS-1.md"], match="malformed ticket ID"),
    Case("parent-dotdot", ["link", "ISS-9", "--parent", "../ISS-1"], {"tickets/ISS-9.md": ticket()},
         match="malformed ticket ID"),
    Case("relates-absolute", ["link", "ISS-9", "--relates", "/etc/passwd"], {"tickets/ISS-9.md": ticket()},
         match="malformed ticket ID"),
    Case("id-in-file-dotdot", ["check"], {"tickets/ISS-9.md": ticket(tid="../../x")}, match="malformed id"),
    Case("config-paths-dotdot", ["check"], {"sopflow.yaml": CONFIG_PATHS.replace("PATH", "../outside")},
         match="sopflow.yaml.*outside the repository"),
    Case("config-paths-absolute", ["check"], {"sopflow.yaml": CONFIG_PATHS.replace("PATH", "/tmp")}, match="sopflow.yaml"),
    Case("config-paths-dotdot-new", ["new", "issue_track", "--title", "x"],
         {"sopflow.yaml": CONFIG_PATHS.replace("PATH", "../outside")}, code=0,  # the bad path is not used: tickets/ is
         after=lambda r, o, e: (r.root / "tickets/ISS-1-x.md").is_file() or pytest.fail("not in tickets/")),
    Case("checklist-outside", ["new", "issue_track", "--title", "x"],
         {WORKFLOW_ESC: "\n".join(line.replace("sops/issue-handling.md", "../../../etc/passwd") for line in
                                  __import__("conftest").ISSUE_TRACK.splitlines()) + "\n"},
         match="outside the repository"),
    Case("fifo-ticket", ["list"], setup=_fifo("tickets/ISS-9.md"), code=0),
    Case("fifo-ticket-show", ["show", "ISS-9"], setup=_fifo("tickets/ISS-9.md"), match="no such ticket"),
    Case("fifo-template", ["new", "issue_track", "--title", "x"], setup=_fifo("templates/issue_track.md"), code=0),
    # ---------------------------------------------------------------- control characters and escapes
    Case("escape-in-title-new", ["new", "issue_track", "--title", ESC + "title"], code=0, after=_no_raw_escape),
    Case("escape-in-title-show", ["show", "ISS-9"], {"tickets/ISS-9.md": ticket(title='"\\e[2J\\e]0;pwned\\a x"')},
         code=0, after=_no_raw_escape),
    Case("escape-in-title-list", ["list"], {"tickets/ISS-9.md": ticket(title='"\\e[2J\\x9b31m x"')}, code=0,
         after=_no_raw_escape),
    Case("escape-in-title-list-csv", ["list", "--format", "csv"], {"tickets/ISS-9.md": ticket(title='"\\e[2J x"')},
         code=0, after=_no_raw_escape),
    Case("escape-in-title-board", ["board"], {"tickets/ISS-9.md": ticket(title='"\\e[2J x"')}, code=0,
         after=_no_raw_escape),
    Case("escape-in-title-inbox", ["--as", "alice", "inbox"], {"tickets/ISS-9.md": ticket(title='"\\e[2J x"')},
         code=0, after=_no_raw_escape),
    Case("escape-in-title-log", ["log", "ISS-9"], {"tickets/ISS-9.md": ticket(title='"\\e[2J x"')}, code=0,
         after=_no_raw_escape),
    Case("escape-in-comment", ["comment", "ISS-9", "\x1b[31mred\x1b[0m"], {"tickets/ISS-9.md": ticket()}, code=0,
         after=lambda r, o, e: (_no_raw_escape(r, o, e), _clean_commit_message(r, o, e))),
    Case("escape-in-set", ["set", "ISS-9", "detail=\x1b]52;c;cHduZWQ=\x07"], {"tickets/ISS-9.md": ticket()}, code=0,
         after=_no_raw_escape),
    Case("escape-in-id-argument", ["show", "\x1b[31mISS-1"], match="malformed ticket ID", after=_no_raw_escape),
    Case("escape-in-actor", ["--as", "\x1b[5mbob", "comment", "ISS-9", "x"], {"tickets/ISS-9.md": ticket()}, code=0,
         after=_no_raw_escape),
    Case("escape-in-workflow-names", ["workflow", "show", "issue_track"],
         {WORKFLOW_ESC: __import__("conftest").ISSUE_TRACK.replace("SE分析改进", '"SE\\e[2J"')}, code=0,
         after=_no_raw_escape),
    Case("escape-in-file-name", ["list", "--format", "csv"], {"tickets/ISS-9-\x1b[31mx.md": ticket()}, code=0,
         match="", after=_no_raw_escape),
    Case("escape-in-file-name-check", ["check"], {"tickets/ISS-9-\x1b[31mx.md": ticket(tid="ISS-8")}, code=1,
         match="does not match the file name", after=_no_raw_escape),
    Case("escape-in-error-check", ["check"], {"tickets/ISS-9.md": ticket(extra='"\\e[2J": 1\n')}, code=0,
         after=_no_raw_escape),
    Case("bidi-override-title", ["list"], {"tickets/ISS-9.md": ticket(title='"evil \\u202e txt.exe"')}, code=0,
         after=lambda r, o, e: (_no_raw_escape(r, o, e), ("\u202e" not in o) or pytest.fail("bidi"))),
    # ---------------------------------------------------------------- template sandbox
    Case("template-mro", ["new", "issue_track", "--title", "x"],
         {"templates/issue_track.md": "{{ ''.__class__.__mro__[1].__subclasses__() }}"}, match="template"),
    Case("template-globals", ["new", "issue_track", "--title", "x"],
         {"templates/issue_track.md": "{{ cycler.__init__.__globals__.os.popen('touch ../PWNED').read() }}"},
         match="template", after=_not_run),
    Case("template-self-globals", ["new", "issue_track", "--title", "x"],
         {"templates/issue_track.md": "{{ self.__init__.__globals__ }}"}, match="template"),
    Case("template-string-repeat", ["new", "issue_track", "--title", "x"],
         {"templates/issue_track.md": "{{ 'x' * 10**9 }}"}, match="sandbox"),
    Case("template-big-power", ["new", "issue_track", "--title", "x"],
         {"templates/issue_track.md": "{{ 9**(9**9) }}"}, match="too large"),
    Case("template-big-product", ["new", "issue_track", "--title", "x"],
         {"templates/issue_track.md": "{% set n = 10**20000 %}{{ n * n * n * n * n * n }}"}, match="too large"),
    Case("template-loops", ["new", "issue_track", "--title", "x"],
         {"templates/issue_track.md": "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}"
                                      "{% endfor %}"}, child=_template_time_limit, match="rendering took longer than 0.5 s"),
    Case("template-doubling", ["new", "issue_track", "--title", "x"],
         {"templates/issue_track.md": "{% set ns = namespace(s='xx') %}{% for i in range(40) %}"
                                      "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}"},
         match="more than 512 MB of memory"),
    Case("template-percent-width", ["new", "issue_track", "--title", "x"],
         {"templates/issue_track.md": "{{ '%999999999s' % 'a' }}"}, match="more than 512 MB of memory"),
    Case("template-format-width", ["new", "issue_track", "--title", "x"],
         {"templates/issue_track.md": "{{ '{:>999999999}'.format('a') }}"}, match="more than 512 MB of memory"),
    Case("template-center", ["new", "issue_track", "--title", "x"],
         {"templates/issue_track.md": "{{ 'x'|center(999999999) }}"}, match="more than 512 MB of memory"),
    Case("template-lipsum", ["new", "issue_track", "--title", "x"],
         {"templates/issue_track.md": "{{ lipsum(n=100000) }}"}, match="undefined"),
    Case("template-recursion", ["new", "issue_track", "--title", "x"],
         {"templates/issue_track.md": "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}"}, match="template"),
    Case("template-include", ["new", "issue_track", "--title", "x"],
         {"templates/issue_track.md": "{% include '/etc/passwd' %}"}, match="template"),
    Case("template-huge-output", ["new", "issue_track", "--title", "x"],
         {"templates/issue_track.md": "{% for i in range(100000) %}{{ 'x' * 100 }}{% endfor %}"},
         match="output too large"),
    Case("template-syntax", ["new", "issue_track", "--title", "x"], {"templates/issue_track.md": "{% if %}"},
         match=r"templates/issue_track.md:1: template error"),
    Case("release-notes-template-loops", ["release-notes", "--template", "t.j2"],
         {"t.j2": "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}"},
         child=_template_time_limit, match="rendering took longer than 0.5 s"),
    Case("release-notes-template-center", ["release-notes", "--template", "t.j2"],
         {"t.j2": "{{ 'x'|center(999999999) }}"}, match="more than 512 MB of memory"),
    Case("release-notes-template-doubling", ["release-notes", "--template", "t.j2"],
         {"t.j2": "{% set ns = namespace(s='xx') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}"},
         match="sandbox"),
    Case("release-notes-template-globals", ["release-notes", "--template", "t.j2"],
         {"t.j2": "{{ cycler.__init__.__globals__.os.popen('touch ../PWNED').read() }}"}, match="sandbox",
         after=_not_run),
    Case("release-notes-template-absolute", ["release-notes", "--template", "/etc/passwd"],
         match="must be inside the repository"),
    Case("release-notes-template-dotdot", ["release-notes", "--template", "../" + OUTSIDE], {"../" + OUTSIDE: "x"},
         match="must be inside the repository"),
    Case("site-template-loops", ["site", "build"],
         {"templates/site/base.html": "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}"
                                      "{% endfor %}"}, child=_template_time_limit, match="took longer than 0.5 s",
         unchanged=False),
    Case("site-template-mro", ["site", "build"],
         {"templates/site/base.html": "{{ ''.__class__.__mro__[1].__subclasses__() }}"}, match="sandbox",
         unchanged=False),
    Case("wiki-new-dotdot", ["wiki", "new", "../x.md", "--title", "t"], match="outside the wiki/ folder"),
    Case("wiki-new-absolute", ["wiki", "new", "/tmp/x.md", "--title", "t"], match="must be relative"),
    Case("do-wiki-new-dotdot", ["do", "ISS-9", "更新进展", "--wiki-new", "wiki/../../x.md"],
         {"tickets/ISS-9.md": ticket()}, match="outside the wiki/ folder"),
    Case("wiki-new-escape-title", ["wiki", "new", "wiki/x.md", "--title", ESC + "t"], code=0, after=_no_raw_escape),
    # ---------------------------------------------------------------- --set of reserved keys, and friends
    *[Case(f"set-reserved-{key}", ["set", "ISS-9", f"{key}=x"], {"tickets/ISS-9.md": ticket()},
           match=f"'{key}' cannot be set")
      for key in ("id", "type", "state", "roles", "assignee", "reporter", "created", "updated", "history", "links")],
    *[Case(f"new-set-reserved-{key}", ["new", "issue_track", "--title", "x", "--set", f"{key}=x"],
           match=f"'{key}' cannot be set") for key in ("id", "state", "history", "reporter")],
    Case("do-set-reserved", ["do", "ISS-9", "更新进展", "--set", "state=关闭"], {"tickets/ISS-9.md": ticket()},
         match="'state' cannot be set"),
    Case("set-readonly", ["set", "ISS-9", "serial=x"], {"tickets/ISS-9.md": ticket()}, match="read-only"),
    Case("set-title-cr", ["set", "ISS-9", "title=a\rb"], {"tickets/ISS-9.md": ticket()}, match="one non-empty line"),
    Case("set-title-newline", ["set", "ISS-9", "title=a\nb"], {"tickets/ISS-9.md": ticket()},
         match="one non-empty line"),
    Case("set-unknown-key", ["set", "ISS-9", "__class__=x"], {"tickets/ISS-9.md": ticket()}, match="unknown field"),
    Case("set-no-equals", ["set", "ISS-9", "state"], {"tickets/ISS-9.md": ticket()}, code=2, match="KEY=VALUE"),
    Case("role-unknown-person", ["assign", "ISS-9", "mallory", "--role", "维护代表"], {"tickets/ISS-9.md": ticket()},
         match="unknown person"),
    # ---------------------------------------------------------------- IDs that collide
    Case("two-files-one-id", ["comment", "ISS-9", "x"],
         {"tickets/ISS-9.md": ticket(), "tickets/ISS-9-copy.md": ticket()}, match="several files claim this ID"),
    Case("two-files-one-id-check", ["check"], {"tickets/ISS-9.md": ticket(), "tickets/ISS-9-copy.md": ticket()},
         match=r"duplicate-id"),
    Case("id-disagrees-with-name", ["comment", "ISS-9", "x"], {"tickets/ISS-9.md": ticket(tid="ISS-8")},
         match="file says id 'ISS-8'"),
    Case("next-id-is-a-folder", ["new", "issue_track", "--title", "你好"], setup=_mkdir("tickets/ISS-1.md"),
         match="already exists"),
    Case("next-id-is-a-dangling-symlink", ["new", "issue_track", "--title", "你好"],
         setup=_symlink("tickets/ISS-1.md", "/nonexistent/sopflow-target"), match="already exists"),
    Case("id-taken-on-another-branch", ["new", "issue_track", "--title", "你好"], setup=_other_branch_has("ISS-1"),
         code=0, after=_id_is("ISS-2")),
    # ---------------------------------------------------------------- environment
    Case("bad-sopflow-now", ["comment", "ISS-9", "x"], {"tickets/ISS-9.md": ticket()}, match="SOPFLOW_NOW",
         child=lambda: os.environ.__setitem__("SOPFLOW_NOW", "yesterday")),
    Case("config-is-a-fifo", ["list"], setup=_fifo("sopflow.yaml"), match="not a sopflow repository"),
]


def run_bounded(repo: Repo, argv: list[str], child: Callable[[], None] | None, tmp: Path) -> tuple[int, str, str, float]:
    """Run the CLI in a forked child under a memory limit; kill it past SECONDS."""
    tmp.mkdir(exist_ok=True)
    out_path, err_path = tmp / "stdout", tmp / "stderr"
    with open("/proc/self/statm", encoding="ascii") as fh:
        used = int(fh.read().split()[0]) * resource.getpagesize()
    t0 = time.monotonic()
    pid = os.fork()
    if pid == 0:  # the child: never returns

        def prepare() -> None:
            import sys

            resource.setrlimit(resource.RLIMIT_AS, (used + MEMORY_MB * 2**20, resource.RLIM_INFINITY))
            out_fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            err_fd = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            os.dup2(out_fd, 1)
            os.dup2(err_fd, 2)
            sys.stdout = open(out_fd, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
            sys.stderr = open(err_fd, "w", encoding="utf-8", closefd=False)  # noqa: SIM115

        cli_in_child(repo.root, repo.env, argv, prepare=prepare, setup=child)
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            code = os.waitstatus_to_exitcode(status)
            break
        if time.monotonic() - t0 > SECONDS:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail(f"{argv[:3]}: still running after {SECONDS} s")
        time.sleep(0.005)
    elapsed = time.monotonic() - t0
    return code, out_path.read_text("utf-8", "replace"), err_path.read_text("utf-8", "replace"), elapsed


def _write(repo: Repo, rel: str, content: str | bytes) -> None:
    path = repo.root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)


def _outside(repo: Repo) -> dict[str, bytes]:
    base = repo.root.parent
    return {p.relative_to(base).as_posix(): p.read_bytes() for p in base.rglob("*")
            if p.is_file() and p.relative_to(base).parts[0] not in ("repo", "home", "out")}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_input(repo: Repo, tmp_path: Path, case: Case) -> None:
    for rel, content in case.files.items():
        _write(repo, rel, content)
    if case.setup is not None:
        case.setup(repo)
    repo.env["SOPFLOW_USER"] = "alice"
    before, outside = repo.snapshot(), _outside(repo)
    code, out, err, elapsed = run_bounded(repo, case.argv, case.child, tmp_path / "out")
    assert "Traceback" not in err and "internal error" not in err, err
    assert code == case.code, (code, out[-500:], err[-2000:])
    assert elapsed < SECONDS
    if code != 0 and case.argv[0] != "check":
        assert err.startswith("sopflow: ") and len(err.strip().splitlines()) == 1, err
    if case.match:
        assert re.search(case.match, err if case.argv[0] != "check" else out + err), (case.match, out[-500:], err)
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", out + err.replace("\n", "")), "raw control character"
    if code != 0 and case.unchanged:
        assert repo.snapshot() == before, "a refused command changed files"
    assert _outside(repo) == outside, "a file outside the repository changed"
    if case.after is not None:
        case.after(repo, out, err)


def test_catalogue_size() -> None:
    print(f"\nhostile inputs: {len(CASES)} cases")
    assert len(CASES) >= 100
