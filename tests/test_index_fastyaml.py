"""The fast YAML subset loader answers exactly as PyYAML's safe loader does, or declines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sopflow.core import fastyaml, yamlio

ROOT = Path(__file__).resolve().parent.parent


def reference(text: str) -> tuple[bool, Any]:
    try:
        return True, yaml.load(text, Loader=yamlio._Loader)
    except (yaml.YAMLError, ValueError, TypeError, RecursionError):
        return False, None


def same(a: Any, b: Any) -> bool:
    """Equal, with types (True is not 1, 1.0 is not 1) and key order."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and a != a:
        return b != b
    return bool(a == b)


def agree(text: str) -> bool:
    """True when the fast loader answered (and then it must agree with PyYAML)."""
    ok, value = fastyaml.try_load(text)
    if not ok:
        return False
    ref_ok, ref = reference(text)
    assert ref_ok, f"fast loader accepted what PyYAML refuses: {text!r} -> {value!r}"
    assert same(value, ref), f"{text!r}: fast {value!r} != PyYAML {ref!r}"
    return True


TICKET = """\
id: ISS-12
type: issue_track
title: 【20170101】XX局点XX设备发生XX问题   # a comment
state: 维护代表审核
priority: P2
assignee: fan
roles: {维护处理人: alice, 维护代表: fan}
labels: [硬件, "a, b", 'it''s']
links: {parent: ISS-3, relates: [IMP-2], wiki: [wiki/faq/cable.md]}
created: 2026-11-21T10:00:00+08:00
effort: 3
ratio: 1.5
checked: true
due: 2026-12-01
empty:
nothing: ~
history:
  - {at: 2026-11-21T10:00:00+08:00, by: alice, action: create, to: 维护人员处理}
  - {at: 2026-11-21T15:30:00+08:00, by: alice, action: 提交审核, from: 维护人员处理, to: 维护代表审核,
     note: "背景: … 进展: … 下一步: …\\n\\t\\u00e9\\x41"}
  - {at: 2026-11-22T10:00:00+08:00, by: fan, action: set, set: {customer_type: 金融, effort: 2, tags: [a, b]}}
"""


def test_ticket_front_matter() -> None:
    assert agree(TICKET)


def test_block_styles() -> None:
    assert agree("roles:\n  a: b\n  c: [1, 2]\nlist:\n- x\n- {a: b}\nz: 1\n")
    assert agree("# head\n\nk: v\n  # indented comment\nj: w\n")
    assert agree("k: 'single # not a comment'\nj: \"dq # neither\"  # but this is\n")


@pytest.mark.parametrize("text", [
    "a: |\n  block\n", "a: >\n  folded\n", "a: &x 1\nb: *x\n", "a: !!str 1\n", "%YAML 1.1\n---\na: 1\n",
    "a: 1\n---\nb: 2\n", "a: b\n  continued\n", 'a: "two\n  lines"\n', "? complex\n: key\n", "a: 0x1F\n",
    "a: 012\n", "a: 1_000\n", "a: 1:20\n", "a: .inf\n", "a: 1e5\n", "a:\tb\n", "a: b\r\n", "1: one\n",
    "true: yes\n", "a: 1\na: 2\n", "'q': 1\n", "a: [b, ]\n", "a: {b: }\n", "a: [a: b]\n", "a: <<\n", "a: =\n",
    "- top\n", "  a: indented\n", "", "a: b: c\n", "a: [x # c\n  ]\n", "a: \"\\ud83d\"\n", "a: \"\\q\"\n",
    "a: \u2028\n", "a: \ufeffb\n", "a: \x85\n", "a: \x07\n",
])
def test_declines_or_agrees(text: str) -> None:
    agree(text)  # declining is fine; answering wrongly is not


