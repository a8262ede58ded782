"""Ticket commands: new, show, list, do, assign, set, tick, comment, link."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from sopflow.cli.context import check_format, echo_json, finish, pairs, project

if TYPE_CHECKING:
    from sopflow.core.ticket import Ticket
    from sopflow.project import Project

FORMAT_HELP = "Output format: table, json or csv."


def _out(text: str) -> None:
    """Print a line built from ticket data: control characters and escape sequences shown, not obeyed."""
    from sopflow.render.text import clean

    print(clean(text))


def _print_ticket(p: Project, t: Ticket, fmt: str) -> None:
    if fmt == "json":
        echo_json(t.as_json())
    else:
        print(render_show(p, t))


def render_show(p: Project, t: Ticket) -> str:
    from sopflow.core import checklist, fsm
    from sopflow.render.tickets import show

    wf = p.workflows.get(t.type)
    who = p.actor if p._actor_opt or _cheap_identity() else None
    can: list[str] = []
    if wf is not None:
        for tr in fsm.available(wf, p.config, who, t.data) if who else wf.transitions_from(t.state):
            req = []
            if tr.require.note:
                req.append("--note")
            if tr.require.fields:
                req.append("fields " + ",".join(tr.require.fields))
            hint = f"  (needs {', '.join(req)})" if req else ""
            roles = f" [by {', '.join(tr.by)}]" if tr.by and not who else ""
            can.append(f"sopflow do {t.id} {tr.trigger}   → {tr.dest}{roles}{hint}")
    children = p.children_of(t.id)
    sec = checklist.current(t.doc.body_lines(), t.state)
    extra: list[tuple[str, list[str]]] = []
    from sopflow import hooks

    for spec in hooks.SHOW_SECTIONS:
        extra.extend(hooks.resolve(spec)(p, t))
    return show(t.data, body=_body_without_checklist(t), workflow=wf, people=p.config.people, can_fire=can,
                children=children, checklist_section=sec, extra_sections=extra)


def _cheap_identity() -> bool:
    import os

    return bool(os.environ.get("SOPFLOW_USER"))


def _body_without_checklist(t: Ticket) -> str:
    from sopflow.core import checklist

    lines = t.doc.body_lines()
    secs = [s for s in checklist.sections(lines) if s.state == t.state]
    if not secs:
        return t.doc.body
    # drop the current (last) checklist section: it is shown above with its ticks
    last = secs[-1]
    start = None
    for n, raw in enumerate(lines):
        if raw.rstrip("\r\n").startswith("## Checklist:") and raw.rstrip("\r\n").split(":", 1)[1].strip() == last.state:
            start = n
    if start is None:
        return t.doc.body
    end = (last.items[-1].index + 1) if last.items else start + 1
    return "".join(lines[:start] + lines[end:])


def register(app: typer.Typer) -> None:
    @app.command("new")
    def new_cmd(
        ctx: typer.Context,
        type_: Annotated[str, typer.Argument(metavar="TYPE", help="Ticket type (a workflow name).")],
        title: Annotated[str, typer.Option("--title", "-t", help="One-line title.")],
        set_: Annotated[list[str] | None, typer.Option("--set", help="FIELD=VALUE (repeatable).")] = None,
        priority: Annotated[str | None, typer.Option("--priority", "-p", help="Priority, e.g. P2.")] = None,
        role: Annotated[list[str] | None, typer.Option("--role", help="Bind ROLE=PERSON (repeatable).")] = None,
        assignee: Annotated[str | None, typer.Option("--assignee", help="Assign to PERSON.")] = None,
        label: Annotated[list[str] | None, typer.Option("--label", help="Add a label (repeatable).")] = None,
        body: Annotated[str | None, typer.Option("--body", help="Body text (default: the type's template).")] = None,
        fmt: Annotated[str, typer.Option("--format", help="Output: id, table or json.")] = "id",
    ) -> None:
        """Create a ticket in the workflow's initial state.

        Example: sopflow new issue_track --title "【20261121】XX局点XX设备发生XX问题" --set issue_level=严重问题
        --role 维护代表=fan
        """
        check_format(fmt, ("id", "table", "json"))
        p = project(ctx)
        with p.locked():
            change = p.new(type_, title, sets=pairs(set_, "--set"), priority=priority, roles=pairs(role, "--role"),
                           assignee=assignee, labels=label or [], body=body)
            finish(p, change)
        t = change.result
        assert t is not None
        if fmt == "id":
            print(t.id)
        else:
            _print_ticket(p, t, fmt)

    @app.command("show")
    def show_cmd(
        ctx: typer.Context,
        ticket_id: Annotated[str, typer.Argument(metavar="ID")],
        fmt: Annotated[str, typer.Option("--format", help="Output: table or json.")] = "table",
    ) -> None:
        """Show one ticket: fields, roles, checklist, links, history, what you can do next.

        Example: sopflow show ISS-12 --format json
        """
        check_format(fmt, ("table", "json"))
        p = project(ctx)
        _print_ticket(p, p.load(ticket_id), fmt)

    @app.command("list")
    def list_cmd(
        ctx: typer.Context,
        type_: Annotated[list[str] | None, typer.Option("--type", help="Only this type (repeatable).")] = None,
        state: Annotated[list[str] | None, typer.Option("--state", help="Only this state (repeatable).")] = None,
        assignee: Annotated[list[str] | None, typer.Option("--assignee", help="Only assigned to PERSON.")] = None,
        role: Annotated[list[str] | None, typer.Option("--role", help="Only where ROLE=PERSON is bound.")] = None,
        label: Annotated[list[str] | None, typer.Option("--label", help="Only with this label.")] = None,
        where: Annotated[list[str] | None, typer.Option("--where", help="Only where FIELD=VALUE.")] = None,
        text: Annotated[str | None, typer.Option("--text", help="Only tickets whose title or body has WORDS.")] = None,
        open_: Annotated[bool, typer.Option("--open", help="Only open (non-final) tickets.")] = False,
        closed: Annotated[bool, typer.Option("--closed", help="Only closed (final) tickets.")] = False,
        sort: Annotated[str | None, typer.Option("--sort", help="Sort keys, comma-separated; -KEY descends.")] = None,
        fmt: Annotated[str, typer.Option("--format", help=FORMAT_HELP)] = "table",
    ) -> None:
        """Search and filter tickets (all by default).

        Example: sopflow list --type issue_track --open --where customer_type=金融 --sort -updated --format json
        """
        check_format(fmt, ("table", "json", "csv"))
        from sopflow.core.query import Criteria
        from sopflow.core.query import sort as sort_items
        from sopflow.views import select

        p = project(ctx)
        c = Criteria(types=type_ or (), states=state or (), assignees=assignee or (), roles=pairs(role, "--role"),
                     labels=label or (), where=pairs(where, "--where"), open=open_, closed=closed)
        sort_keys = [k.strip().lstrip("-") for k in (sort or "").split(",")]
        from sopflow.gcpause import paused

        # read-only: what it builds (excerpts, columns, sort keys, output) lives until printed and has no
        # cycles, so each collection would only walk it (60 ms at 100,000 tickets, mostly while loading)
        with paused():
            items = sort_items(select(p, c, text=text, keys=sort_keys), sort)
            if fmt == "json":
                from sopflow.index import write_json_list

                write_json_list(p, items)
            elif fmt == "csv":
                from sopflow.render.tickets import list_csv

                print(list_csv(items), end="")
            else:
                from sopflow.render.tickets import list_table

                print(list_table(items))

    @app.command("do")
    def do_cmd(
        ctx: typer.Context,
        ticket_id: Annotated[str, typer.Argument(metavar="ID")],
        trigger: Annotated[str, typer.Argument(metavar="TRIGGER", help="The transition to fire.")],
        note: Annotated[str | None, typer.Option("--note", "-m", help="Handoff note: background, progress, next.")]
        = None,
        set_: Annotated[list[str] | None, typer.Option("--set", help="FIELD=VALUE applied before require:.")] = None,
        role: Annotated[list[str] | None, typer.Option("--role", help="Bind ROLE=PERSON (repeatable).")] = None,
        wiki_new: Annotated[str | None, typer.Option("--wiki-new", help="Create and link a wiki page at PATH.",
                                                     metavar="PATH")] = None,
        fmt: Annotated[str, typer.Option("--format", help="Output: text or json.")] = "text",
    ) -> None:
        """Fire a transition; refused (exit 1, nothing written) when a rule says no.

        Example: sopflow do ISS-3 提交审核 --set issue_level=一般问题 --role 维护代表=fan --note "背景… 进展… 下一步…"
        """
        check_format(fmt, ("text", "json"))
        p = project(ctx)
        with p.locked():
            if wiki_new:
                from sopflow.knowledge import do_with_new_page

                change = do_with_new_page(p, ticket_id, trigger, wiki_new, note=note, sets=pairs(set_, "--set"),
                                          roles=pairs(role, "--role"))
            else:
                change = p.do(ticket_id, trigger, note=note, sets=pairs(set_, "--set"), roles=pairs(role, "--role"))
            finish(p, change)
        t = change.result
        assert t is not None
        if fmt == "json":
            echo_json(t.as_json())
        else:
            _out(f"{t.id}: {t.history[-1].get('from')} → {t.state}"
                 + (f" (assignee {t.data.get('assignee')})" if t.data.get("assignee") else ""))

    @app.command("assign")
    def assign_cmd(
        ctx: typer.Context,
        ticket_id: Annotated[str, typer.Argument(metavar="ID")],
        person: Annotated[str, typer.Argument(metavar="PERSON")],
        role: Annotated[str | None, typer.Option("--role", help="Bind this role instead of the assignee.")] = None,
    ) -> None:
        """Set the assignee, or bind a role to a person.

        Example: sopflow assign ISS-3 fan --role 维护代表
        """
        p = project(ctx)
        with p.locked():
            change = p.assign(ticket_id, person, role)
            finish(p, change)
        _out(change.subject)

    @app.command("set")
    def set_cmd(
        ctx: typer.Context,
        ticket_id: Annotated[str, typer.Argument(metavar="ID")],
        assignments: Annotated[list[str], typer.Argument(metavar="FIELD=VALUE...")],
    ) -> None:
        """Change fields (validated; read-only fields and reserved keys refused).

        Example: sopflow set ISS-3 customer_type=电网 labels=硬件,线缆
        """
        p = project(ctx)
        with p.locked():
            change = p.set_fields(ticket_id, pairs(assignments, "set"))
            finish(p, change)
        _out(change.subject)

    @app.command("tick")
    def tick_cmd(
        ctx: typer.Context,
        ticket_id: Annotated[str, typer.Argument(metavar="ID")],
        items: Annotated[list[str], typer.Argument(metavar="ITEM...", help="Item numbers (1-based) or exact texts.")],
    ) -> None:
        """Tick items of the current checklist.

        Example: sopflow tick ISS-3 1 2 "判断是否为典型问题"
        """
        p = project(ctx)
        with p.locked():
            change = p.tick(ticket_id, items)
            finish(p, change)
        _out(change.subject)

    @app.command("comment")
    def comment_cmd(
        ctx: typer.Context,
        ticket_id: Annotated[str, typer.Argument(metavar="ID")],
        text: Annotated[str, typer.Argument(metavar="TEXT")],
    ) -> None:
        """Append a comment to the ticket's history.

        Example: sopflow comment ISS-3 "已联系客户，等待日志"
        """
        p = project(ctx)
        with p.locked():
            change = p.comment(ticket_id, text)
            finish(p, change)
        _out(change.subject)

    @app.command("link")
    def link_cmd(
        ctx: typer.Context,
        ticket_id: Annotated[str, typer.Argument(metavar="ID")],
        parent: Annotated[str | None, typer.Option("--parent", help="Make ID a child of this ticket.")] = None,
        relates: Annotated[list[str] | None, typer.Option("--relates", help="Relate to this ticket (both ways).")]
        = None,
        wiki: Annotated[list[str] | None, typer.Option("--wiki", help="Link a wiki page (both ways).")] = None,
    ) -> None:
        """Link a ticket to a parent, related tickets or wiki pages.

        Example: sopflow link FB-4 --parent LAUNCH-1 ; sopflow link ISS-3 --wiki wiki/faq/cable.md
        """
        p = project(ctx)
        with p.locked():
            change = p.link(ticket_id, parent_id=parent, relates_to=relates or [], wiki=wiki or [])
            finish(p, change)
        _out(change.subject)
