"""Trails (what board, inbox and sla read from a history) survive the cache and match the history itself."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sopflow.core.trail import Trail, decode, encode, entered_state, trail_of
from sopflow.stats import timeline

STATES = ["维护人员处理", "维护代表审核", "关闭", "open"]
PEOPLE = ["张伟", "alice", "fan"]
TIMES = ["2026-11-21T10:00:00+08:00", "2026-11-22T09:30:00+08:00", "2026-11-20T08:00:00", "not a time"]

entry = st.fixed_dictionaries(
    {},
    optional={
        "at": st.sampled_from([*TIMES, None, 5]),
        "by": st.sampled_from([*PEOPLE, None, 3]),
        "action": st.sampled_from(["create", "提交审核", "comment", "escalate", "tick"]),
        "from": st.sampled_from(STATES),
        "to": st.sampled_from([*STATES, None]),
        "note": st.text(max_size=5),
    },
)
history = st.lists(st.one_of(entry, st.just("not a mapping"), st.just(None)), max_size=8)
ticket = st.fixed_dictionaries(
    {"state": st.sampled_from(STATES)},
    optional={"history": st.one_of(history, st.just("not a list")), "created": st.sampled_from(TIMES),
              "updated": st.sampled_from(TIMES)},
)


def handled_by_hand(data: dict[str, Any], person: str) -> tuple[bool, Any]:
    """What the inbox did before trails: the last entry made by ``person``."""
    h = data.get("history")
    mine = [e for e in h if isinstance(e, dict) and e.get("by") == person] if isinstance(h, list) else []
    return (True, mine[-1].get("at")) if mine else (False, None)


@settings(max_examples=300, deadline=None)
@given(ticket)
def test_trail_answers_as_the_history_does(data: dict[str, Any]) -> None:
    t = trail_of(data)
    assert t.since == entered_state(data)
    for person in PEOPLE:
        assert ((person in t.handled), t.handled.get(person)) == handled_by_hand(data, person)
    import datetime as dt

    tz = dt.timezone(dt.timedelta(hours=8))
    assert timeline({**data, "history": []}, tz, t.moves) == timeline(data, tz)


@settings(max_examples=300, deadline=None)
@given(ticket)
def test_trail_survives_json(data: dict[str, Any]) -> None:
    t = trail_of(data)
    back = decode(json.loads(json.dumps(encode(t), ensure_ascii=False)))
    assert back == t and back is not None
    assert back.moves == t.moves and dict(back.handled) == dict(t.handled) and back.since == t.since


def test_timeline_from_moves_is_the_history_timeline() -> None:
    import datetime as dt

    tz = dt.timezone(dt.timedelta(hours=8))
    data = {"state": "关闭", "created": TIMES[0], "history": [
        {"at": TIMES[0], "by": "alice", "action": "create", "to": "维护人员处理"},
        {"at": TIMES[1], "by": "fan", "action": "comment", "note": "x"},
        {"at": TIMES[2], "by": "fan", "action": "关闭", "from": "维护人员处理", "to": "关闭"}]}
    assert timeline(data, tz, trail_of(data).moves) == timeline(data, tz)
    assert timeline({"state": "open", "created": TIMES[0]}, tz, ()) == timeline({"state": "open",
                                                                                  "created": TIMES[0]}, tz)


def test_decode_refuses_other_shapes() -> None:
    for bad in (None, "x", [], [1, 2], [None, "x", []], [None, [1], []], [None, [], ["p"]], [None, [], [], 4]):
        assert decode(bad) is None
    assert isinstance(decode([None, [], []]), Trail)
