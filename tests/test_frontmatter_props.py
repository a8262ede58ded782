"""Property tests: front matter parse/edit/write round trips, and the one-line YAML emitter."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sopflow.core import yamlio
from sopflow.core.frontmatter import Document, FrontMatterError, conflict_line

text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30)
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**9, 10**9), text)
values: Any = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(min_size=1, max_size=8).filter(lambda k: k.strip() == k
                                                                                         and "\x00" not in k),
                                                 inner, max_size=4)), max_leaves=8)
keys = st.text(st.characters(whitelist_categories=("Lu", "Ll", "Lo", "Nd")), min_size=1, max_size=10)


@settings(max_examples=300, deadline=None)
@given(values)
def test_emit_flow_loads_back_exactly(value: Any) -> None:
    assert yamlio.load("k: " + yamlio.emit_value(value)) == {"k": value}


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(keys, values, min_size=1, max_size=6),
       st.text(max_size=200).filter(lambda b: "\x00" not in b and conflict_line(b) is None),
       st.sampled_from(["\n", "\r\n"]))
def test_new_document_parses_back(data: dict[str, Any], body: str, nl: str) -> None:
    doc = Document.new(data, body.replace("\r", ""), nl)
    again = Document.parse(doc.text())
    assert again.data == data


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(keys, scalars, min_size=1, max_size=6), keys, values, st.sampled_from(["\n", "\r\n"]))
def test_set_changes_only_that_key(data: dict[str, Any], key: str, value: Any, nl: str) -> None:
    doc = Document.new(data, "# body\n", nl)
    original = doc.text()
    doc = Document.parse(original)
    assert doc.text() == original  # untouched: byte-identical
    doc.set(key, value)
    doc.verify()
    again = Document.parse(doc.text())
    assert again.data == {**data, key: value}
    assert again.body == "# body\n"
    old_lines = set(original.splitlines())
    changed = [line for line in doc.text().splitlines() if line not in old_lines]
    assert len(changed) <= 1


@settings(max_examples=100, deadline=None)
@given(st.lists(st.dictionaries(keys, scalars, min_size=1, max_size=4), min_size=1, max_size=5))
def test_history_append_is_append_only(entries: list[dict[str, Any]]) -> None:
    doc = Document.new({"id": "T-1", "history": [{"action": "create"}]}, "")
    for e in entries:
        before = doc.text()
        doc.append_history(e)
        doc.verify()
        assert doc.text().startswith(before[: before.index("---", 3)].rsplit("\n", 2)[0])
    assert Document.parse(doc.text()).data["history"] == [{"action": "create"}, *entries]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_parse_never_crashes_on_bytes(raw: bytes) -> None:
    with contextlib.suppress(FrontMatterError):
        Document.parse(raw.decode("utf-8", "replace"))


# ---------------------------------------------------------------- hardening: real-world layouts, hostile text
comments = st.sampled_from(["", "  # 注释", " # note: x"])


@st.composite
def laid_out(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """A hand-written-looking document: comments, blank lines, quoted keys, block lists, CRLF, a BOM."""
    data = draw(st.dictionaries(keys.filter(lambda k: k != "history"), scalars, min_size=1, max_size=5))
    nl = draw(st.sampled_from(["\n", "\r\n"]))
    lines = ["---"]
    for key, value in data.items():
        if draw(st.booleans()):
            lines.append("# " + draw(st.sampled_from(["说明", "comment", ""])))
        k = yamlio.emit_key(key) if draw(st.booleans()) else yamlio.quote(key)
        lines.append(f"{k}: {yamlio.emit_value(value)}{draw(comments)}")
        if draw(st.integers(0, 3)) == 0:
            lines.append("")
    lines.append("history:")
    lines.append("  - {at: 2026-11-21T10:00:00+08:00, by: a, action: create}")
    lines += ["---", "# body", ""]
    text = nl.join(lines)
    if draw(st.booleans()):
        text = "\ufeff" + text
    return text, {**data, "history": [{"at": "2026-11-21T10:00:00+08:00", "by": "a", "action": "create"}]}


@settings(max_examples=300, deadline=None)
@given(laid_out())
def test_untouched_documents_are_byte_identical(doc: tuple[str, dict[str, Any]]) -> None:
    text, data = doc
    parsed = Document.parse(text)
    assert parsed.data == data
    assert parsed.text() == text


@settings(max_examples=300, deadline=None)
@given(laid_out(), values, st.dictionaries(keys, scalars, max_size=2))
def test_edits_keep_comments_and_other_lines(doc: tuple[str, dict[str, Any]], value: Any,
                                            entry: dict[str, Any]) -> None:
    text, data = doc
    parsed = Document.parse(text)
    key = next(iter(data))
    parsed.set(key, value)
    if entry:
        parsed.append_history(entry)
    parsed.verify()
    again = Document.parse(parsed.text())
    assert again.data[key] == value
    assert again.text().startswith("\ufeff") == text.startswith("\ufeff")
    old = text.splitlines()
    new = again.text().splitlines()
    assert [x for x in old if x.lstrip().startswith("#")] == [x for x in new if x.lstrip().startswith("#")]
    assert len(set(new) - set(old)) <= 2  # the edited key's line and the new history line


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(keys, scalars, min_size=1, max_size=4), st.data())
def test_a_key_written_twice_is_refused(data: dict[str, Any], draw: st.DataObject) -> None:
    key = draw.draw(st.sampled_from(sorted(data)))
    doc = Document.new(data, "")
    lines = doc.text().split("\n")
    lines.insert(len(lines) - 2, f"{yamlio.emit_key(key)}: {yamlio.emit_value(draw.draw(scalars))}")
    with pytest.raises(FrontMatterError, match="written twice"):
        Document.parse("\n".join(lines))


@settings(max_examples=300, deadline=None)
@given(laid_out(), st.integers(0, 10**6), st.integers(0, 6), st.text(max_size=8))
def test_any_splice_parses_faithfully_or_fails_cleanly(doc: tuple[str, dict[str, Any]], at: int, cut: int,
                                                       piece: str) -> None:
    text, _ = doc
    at %= len(text) + 1
    mutated = text[:at] + piece + text[at + cut:]
    try:
        parsed = Document.parse(mutated)
    except FrontMatterError as exc:
        assert exc.message and "\n" not in exc.message
        return
    assert parsed.text() == mutated
