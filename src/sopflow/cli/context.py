"""Shared command-line plumbing: options, the project, KEY=VALUE parsing, output helpers."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from sopflow.project import ChangeSet, Project


@dataclass
class Options:
    directory: str | None = None
    actor: str | None = None
    no_commit: bool = False


def project(ctx: typer.Context, *, warn_interrupted: bool = True) -> Project:
    from pathlib import Path

    from sopflow.project import Project

    opts: Options = ctx.find_root().obj or Options()
    start = Path(opts.directory) if opts.directory else None
    if start is not None and not start.is_dir():
        from sopflow.errors import SopflowError

        raise SopflowError(f"-C {opts.directory}: no such directory")
    p = Project.locate(start, actor=opts.actor, no_commit=opts.no_commit)
    ctx.call_on_close(lambda: _on_close(p, warn_interrupted))
    return p


def _on_close(p: Project, warn_interrupted: bool) -> None:
    """After the command: its notices, and a warning when an interrupted command awaits 'sopflow recover'."""
    for m in p.notices:
        say(m)
    p.notices = []
    if warn_interrupted and not p.journal_refused:
        from sopflow.adapters import journal

        if journal.exists(p.root) and not journal.running(p.root):
            say("warning: an earlier sopflow command was interrupted; 'sopflow recover' tells what to do")


def options(ctx: typer.Context) -> Options:
    return ctx.find_root().obj or Options()


def pairs(items: list[str] | None, what: str) -> list[tuple[str, str]]:
    """Parse ``KEY=VALUE`` arguments (the value may be empty, and may contain '=')."""
    from sopflow.errors import UsageError

    out = []
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"{what} expects KEY=VALUE, got {item!r}")
        out.append((key.strip(), value))
    return out


def echo_json(data: Any) -> None:
    if isinstance(data, list) and data:
        # One element a line: still one JSON array, written by the C encoder (indent=2 runs in pure Python:
        # two seconds for 10,000 tickets).
        write = sys.stdout.write
        encode = json.JSONEncoder(ensure_ascii=False).encode
        write("[\n")
        for i in range(0, len(data), 256):
            chunk = ",\n".join("  " + encode(x) for x in data[i:i + 256])
            write(chunk + (",\n" if i + 256 < len(data) else "\n"))
        write("]\n")
        return
    if isinstance(data, dict) and any(isinstance(v, list) and len(v) > 256 for v in data.values()):
        # A large object (release notes over a long history): one key a line, each value by the C encoder.
        encode = json.JSONEncoder(ensure_ascii=False).encode
        items = [f"  {encode(k)}: {encode(v)}" for k, v in data.items()]
        sys.stdout.write("{\n" + ",\n".join(items) + "\n}\n")
        return
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def say(message: str) -> None:
    """A message for the person at the terminal (stderr, so stdout stays data)."""
    from sopflow.render.text import clean

    print(clean(message), file=sys.stderr)


def finish(p: Project, change: ChangeSet) -> None:
    p.apply(change)
    for m in change.messages:
        say(m)


def check_format(value: str, allowed: tuple[str, ...]) -> str:
    from sopflow.errors import UsageError

    if value not in allowed:
        raise UsageError(f"--format must be one of {', '.join(allowed)} (got {value!r})")
    return value
