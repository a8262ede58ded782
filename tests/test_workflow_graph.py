"""``workflow graph``: Mermaid and DOT output of every shipped workflow, checked structurally.

The Mermaid output uses a small subset of the flowchart grammar; ``parse_mermaid`` below accepts exactly that
subset (and fails on anything else), so these tests hold the output to it without node. The same outputs were
also checked with Mermaid's own parser (``mermaid.parse`` under node, outside the project) for the report.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import Repo

from sopflow.core import yamlio
from sopflow.core.workflow import Workflow, parse_workflow
from sopflow.render.workflow import dot, mermaid

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted((ROOT / "workflows").glob("*.yaml"))

TRICKY = """\
type: tricky
title: "tricky %%{init: {'theme': 'dark'}}%% \\"t\\""
prefix: TR
roles: ['r"1', 'r|2']
states:
  'a "q" <b>x</b>': {initial: true}
  'p|q; #1; end': {}
  '`md` & #quot; &amp;': {}
  'end': {final: true}
transitions:
  - {trigger: 'go "now" | x', source: 'a "q" <b>x</b>', dest: 'p|q; #1; end', by: ['r"1', 'r|2']}
  - {trigger: '-->|x|', source: 'p|q; #1; end', dest: '`md` & #quot; &amp;'}
  - {trigger: 'fin;', source: ['`md` & #quot; &amp;', 'a "q" <b>x</b>'], dest: 'end'}
"""


def load(text: str, stem: str) -> Workflow:
    wf, problems = parse_workflow(yamlio.load(text), stem, f"workflows/{stem}.yaml")
    assert wf is not None, problems
    return wf


@dataclass
class Graph:
    nodes: dict[str, tuple[str, str]]  # id -> (shape, label)
    edges: list[tuple[str, str, str]]  # (from id, to id, label)
    classes: dict[str, set[str]]


_NAMED = {"quot": '"', "amp": "&", "lt": "<", "gt": ">"}
_LABEL = r'"([^"]*)"'
_SHAPES = [("doublecircle", re.compile(rf"^  (s\d+)\(\(\({_LABEL}\)\)\)$")),
           ("stadium", re.compile(rf"^  (s\d+)\(\[{_LABEL}\]\)$")),
           ("square", re.compile(rf"^  (s\d+)\[{_LABEL}\]$"))]
_EDGE = re.compile(rf"^  (s\d+) -->\|{_LABEL}\| (s\d+)$")
_CLASSDEF = re.compile(r"^  classDef (\w+) [\w:-]+(,[\w:-]+)*$")
_CLASS = re.compile(r"^  class (s\d+(?:,s\d+)*) (\w+)$")


def unescape(label: str) -> str:
    """Mermaid's entity codes back to text; a label must hold no raw character Mermaid reads specially."""
    assert not re.search(r"[\"<>|`&]", label), label
    return re.sub(r"#(\w+);", lambda m: chr(int(m.group(1))) if m.group(1).isdigit() else _NAMED[m.group(1)],
                  label)


def parse_mermaid(text: str) -> Graph:
    lines = text.split("\n")
    assert lines[0] == "flowchart TD"
    g = Graph({}, [], {})
    defined: set[str] = set()
    for line in lines[1:]:
        if line.startswith("  %% "):
            assert "%%{" not in line and "{" not in line[5:], "a comment must not turn into a directive"
            continue
        for shape, rx in _SHAPES:
            m = rx.match(line)
            if m:
                assert m.group(1) not in g.nodes
                g.nodes[m.group(1)] = (shape, unescape(m.group(2)))
                break
        else:
            if m := _EDGE.match(line):
                assert m.group(1) in g.nodes and m.group(3) in g.nodes
                g.edges.append((m.group(1), m.group(3), unescape(m.group(2))))
            elif m := _CLASSDEF.match(line):
                defined.add(m.group(1))
            elif m := _CLASS.match(line):
                assert m.group(2) in defined
                for n in m.group(1).split(","):
                    g.classes.setdefault(n, set()).add(m.group(2))
            else:
                raise AssertionError(f"not in the Mermaid subset sopflow writes: {line!r}")
    return g


def check_graph(wf: Workflow, g: Graph) -> None:
    by_label = {label: (nid, shape) for nid, (shape, label) in g.nodes.items()}
    assert set(by_label) == set(wf.states)
    for s in wf.states.values():
        nid, shape = by_label[s.name]
        assert shape == ("doublecircle" if s.final else "stadium" if s.initial else "square")
        assert ("initial" in g.classes.get(nid, set())) == s.initial
        assert ("final" in g.classes.get(nid, set())) == s.final
    names = {nid: label for nid, (_, label) in g.nodes.items()}
    got = sorted((names[a], names[b], label) for a, b, label in g.edges)
    want = sorted((src, t.dest, t.trigger + (f" [{', '.join(t.by)}]" if t.by else ""))
                  for t in wf.transitions for src in t.sources)
    assert got == want


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_workflows_as_mermaid(path: Path) -> None:
    wf = load(path.read_text("utf-8"), path.stem)
    check_graph(wf, parse_mermaid(mermaid(wf)))


def test_names_that_mermaid_or_html_would_read_specially_are_escaped() -> None:
    wf = load(TRICKY, "tricky")
    text = mermaid(wf)
    check_graph(wf, parse_mermaid(text))
    assert "#quot;" in text and "#35;quot;" in text and "#96;md#96;" in text
    assert "%%{" not in text


def test_dot_output(tmp_path: Path) -> None:
    wf = load(TRICKY, "tricky")
    text = dot(wf)
    assert text.startswith('digraph "tricky" {') and text.endswith("}")
    assert '  start -> s0;' in text
    assert '  s0 [label="a \\"q\\" <b>x</b>", penwidth=2];' in text
    assert '  s3 [label="end", peripheries=2];' in text
    assert '  s2 [label="`md` &amp; #quot; &amp;amp;"];' in text  # Graphviz decodes entities in labels
    assert '  s0 -> s1 [label="go \\"now\\" | x [r\\"1, r|2]"];' in text
    if shutil.which("dot"):
        for path in [*SHIPPED, None]:
            w = wf if path is None else load(path.read_text("utf-8"), path.stem)
            subprocess.run(["dot", "-Tsvg", "-o", str(tmp_path / "g.svg")], input=dot(w).encode(), check=True)


def test_graph_command(repo: Repo) -> None:
    res = repo.run("workflow", "graph", "issue_track")
    assert res.code == 0, res.err
    check_graph(load((repo.root / "workflows/issue_track.yaml").read_text("utf-8"), "issue_track"),
                parse_mermaid(res.out.rstrip("\n")))
    assert repo.run("workflow", "graph", "issue_track", "--format", "dot").out.startswith('digraph "issue_track"')
    res = repo.run("workflow", "graph", "issue_track", "--format", "png")
    assert res.code == 2 and "--format must be one of mermaid, dot" in res.err
