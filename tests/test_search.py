"""Tests for sopflow.core.search: tokenizer, BM25 ranking on a Chinese ops wiki fixture, best lines,
the JSON round trip, the ``matches`` filter and ``related``."""

from __future__ import annotations

import json

import pytest
from fixtures_wiki import EXPECTED_FIRST, TARGETS, make_docs, make_pages
from hypothesis import given, settings
from hypothesis import strategies as st

from sopflow.core.search import Doc, Hit, SearchIndex, matches, query_words, related, tokenize

DOCS = make_docs()
INDEX = SearchIndex.build(DOCS)
BY_KEY = {d.key: d for d in DOCS}


def keys(hits: list[Hit]) -> list[str]:
    return [h.key for h in hits]


# ------------------------------------------------------------------------------------------ tokenizer


def test_tokenize_cjk_gives_unigrams_and_bigrams() -> None:
    assert tokenize("数据库") == ["数", "据", "库", "数据", "据库"]
    assert tokenize("网") == ["网"]


def test_tokenize_latin_words_are_case_folded() -> None:
    assert tokenize("Connection TIMEOUT, Nginx!") == ["connection", "timeout", "nginx"]


def test_tokenize_mixed_text_splits_scripts() -> None:
    assert tokenize("VPN断网") == ["vpn", "断", "网", "断网"]
    assert tokenize("登录报错403排查") == [
        *"登录报错",
        "登录",
        "录报",
        "报错",
        "403",
        *"排查",
        "排查",
    ]


def test_tokenize_joined_forms_keep_parts_and_whole() -> None:
    assert tokenize("ISS-12") == ["iss", "12", "iss-12"]
    assert tokenize("max_pool_size v1.2") == ["max", "pool", "size", "max_pool_size", "v1", "2", "v1.2"]


def test_tokenize_normalises_full_width() -> None:
    assert tokenize("ＶＰＮ ４０３") == ["vpn", "403"]


def test_tokenize_nothing_to_find() -> None:
    assert tokenize("") == []
    assert tokenize("  ，。！？ -- ** \n\t") == []


def test_query_words() -> None:
    assert query_words("登录报错403 VPN断网 vpn") == ["登录报错", "403", "vpn", "断网"]


# ------------------------------------------------------------------------------------------- fixture


def test_fixture_is_big_realistic_and_deterministic() -> None:
    pages = make_pages()
    assert len(pages) >= 200
    assert pages == make_pages()
    assert make_pages(300, seed=1) != make_pages(300, seed=2)
    assert len({p.key for p in pages}) == len(pages)
    assert {t.key for t in TARGETS} <= {p.key for p in pages}
    generated = [p for p in pages if p.key.startswith("wiki/kb/")]
    assert all("## 排查步骤" in p.body and "## 预防" in p.body for p in generated)
    mean_lines = sum(len(p.body.splitlines()) for p in generated) / len(generated)
    assert 25 <= mean_lines <= 35
    assert pages[0].markdown().startswith("---\ntitle: ")


# ------------------------------------------------------------------------------------------- ranking


@pytest.mark.parametrize(("query", "key"), EXPECTED_FIRST)
def test_expected_page_comes_first(query: str, key: str) -> None:
    hits = INDEX.search(query, 5)
    assert hits, query
    assert hits[0].key == key, [(h.key, h.title, round(h.score, 2)) for h in hits]


def test_chinese_word_found_inside_unspaced_text() -> None:
    hits = INDEX.search("数据库连接")
    first = hits[0]
    assert first.key == "wiki/faq/db-timeout.md"
    assert first.line == "1. 排查数据库连接超时问题：先确认连接池配置 max_pool_size 与 wait_timeout"
    assert first.line_no == 6


def test_english_is_case_insensitive() -> None:
    expected = keys(INDEX.search("vpn"))
    assert keys(INDEX.search("VPN")) == expected
    assert keys(INDEX.search("ＶＰＮ")) == expected
    assert keys(INDEX.search("OUTOFMEMORYERROR")) == ["wiki/app/oom.md"]


def test_codes_and_digits() -> None:
    assert INDEX.search("403")[0].key == "wiki/faq/login-403.md"
    # ISS-12 as a whole ranks every page that holds it above pages that only hold ISS-120 or "12"
    hits = INDEX.search("ISS-12", None)
    holds = [any(t == "iss-12" for t in tokenize(BY_KEY[h.key].text)) for h in hits]
    assert holds[0] and "wiki/hardware/cable.md" in keys(hits)
    assert holds == sorted(holds, reverse=True)
    assert "ISS-12" in hits[0].line


def test_title_match_beats_body_mentions() -> None:
    # "权限" is all over the corpus; the page titled 权限开通流程 comes first for 权限开通
    assert INDEX.search("权限开通")[0].title == "权限开通流程"
    # many generated pages list "(200/403/500)" in their steps; the 403 page's title wins
    assert INDEX.search("403")[0].title == "登录报错403排查"