def test_examples_and_workflows_agree() -> None:
    """Every YAML file and front matter shipped with sopflow: agreement, and most are answered fast."""
    answered = total = 0
    for path in sorted(ROOT.glob("workflows/*.yaml")) + sorted(ROOT.glob("examples/**/*.yaml")):
        total += 1
        answered += agree(path.read_text("utf-8"))
    for path in sorted(ROOT.glob("examples/**/*.md")) + sorted(ROOT.glob("templates/*.md")):
        text = path.read_text("utf-8")
        if text.startswith("---\n") and "\n---" in text[3:]:
            total += 1
            answered += agree(text[4:text.index("\n---", 3) + 1])
    assert total and answered >= total // 2
    for path in sorted(ROOT.glob("workflows/*.yaml")):  # every shipped workflow is read on the fast path
        assert fastyaml.try_load(path.read_text("utf-8"))[0], path


def test_yamlio_load_uses_it() -> None:
    assert yamlio.load(TICKET) == reference(TICKET)[1]
    with pytest.raises(yamlio.YamlError):
        yamlio.load("a: &x 1\nb: *x\n")


# ---------------------------------------------------------------- generated documents

SCALARS = [
    "a", "abc def", "中文 值", "ISS-12", "x:y", "x: y", "x :y", "a#b", "a #b", "-", "-1", "-x", "- x", "+1", "0",
    "007", "12", "1.5", "1.", ".5", "-2.5", "1e3", "1.0e+3", "0x1F", "0o7", "0b1", "1_000", "1:30", "yes", "No",
    "ON", "off", "True", "FALSE", "y", "n", "~", "null", "Null", "NULL", "<<", "=", "!", "&a", "*a", "!t x", "|",
    ">", "%x", "@x", "`x", "?x", "? x", ":x", ",x", "[x", "]x", "{x", "}x", "x]", "x}", "x,y", "x, y", "'q'",
    '"q"', "'it''s'", '"a\\"b"', '"\\x41\\u00e9\\U0001F600"', '"\\e\\0\\/\\ \\N\\_"', '"\\q"', "'", '"', "2026-01-01",
    "2026-11-21T10:00:00+08:00", "1:2:3", ".inf", ".NaN", "-.inf", "😀", "x\u3000y", "a  b", "a ", " a",
    "[]", "{}", "[a, b]", "[a,b]", "{a: b}", "{a:b}", "{a: b, c: [d]}", "[a, [b, c], {d: e}]", "[a, ]", "{a: }",
    "{a, b}", "[a: b]", "{? a}", "{a: b,\n   c: d}", "[a,\n b]", "[a,\nb]", "x #c", "x\n  y",
]
GOOD = [
    "a", "abc def", "中文 值", "ISS-12", "x:y", "a#b", "-1", "-x", "12", "0", "1.5", "yes", "No", "~", "null",
    "2026-01-01", "2026-11-21T10:00:00+08:00", "'it''s'", '"a\\"b"', '"\\x41\\u00e9"', "x]", "x}", "x,y",
    "[]", "{}", "[a, b]", "[a,b]", "{a: b}", "{a: b, c: [d]}", "[a, [b, c], {d: e}]", "{a: b,\n   c: d}",
    "[a,\n b]", "{at: 2026-11-21T10:00:00+08:00, by: alice, note: \"背景: x\"}", "x #c", "a  b",
    "{a: []}", "{a: [ ]}", "[ ]", "{ }", "{k: [x, 'y'], z: \"w\"}", "{relates: [TASK-1]}",
    "{at: t, by: b, action: tick, items: [检索已有 Buglist，确认, \"填写: 现象\", 'x''y']}", "{a: [1, yes, ~]}",
]
KEYS = ["a", "b", "键", "issue_level", "x y", "x-y", "-x", "1", "yes", "null", "x:y", "'k'", '"k"', "?", "a#", "[k]"]
GOOD_KEYS = ["a", "b", "键", "issue_level", "x-y", "at", "by", "set"]


def scalar(draw: st.DrawFn) -> str:
    return draw(st.sampled_from(GOOD if draw(st.integers(0, 9)) else SCALARS))


def key(draw: st.DrawFn) -> str:
    return draw(st.sampled_from(GOOD_KEYS if draw(st.integers(0, 9)) else KEYS))


