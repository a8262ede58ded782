"""Merge-safety commands: the git merge driver for tickets and its installer."""

from __future__ import annotations

from typing import Annotated

import typer

from sopflow.cli.context import project, say


def register(app: typer.Typer) -> None:
    @app.command("install-merge-driver")
    def install_cmd(ctx: typer.Context) -> None:
        """Configure this clone so concurrent edits of a ticket merge without conflicts.

        Adds '<tickets>/*.md merge=sopflow' to .gitattributes (commit it) and sets merge.sopflow.driver
        in the repository's git config (needed once in every clone; sopflow init does it for you).

        Example: sopflow install-merge-driver && git add .gitattributes && git commit -m "sopflow merge driver"
        """
        from sopflow.merge import install_merge_driver

        p = project(ctx)
        written, messages = install_merge_driver(p.root, p.config.paths["tickets"])
        for m in messages:
            say(m)
        if written:
            say("commit .gitattributes so every clone uses the driver")

    @app.command("merge-driver", hidden=True)
    def driver_cmd(
        base: Annotated[str, typer.Argument(metavar="BASE", help="%O: the common ancestor's version.")],
        ours: Annotated[str, typer.Argument(metavar="OURS", help="%A: our version; the result is written here.")],
        theirs: Annotated[str, typer.Argument(metavar="THEIRS", help="%B: their version.")],
        path: Annotated[list[str] | None, typer.Argument(metavar="[PATH]",
                                                         help="%P: the file's path (for messages).")] = None,
    ) -> None:
        """Merge three versions of a ticket file (git runs this; see install-merge-driver).

        Example: git config merge.sopflow.driver "sopflow merge-driver %O %A %B %P"
        """
        from sopflow.merge import run_driver

        label = " ".join(path or []) or ours  # git versions that do not quote %P split a path with spaces
        code = run_driver(base, ours, theirs, label)
        if code:
            say(f"{label}: conflict left for you to resolve (both sides changed the same value)")
        raise typer.Exit(code)
