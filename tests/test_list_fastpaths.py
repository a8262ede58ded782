"""The column-wise table, the width/truncate fast paths and the sort on positions print and order exactly what the
plain per-cell / per-item definitions (kept here as references) give."""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from conftest import Repo
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sopflow.core.query import _id_key, sort, sort_key
from sopflow.render import text
from sopflow.render.text import (
    OneLine,
    one_line,
    one_line_all,
    pad,
    style,
    table,
    table_columns,
    truncate,
    width,
)
from sopflow.render.tickets import LIST_COLUMNS, list_table

# ------------------------------------------------------------------ references (the definitions, cell by cell)


def ref_char_width(c: str) -> int:
    if unicodedata.combining(c):
        return 0
    o = ord(c)
    if o < 32 or 0x7F <= o < 0xA0:
        return 0
    return 2 if unicodedata.east_asian_width(c) in ("W", "F") else 1


def ref_width(s: str) -> int:
    return len(s) if s.isascii() else sum(ref_char_width(c) for c in s)


def ref_truncate(s: str, limit: int) -> str:
    if ref_width(s) <= limit:
        return s
    if limit <= 0:
        return ""
    out, used = [], 0
    for c in s:
        w = ref_char_width(c)
        if used + w > limit - 1:
            break
        out.append(c)
        used += w
    return "".join(out) + "…"


def ref_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], max_width: int | None,
              shrink: Sequence[int]) -> str:
    cells = [[one_line(c) for c in r] for r in rows]
    widths = [ref_width(h) for h in headers]
    for r in cells:
        for i, c in enumerate(r):
            widths[i] = max(widths[i], ref_width(c))
    if max_width:
        total = sum(widths) + 2 * (len(widths) - 1)
        for i in shrink or [len(widths) - 1]:
            if total <= max_width:
                break
            floor = max(ref_width(headers[i]), 8)
            cut = min(widths[i] - floor, total - max_width)
            if cut > 0:
                widths[i] -= cut
                total -= cut

    def cell(c: str, w: int) -> str:
        c = ref_truncate(c, w)
        return c + " " * max(0, w - ref_width(c))

    lines = [style("  ".join(cell(h, widths[i]) for i, h in enumerate(headers)).rstrip(), "1")]
    lines += ["  ".join(cell(c, widths[i]) for i, c in enumerate(r)).rstrip() for r in cells]
    return "\n".join(lines)


def ref_sort(items: Sequence[Mapping[str, Any]], spec: str | None) -> list[Mapping[str, Any]]:
    out = list(items)
    for k in reversed([k.strip() for k in (spec or "id").split(",") if k.strip()]):
        out.sort(key=sort_key(k.lstrip("-")), reverse=k.startswith("-"))
    return out


# ------------------------------------------------------------------ text: mixed ASCII, CJK, emoji, combining

TRICKY = ("a", "Z", " ", "-", "中", "文", "ｶ", "Ａ", "\u3000", "👍", "🏽", "\u200d", "\ufe0f", "\u0301", "\u20dd", "é",
          "·", "①", "\t", "\n", "\x1b", "\x00", "\x07", "\x7f", "\x85", "\u200b", "\u202e", "\u00ad", "\u00a0", "한",
          "\U00020000", "\U0001f1e8", "…")
tricky_text = st.text(alphabet=st.sampled_from(TRICKY), max_size=16) | st.text(max_size=12)


@settings(max_examples=500, deadline=None)
@given(tricky_text)
@example("中文 mixed with ASCII 👨\u200d👩\u200d👧 cafe\u0301")
def test_width_is_the_per_character_width(s: str) -> None:
    assert width(s) == ref_width(s)


@settings(max_examples=500, deadline=None)
@given(tricky_text, st.integers(-2, 24))
@example("\u0301\u0301abc", 1)
@example("中文中文", 3)
@example("bell\x07\x07\x07ring", 5)
def test_truncate_is_the_per_character_cut(s: str, limit: int) -> None:
    assert truncate(s, limit) == ref_truncate(s, limit)


