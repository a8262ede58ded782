"""``sopflow check`` never crashes, whatever bytes a file holds: it reports problems (in every output format)
and returns. Random bytes, and valid files with hostile fragments spliced in, are written in turn into a
ticket, a wiki page, an SOP, a workflow and sopflow.yaml of one repository.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from conftest import CONFIG, ISSUE_TRACK, SOP
from hypothesis import event, given, settings
from hypothesis import strategies as st

from sopflow.checker import check
from sopflow.project import Project
from sopflow.render.problems import render

NOW = datetime(2026, 11, 21, 10, 0, tzinfo=timezone(timedelta(hours=8)))
TICKET = """---
id: ISS-9
type: issue_track
title: 【20261121】XX局点XX设备故障
state: 维护代表审核
reporter: alice
roles: {维护处理人: alice, 维护代表: fan}
links: {wiki: [wiki/faq/x.md]}
created: 2026-11-21T10:00:00+08:00
updated: 2026-11-21T10:00:00+08:00
issue_level: 一般问题
history:
  - {at: 2026-11-21T10:00:00+08:00, by: alice, action: create, to: 维护人员处理}
  - {at: 2026-11-21T11:00:00+08:00, by: alice, action: 提交审核, from: 维护人员处理, to: 维护代表审核, note: "背景"}
---
【问题现象】: …

## Checklist: 维护人员处理
- [x] 记录时间
"""
WIKI = "---\ntitle: 线缆\ntickets: [ISS-9]\nowner: fan\nreviewed: 2026-10-01\nreview_every: 90d\n---\n正文\n"
TARGETS = {"tickets/ISS-9.md": TICKET, "wiki/faq/x.md": WIKI, "sops/issue-handling.md": SOP,
           "workflows/issue_track.yaml": ISSUE_TRACK, "sopflow.yaml": CONFIG}
FRAGMENTS = ["&a ", "*a", "!!python/object/apply:os.system [id]", "!!binary x", "[", "]", "{", "}", "---\n", "...",
             "<<<<<<< HEAD\n", "=======\n", "\x00", "\r", "\r\n", "\ufeff", "\x1b[31m", "\u202e", ": ", "- ", "? ",
             "#", "'", '"', "\\", "\t", "\n  ", "|\n", ">\n", "%YAML 1.1\n", "9" * 5000, "[" * 3000, ".nan",
             "2026-13-45", "ISS-", "../", "/etc/passwd", "é", "😀", "\udcff"]


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    base = tmp_path_factory.mktemp("fuzz")
    for rel, text in TARGETS.items():
        path = base / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8")
    yield base


def run_check(root: Path, rel: str, data: bytes) -> None:
    path = root / rel
    path.write_bytes(data)
    try:
        problems = check(Project(root, now=NOW))
        event(f"{rel}: {'problems' if any(x.severity == 'error' for x in problems) else 'no error'}")
        for fmt in ("text", "json", "github"):
            text, ok = render(problems, fmt)
            assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", text), "raw control character in the report"
            if fmt == "json":
                assert json.loads(text)["ok"] == ok
        for x in problems:
            assert x.severity in ("error", "warning") and x.message and "\n" not in x.message
            assert x.line is None or x.line >= 1
    finally:
        path.write_text(TARGETS[rel], "utf-8")


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(TARGETS)), st.binary(max_size=600))
def test_check_survives_random_bytes(root: Path, rel: str, data: bytes) -> None:
    run_check(root, rel, data)


@st.composite
def spliced(draw: st.DrawFn) -> tuple[str, bytes]:
    rel = draw(st.sampled_from(sorted(TARGETS)))
    text = TARGETS[rel]
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        cut = draw(st.integers(0, 8))
        piece = draw(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=12)))
        text = text[:at] + piece + text[at + cut:]
    return rel, text.encode("utf-8", "surrogateescape")


@settings(max_examples=400, deadline=None)
@given(spliced())
def test_check_survives_hostile_fragments_in_valid_files(root: Path, case: tuple[str, bytes]) -> None:
    run_check(root, *case)
