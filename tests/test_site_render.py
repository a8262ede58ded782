"""The site's renderers: the workflow SVG, the Markdown subset, slugs."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from hypothesis import given, settings
from hypothesis import strategies as st

from sopflow.core.workflow import Workflow, parse_workflow
from sopflow.render.html import markdown, safe_url
from sopflow.render.svg import layout, text_width, workflow_svg
from sopflow.site import slug

SVG_NS = "{http://www.w3.org/2000/svg}"


def wf(states: dict[str, dict[str, bool]], transitions: list[dict[str, object]], type_: str = "t") -> Workflow:
    data = {"type": type_, "title": "测试流程", "prefix": "T", "roles": ["处理人"], "states": states,
            "transitions": transitions}
    w, problems = parse_workflow(data, type_, f"workflows/{type_}.yaml")
    assert w is not None, problems
    return w


ISSUE = wf(
    {"维护人员处理": {"initial": True}, "维护代表审核": {}, "SE分析改进": {}, "关闭": {"final": True}},
    [{"trigger": "更新进展", "source": "维护人员处理", "dest": "维护人员处理"},
     {"trigger": "提交审核", "source": "维护人员处理", "dest": "维护代表审核", "by": ["处理人"]},
     {"trigger": "打回补充信息", "source": "维护代表审核", "dest": "维护人员处理"},
     {"trigger": "转SE分析改进", "source": "维护代表审核", "dest": "SE分析改进"},
     {"trigger": "问题关闭", "source": ["SE分析改进", "维护代表审核"], "dest": "关闭"},
     {"trigger": "直接关闭", "source": "维护人员处理", "dest": "关闭"}],
)


def test_svg_is_wellformed_deterministic_and_names_every_state_and_trigger() -> None:
    a = workflow_svg(ISSUE, id_prefix="x")
    assert a == workflow_svg(ISSUE, id_prefix="x")
    root = ET.fromstring(a)
    assert root.tag == f"{SVG_NS}svg"
    texts = [t.text for t in root.iter(f"{SVG_NS}text")]
    for name in ("维护人员处理", "维护代表审核", "SE分析改进", "关闭", "更新进展", "提交审核 [处理人]",
                 "打回补充信息", "转SE分析改进", "问题关闭", "直接关闭"):
        assert name in texts
    paths = list(root.iter(f"{SVG_NS}path"))
    assert len(paths) == 8  # 7 edges (问题关闭 has two sources) + the arrow head
    assert "http" not in a.replace("http://www.w3.org/2000/svg", "")  # nothing fetched from anywhere


def test_layers_follow_distance_from_the_initial_state() -> None:
    nodes, _ = layout(ISSUE)
    assert {n.name: n.layer for n in nodes.values()} == {"维护人员处理": 0, "维护代表审核": 1, "关闭": 1, "SE分析改进": 2}
    assert nodes["维护人员处理"].y < nodes["维护代表审核"].y < nodes["SE分析改进"].y
    boxes = sorted((n.x - n.width / 2, n.x + n.width / 2) for n in nodes.values() if n.layer == 1)
    assert boxes[0][1] < boxes[1][0]  # boxes of one layer do not overlap


def test_svg_escapes_hostile_names() -> None:
    w = wf({"<b>开始</b>": {"initial": True}, 'x" onload="alert(1)': {"final": True}},
           [{"trigger": "<script>alert(1)</script>", "source": "<b>开始</b>", "dest": 'x" onload="alert(1)'}])
    svg = workflow_svg(w)
    assert "<script>" not in svg and "<b>" not in svg and 'onload="' not in svg
    texts = [t.text for t in ET.fromstring(svg).iter(f"{SVG_NS}text")]
    assert "<script>alert(1)</script>" in texts and "<b>开始</b>" in texts


def test_unreachable_states_still_drawn() -> None:
    w = wf({"a": {"initial": True}, "b": {"final": True}, "孤立": {}}, [{"trigger": "go", "source": "a", "dest": "b"}])
    nodes, _ = layout(w)
    assert nodes["孤立"].layer == 2


def test_text_width_counts_cjk_as_one_em() -> None:
    assert text_width("关闭", 10) == 20
    assert text_width("ab", 10) == 12


# ------------------------------------------------------------------ Markdown

ALLOWED = {"p", "br", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "pre", "code", "strong", "em", "a",
           "blockquote", "hr", "table", "thead", "tbody", "tr", "th", "td", "div", "input"}


def tags(html: str) -> set[str]:
    return {m.lower() for m in re.findall(r"</?([A-Za-z][A-Za-z0-9]*)", html)}


def test_markdown_blocks() -> None:
    html = markdown("# 标题\n\n段落 **粗体** 和 `code`\n\n- [x] 已做\n- [ ] 未做\n\n```sql\nSELECT 1 < 2;\n```\n\n"
                    "| a | b |\n|---|---|\n| 1 | 2 |\n\n> 引用\n\n1. 一\n   ```bash\n   ls\n   ```\n2. 二\n")
    assert "<h2>标题</h2>" in html
    assert "<strong>粗体</strong>" in html and "<code>code</code>" in html
    assert '<input type="checkbox" disabled checked' in html
    assert "SELECT 1 &lt; 2;" in html
    assert "<table>" in html and "<td>1</td>" in html
    assert "<blockquote>" in html
    assert html.count("<li") == 4 and '<code class="language-bash">ls</code>' in html


def test_markdown_shows_raw_html_and_bad_links_as_text() -> None:
    html = markdown("<script>alert(1)</script> [x](javascript:alert(1)) [y](https://e.com/a?b=1&c=2) "
                    "<img src=x onerror=alert(1)>")
    assert "<script" not in html and "<img" not in html and 'href="javascript' not in html
    assert 'href="https://e.com/a?b=1&amp;c=2"' in html
    assert tags(html) <= ALLOWED


def test_markdown_links_ticket_ids_and_wiki_pages_through_callbacks() -> None:
    html = markdown("见 ISS-12 与 [排查](../faq/cable.md)", ticket_href=lambda t: f"t/{t}.html",
                    link=lambda u: "x/cable.html" if u.endswith("cable.md") else None)
    assert '<a href="t/ISS-12.html">ISS-12</a>' in html and '<a href="x/cable.html">排查</a>' in html


def test_soft_breaks_join_cjk_without_a_space_and_breaks_keep_lines() -> None:
    assert markdown("第一行\n第二行") == "<p>第一行第二行</p>"
    assert markdown("a\nb") == "<p>a b</p>"
    assert markdown("【现象】: x\n【影响】: y", breaks=True) == "<p>【现象】: x<br>\n【影响】: y</p>"
    assert markdown("<!-- 填写说明 -->\n正文") == "<p>正文</p>"


def test_safe_url() -> None:
    assert safe_url("https://a.b") == "https://a.b"
    assert safe_url("mailto:x@y.z") == "mailto:x@y.z"
    assert safe_url("../a.html") == "../a.html"
    for bad in ("javascript:alert(1)", "JAVASCRIPT:x", "data:text/html,x", "//evil.com", "vbscript:x"):
        assert safe_url(bad) is None


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("<>&\"'`*_[]()#-|!:/\\ \n=abcjs中文xX1.")), max_size=120))
def test_markdown_never_produces_markup_of_its_own_input(text: str) -> None:
    html = markdown(text)
    assert tags(html) <= ALLOWED
    assert not re.search(r"<[^>]*\son\w+=", html)  # no event handler attribute
    assert "javascript:" not in re.sub(r">[^<]*<", "><", html).lower()  # never inside a tag


# ------------------------------------------------------------------ slugs


def test_slug_keeps_simple_names_and_hashes_the_rest() -> None:
    assert slug("issue_track") == "issue_track"
    assert slug("网上问题") == "网上问题"
    assert slug("VPN") != slug("vpn") and slug("VPN").startswith("vpn-")
    assert slug("a/b") != slug("a-b")
    assert slug("..").strip(".") and "/" not in slug("../../etc")


@given(st.text(min_size=1, max_size=30))
def test_slug_is_a_safe_file_name(text: str) -> None:
    s = slug(text)
    assert s and "/" not in s and "\\" not in s and s not in (".", "..") and "\x00" not in s
    assert s == s.lower()
    assert slug(text) == s


def test_related_wiki_reasons_speak_the_sites_language() -> None:
    from sopflow.site import _reason

    assert _reason("tag 网络", "zh") == "标签 网络" and _reason("tag 网络", "en") == "tag 网络"
    assert _reason("field 问题大类=硬件", "zh") == "字段 问题大类=硬件"
    assert _reason("text: 磁盘 告警", "zh") == "磁盘 告警" and _reason("other", "zh") == "other"