def test_a_character_width_is_measured_once_and_never_forgotten() -> None:
    many = "".join(chr(0x4E00 + i) for i in range(5000))  # more distinct CJK characters than an lru_cache kept
    assert width(many) == 10000
    assert width(many) == 10000
    assert text._CHAR_WIDTH("中") == 2 and text._CHAR_WIDTH("\u0301") == 0 and text._CHAR_WIDTH("a") == 1


# ------------------------------------------------------------------ one_line of a whole column


class Shouty(str):
    def __str__(self) -> str:
        return self.upper()


values = st.one_of(st.none(), tricky_text, st.sampled_from(["", "a", " a", "a ", "a  b", "a \u200b b", "关闭"]),
                   st.integers(-3, 3), st.booleans(), st.lists(tricky_text, max_size=2),
                   st.dictionaries(st.sampled_from(["k", "a\tb"]), tricky_text, max_size=2),
                   st.builds(Shouty, st.sampled_from(["x", "中 文"])))


@settings(max_examples=500, deadline=None)
@given(st.lists(values, max_size=12))
@example(["a", Shouty("a")])
@example([1, True, 1.0, "1"])
@example(["", None, "x"])
def test_one_line_all_is_one_line_of_each(vals: list[Any]) -> None:
    got = one_line_all(vals)
    assert list(got) == [one_line(v) for v in vals]
    if isinstance(got, OneLine):  # claims each string is its own one_line, and knows whether all are ASCII
        assert all(one_line(s) == s for s in got)
        assert got.ascii == "".join(got).isascii()
        assert one_line_all(got) is got
    assert list(one_line_all(list(got))) == [one_line(one_line(v)) for v in vals]


# ------------------------------------------------------------------ the table, column by column

cell_text = st.text(alphabet=st.sampled_from("ab  中文ｶ\u3000\t\n\x1b\x00\u200b\u0301é-👍"), max_size=14)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.lists(cell_text | st.none() | st.integers(0, 9) | st.dictionaries(st.sampled_from(["k", "a\tb"]),
                                                                                     cell_text, max_size=1),
                         min_size=4, max_size=4), max_size=8),
       st.one_of(st.none(), st.integers(10, 70)), st.sampled_from([(), (3,), (3, 1), (0, 1, 2, 3)]))
def test_table_is_the_cell_by_cell_table(rows: list[list[Any]], max_width: int | None, shrink: tuple[int, ...]) -> None:
    headers = ["id", "状态", "who", "title"]
    assert table(headers, rows, max_width=max_width, shrink=shrink) == ref_table(headers, rows, max_width, shrink)


narrow_cell = st.text(alphabet=st.sampled_from("ab  中文ｶ\u3000\t\n\x1b\x00\u200b\u0301é-"), max_size=14)


@settings(max_examples=600, deadline=None)
@given(st.lists(st.lists(narrow_cell, min_size=3, max_size=3), max_size=6), st.integers(10, 60), narrow_cell)
def test_table_and_one_line_on_controls_and_wide_characters(rows: list[list[str]], max_width: int, text: str) -> None:
    """Cells with controls, tabs, newlines, zero-width and combining characters, CJK and half-width kana, in
    narrow tables that cut two columns."""
    from sopflow.render.text import clean

    assert one_line(text) == clean(" ".join(text.split()))
    headers = ["id", "状态", "title"]
    assert table(headers, rows, max_width=max_width, shrink=[2, 1]) == ref_table(headers, rows, max_width, [2, 1])


