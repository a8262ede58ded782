"""The board: data (views.board), text layout with wide characters, filters, JSON and CSV."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Repo, git_env
from fixtures_views import NOW, populate
from hypothesis import given, settings
from hypothesis import strategies as st

from sopflow import hooks, views
from sopflow.project import Project
from sopflow.render import board as rb
from sopflow.render.text import width


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Repo]:
    base = tmp_path_factory.mktemp("views")
    home = base / "home"
    home.mkdir()
    root = base / "repo"
    root.mkdir()
    r = Repo(root, git_env(home))
    r.git("init", "-q", "-b", "main")
    populate(root)
    r.commit_all("tickets")
    yield r


@pytest.fixture
def project(big: Repo, monkeypatch: pytest.MonkeyPatch) -> Project:
    monkeypatch.setenv("SOPFLOW_NOW", NOW)
    monkeypatch.delenv("SOPFLOW_USER", raising=False)
    return Project(big.root, actor="fan")


def all_cards(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for t in data["types"] for col in t["columns"] for c in col["tickets"]]


# ---------------------------------------------------------------- data

def test_board_has_every_ticket_in_its_state_column(project: Project) -> None:
    data = views.board(project)
    assert [t["type"] for t in data["types"]] == ["issue_track", "support", "task"]
    assert len(all_cards(data)) == 66
    for t in data["types"]:
        wf = project.workflows[t["type"]]
        assert [c["state"] for c in t["columns"]] == list(wf.states)  # workflow order, empty columns kept
        for col in t["columns"]:
            assert col["final"] == wf.is_final(col["state"])
            assert all(c["state"] == col["state"] and c["type"] == t["type"] for c in col["tickets"])
            assert all("history" not in c and "body" not in c for c in col["tickets"])


def test_open_columns_by_priority_then_age_final_columns_most_recent_first(project: Project) -> None:
    for t in views.board(project)["types"]:
        for col in t["columns"]:
            cards = col["tickets"]
            if col["final"]:
                ages = [c["age_seconds"] for c in cards]
                assert ages == sorted(ages)
            else:
                keys = [views.by_priority_then_age(c) for c in cards]
                assert keys == sorted(keys)


def test_age_in_state_counts_from_the_entry_that_moved_the_ticket_there(project: Project) -> None:
    for c in all_cards(views.board(project)):
        t = project.load(c["id"])
        moves = [e for e in t.history if e.get("to") == t.state and e.get("from") != t.state]  # no self-loops
        assert c["since"] == moves[-1]["at"]
        assert c["age_seconds"] == int((project.now - views.parse_time(c["since"], project.tz)).total_seconds())


def test_entered_state_ignores_self_loops_and_falls_back_on_hand_edits() -> None:
    d = {"state": "B", "updated": "U", "history": [
        {"at": "1", "action": "create", "to": "A"},
        {"at": "2", "action": "go", "from": "A", "to": "B"},
        {"at": "3", "action": "更新进展", "from": "B", "to": "B"},
        {"at": "4", "action": "comment"},
    ]}
    assert views.entered_state(d) == "2"
    d["state"] = "C"  # changed by hand: no entry explains it
    assert views.entered_state(d) == "U"
    assert views.entered_state({"state": "A", "created": "C"}) == "C"


def test_filters_type_assignee_mine(project: Project) -> None:
    data = views.board(project, types=["support"])
    assert [t["type"] for t in data["types"]] == ["support"]
    mine = all_cards(views.board(project, mine=True))
    assert mine and {c["assignee"] for c in mine} == {"fan"}
    zw = all_cards(views.board(project, assignees=["张伟"], types=["task", "issue_track"]))
    assert zw and {c["assignee"] for c in zw} == {"张伟"} and {c["type"] for c in zw} <= {"task", "issue_track"}
    none = all_cards(views.board(project, assignees=["none"]))
    assert none and all(not c.get("assignee") for c in none)


def test_unknown_type_is_a_clear_error(project: Project) -> None:
    from sopflow.errors import SopflowError

    with pytest.raises(SopflowError, match="unknown ticket type 'nope'"):
        views.board(project, types=["nope"])


def test_board_flags_from_hooks(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []

    def flag(p: Project, items: list[dict[str, Any]]) -> dict[str, str]:
        seen.append(len(items))
        return {"ISS-1": "SLA!", "SUP-2": "⚠超时"}

    monkeypatch.setattr(sys.modules[__name__], "flag_hook", flag, raising=False)
    monkeypatch.setattr(hooks, "BOARD_FLAGS", [f"{__name__}:flag_hook", f"{__name__}:flag_hook"])
    data = views.board(project)
    cards = {c["id"]: c for c in all_cards(data)}
    assert cards["ISS-1"]["flag"] == "SLA! SLA!"
    assert cards["SUP-2"]["flag"] == "⚠超时 ⚠超时"
    assert cards["ISS-2"]["flag"] is None
    assert seen == [66, 66]
    text = rb.board_text(data, cols=200, show_all=True)
    assert "SLA!" in text and "⚠超时" in text


# ---------------------------------------------------------------- text layout

def band_columns(lines: list[str]) -> list[tuple[int, int]]:
    """(start, width) in display columns of each board column, read from a band's rule line."""
    cols, pos = [], 0
    rule = next(line for line in lines if line.startswith("─"))
    for seg in rule.split("  "):
        cols.append((pos, width(seg)))
        pos += width(seg) + 2
    return cols


