"""Workflows as text, JSON, Mermaid flowcharts and Graphviz dot."""

from __future__ import annotations

import json
from typing import Any

from sopflow.core.workflow import Transition, Workflow
from sopflow.render.text import clean, style


def show_json(wf: Workflow) -> dict[str, Any]:
    return {
        "type": wf.type,
        "title": wf.title,
        "prefix": wf.prefix,
        "roles": list(wf.roles),
        "fields": {n: {k: v for k, v in vars(f).items() if v not in (None, (), False) and k != "name"}
                   for n, f in wf.fields.items()},
        "states": {n: {k: v for k, v in vars(s).items() if v not in (None, False) and k != "name"}
                   for n, s in wf.states.items()},
        "transitions": [_tr_json(t) for t in wf.transitions],
        "sla": wf.sla,
        "rules": wf.rules,
    }


def _tr_json(t: Transition) -> dict[str, Any]:
    out: dict[str, Any] = {"trigger": t.trigger, "source": list(t.sources), "dest": t.dest}
    if t.by:
        out["by"] = list(t.by)
    req = {k: v for k, v in vars(t.require).items() if v not in ((), False)}
    if req:
        out["require"] = {k: (list(v) if isinstance(v, tuple) else v) for k, v in req.items()}
    if t.assign_to:
        out["assign_to"] = t.assign_to
    return out


def _require_text(t: Transition) -> str:
    r = t.require
    parts = []
    if r.fields:
        parts.append("fields " + ", ".join(r.fields))
    if r.roles:
        parts.append("roles " + ", ".join(r.roles))
    if r.checklist:
        parts.append("checklist complete")
    if r.note:
        parts.append("note")
    if r.children:
        parts.append("children closed")
    if r.wiki:
        parts.append("wiki linked")
    return "; ".join(parts)


def show_text(wf: Workflow) -> str:
    out = [style(f"{clean(wf.type)}  {clean(wf.title)}  (IDs {clean(wf.prefix)}-N)", "1")]
    if wf.roles:
        out.append("roles: " + ", ".join(clean(r) for r in wf.roles))
    if wf.fields:
        out.append("")
        out.append(style("Fields", "1"))
        for f in wf.fields.values():
            extra = []
            if f.required:
                extra.append("required")
            if f.readonly:
                extra.append("readonly")
            if f.default is not None:
                extra.append(f"default {clean(f.default)}")
            if f.choices:
                extra.append("choices " + "/".join(clean(c) for c in f.choices))
            label = f" ({clean(f.label)})" if f.label else ""
            out.append(f"  {clean(f.name)}{label}: {f.type}" + (f"  [{'; '.join(extra)}]" if extra else ""))
    out.append("")
    out.append(style("States", "1"))
    for s in wf.states.values():
        marks = [m for m, on in (("initial", s.initial), ("final", s.final)) if on]
        chk = f"  checklist {clean(s.checklist)}" if s.checklist else ""
        out.append(f"  {clean(s.name)}" + (f"  ({', '.join(marks)})" if marks else "") + chk)
    out.append("")
    out.append(style("Transitions", "1"))
    for t in wf.transitions:
        line = f"  {clean(t.trigger)}: {' | '.join(clean(s) for s in t.sources)} → {clean(t.dest)}"
        if t.by:
            line += f"  by {', '.join(clean(b) for b in t.by)}"
        req = _require_text(t)
        if req:
            line += f"  requires {clean(req)}"
        if t.assign_to:
            line += f"  assigns to {clean(t.assign_to)}"
        out.append(line)
    return "\n".join(out)


def _edge_label(t: Transition) -> str:
    label = t.trigger
    if t.by:
        label += f" [{', '.join(t.by)}]"
    return label


_MERMAID_ESCAPES = {"#": "#35;", '"': "#quot;", "&": "#amp;", "<": "#lt;", ">": "#gt;", "|": "#124;",
                    "`": "#96;", "\n": " ", "\r": " "}


def _mermaid_text(s: str) -> str:
    # Mermaid labels in double quotes; every character Mermaid or HTML reads specially becomes one of
    # Mermaid's entity codes (#quot; …), so a name shows as written and cannot end the label or start a
    # Markdown string. '#' goes first so the codes themselves are not escaped again.
    return "".join(_MERMAID_ESCAPES.get(c, c) for c in clean(s))


def mermaid(wf: Workflow) -> str:
    ids = {name: f"s{i}" for i, name in enumerate(wf.states)}
    lines = ["flowchart TD"]
    # a comment must not become a directive (%%{init: …}%%)
    lines.append("  %% " + " ".join(f"{wf.type}: {wf.title}".replace("%", " ").replace("{", "(").split()))

    for name, s in wf.states.items():
        text = _mermaid_text(name)
        if s.final:
            lines.append(f'  {ids[name]}((("{text}")))')
        elif s.initial:
            lines.append(f'  {ids[name]}(["{text}"])')
        else:
            lines.append(f'  {ids[name]}["{text}"]')
    for t in wf.transitions:
        for src in t.sources:
            if src in ids and t.dest in ids:
                lines.append(f'  {ids[src]} -->|"{_mermaid_text(_edge_label(t))}"| {ids[t.dest]}')
    lines.append("  classDef initial stroke-width:3px")
    lines.append("  classDef final stroke-width:3px")
    if wf.initial in ids:
        lines.append(f"  class {ids[wf.initial]} initial")
    finals = [ids[s] for s in wf.finals if s in ids]
    if finals:
        lines.append(f"  class {','.join(finals)} final")
    return "\n".join(x for x in lines if x)


def _dot_str(s: str) -> str:
    # a DOT string; Graphviz also decodes HTML entities in labels, so '&' is written as one
    return json.dumps(clean(s).replace("&", "&amp;"), ensure_ascii=False)


def dot(wf: Workflow) -> str:
    ids = {name: f"s{i}" for i, name in enumerate(wf.states)}
    lines = [f"digraph {_dot_str(wf.type)} {{", "  rankdir=LR;",
             '  node [shape=box, style=rounded, fontname="sans-serif"];', '  edge [fontname="sans-serif"];',
             f"  label={_dot_str(wf.title)};", '  start [shape=point, label=""];']
    for name, s in wf.states.items():
        attrs = [f"label={_dot_str(name)}"]
        if s.final:
            attrs.append("peripheries=2")
        if s.initial:
            attrs.append("penwidth=2")
        lines.append(f"  {ids[name]} [{', '.join(attrs)}];")
    if wf.initial in ids:
        lines.append(f"  start -> {ids[wf.initial]};")
    for t in wf.transitions:
        for src in t.sources:
            if src in ids and t.dest in ids:
                lines.append(f"  {ids[src]} -> {ids[t.dest]} [label={_dot_str(_edge_label(t))}];")
    lines.append("}")
    return "\n".join(lines)