@st.composite
def documents(draw: st.DrawFn) -> str:
    lines: list[str] = []
    for _ in range(draw(st.integers(1, 6))):
        k = key(draw)
        kind = draw(st.sampled_from(["scalar", "scalar", "seq", "map", "seqmap", "empty", "comment", "blank"]))
        indent = " " * draw(st.sampled_from([0] * 12 + [1, 2]))
        if kind == "scalar":
            lines.append(f"{indent}{k}: {scalar(draw)}" + draw(st.sampled_from(["", "", "", "  # c", "#c", " "])))
        elif kind == "seq":
            lines.append(f"{k}:")
            sub = " " * draw(st.sampled_from([0, 2, 2, 4]))
            for _ in range(draw(st.integers(1, 3))):
                dash = draw(st.sampled_from(["- "] * 8 + ["-", "-  ", "- - "]))
                lines.append(f"{sub}{dash}{scalar(draw)}")
        elif kind == "map":
            lines.append(f"{k}:")
            sub = " " * draw(st.sampled_from([1, 2, 4]))
            for _ in range(draw(st.integers(1, 3))):
                lines.append(f"{sub}{key(draw)}: {scalar(draw)}")
        elif kind == "seqmap":  # items that are block mappings starting after the dash (workflow transitions)
            lines.append(f"{k}:")
            sub = " " * draw(st.sampled_from([0, 2, 2, 3]))
            for _ in range(draw(st.integers(1, 3))):
                dash = draw(st.sampled_from(["- "] * 6 + ["-  ", "- - "]))
                lines.append(f"{sub}{dash}{key(draw)}: {scalar(draw)}")
                more = " " * (len(sub) + len(dash) + draw(st.sampled_from([0] * 6 + [-1, 1, 2])))
                for _ in range(draw(st.integers(0, 2))):
                    if draw(st.integers(0, 4)):
                        lines.append(f"{more}{key(draw)}: {scalar(draw)}")
                    else:
                        lines.append(f"{more}{key(draw)}:")
                        lines.append(f"{more}  - {scalar(draw)}")
        elif kind == "empty":
            lines.append(f"{k}:")
        elif kind == "comment":
            lines.append(f"{indent}# comment")
        else:
            lines.append(indent)
    return "\n".join(lines) + draw(st.sampled_from(["\n", "", "\n\n"]))


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_generated_documents(text: str) -> None:
    agree(text)


@settings(max_examples=800, deadline=None)
@given(st.text(alphabet=st.sampled_from([*list("ab:#-[]{},'\"\\ \n!&*|>?~0.1e_xyN中"), "\t", "\r", "\u2028"]),
               max_size=40))
def test_random_text(text: str) -> None:
    agree(text)


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(TICKET)), st.integers(0, 3),
                          st.sampled_from([*list(" \n:#-,[]{}'\"\\!&*|>?~0.1e_xyN中\t"), "  ", "\n  ", ": ", ", "])),
                min_size=1, max_size=3))
def test_mutated_ticket(edits: list[tuple[int, int, str]]) -> None:
    """Near misses of a real front matter: insert, replace or delete a few characters."""
    text = TICKET
    for at, cut, piece in edits:
        at = min(at, len(text))
        text = text[:at] + piece + text[at + cut:]
    agree(text)


def test_the_copied_resolvers_are_pyyamls() -> None:
    """fastyaml's copy of the implicit resolvers is PyYAML's (as sopflow's loader has them: no timestamps),
    pattern, flags and order for every first character; a PyYAML that changes them fails here."""
    from sopflow.core import fastyaml, yamlio

    def plain(table: dict[str, list[tuple[str, Any]]]) -> dict[str, list[tuple[str, str, int]]]:
        return {k: [(tag, rx.pattern, rx.flags) for tag, rx in v] for k, v in table.items()}

    assert plain(fastyaml.implicit_resolvers()) == plain(yamlio._Loader.yaml_implicit_resolvers)
