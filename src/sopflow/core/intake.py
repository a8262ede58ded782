"""Intake rules (``rules:`` in a workflow): on create, classify and route by declarative matches.

```yaml
rules:
  - name: 网络故障
    match: {keywords: [网络, 断网, timeout]}      # any keyword in title or body (case-insensitive)
    set: {problem_type: 网络故障}
    priority: P2
    labels: [网络]
    assign_to: 一线支持
  - match: {fields: {channel: 告警}}              # every listed field equals the value
    priority: P1
```
Every matching rule applies in order, so a later rule overrides what an earlier one set (put the most
specific rule last).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sopflow.core.problems import Problem, error, warning
from sopflow.core.workflow import PSEUDO_ROLES, RESERVED, Workflow

RULE_KEYS = ("name", "match", "set", "priority", "labels", "assign_to")


@dataclass
class Outcome:
    fields: dict[str, Any] = field(default_factory=dict)
    priority: str | None = None
    labels: list[str] = field(default_factory=list)
    assign_to: str | None = None
    names: list[str] = field(default_factory=list)


def _matches(rule: Mapping[str, Any], data: Mapping[str, Any], title: str, body: str) -> bool:
    match = rule.get("match") or {}
    if not isinstance(match, dict) or not match:
        return False
    keywords = match.get("keywords")
    if keywords:
        hay = f"{title}\n{body}".casefold()
        if not any(str(k).casefold() in hay for k in keywords if str(k)):
            return False
    wanted = match.get("fields")
    if isinstance(wanted, dict):
        for k, v in wanted.items():
            have = data.get(k)
            if isinstance(have, list):
                if v not in have:
                    return False
            elif have != v:
                return False
    return True


def apply_rules(wf: Workflow, data: Mapping[str, Any], title: str, body: str) -> Outcome:
    out = Outcome()
    rules = wf.rules if isinstance(wf.rules, list) else []
    for n, rule in enumerate(rules):
        if not isinstance(rule, dict) or not _matches(rule, data, title, body):
            continue
        out.names.append(str(rule.get("name") or f"rule {n + 1}"))
        for k, v in (rule.get("set") or {}).items():
            out.fields[k] = v
        if rule.get("priority"):
            out.priority = str(rule["priority"])
        for label in rule.get("labels") or []:
            if label not in out.labels:
                out.labels.append(str(label))
        if rule.get("assign_to"):
            out.assign_to = str(rule["assign_to"])
    return out


def validate_rules(wf: Workflow, path: str, lines: Mapping[tuple[Any, ...], int]) -> list[Problem]:
    from sopflow.core.fields import validate_value

    problems: list[Problem] = []
    rules = wf.rules
    if rules is None:
        return problems

    def at(*kp: Any) -> int:
        for n in range(len(kp), 0, -1):
            if kp[:n] in lines:
                return lines[kp[:n]]
        return 1

    if not isinstance(rules, list):
        return [error(path, at("rules"), "rules-invalid", "rules must be a list")]
    for i, rule in enumerate(rules):
        kp = ("rules", i)
        if not isinstance(rule, dict):
            problems.append(error(path, at(*kp), "rules-invalid", f"rule {i + 1} must be a mapping"))
            continue
        label = str(rule.get("name") or f"rule {i + 1}")
        for key in rule:
            if key not in RULE_KEYS:
                problems.append(error(path, at(*kp, key), "rules-invalid",
                                      f"{label}: unknown key {key!r} (one of {', '.join(RULE_KEYS)})"))
        match = rule.get("match")
        if not isinstance(match, dict) or not match or set(match) - {"keywords", "fields"}:
            problems.append(error(path, at(*kp, "match"), "rules-invalid",
                                  f"{label}: match needs keywords: [..] and/or fields: {{..}}"))
        else:
            kws = match.get("keywords")
            if kws is not None and (not isinstance(kws, list) or not all(isinstance(k, (str, int)) for k in kws)):
                problems.append(error(path, at(*kp, "match", "keywords"), "rules-invalid",
                                      f"{label}: keywords must be a list of words"))
            fm = match.get("fields")
            if fm is not None:
                if not isinstance(fm, dict):
                    problems.append(error(path, at(*kp, "match", "fields"), "rules-invalid",
                                          f"{label}: match.fields must be a mapping"))
                else:
                    for k in fm:
                        if k not in wf.fields and k not in RESERVED:
                            problems.append(error(path, at(*kp, "match", "fields", k), "unknown-field",
                                                  f"{label}: unknown field {k!r}"))
        sets = rule.get("set") or {}
        if not isinstance(sets, dict):
            problems.append(error(path, at(*kp, "set"), "rules-invalid", f"{label}: set must be a mapping"))
        else:
            for k, v in sets.items():
                f = wf.fields.get(k)
                if f is None:
                    problems.append(error(path, at(*kp, "set", k), "unknown-field", f"{label}: unknown field {k!r}"))
                else:
                    msg = validate_value(f, v)
                    if msg:
                        problems.append(error(path, at(*kp, "set", k), "rules-invalid", f"{label}: {k} {msg}"))
        labels = rule.get("labels")
        if labels is not None and not isinstance(labels, list):
            problems.append(error(path, at(*kp, "labels"), "rules-invalid", f"{label}: labels must be a list"))
        target = rule.get("assign_to")
        if target is not None and target not in wf.roles and target not in PSEUDO_ROLES:
            problems.append(error(path, at(*kp, "assign_to"), "unknown-role", f"{label}: unknown role {target!r}"))
        if "on" in rule or True in rule:
            problems.append(warning(path, at(*kp), "rules-invalid", f"{label}: 'on' is read by YAML as true"))
    return problems