def test_pages_matching_all_words_rank_above_pages_matching_one() -> None:
    docs = [
        Doc("one", "数据库巡检", "数据库 数据库 数据库 数据库 数据库\n数据库备份\n数据库监控"),
        Doc("both", "杂项", "很长的一段说明文字，其中提到数据库，\n也提到超时，\n" + "其他内容。\n" * 30),
        Doc("other", "超时", "超时 超时 超时"),
    ]
    index = SearchIndex.build(docs)
    hits = index.search("数据库 超时")
    assert keys(hits)[0] == "both"
    assert set(keys(hits)) == {"one", "both", "other"}
    # and on the fixture: for every two-word query, the full matches form a prefix of the results
    for query in ("VPN 断网", "登录 403", "kafka 消费延迟", "nginx 502", "慢查询 索引"):
        hits = INDEX.search(query, None)
        full = [all(matches(w, _all_text(BY_KEY[h.key])) for w in query.split()) for h in hits]
        assert full == sorted(full, reverse=True), query


def _all_text(doc: Doc) -> str:
    return "\n".join((doc.title, " ".join(doc.tags), doc.text))


def test_chinese_phrase_beats_scattered_bigrams() -> None:
    # "ERP 表空间不足" holds 磁盘 盘空 空间 间不 不足 (in 磁盘空间充足 and 表空间不足), not 磁盘空间不足
    hits = INDEX.search("磁盘空间不足", 3)
    assert hits[0].key == "wiki/ops/disk-full.md"


def test_latin_phrase_bonus() -> None:
    # nginx-502 has "connection" and "proxy_read_timeout"; db-timeout has "connection timeout" together
    assert keys(INDEX.search("connection timeout", 2)) == ["wiki/faq/db-timeout.md", "wiki/app/nginx-502.md"]


def test_tags_count() -> None:
    docs = [
        Doc("tagged", "机房巡检", "例行检查。", ("线缆",)),
        Doc("plain", "机房巡检", "例行检查。"),
    ]
    assert keys(SearchIndex.build(docs).search("线缆")) == ["tagged"]


def test_results_are_ordered_and_limited() -> None:
    hits = INDEX.search("排查", 7)
    assert len(hits) == 7
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert len(INDEX.search("排查", None)) > 200
    assert INDEX.search("排查", 0) == []


def test_duplicate_keys_keep_the_last_doc() -> None:
    index = SearchIndex.build([Doc("a", "旧", "旧内容"), Doc("a", "新", "新内容")])
    assert len(index) == 1
    assert index.search("旧") == []
    assert keys(index.search("新内容")) == ["a"]


# ------------------------------------------------------------------------------------------- lines


def test_every_hit_line_is_a_stripped_body_line() -> None:
    for query, _ in EXPECTED_FIRST:
        for hit in INDEX.search(query, 10):
            if hit.line_no is None:
                assert hit.line == ""
                continue
            assert hit.line == BY_KEY[hit.key].text.splitlines()[hit.line_no - 1].strip()


def test_best_line_has_the_most_query_words() -> None:
    doc = Doc(
        "k",
        "网络",
        "# 网络\n\n## 故障现象\n- 用户反馈 VPN 偶尔掉线\n- 公司 VPN 连上后频繁断网，需要重新拨号\n- 断网",
    )
    hit = SearchIndex.build([doc]).search("VPN 断网")[0]
    assert (hit.line_no, hit.line) == (5, "- 公司 VPN 连上后频繁断网，需要重新拨号")


def test_title_only_match_has_no_line_and_heading_repeating_title_is_skipped() -> None:
    index = SearchIndex.build([Doc("k", "证书续签", "# 证书续签\n在平台上操作即可。")])
    hit = index.search("证书")[0]
    assert (hit.line, hit.line_no) == ("", None)


# ------------------------------------------------------------------------------------------- edge cases


@pytest.mark.parametrize("query", ["", "   ", "\n\t", "，。！？", "--- *** ///", "()[]{}<>"])
def test_nothing_to_search_gives_no_hits(query: str) -> None:
    assert INDEX.search(query) == []
    assert INDEX.search(query, None) == []


def test_unknown_words_and_empty_index() -> None:
    assert INDEX.search("量子纠缠 zzzqqq") == []
    empty = SearchIndex.build([])
    assert empty.search("数据库") == []
    assert SearchIndex.from_dict(json.loads(json.dumps(empty.to_dict()))).search("数据库") == []


# ------------------------------------------------------------------------------------------- round trip


def test_json_round_trip_answers_identically() -> None:
    data = json.loads(json.dumps(INDEX.to_dict(), ensure_ascii=False))
    loaded = SearchIndex.from_dict(data)
    queries = [q for q, _ in EXPECTED_FIRST] + ["排查", "网", "ISS-12", "P1 告警", "不存在的词"]
    for query in queries:
        assert loaded.search(query, None) == INDEX.search(query, None), query
    # a loaded index, partly decoded by those searches, stores the same data again
    assert json.loads(json.dumps(loaded.to_dict(), ensure_ascii=False)) == data