def slice_columns(line: str, start: int, stop: int) -> str:
    """The characters of ``line`` between two display columns; fails if a wide character straddles one."""
    out, pos = [], 0
    for ch in line:
        w = width(ch)
        if pos < start < pos + w or pos < stop < pos + w:
            raise AssertionError(f"a wide character straddles a column edge in {line!r}")
        if start <= pos and pos + w <= stop:
            out.append(ch)
        pos += w
    return "".join(out)


def check_aligned(text: str, total: int) -> int:
    """Every band's lines keep each cell inside its column with blank gaps; returns the bands checked."""
    bands = 0
    for block in text.split("\n\n"):
        lines = block.split("\n")
        if not any(line.startswith("─") for line in lines):
            continue
        bands += 1
        cols = band_columns(lines)
        body = lines[lines.index(next(x for x in lines if x.startswith("─"))) - 1 :]
        for line in body:
            assert width(line) <= total
            for start, w in cols:
                cell = slice_columns(line, start, start + w)
                assert width(cell) <= w
                gap = slice_columns(line, start + w, start + w + 2)
                assert gap.strip() == "", f"text runs into the gap: {line!r}"
    return bands


@pytest.mark.parametrize("total", [80, 120, 160, 233])
def test_board_columns_line_up_with_wide_characters(project: Project, total: int) -> None:
    text = rb.board_text(views.board(project), cols=total, show_all=True)
    assert " 【2026" in text and "数据库连接超时" in text
    assert check_aligned(text, total) >= 3
    assert "\x1b[" not in text  # not a terminal: no colour


def test_band_cells_have_exact_widths(project: Project) -> None:
    data = views.board(project, types=["issue_track"])
    lines = rb._band(data["types"][0]["columns"], 23, True, 5)
    for line in lines:
        padded = line + " " * (4 * 23 + 3 * 2 - width(line))
        for k in range(4):
            assert width(slice_columns(padded, k * 25, k * 25 + 23)) == 23


def test_long_titles_are_cut_with_an_ellipsis_never_wrapped(project: Project) -> None:
    text = rb.board_text(views.board(project, types=["issue_track"]), cols=100, show_all=True)
    assert "【20261121】某银行局点XX设备发生掉电问题，业务中断约十分钟" not in text
    assert "…" in text
    assert all(width(line) <= 100 for line in text.split("\n"))


