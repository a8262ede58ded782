"""Knowledge commands: ``wiki new/list/show/search/review`` and ``sop list/show/review``."""

from __future__ import annotations

from typing import Annotated

import typer

from sopflow.cli.context import check_format, echo_json, finish, project


def register(app: typer.Typer) -> None:
    wiki_app = typer.Typer(help="Knowledge pages (wiki/**/*.md): create, find, review.", no_args_is_help=True,
                           rich_markup_mode=None)
    app.add_typer(wiki_app, name="wiki")
    sop_app = typer.Typer(help="SOP checklists (sops/*.md): owners and review dates.", no_args_is_help=True,
                          rich_markup_mode=None)
    app.add_typer(sop_app, name="sop")

    @wiki_app.command("new")
    def wiki_new(
        ctx: typer.Context,
        path: Annotated[str, typer.Argument(metavar="PATH", help="Under the wiki folder; .md is added if missing.")],
        title: Annotated[str, typer.Option("--title", "-t", help="One-line title.")],
        tag: Annotated[list[str] | None, typer.Option("--tag", help="A tag (repeatable, or comma-separated).")]
        = None,
        ticket: Annotated[list[str] | None, typer.Option("--ticket", help="Link this ticket both ways (repeatable).",
                                                         metavar="ID")] = None,
        review_every: Annotated[str, typer.Option("--review-every", help="Review interval, e.g. 90d or 26w.")]
        = "90d",
        owner: Annotated[str | None, typer.Option("--owner", help="Owner (default: you).", metavar="PERSON")]
        = None,
    ) -> None:
        """Create a wiki page from templates/wiki-page.md (symptom, diagnosis, fix, prevention).

        Example: sopflow wiki new wiki/faq/cable.md --title 线缆类问题排查 --tag 硬件 --tag 线缆 --ticket ISS-12
        """
        from sopflow.knowledge import new_page

        p = project(ctx)
        with p.locked():
            change = new_page(p, path, title, tags=tag or [], tickets=ticket or [], review_every=review_every,
                              owner=owner)
            finish(p, change)
        print(p.relpath(next(iter(change.writes))))  # the page is the first file written

    @wiki_app.command("list")
    def wiki_list(
        ctx: typer.Context,
        tag: Annotated[list[str] | None, typer.Option("--tag", help="Only pages with this tag (repeatable).")]
        = None,
        stale: Annotated[bool, typer.Option("--stale", help="Only pages due for review (the review queue, "
                                            "by owner).")] = False,
        owner: Annotated[str | None, typer.Option("--owner", help="Only pages owned by PERSON.",
                                                  metavar="PERSON")] = None,
        fmt: Annotated[str, typer.Option("--format", help="Output: table, json or csv.")] = "table",
    ) -> None:
        """List wiki pages with their owner and review status.

        Example: sopflow wiki list --stale --owner fan
        """
        check_format(fmt, ("table", "json", "csv"))
        from sopflow.knowledge import list_pages
        from sopflow.render import knowledge as r

        p = project(ctx)
        views = list_pages(p, tags=tag or [], stale=stale, owner=owner)
        if fmt == "json":
            echo_json([v.as_json() for v in views])
        elif fmt == "csv":
            print(r.page_csv(views), end="")
        else:
            print(r.page_table(views, empty="(no pages due for review)" if stale else "(no pages)"))

    @wiki_app.command("show")
    def wiki_show(
        ctx: typer.Context,
        path: Annotated[str, typer.Argument(metavar="PATH", help="wiki/faq/x.md, or faq/x relative to wiki/.")],
        fmt: Annotated[str, typer.Option("--format", help="Output: table or json.")] = "table",
    ) -> None:
        """Show a wiki page: owner, review status, linked tickets, body.

        Example: sopflow wiki show wiki/faq/cable.md
        """
        check_format(fmt, ("table", "json"))
        from sopflow.knowledge import show_page
        from sopflow.render import knowledge as r

        p = project(ctx)
        view, doc, text = show_page(p, path)
        body = doc.body if doc is not None else text
        if fmt == "json":
            out = dict(doc.data) if doc is not None else {}
            out.update({"path": view.meta.path, "body": body})
            out["review"] = {"due": view.review.due.isoformat() if view.review.due else None,
                             "status": view.review.status}
            echo_json(out)
            return
        states = {str(d.get("id")): str(d.get("state", "")) for d in p.excerpts()}
        tickets = [(tid, states.get(tid, "(no such ticket)")) for tid in view.meta.tickets]
        print(r.show_page(view, body, people=p.config.people, tickets=tickets))

    @wiki_app.command("search")
    def wiki_search(
        ctx: typer.Context,
        words: Annotated[list[str], typer.Argument(metavar="WORDS...", help="Chinese or other words; no spaces "
                                                   "needed between Chinese words.")],
        limit: Annotated[int, typer.Option("--limit", "-n", help="At most this many pages.")] = 20,
        fmt: Annotated[str, typer.Option("--format", help="Output: table or json.")] = "table",
    ) -> None:
        """Search wiki pages (titles, tags, text), best first, with the best matching line.

        Example: sopflow wiki search 数据库连接超时 --format json
        """
        check_format(fmt, ("table", "json"))
        from sopflow.knowledge import search
        from sopflow.render import knowledge as r

        p = project(ctx)
        hits = search(p, " ".join(words), limit=limit)
        if fmt == "json":
            echo_json(r.search_json(hits))
        else:
            print(r.search_text(hits))

    @wiki_app.command("review")
    def wiki_review(
        ctx: typer.Context,
        path: Annotated[str, typer.Argument(metavar="PATH")],
        every: Annotated[str | None, typer.Option("--every", help="Also set review_every, e.g. 180d.")] = None,
    ) -> None:
        """Record that you reviewed a page today (reviewed, reviewed_by), in one commit.

        Example: sopflow wiki review wiki/faq/cable.md --every 180d
        """
        from sopflow.knowledge import review

        p = project(ctx)
        with p.locked():
            change = review(p, path, kind="wiki", every=every)
            finish(p, change)
        print(change.subject)

    @sop_app.command("list")
    def sop_list(
        ctx: typer.Context,
        stale: Annotated[bool, typer.Option("--stale", help="Only SOPs due for review.")] = False,
        owner: Annotated[str | None, typer.Option("--owner", help="Only SOPs owned by PERSON.",
                                                  metavar="PERSON")] = None,
        fmt: Annotated[str, typer.Option("--format", help="Output: table or json.")] = "table",
    ) -> None:
        """List SOP checklists: what they apply to, owner, review status.

        Example: sopflow sop list --stale
        """
        check_format(fmt, ("table", "json"))
        from sopflow.knowledge import sops
        from sopflow.render import knowledge as r

        p = project(ctx)
        views = sops(p, stale=stale, owner=owner)
        if fmt == "json":
            echo_json([s.as_json() for s in views])
        else:
            print(r.sop_table(views))

    @sop_app.command("show")
    def sop_show(
        ctx: typer.Context,
        name: Annotated[str, typer.Argument(metavar="NAME", help="issue-handling, or sops/issue-handling.md.")],
        fmt: Annotated[str, typer.Option("--format", help="Output: table or json.")] = "table",
    ) -> None:
        """Show an SOP: owner, review status, the states that use it, its checklist items.

        Example: sopflow sop show issue-handling
        """
        check_format(fmt, ("table", "json"))
        from sopflow.knowledge import sop
        from sopflow.render import knowledge as r

        p = project(ctx)
        view, items = sop(p, name)
        if fmt == "json":
            echo_json({**view.as_json(), "items": items})
        else:
            print(r.show_sop(view, items, people=p.config.people))

    @sop_app.command("review")
    def sop_review(
        ctx: typer.Context,
        name: Annotated[str, typer.Argument(metavar="NAME")],
        every: Annotated[str | None, typer.Option("--every", help="Also set review_every, e.g. 180d.")] = None,
    ) -> None:
        """Record that you reviewed an SOP today (reviewed, reviewed_by), in one commit.

        Example: sopflow sop review issue-handling
        """
        from sopflow.knowledge import review

        p = project(ctx)
        with p.locked():
            change = review(p, name, kind="sops", every=every)
            finish(p, change)
        print(change.subject)
