"""Problems as text (``path:line: severity: message [code]``), JSON, or GitHub workflow commands."""

from __future__ import annotations

import json
from collections.abc import Sequence

from sopflow.core.problems import Problem
from sopflow.render.text import clean


def render(problems: Sequence[Problem], fmt: str) -> tuple[str, bool]:
    ok = not any(p.severity == "error" for p in problems)
    if fmt == "json":
        return json.dumps({"ok": ok, "problems": [p.as_dict() for p in problems]}, ensure_ascii=False, indent=2), ok
    if fmt == "github":
        return "\n".join(github(p) for p in problems), ok
    lines = [clean(p.text()) for p in problems]
    errors = sum(1 for p in problems if p.severity == "error")
    warnings = len(problems) - errors
    lines.append(f"{'ok' if ok else 'failed'}: {errors} error{'s' if errors != 1 else ''}, "
                 f"{warnings} warning{'s' if warnings != 1 else ''}")
    return "\n".join(lines), ok


def _esc_data(s: str) -> str:
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _esc_prop(s: str) -> str:
    return _esc_data(s).replace(":", "%3A").replace(",", "%2C")


def github(p: Problem) -> str:
    kind = "error" if p.severity == "error" else "warning"
    props = f"file={_esc_prop(p.path)}"
    if p.line:
        props += f",line={p.line}"
    props += f",title={_esc_prop('sopflow ' + p.code)}"
    return f"::{kind} {props}::{_esc_data(p.message)}"