def test_many_states_wrap_into_bands_and_narrow_terminals_get_a_list(project: Project) -> None:
    data = views.board(project, types=["support"])  # seven states
    wide = rb.board_text(data, cols=160, show_all=True)
    assert check_aligned(wide, 160) == 1
    mid = rb.board_text(data, cols=80, show_all=True)
    assert check_aligned(mid, 80) == 2  # 4 + 3 columns
    narrow = rb.board_text(data, cols=36, show_all=True)
    assert "─" not in narrow  # one state after another
    assert all(width(line) <= 36 for line in narrow.split("\n"))
    for state in project.workflows["support"].states:
        assert any(line.startswith(state) for line in narrow.split("\n"))
    # every card row of every state puts its title at the same display column; when too little room is
    # left for it, the title goes on the line below
    cards = [c for col in data["types"][0]["columns"] for c in col["tickets"]]
    cells = [[c["id"], c.get("priority") or "", rb.age(c["age_seconds"]), c.get("assignee") or "", c["flag"] or ""]
             for c in cards]
    title_at = 2 + sum(max(width(r[i]) for r in cells) + 2 for i in range(5) if any(r[i] for r in cells))
    for total in (36, 100):  # the list layout itself (board_text uses it below 38 columns)
        lines = "\n".join(rb._list_layout(data["types"][0]["columns"], total, True, 5)).split("\n")
        assert all(width(line) <= total for line in lines)
        rows = [n for n, line in enumerate(lines) if line.startswith("  SUP-")]
        assert len(rows) == len(cards)
        for n, c in zip(rows, cards, strict=True):
            if total - title_at >= 12:
                assert slice_columns(lines[n], title_at, total)[:1] == c["title"][:1]
            else:
                assert lines[n + 1].startswith("    " + c["title"][:1])


def test_final_columns_show_the_five_most_recent_and_say_how_many_are_hidden(project: Project) -> None:
    data = views.board(project)
    finals = [(t, col) for t in data["types"] for col in t["columns"] if col["final"] and len(col["tickets"]) > 5]
    assert finals, "the fixture should close more than five tickets of some final state"
    text = rb.board_text(data, cols=160)
    full = rb.board_text(data, cols=160, show_all=True)
    for _t, col in finals:
        hidden = len(col["tickets"]) - 5
        assert f"+{hidden} older (--all)" in text
        newest, oldest = col["tickets"][0]["id"], col["tickets"][-1]["id"]
        assert f"{newest} " in text
        assert f"{oldest} " in full
    assert "older (--all)" not in full


def test_card_line_keeps_the_flag_and_gives_up_the_assignee_first() -> None:
    c = {"id": "ISS-12", "priority": "P1", "age_seconds": 3 * 86400, "assignee": "范慧阳范慧阳", "flag": "SLA超时"}
    assert rb.card_line(c, 40) == "ISS-12 P1 3d 范慧阳范慧阳 SLA超时"
    short = rb.card_line(c, 26)
    assert short.startswith("ISS-12 P1 3d ") and short.endswith("SLA超时") and width(short) <= 26
    assert rb.card_line(c, 22) == "ISS-12 P1 3d SLA超时"


def test_age_format() -> None:
    assert [rb.age(s) for s in (0, 59, 60 * 59, 3600, 47 * 3600, 48 * 3600, 69 * 86400, 70 * 86400, None)] == [
        "0m", "0m", "59m", "1h", "47h", "2d", "69d", "10w", "?"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from("ab中文字【】…é\u0301🚀 x1-"), max_size=30), min_size=1, max_size=5),
       st.integers(min_value=1, max_value=30))
def test_join_cells_puts_every_cell_at_its_column(texts: list[str], colw: int) -> None:
    line = rb.join_cells([(t, "") for t in texts], colw)
    padded = line + " " * ((colw + 2) * len(texts) - width(line))
    for k, t in enumerate(texts):
        cell = slice_columns(padded, k * (colw + 2), k * (colw + 2) + colw)
        assert width(cell) == colw
        assert cell.rstrip() == rb.truncate(t, colw).rstrip()