@pytest.mark.parametrize("max_width", [None, 20, 40, 60, 100, 160])
def test_long_tables_with_repeated_and_distinct_values(max_width: int | None) -> None:
    """Over 1,000 rows: distinct ASCII values are padded one by one, repeated ones once per value."""
    import random

    rnd = random.Random(max_width or 0)
    states = ["维护人员处理", "关闭", "SE分析改进", "done", ""]
    rows = [[f"ISS-{i}", rnd.choice(["bug", "task", "feature_request"]), rnd.choice(states),
             rnd.choice(["P0", "P1", "", "高"]), rnd.choice(["fan", "范慧阳", "", "x" * 20]),
             rnd.choice(["short", "网关端口闪断，客户反馈影响业务" * rnd.randint(1, 3), "a" * rnd.randint(0, 90),
                         "cafe\u0301 👍🏽 ｶﾀｶﾅ"])] for i in range(1500)]
    headers = [c.upper() for c in LIST_COLUMNS]
    for shrink in ([5, 2, 1], [0], []):
        assert table(headers, rows, max_width=max_width, shrink=shrink) == ref_table(headers, rows, max_width, shrink)


def test_last_column_widest_and_cut_values_at_every_width() -> None:
    """The last column measures only its widest value and the ones to cut: every boundary, every width."""
    values = ["", "aaaa", {"k\tk": "v" * 30}, "中中中", "a中", "\u0301\u0301\u0301x", "ｶｶｶｶｶ", "tab\there"]
    values += ["中" * k for k in range(1, 13)] + ["a" + "中" * k for k in range(0, 12)]
    for kept in range(1, len(values) + 1):
        rows = [["x", v] for v in values[:kept]]
        for max_width in range(10, 40):
            assert table(["a", "t"], rows, max_width=max_width, shrink=[1]) == ref_table(["a", "t"], rows, max_width,
                                                                                         [1])


def test_table_edge_shapes() -> None:
    assert table(["a", "b"], []) == ref_table(["a", "b"], [], None, ())
    assert table(["a", "b", "c"], [["x"], ["y", "中文"], []]) == ref_table(["a", "b", "c"], [["x", "", ""], ["y", "中文", ""],
                                                                         ["", "", ""]], None, ())
    assert table([], [[], []]) == "\n\n"
    with pytest.raises(IndexError):
        table(["a"], [["x", "y"]])
    assert table_columns(["a", "b"], [[], []]) == "a  b"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.fixed_dictionaries({}, optional={c: values for c in LIST_COLUMNS}), min_size=1, max_size=8),
       st.sampled_from(["", "20", "45", "100", "160"]))
@example([{"title": "a \u200b b"}], "")  # one_line twice is not one_line once: the list table does it twice
def test_list_table_is_one_line_twice_cell_by_cell(items: list[dict[str, Any]], columns: str) -> None:
    saved = os.environ.pop("COLUMNS", None)
    try:
        if columns:
            os.environ["COLUMNS"] = columns
        rows = [[one_line(d.get(c)) for c in LIST_COLUMNS] for d in items]
        assert list_table(items) == ref_table([c.upper() for c in LIST_COLUMNS], rows, text.terminal_width(), [5, 2, 1])
    finally:
        os.environ.pop("COLUMNS", None)
        if saved is not None:
            os.environ["COLUMNS"] = saved


def test_pad_still_pads_by_width() -> None:
    assert pad("中", 4) == "中  " and pad("ab", 1) == "ab"


# ------------------------------------------------------------------ sorting on positions, key parts taken apart

ids = st.one_of(st.sampled_from(["ISS-1", "ISS-2", "ISS-10", "BUG-3", "A-1", "A+-1", "A -2", "A-", "-5", "12", "A-1\n",
                                 "A\n-1", "A-١٢", "A-1٢", "A-٢-3", "A-01", "A-1-2", "中-7", ""]),
                st.from_regex(r"[A-C]{1,2}-[0-9]{1,3}", fullmatch=True), st.integers(0, 5), st.none())
field = st.one_of(st.none(), st.sampled_from(["", "a", "b", "中", "P0", "P1", "P5", "P9", "高", "~"]), st.booleans(),
                  st.integers(0, 3))


