"""``sopflow.yaml``: project, time zone, people and their roles, paths."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sopflow.core.problems import Problem, error, warning

DEFAULT_PATHS = {
    "tickets": "tickets",
    "sops": "sops",
    "wiki": "wiki",
    "workflows": "workflows",
    "templates": "templates",
}
CONFIG_FILE = "sopflow.yaml"


@dataclass(frozen=True)
class Person:
    key: str
    name: str | None = None
    email: str | None = None
    roles: tuple[str, ...] = ()

    @property
    def display(self) -> str:
        return self.name or self.key


@dataclass(frozen=True)
class Config:
    project: str = ""
    timezone: str | None = None
    commit: bool = True
    people: dict[str, Person] = field(default_factory=dict)
    paths: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_PATHS))
    raw: dict[str, Any] = field(default_factory=dict)

    def holders(self, role: str) -> list[str]:
        """People keys whose entry lists ``role``, in ``people`` order."""
        return [k for k, p in self.people.items() if role in p.roles]

    def person_by_email(self, email: str) -> str | None:
        low = email.strip().lower()
        for k, p in self.people.items():
            if p.email and p.email.strip().lower() == low:
                return k
        return None


def parse_config(data: Any, path: str = CONFIG_FILE, lines: Mapping[tuple[Any, ...], int] | None = None
                 ) -> tuple[Config, list[Problem]]:
    """Build a Config from the loaded YAML, collecting problems instead of failing on the first. ``lines``
    (key path → line, for problems) is read only when there is a problem to place."""
    lines = {} if lines is None else lines
    problems: list[Problem] = []

    def err(keypath: tuple[Any, ...], code: str, msg: str) -> None:
        problems.append(error(path, lines.get(keypath, 1), code, msg))

    if data is None:
        data = {}
    if not isinstance(data, dict):
        return Config(), [error(path, 1, "config-invalid", "sopflow.yaml must be a mapping")]
    known = {"project", "timezone", "commit", "people", "paths"}
    for key in data:
        if key not in known:
            problems.append(warning(path, lines.get((key,), 1), "unknown-key", f"unknown key {key!r} in sopflow.yaml"))
    project = data.get("project", "")
    if project is not None and not isinstance(project, (str, int)):
        err(("project",), "config-invalid", "project must be text")
        project = ""
    tz = data.get("timezone")
    if tz is not None and not isinstance(tz, str):
        err(("timezone",), "config-invalid", "timezone must be a name such as Asia/Shanghai or an offset +08:00")
        tz = None
    commit = data.get("commit", True)
    if not isinstance(commit, bool):
        err(("commit",), "config-invalid", "commit must be true or false")
        commit = True
    people: dict[str, Person] = {}
    raw_people = data.get("people") or {}
    if not isinstance(raw_people, dict):
        err(("people",), "config-invalid", "people must be a mapping of person keys to {name, email, roles}")
        raw_people = {}
    for key, entry in raw_people.items():
        kp = ("people", key)
        if not isinstance(key, str) or not key.strip() or any(c in key for c in "/\\\n\r\t"):
            err(kp, "config-invalid", f"invalid person key {key!r}")
            continue
        if entry is None:
            entry = {}
        if not isinstance(entry, dict):
            err(kp, "config-invalid", f"person {key}: expected a mapping with name, email, roles")
            continue
        roles = entry.get("roles") or []
        if isinstance(roles, str):
            roles = [roles]
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            err((*kp, "roles"), "config-invalid", f"person {key}: roles must be a list of role names")
            roles = []
        name, email = entry.get("name"), entry.get("email")
        for label, value in (("name", name), ("email", email)):
            if value is not None and not isinstance(value, str):
                err((*kp, label), "config-invalid", f"person {key}: {label} must be text")
        people[key] = Person(
            key=key,
            name=name if isinstance(name, str) else None,
            email=email if isinstance(email, str) else None,
            roles=tuple(roles),
        )
    paths = dict(DEFAULT_PATHS)
    raw_paths = data.get("paths") or {}
    if not isinstance(raw_paths, dict):
        err(("paths",), "config-invalid", "paths must be a mapping")
        raw_paths = {}
    for key, value in raw_paths.items():
        if key not in DEFAULT_PATHS:
            err(("paths", key), "config-invalid", f"unknown path key {key!r} (known: {', '.join(DEFAULT_PATHS)})")
        elif not isinstance(value, str) or not value.strip():
            err(("paths", key), "config-invalid", f"paths.{key} must be a folder name")
        elif not _is_inside(value):
            err(("paths", key), "path-outside", f"paths.{key} {value!r} is outside the repository")
        else:
            paths[key] = value.strip().strip("/")
    cfg = Config(project=str(project or ""), timezone=tz, commit=commit, people=people, paths=paths, raw=data)
    return cfg, problems


def _is_inside(rel: str) -> bool:
    from pathlib import PurePosixPath

    p = PurePosixPath(rel.replace("\\", "/"))
    return not p.is_absolute() and ".." not in p.parts and not rel.startswith("~")
