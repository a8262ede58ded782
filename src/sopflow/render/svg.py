"""A workflow as an inline SVG diagram, laid out by sopflow itself (no Graphviz, no Mermaid, no network).

Layout (top to bottom, deterministic: the same workflow always gives the same bytes):

* **Layers.** A state's layer is its distance from the initial state along transitions (breadth first, in
  the workflow's transition order); states not reachable from it go below, one layer each.
* **Order in a layer.** States keep the workflow's order, then one pass sorts each layer by the mean
  position of the states leading into it from the layer above (the barycentre heuristic), ties by
  workflow order. Each layer is centred.
* **Edges.** Transitions with the same source and destination share one edge whose label lists their
  triggers (with ``[roles]`` who may fire them). An edge to the next layer is a vertical S-curve between
  the two boxes. Every other edge is routed outside the boxes in a lane of its own: edges going back up
  (and edges within a layer) on the right, edges skipping layers downwards on the left, each lane wide
  enough for its label, so lane labels never overlap. A transition that stays in its state is a small
  loop on the box's right side.
* **Labels** on the S-curves are placed at the middle of the curve, or moved along it until they clear
  the labels already placed.

Text widths are estimated (wide East Asian characters one em, others 0.6 em): no font metrics are read.
"""

from __future__ import annotations

import itertools
import unicodedata
from dataclasses import dataclass, field
from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sopflow.core.workflow import Transition, Workflow

FONT = 14
LABEL_FONT = 12
BOX_H = 38
PAD_X = 16
GAP_X = 48
ROW_GAP = 86
MARGIN = 16
LANE_GAP = 22
FONT_FAMILY = ("system-ui, -apple-system, 'Segoe UI', 'PingFang SC', 'Hiragino Sans GB', 'Microsoft YaHei', "
               "'Noto Sans CJK SC', 'WenQuanYi Zen Hei', sans-serif")


def text_width(text: str, size: float) -> float:
    """Estimated width of ``text`` in pixels at font ``size`` (wide CJK characters count one em)."""
    w = 0.0
    for c in text:
        if unicodedata.combining(c):
            continue
        w += size if unicodedata.east_asian_width(c) in ("W", "F") else size * 0.6
    return w


def _esc(text: str) -> str:
    return escape(text, quote=True)


def _fmt(x: float) -> str:
    s = f"{x:.1f}"
    return s[:-2] if s.endswith(".0") else s


@dataclass
class _Node:
    name: str
    layer: int
    order: int  # index in the workflow's states
    width: float
    x: float = 0.0  # centre
    y: float = 0.0  # top
    initial: bool = False
    final: bool = False


@dataclass
class _Edge:
    src: str
    dst: str
    labels: list[str] = field(default_factory=list)


def _label(t: Transition) -> str:
    return t.trigger + (f" [{', '.join(t.by)}]" if t.by else "")


def _layers(wf: Workflow) -> dict[str, int]:
    names = list(wf.states)
    layer: dict[str, int] = {}
    start = wf.initial if wf.initial in wf.states else (names[0] if names else "")
    if start:
        layer[start] = 0
        queue = [start]
        while queue:
            cur = queue.pop(0)
            for t in wf.transitions:
                if cur in t.sources and t.dest in wf.states and t.dest not in layer:
                    layer[t.dest] = layer[cur] + 1
                    queue.append(t.dest)
    deepest = max(layer.values(), default=-1)
    for n in names:
        if n not in layer:
            deepest += 1
            layer[n] = deepest
    return layer


