"""Markdown to safe HTML for the static site: a small, predictable subset, escaped by construction.

Every character of the source reaches the page through :func:`html.escape`; markup is produced only by
this module. Raw HTML in the Markdown is shown as text, and only ``http``, ``https`` and ``mailto``
links and relative links are made clickable (``javascript:`` and other schemes stay text).

Blocks: ATX headings (``#`` becomes ``<h2>``: the page title is the ``<h1>``), paragraphs, ``-``/``*``/``+``
and numbered lists with indented continuation lines and nested blocks, task items (``- [x]``), fenced code
blocks, block quotes, pipe tables and ``---`` rules. Inline: code spans, ``**strong**``, ``*em*``,
``[text](url)``, bare ``https://`` links, and ticket IDs (``ISS-12``) when a ``ticket_href`` callback
knows them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from html import escape

LinkFn = Callable[[str], str | None]

_FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([^`\s]*)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_HR = re.compile(r"^\s{0,3}([-*_])(\s*\1){2,}\s*$")
_ITEM = re.compile(r"^(\s{0,3})([-*+]|\d{1,9}[.)])(\s+|$)(.*)$")
_TASK = re.compile(r"^\[([ xX])\]\s+(.*)$")
_TABLE_SEP = re.compile(r"^\s*\|?\s*:?-{1,}:?\s*(\|\s*:?-{1,}:?\s*)*\|?\s*$")
_SAFE_SCHEME = re.compile(r"^(https?:|mailto:)", re.IGNORECASE)
_HAS_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_INLINE = re.compile(
    r"(?P<code>`+)(?P<codebody>.+?)(?P=code)"
    r"|\[(?P<ltext>[^\]\n]+)\]\((?P<lurl>[^)\s]+)(?:\s+\"[^\"]*\")?\)"
    r"|\*\*(?P<strong>[^*\n]+?)\*\*"
    r"|(?<![\w*])\*(?P<em>[^*\s][^*\n]*?)\*(?![\w*])"
    r"|(?P<url>https?://[^\s<>()\[\]\"'，。；、）]+[^\s<>()\[\]\"'，。；、）.,;:!?])"
    r"|(?<![\w-])(?P<tid>[A-Za-z][A-Za-z0-9_]*-\d+)(?![\w-])"
)


def safe_url(url: str) -> str | None:
    """The URL when it may be a link target (http, https, mailto, or relative), else None."""
    u = url.strip()
    if not u or any(c in u for c in "\x00\r\n\t"):
        return None
    if _SAFE_SCHEME.match(u):
        return u
    if _HAS_SCHEME.match(u) or u.startswith("//") or u.startswith("\\"):
        return None
    return u


def inline(text: str, *, link: LinkFn | None = None, ticket_href: LinkFn | None = None) -> str:
    """One line (or paragraph) of inline Markdown as HTML."""
    out: list[str] = []
    pos = 0
    for m in _INLINE.finditer(text):
        out.append(escape(text[pos:m.start()]))
        pos = m.end()
        if m.group("code"):
            out.append(f"<code>{escape(m.group('codebody').strip())}</code>")
        elif m.group("ltext") is not None:
            url = m.group("lurl")
            href = (link(url) if link else None) or safe_url(url)
            inner = inline(m.group("ltext"), link=link)
            out.append(f'<a href="{escape(href)}">{inner}</a>' if href else escape(m.group(0)))
        elif m.group("strong") is not None:
            out.append(f"<strong>{inline(m.group('strong'), link=link, ticket_href=ticket_href)}</strong>")
        elif m.group("em") is not None:
            out.append(f"<em>{inline(m.group('em'), link=link, ticket_href=ticket_href)}</em>")
        elif m.group("url"):
            url = m.group("url")
            out.append(f'<a href="{escape(url)}">{escape(url)}</a>')
        else:
            tid = m.group("tid")
            href = ticket_href(tid) if ticket_href else None
            out.append(f'<a href="{escape(href)}">{escape(tid)}</a>' if href else escape(tid))
    out.append(escape(text[pos:]))
    return "".join(out)


def _is_wide(c: str) -> bool:
    import unicodedata

    return unicodedata.east_asian_width(c) in ("W", "F")


def _join(lines: list[str]) -> str:
    """Lines of one paragraph joined as a soft break: nothing between two CJK characters, else a space."""
    out = ""
    for raw in lines:
        line = raw.strip()
        if out and line and not (_is_wide(out[-1]) and _is_wide(line[0])):
            out += " "
        out += line
    return out


def _indent(line: str) -> int:
    n = 0
    for c in line:
        if c == " ":
            n += 1
        elif c == "\t":
            n += 4 - n % 4
        else:
            break
    return n


def _dedent(line: str, n: int) -> str:
    i = 0
    col = 0
    while i < len(line) and col < n and line[i] in " \t":
        col += 1 if line[i] == " " else 4 - col % 4
        i += 1
    return line[i:]


def _cells(row: str) -> list[str]:
    s = row.strip()
    if s.startswith("|"):
        s = s[1:]
    if s.endswith("|") and not s.endswith("\\|"):
        s = s[:-1]
    return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", s)]


def markdown(text: str, *, link: LinkFn | None = None, ticket_href: LinkFn | None = None,
             breaks: bool = False) -> str:
    """A Markdown document (no front matter) as HTML. ``breaks``: every line break inside a paragraph is
    kept as ``<br>`` (as GitHub shows issues and comments); otherwise lines join as in a Markdown file."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(_blocks(lines, link, ticket_href, breaks))


