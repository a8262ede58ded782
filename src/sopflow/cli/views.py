"""Everyday views: board, inbox, log."""

from __future__ import annotations

from typing import Annotated

import typer

from sopflow.cli.context import check_format, echo_json, project

VIEW_FORMATS = ("table", "json", "csv")


def register(app: typer.Typer) -> None:
    @app.command("board")
    def board_cmd(
        ctx: typer.Context,
        type_: Annotated[list[str] | None, typer.Option("--type", help="Only this type (repeatable).", metavar="TYPE")] = None,
        assignee: Annotated[list[str] | None, typer.Option("--assignee", help="Only assigned to PERSON "
                                                           "(repeatable; 'none' for unassigned).", metavar="PERSON")] = None,
        mine: Annotated[bool, typer.Option("--mine", help="Only tickets assigned to me.")] = False,
        all_: Annotated[bool, typer.Option("--all", help="Show every ticket of final states (default: "
                                           "the 5 most recent of each; json and csv always list all).")] = False,
        fmt: Annotated[str, typer.Option("--format", help="Output: table, json or csv.", metavar="FORMAT")] = "table",
    ) -> None:
        """A column per state in workflow order; cards show ID, priority, age in state, assignee, title.

        Example: sopflow board --type issue_track --mine
        """
        check_format(fmt, VIEW_FORMATS)
        from sopflow.views import board

        p = project(ctx)
        from sopflow.render.board import FINAL_RECENT

        cut = FINAL_RECENT if fmt == "table" and not all_ else None  # the table shows the 5 most recent
        data = board(p, types=type_ or (), assignees=assignee or (), mine=mine, whole=fmt == "json",
                     final_limit=cut)
        if fmt == "json":
            echo_json(data)
        elif fmt == "csv":
            from sopflow.render.board import board_csv

            print(board_csv(data), end="")
        else:
            from sopflow.render.board import board_text

            print(board_text(data, show_all=all_))

    @app.command("inbox")
    def inbox_cmd(
        ctx: typer.Context,
        fmt: Annotated[str, typer.Option("--format", help="Output: table, json or csv.", metavar="FORMAT")] = "table",
    ) -> None:
        """Your queue of open tickets: assigned to you, waiting on a role you hold, handled by you.

        Example: sopflow --as fan inbox
        """
        check_format(fmt, VIEW_FORMATS)
        from sopflow.views import inbox

        p = project(ctx)
        data = inbox(p, whole=fmt == "json")
        if fmt == "json":
            echo_json(data)
        elif fmt == "csv":
            from sopflow.render.board import inbox_csv

            print(inbox_csv(data), end="")
        else:
            from sopflow.render.board import inbox_text

            print(inbox_text(data, people=p.config.people))

    @app.command("log")
    def log_cmd(
        ctx: typer.Context,
        ticket_id: Annotated[str, typer.Argument(metavar="ID")],
        fmt: Annotated[str, typer.Option("--format", help="Output: text or json.", metavar="FORMAT")] = "text",
    ) -> None:
        """A ticket's history with the commit that made each step; hand edits of the state are flagged.

        Example: sopflow log ISS-12
        """
        check_format(fmt, ("text", "json"))
        from sopflow.history_log import ticket_log

        p = project(ctx)
        data = ticket_log(p, ticket_id)
        if fmt == "json":
            echo_json(data)
        else:
            from sopflow.render.log import log_text

            print(log_text(data))