def layout(wf: Workflow) -> tuple[dict[str, _Node], list[_Edge]]:
    """Nodes with positions, and merged edges (exposed for tests)."""
    layer_of = _layers(wf)
    nodes: dict[str, _Node] = {}
    for i, (name, st) in enumerate(wf.states.items()):
        nodes[name] = _Node(name, layer_of[name], i, max(text_width(name, FONT) + 2 * PAD_X, 64.0),
                            initial=name == wf.initial, final=st.final)
    edges: dict[tuple[str, str], _Edge] = {}
    for t in wf.transitions:
        for src in t.sources:
            if src in nodes and t.dest in nodes:
                edges.setdefault((src, t.dest), _Edge(src, t.dest)).labels.append(_label(t))
    rows: dict[int, list[_Node]] = {}
    for n in nodes.values():
        rows.setdefault(n.layer, []).append(n)
    for k in sorted(rows):
        row = sorted(rows[k], key=lambda n: n.order)
        if k > 0 and k - 1 in rows:
            pos = {n.name: i for i, n in enumerate(rows[k - 1])}

            def bary(n: _Node, pos: dict[str, int] = pos) -> float:
                ins = [pos[e.src] for e in edges.values() if e.dst == n.name and e.src in pos]
                return sum(ins) / len(ins) if ins else float(len(pos))

            row.sort(key=lambda n: (bary(n), n.order))
        rows[k] = row
    # room for labels: a label sits near its edge's end, so neighbours are spread by their labels' widths
    reach: dict[str, float] = {}
    for e in edges.values():
        w = _labels_width(e)
        for end in (e.src, e.dst):
            reach[end] = max(reach.get(end, 0.0), w)
    gaps: dict[int, list[float]] = {}
    for k, row in rows.items():
        gaps[k] = []
        for a, b in itertools.pairwise(row):
            gap = max(GAP_X, (reach.get(a.name, 0.0) + reach.get(b.name, 0.0)) / 2 - (a.width + b.width) / 2 + 12)
            loop = [e for e in edges.values() if e.src == e.dst == a.name]
            if loop:
                gap = max(gap, _labels_width(loop[0]) + 48)
            same = [e for e in edges.values() if {e.src, e.dst} == {a.name, b.name}]
            if same:
                gap = max(gap, max(_labels_width(e) for e in same) + 24)
            gaps[k].append(gap)
    widths = {k: sum(n.width for n in row) + sum(gaps[k]) for k, row in rows.items()}
    inner = max(widths.values(), default=0.0)
    for k, row in rows.items():
        x = (inner - widths[k]) / 2
        for i, n in enumerate(row):
            n.x = x + n.width / 2
            n.y = k * (BOX_H + ROW_GAP)
            x += n.width + (gaps[k][i] if i < len(gaps[k]) else 0.0)
    return nodes, list(edges.values())


def _labels_width(e: _Edge) -> float:
    return max(text_width(s, LABEL_FONT) for s in e.labels) + 8


def _bezier(p0: tuple[float, float], p1: tuple[float, float], p2: tuple[float, float], p3: tuple[float, float],
            t: float) -> tuple[float, float]:
    u = 1 - t
    a, b, c, d = u * u * u, 3 * u * u * t, 3 * u * t * t, t * t * t
    return (a * p0[0] + b * p1[0] + c * p2[0] + d * p3[0], a * p0[1] + b * p1[1] + c * p2[1] + d * p3[1])


def _overlaps(box: tuple[float, float, float, float], placed: list[tuple[float, float, float, float]]) -> bool:
    x, y, w, h = box
    return any(x < px + pw and px < x + w and y < py + ph and py < y + h for px, py, pw, ph in placed)