@pytest.mark.parametrize(
    "bad",
    [{}, {"format": "other/9"}, {"format": "sopflow-search/1", "docs": 3}, [], "x"],
)
def test_from_dict_rejects_other_data(bad: object) -> None:
    with pytest.raises(ValueError):
        SearchIndex.from_dict(bad)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------- matches


@pytest.mark.parametrize(
    ("query", "text", "expected"),
    [
        ("数据库连接", "排查数据库连接超时问题", True),
        ("数据库 超时", "排查数据库连接超时问题", True),
        ("数据库 断网", "排查数据库连接超时问题", False),
        ("连接数据库", "排查数据库连接超时问题", False),
        ("VPN", "公司 vpn 断网", True),
        ("vpn断网", "公司 VPN 断网", True),
        ("Timeout", "connection_timeout 报错", True),
        ("time", "connection timeout", False),
        ("403", "返回 HTTP 403", True),
        ("403", "返回 4030", False),
        ("ISS-12", "见 ISS-12。", True),
        ("iss-12", "见 ISS-120", False),
        ("ＶＰＮ", "vpn", True),
        ("", "任何文本", True),
        ("  ，", "", True),
        ("网", "", False),
    ],
)
def test_matches(query: str, text: str, expected: bool) -> None:
    assert matches(query, text) is expected


# ------------------------------------------------------------------------------------------- related


def test_related_reasons_combine_tags_fields_and_text() -> None:
    ticket = Doc(
        "ISS-40",
        "订单服务数据库连接超时",
        "高峰期订单服务出现 connection timeout，排查数据库连接池配置。\n用户无法下单。",
        ("数据库",),
    )
    fields = {"ISS-40": {"问题类型": "数据库"}, "wiki/faq/db-timeout.md": {"问题类型": "数据库"}}
    result = related(ticket, DOCS, shared_fields=fields)
    assert len(result) == 5
    key, score, reasons = result[0]
    assert key == "wiki/faq/db-timeout.md"
    assert reasons[:2] == ["tag 数据库", "field 问题类型=数据库"]
    assert reasons[2].startswith("text: ")
    assert "数据库连接超时" in reasons[2].split()
    assert score == max(r[1] for r in result)
    assert [r[1] for r in result] == sorted((r[1] for r in result), reverse=True)


def test_related_by_text_alone() -> None:
    ticket = Doc("ISS-41", "机房网线松动导致丢包", "交换机端口 CRC 错误，疑似线缆问题")
    key, _, reasons = related(ticket, DOCS, limit=1)[0]
    assert key == "wiki/hardware/cable.md"
    assert len(reasons) == 1 and reasons[0].startswith("text: ")
    assert "线缆" in reasons[0]


def test_related_leaves_out_self_and_unrelated() -> None:
    target = Doc("wiki/network/vpn.md", "VPN 断网", "VPN 断网", ("网络",))
    others = [
        Doc("wiki/network/vpn.md", "VPN 断网", "VPN 断网", ("网络",)),
        Doc("a", "咖啡机", "茶水间的咖啡机坏了"),
        Doc("b", "Wi-Fi", "无线网络", ("网络",)),
    ]
    assert related(target, others) == [("b", 1.0, ["tag 网络"])]
    assert related(target, others, limit=0) == []
    assert related(target, []) == []


def test_related_field_must_match_name_and_value() -> None:
    target = Doc("T", "甲", "")
    cands = [Doc("x", "乙", ""), Doc("y", "丙", "")]
    fields = {
        "T": {"问题类型": "网络故障", "局点": "华东"},
        "x": {"问题类型": "网络故障"},
        "y": {"局点": "网络故障"},
    }
    assert related(target, cands, shared_fields=fields) == [("x", 1.0, ["field 问题类型=网络故障"])]


# ------------------------------------------------------------------------------------------- hypothesis

_TEXT = st.text(
    alphabet=st.one_of(
        st.characters(),
        st.sampled_from("数据库连接超时断网权限线缆排查 VPN403-_./ISS-12\n\t，。！ＡＢ１２"),
    ),
    max_size=80,
)


@settings(max_examples=300, deadline=None)
@given(_TEXT)
def test_tokenize_never_crashes(text: str) -> None:
    tokens = tokenize(text)
    assert all(tok and not any(c.isspace() for c in tok) for tok in tokens)
    assert tokenize(text) == tokens


@settings(max_examples=200, deadline=None)
@given(_TEXT, st.one_of(st.none(), st.integers(-2, 30)))
def test_search_never_crashes(query: str, limit: int | None) -> None:
    hits = INDEX.search(query, limit)
    if limit is not None:
        assert len(hits) <= max(limit, 0)
    for hit in hits:
        assert hit.key in BY_KEY and hit.score > 0
        assert (hit.line_no is None) == (hit.line == "")


@settings(max_examples=200, deadline=None)
@given(_TEXT)
def test_text_matches_itself_and_finds_its_own_page(text: str) -> None:
    assert matches(text, text)
    if tokenize(text):
        index = SearchIndex.build([Doc("self", "", text), Doc("other", "无关", "完全无关的内容")])
        assert "self" in keys(index.search(text, None))