words = st.sampled_from(["", "a", "b", "中", "P0", "P1", "P5", "高"])
mixed_items = st.fixed_dictionaries({"id": ids}, optional={"priority": field, "state": field, "title": field})
string_items = st.fixed_dictionaries({"id": ids, "priority": words, "state": words, "title": words})


@settings(max_examples=400, deadline=None)
@given(st.lists(mixed_items, max_size=14) | st.lists(string_items, max_size=14),
       st.sampled_from([None, "id", "-id", "priority", "-priority", "state", "-state,id", "title,-priority",
                        "state,priority,title", " , ", "--id", "missing"]))
def test_sort_is_the_stable_sort_by_each_key(items: list[dict[str, Any]], spec: str | None) -> None:
    got = sort(items, spec)
    want = ref_sort(items, spec)
    assert [id(d) for d in got] == [id(d) for d in want]  # the same objects in the same order (stable)


def test_sort_of_string_ids_splits_them_as_the_pattern_does() -> None:
    names = ["ISS-10", "ISS-9", "A+-1", "A-2", "A-1-2", "A-١٢", "X-", "12", "ISS-9", "B\n-2", "B\n-10"]
    items = [{"id": n, "n": i} for i, n in enumerate(names)]
    assert [d["n"] for d in sort(items, None)] == [d["n"] for d in sorted(items, key=lambda d: _id_key(d["id"]))]
    assert [d["id"] for d in sort(items, "-id")][:3] == ["X-", "ISS-10", "ISS-9"]
    for names in (["B\n-2", "B\n-10", "B-3"], ["A+-1", "A-1", "A-0", "AB-1"], ["ISS-2", "ISS-١٠", "ISS-10"]):
        items = [{"id": n} for n in names]
        assert [d["id"] for d in sort(items, None)] == sorted(names, key=_id_key)


# ------------------------------------------------------------------ list pauses the collector, and only while it runs


@pytest.mark.parametrize("enabled", [True, False])
def test_list_leaves_the_collector_as_it_found_it(repo: Repo, enabled: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    import gc

    from sopflow.render import tickets

    assert repo.run("new", "issue_track", "--title", "网关端口闪断", as_="fan").code == 0
    seen: list[bool] = []
    real = tickets.list_table

    def spy(items: Sequence[Mapping[str, Any]]) -> str:
        seen.append(gc.isenabled())
        return real(items)

    monkeypatch.setattr(tickets, "list_table", spy)
    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        for fmt in ("table", "json", "csv"):
            res = repo.run("list", "--format", fmt)
            assert res.code == 0, res.err
            assert "网关端口闪断" in res.out
            assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()
    assert seen == [False]  # paused while the table was drawn


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["type", "state", "assignee", "labels", "roles", "x"]),
                       st.one_of(st.none(), st.text(max_size=3), st.lists(st.text(max_size=2), max_size=2))))
def test_a_criteria_without_filters_selects_every_ticket(d: dict[str, Any]) -> None:
    from sopflow.core.query import Criteria, matches, selects_all

    assert selects_all(Criteria())
    assert matches(d, Criteria(), lambda _: True) and matches(d, Criteria(), lambda _: False)
    assert not selects_all(Criteria(open=True)) and not selects_all(Criteria(types=("task",)))


@given(st.one_of(
    st.text(alphabet=st.sampled_from(list("AB-_\n 0123456789٣١２x")), max_size=12),
    st.integers(), st.none(),
))
def test_the_id_sort_key_reads_what_its_pattern_reads(tid: object) -> None:
    """query._id_key takes the usual ID apart without the regex; any value gives what the regex gives."""
    from sopflow.core import query

    text = str(tid)
    m = query._ID.match(text)
    assert query._id_key(tid) == ((m.group(1), int(m.group(2))) if m else (text, 0))