def workflow_svg(wf: Workflow, *, id_prefix: str = "wf", title: str | None = None) -> str:
    """The workflow as a standalone ``<svg>`` element (safe to inline in HTML: every text is escaped)."""
    nodes, edges = layout(wf)
    row_of: dict[int, list[_Node]] = {}
    for n in nodes.values():
        row_of.setdefault(n.layer, []).append(n)
    for row in row_of.values():
        row.sort(key=lambda n: n.x)

    def neighbours(a: _Node, b: _Node) -> bool:
        if a.layer != b.layer:
            return False
        row = row_of[a.layer]
        return abs(row.index(a) - row.index(b)) == 1

    loops = [e for e in edges if e.src == e.dst]
    direct = [e for e in edges if e.src != e.dst and nodes[e.dst].layer == nodes[e.src].layer + 1]
    side = [e for e in edges if e.src != e.dst and neighbours(nodes[e.src], nodes[e.dst])]
    rest = [e for e in edges if e not in loops and e not in direct and e not in side]
    left_lanes = [e for e in rest if nodes[e.dst].layer > nodes[e.src].layer]
    right_lanes = [e for e in rest if nodes[e.dst].layer <= nodes[e.src].layer]

    inner = max((n.x + n.width / 2 for n in nodes.values()), default=0.0)
    body: list[str] = []
    labels: list[str] = []
    placed: list[tuple[float, float, float, float]] = [
        (n.x - n.width / 2, n.y, n.width, float(BOX_H)) for n in nodes.values()
    ]
    bounds = [0.0, 0.0, inner, max((n.y for n in nodes.values()), default=0.0) + BOX_H]

    def grow(x0: float, y0: float, x1: float, y1: float) -> None:
        bounds[0], bounds[1] = min(bounds[0], x0), min(bounds[1], y0)
        bounds[2], bounds[3] = max(bounds[2], x1), max(bounds[3], y1)

    arrow = f"{id_prefix}-arrow"
    edge_attr = f'fill="none" stroke="#57606a" stroke-width="1.4" marker-end="url(#{_esc(arrow)})"'

    def size(e: _Edge) -> tuple[float, float]:
        return _labels_width(e), LABEL_FONT * 1.3 * len(e.labels) + 4

    def put_label(e: _Edge, x0: float, y0: float) -> None:
        w, h = size(e)
        placed.append((x0, y0, w, h))
        grow(x0, y0, x0 + w, y0 + h)
        labels.append(f'<g class="edge-label"><rect x="{_fmt(x0)}" y="{_fmt(y0)}" width="{_fmt(w)}" '
                      f'height="{_fmt(h)}" rx="3" fill="#ffffff" fill-opacity="0.92"/>')
        for i, text in enumerate(e.labels):
            ty = y0 + 2 + LABEL_FONT * 1.3 * (i + 1) - LABEL_FONT * 0.3
            labels.append(f'<text x="{_fmt(x0 + w / 2)}" y="{_fmt(ty)}" text-anchor="middle" '
                          f'font-size="{LABEL_FONT}" fill="#24292f">{_esc(text)}</text>')
        labels.append("</g>")

    # ports: spread the ends of direct edges along the bottom / top of each box
    outs: dict[str, list[_Edge]] = {}
    ins: dict[str, list[_Edge]] = {}
    for e in direct:
        outs.setdefault(e.src, []).append(e)
        ins.setdefault(e.dst, []).append(e)
    for lst in outs.values():
        lst.sort(key=lambda e: nodes[e.dst].x)
    for lst in ins.values():
        lst.sort(key=lambda e: nodes[e.src].x)

    def port(n: _Node, i: int, k: int) -> float:
        span = min(n.width - 2 * PAD_X, 28.0 * (k - 1))
        return n.x - span / 2 + (span * i / (k - 1) if k > 1 else span / 2)

    for e in direct:
        s, d = nodes[e.src], nodes[e.dst]
        p0 = (port(s, outs[e.src].index(e), len(outs[e.src])), s.y + BOX_H)
        p3 = (port(d, ins[e.dst].index(e), len(ins[e.dst])), d.y - 2)
        dy = (p3[1] - p0[1]) / 2
        p1, p2 = (p0[0], p0[1] + dy), (p3[0], p3[1] - dy)
        body.append(f'<path class="edge" d="M{_fmt(p0[0])},{_fmt(p0[1])} C{_fmt(p1[0])},{_fmt(p1[1])} '
                    f'{_fmt(p2[0])},{_fmt(p2[1])} {_fmt(p3[0])},{_fmt(p3[1])}" {edge_attr}/>')
        w, h = size(e)
        cx, cy = _bezier(p0, p1, p2, p3, 0.6)
        best = (cx - w / 2, cy - h / 2)
        for t in (0.6, 0.72, 0.3, 0.45, 0.82, 0.2):
            cx, cy = _bezier(p0, p1, p2, p3, t)
            if not _overlaps((cx - w / 2, cy - h / 2, w, h), placed):
                best = (cx - w / 2, cy - h / 2)
                break
        put_label(e, *best)

    for e in side:
        s, d = nodes[e.src], nodes[e.dst]
        rightwards = d.x > s.x
        sx = s.x + s.width / 2 if rightwards else s.x - s.width / 2
        dx = d.x - d.width / 2 - 2 if rightwards else d.x + d.width / 2 + 2
        y = s.y + BOX_H / 2 + (4 if rightwards else -4)
        body.append(f'<path class="edge" d="M{_fmt(sx)},{_fmt(y)} H{_fmt(dx)}" {edge_attr}/>')
        w, h = size(e)
        put_label(e, (sx + dx) / 2 - w / 2, y - h - 3 if rightwards else y + 3)

    for e in loops:
        n = nodes[e.src]
        x, y = n.x + n.width / 2, n.y
        body.append(f'<path class="edge" d="M{_fmt(x)},{_fmt(y + 8)} C{_fmt(x + 30)},{_fmt(y - 10)} '
                    f'{_fmt(x + 30)},{_fmt(y + BOX_H + 10)} {_fmt(x + 2)},{_fmt(y + BOX_H - 8)}" {edge_attr}/>')
        w, h = size(e)
        put_label(e, x + 30, y + BOX_H / 2 - h / 2)

    def clear(n: _Node, right: bool) -> bool:
        """No other box between ``n`` and the lanes on that side of its row."""
        return all((m.x < n.x) if right else (m.x > n.x) for m in row_of[n.layer] if m is not n)

    def lane(e: _Edge, lx: float, right: bool) -> None:
        s, d = nodes[e.src], nodes[e.dst]
        sign = 1.0 if right else -1.0
        r = 10.0 * sign
        parts: list[str] = []
        # leave the source by its side when nothing is in the way, else from below
        if clear(s, right):
            sx, sy = s.x + sign * s.width / 2, s.y + BOX_H / 2 - 6
            parts.append(f"M{_fmt(sx)},{_fmt(sy)}")
        else:
            sx = s.x + sign * s.width / 4
            sy = s.y + BOX_H + 14
            parts.append(f"M{_fmt(sx)},{_fmt(s.y + BOX_H)} V{_fmt(sy - 6)} Q{_fmt(sx)},{_fmt(sy)} "
                         f"{_fmt(sx + r * 0.6)},{_fmt(sy)}")
        # enter the destination by its side when nothing is in the way, else from above
        side_in = clear(d, right)
        dy = d.y + BOX_H / 2 + 6 if side_in else d.y - 14
        v = 1.0 if dy > sy else -1.0
        parts.append(f"H{_fmt(lx - r)} Q{_fmt(lx)},{_fmt(sy)} {_fmt(lx)},{_fmt(sy + 10 * v)} "
                     f"V{_fmt(dy - 10 * v)} Q{_fmt(lx)},{_fmt(dy)} {_fmt(lx - r)},{_fmt(dy)}")
        if side_in:
            parts.append(f"H{_fmt(d.x + sign * (d.width / 2 + 2))}")
        else:
            ex = d.x + sign * d.width / 4
            parts.append(f"H{_fmt(ex + r * 0.6)} Q{_fmt(ex)},{_fmt(dy)} {_fmt(ex)},{_fmt(dy + 6)} V{_fmt(d.y - 2)}")
        body.append(f'<path class="edge lane" d="{" ".join(parts)}" {edge_attr}/>')
        grow(min(lx, sx), min(sy, dy), max(lx, sx), max(sy, dy))

    # lanes start outside everything drawn so far (boxes, loops and their labels)
    x = max(bounds[2], max((b[0] + b[2] for b in placed), default=0.0)) + LANE_GAP
    for e in right_lanes:
        lane(e, x, True)
        w, h = size(e)
        mid = (nodes[e.src].y + nodes[e.dst].y + BOX_H) / 2
        put_label(e, x + 4, mid - h / 2)
        x += w + LANE_GAP
    x = min(bounds[0], min((b[0] for b in placed), default=0.0)) - LANE_GAP
    for e in left_lanes:
        lane(e, x, False)
        w, h = size(e)
        mid = (nodes[e.src].y + nodes[e.dst].y + BOX_H) / 2
        put_label(e, x - 4 - w, mid - h / 2)
        x -= w + LANE_GAP

    for n in sorted(nodes.values(), key=lambda n: n.order):
        x0, y0 = n.x - n.width / 2, n.y
        cls = "state" + (" initial" if n.initial else "") + (" final" if n.final else "")
        fill = "#ddf4ff" if n.initial else ("#dafbe1" if n.final else "#f6f8fa")
        stroke_w = "2.5" if n.initial else "1.4"
        body.append(f'<g class="{cls}"><rect x="{_fmt(x0)}" y="{_fmt(y0)}" width="{_fmt(n.width)}" '
                    f'height="{BOX_H}" rx="8" fill="{fill}" stroke="#24292f" stroke-width="{stroke_w}"/>')
        if n.final:
            body.append(f'<rect x="{_fmt(x0 + 3)}" y="{_fmt(y0 + 3)}" width="{_fmt(n.width - 6)}" '
                        f'height="{BOX_H - 6}" rx="6" fill="none" stroke="#24292f" stroke-width="1"/>')
        body.append(f'<text x="{_fmt(n.x)}" y="{_fmt(y0 + BOX_H / 2 + FONT * 0.35)}" text-anchor="middle" '
                    f'font-size="{FONT}" fill="#24292f">{_esc(n.name)}</text></g>')

    vx, vy = bounds[0] - MARGIN, bounds[1] - MARGIN
    width, height = bounds[2] - bounds[0] + 2 * MARGIN, bounds[3] - bounds[1] + 2 * MARGIN
    label_text = title if title is not None else f"{wf.title} ({wf.type})"
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="workflow-diagram" role="img" '
           f'width="{_fmt(width)}" height="{_fmt(height)}" '
           f'viewBox="{_fmt(vx)} {_fmt(vy)} {_fmt(width)} {_fmt(height)}" '
           f'aria-label="{_esc(label_text)}" font-family="{_esc(FONT_FAMILY)}">',
           f"<title>{_esc(label_text)}</title>",
           f'<defs><marker id="{_esc(arrow)}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" '
           'markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#57606a"/>'
           "</marker></defs>"]
    # edges first, then boxes over them, then labels on top
    edges_part = [b for b in body if b.startswith("<path")]
    boxes_part = [b for b in body if not b.startswith("<path")]
    out += edges_part + boxes_part + labels
    out.append("</svg>")
    return "\n".join(out)