def test_colour_only_on_a_terminal(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    data = views.board(project, types=["task"])
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    coloured = rb.board_text(data, cols=120)
    assert "\x1b[" in coloured
    import re

    plain = re.sub(r"\x1b\[[0-9;]*m", "", coloured)
    assert check_aligned(plain, 120) == 1
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\x1b[" not in rb.board_text(data, cols=120)


def test_empty_board() -> None:
    assert rb.board_text({"types": []}, cols=80) == "(no tickets)"


def test_unknown_state_gets_its_own_column(big: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOPFLOW_NOW", NOW)
    r = Repo(tmp_path / "r", big.env)
    (tmp_path / "r").mkdir()
    populate(r.root, per_type=2)
    t = r.root / "tickets" / "TASK-1.md"
    text = t.read_text("utf-8")
    state = next(line for line in text.splitlines() if line.startswith("state:"))
    t.write_text(text.replace(state, "state: 搁置"), "utf-8")
    data = views.board(Project(r.root), types=["task"])
    col = data["types"][0]["columns"][-1]
    assert col == {**col, "state": "搁置", "unknown": True, "final": False}
    assert [c["id"] for c in col["tickets"]] == ["TASK-1"]
    assert "搁置 ? (1)" in rb.board_text(data, cols=120)


# ---------------------------------------------------------------- command line

def test_board_command_table_json_csv(big: Repo) -> None:
    res = big.run("board", "--type", "issue_track", "--type", "task", as_="fan")
    assert res.code == 0, res.err
    assert res.out.startswith("issue_track  网上问题处理")
    assert "\ntask  任务" in res.out
    assert check_aligned(res.out, 120) >= 2
    js = big.run("board", "--format", "json", "--mine", as_="fan")
    data = json.loads(js.out)
    assert set(data) == {"types"}
    for t in data["types"]:
        assert set(t) == {"type", "title", "columns"}
        for col in t["columns"]:
            assert {"state", "final", "tickets"} <= set(col)
            assert all(c["assignee"] == "fan" for c in col["tickets"])
    rows = list(csv.reader(io.StringIO(big.run("board", "--format", "csv").out)))
    assert rows[0] == ["type", "state", "final", "id", "title", "priority", "assignee", "since", "age_seconds", "flag"]
    assert len(rows) == 67


def test_board_command_errors(big: Repo) -> None:
    res = big.run("board", "--format", "xml")
    assert res.code == 2 and "--format must be one of table, json, csv" in res.err
    res = big.run("board", "--type", "nope")
    assert res.code == 1 and res.err.startswith("sopflow: unknown ticket type 'nope'")
    res = big.run("board", "--mine", env={"GIT_CONFIG_GLOBAL": "/dev/null"})
    assert res.code == 1 and "cannot tell who you are" in res.err


def test_board_help_has_an_example(big: Repo) -> None:
    res = big.run("board", "--help")
    assert res.code == 0 and "Example: sopflow board" in res.out


@pytest.mark.parametrize("view", ["board", "inbox"])
def test_table_from_heads_and_trails_is_the_table_from_whole_excerpts(big: Repo, monkeypatch: pytest.MonkeyPatch,
                                                                     view: str) -> None:
    """The table and CSV views load heads (no history) and take each ticket's trail from the index; their
    cards must be the whole excerpt's cards, less only long free text in workflow fields."""
    monkeypatch.setenv("SOPFLOW_NOW", NOW)
    for _ in range(2):  # the index being built, then read from its cache
        whole_p, heads_p = Project(big.root, actor="fan"), Project(big.root, actor="fan")
        fn = views.board if view == "board" else views.inbox
        whole, heads = fn(whole_p, whole=True), fn(heads_p, whole=False)

        def cards(data: dict[str, Any]) -> list[dict[str, Any]]:
            if view == "board":
                return [c for t in data["types"] for col in t["columns"] for c in col["tickets"]]
            return [c for k in ("assigned", "waiting", "handled") for c in data[k]]

        got, want = cards(heads), cards(whole)
        assert [c["id"] for c in got] == [c["id"] for c in want] and got
        for g, w in zip(got, want, strict=True):
            assert {k: w[k] for k in g} == g
            assert {k for k in w if k not in g} <= {"detail", "current_process", "handling", "description"}
        if view == "board":
            assert rb.board_text(heads) == rb.board_text(whole)
            assert rb.board_csv(heads) == rb.board_csv(whole)
        else:
            assert rb.inbox_text(heads, people=whole_p.config.people) == rb.inbox_text(whole,
                                                                                        people=whole_p.config.people)
            assert rb.inbox_csv(heads) == rb.inbox_csv(whole)


def test_board_cut_to_the_recent_final_cards_prints_the_same(project: Project) -> None:
    """The table asks views.board for only the cards it shows (final_limit); every layout prints as the
    whole board does, counts of hidden cards included."""
    whole = views.board(project)
    cut = views.board(Project(project.root, actor="fan"), whole=False, final_limit=rb.FINAL_RECENT)
    finals = [c for t in cut["types"] for c in t["columns"] if c["final"]]
    assert any("count" in c and len(c["tickets"]) == rb.FINAL_RECENT < c["count"] for c in finals)
    for cols in (160, 80, 38, 20):
        assert rb.board_text(cut, cols=cols) == rb.board_text(whole, cols=cols)