def _blocks(lines: list[str], link: LinkFn | None, tref: LinkFn | None, breaks: bool = False) -> list[str]:
    out: list[str] = []
    para: list[str] = []
    i = 0

    def il(s: str) -> str:
        return inline(s, link=link, ticket_href=tref)

    def flush() -> None:
        if para:
            if breaks:
                out.append("<p>" + "<br>\n".join(il(x.strip()) for x in para) + "</p>")
            else:
                out.append("<p>" + il(_join(para)) + "</p>")
            para.clear()

    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if not stripped:
            flush()
            i += 1
            continue
        if stripped.startswith("<!--"):
            flush()  # an HTML comment (a template's hint to the writer) is not shown
            while i < len(lines) and "-->" not in lines[i]:
                i += 1
            i += 1
            continue
        fm = _FENCE.match(line)
        if fm:
            flush()
            fence, indent = fm.group(2), len(fm.group(1))
            lang = fm.group(3)
            body: list[str] = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(fence):
                body.append(_dedent(lines[i], indent))
                i += 1
            i += 1
            cls = f' class="language-{escape(lang)}"' if lang else ""
            out.append(f"<pre><code{cls}>{escape(chr(10).join(body))}</code></pre>")
            continue
        hm = _HEADING.match(stripped) if _indent(line) < 4 else None
        if hm:
            flush()
            level = min(len(hm.group(1)) + 1, 6)
            out.append(f"<h{level}>{il(hm.group(2))}</h{level}>")
            i += 1
            continue
        if _HR.match(line):
            flush()
            out.append("<hr>")
            i += 1
            continue
        if stripped.startswith(">"):
            flush()
            quote: list[str] = []
            while i < len(lines) and lines[i].strip().startswith(">"):
                q = lines[i].strip()[1:]
                quote.append(q[1:] if q.startswith(" ") else q)
                i += 1
            out.append("<blockquote>" + "\n".join(_blocks(quote, link, tref, breaks)) + "</blockquote>")
            continue
        if "|" in stripped and i + 1 < len(lines) and _TABLE_SEP.match(lines[i + 1]) and "-" in lines[i + 1]:
            flush()
            head = _cells(line)
            rows: list[list[str]] = []
            i += 2
            while i < len(lines) and "|" in lines[i] and lines[i].strip():
                rows.append(_cells(lines[i]))
                i += 1
            html = ["<div class=\"table-wrap\"><table><thead><tr>"]
            html += [f"<th>{il(c)}</th>" for c in head]
            html.append("</tr></thead><tbody>")
            for r in rows:
                html.append("<tr>" + "".join(f"<td>{il(c)}</td>" for c in r) + "</tr>")
            html.append("</tbody></table></div>")
            out.append("".join(html))
            continue
        im = _ITEM.match(line)
        if im and not para:
            ordered = im.group(2)[0].isdigit()
            items: list[list[str]] = []
            while i < len(lines):
                m = _ITEM.match(lines[i])
                if not m or m.group(2)[0].isdigit() != ordered:
                    break
                content_col = len(m.group(1)) + len(m.group(2)) + max(1, min(len(m.group(3)), 4))
                item = [m.group(4)]
                i += 1
                while i < len(lines):
                    nxt = lines[i]
                    if not nxt.strip():
                        # a blank line continues the item only when indented content follows
                        if i + 1 < len(lines) and lines[i + 1].strip() and _indent(lines[i + 1]) >= content_col:
                            item.append("")
                            i += 1
                            continue
                        break
                    if _indent(nxt) >= content_col:
                        item.append(_dedent(nxt, content_col))
                        i += 1
                        continue
                    if _ITEM.match(nxt) or _FENCE.match(nxt) or _HEADING.match(nxt.strip()) or _HR.match(nxt):
                        break
                    item.append(nxt.strip())  # lazy continuation of the paragraph
                    i += 1
                items.append(item)
                if i < len(lines) and not lines[i].strip() and i + 1 < len(lines):
                    m2 = _ITEM.match(lines[i + 1])
                    if m2 and m2.group(2)[0].isdigit() == ordered:
                        i += 1
            tag = "ol" if ordered else "ul"
            html_items = []
            for item in items:
                first = item[0]
                task = _TASK.match(first)
                cls = ""
                prefix = ""
                if task:
                    done = task.group(1) in "xX"
                    first = task.group(2)
                    cls = ' class="task done"' if done else ' class="task"'
                    prefix = (f'<input type="checkbox" disabled{" checked" if done else ""} '
                              f'aria-label="{"done" if done else "to do"}"> ')
                inner = _blocks([first, *item[1:]], link, tref, breaks)
                if len(inner) >= 1 and inner[0].startswith("<p>") and (len(item) == 1 or "" not in item):
                    inner[0] = inner[0][3:-4]
                html_items.append(f"<li{cls}>{prefix}{chr(10).join(inner)}</li>")
            out.append(f"<{tag}>" + "\n".join(html_items) + f"</{tag}>")
            continue
        para.append(line)
        i += 1
    flush()
    return out
