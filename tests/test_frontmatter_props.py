"""Property tests: front matter parse/edit/write round trips, and the one-line YAML emitter."""

from __future__ import annotations

import contextlib
from typing import Any

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
