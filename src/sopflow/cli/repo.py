"""Repository commands: init, demo, check, workflow."""

from __future__ import annotations

from typing import Annotated

import typer

from sopflow.cli.context import check_format, echo_json, options, project, say


def register(app: typer.Typer) -> None:
    @app.command("init")
    def init_cmd(
        ctx: typer.Context,
        example: Annotated[str | None, typer.Option("--example", "-e",
                                                    help="issue-track, feature, launch or support.")] = None,
    ) -> None:
        """Make the current git repository a sopflow repository (runs git init if needed).

        Example: sopflow init --example issue-track
        """
        from pathlib import Path

        from sopflow.setup_repo import init

        opts = options(ctx)
        root = Path(opts.directory or ".").resolve()
        if not root.is_dir():
            from sopflow.errors import SopflowError

            raise SopflowError(f"{root}: no such directory")
        for m in init(root, example, commit=not opts.no_commit):
            say(m)

    @app.command("demo")
    def demo_cmd(
        path: Annotated[str | None, typer.Argument(metavar="[PATH]", help="An absent or empty folder.")] = None,
    ) -> None:
        """Build a demo repository from every shipped example, with tickets moved through their workflows.

        Example: sopflow demo /tmp/sopflow-demo && cd /tmp/sopflow-demo && sopflow board
        """
        from sopflow.demo import run_demo

        run_demo(path)

    @app.command("check")
    def check_cmd(
        ctx: typer.Context,
        base: Annotated[str | None, typer.Option("--base", help="Also check every ticket changed since REV.",
                                                 metavar="REV")] = None,
        fmt: Annotated[str, typer.Option("--format", help="Output: text, json or github.")] = "text",
        verify_authors: Annotated[bool, typer.Option("--verify-authors",
                                                     help="With --base: each new entry's by must be its commit's "
                                                     "author.")] = False,
    ) -> None:
        """Validate config, workflows, tickets, SOPs and wiki pages; exit 1 on any error.

        Example: sopflow check --base origin/main --format github
        """
        check_format(fmt, ("text", "json", "github"))
        from sopflow.checker import check
        from sopflow.render.problems import render

        p = project(ctx)
        problems = check(p)
        if base:
            from sopflow.gate import check_base

            problems += check_base(p, base, verify_authors=verify_authors)
        elif verify_authors:
            from sopflow.errors import UsageError

            raise UsageError("--verify-authors needs --base REV")
        text, ok = render(problems, fmt)
        if text:
            print(text)
        if not ok:
            raise typer.Exit(1)

    wf_app = typer.Typer(help="Inspect workflows.", no_args_is_help=True, rich_markup_mode=None)
    app.add_typer(wf_app, name="workflow")

    @wf_app.command("list")
    def wf_list(ctx: typer.Context,
                fmt: Annotated[str, typer.Option("--format", help="Output: table or json.")] = "table") -> None:
        """List the workflows (ticket types).

        Example: sopflow workflow list
        """
        check_format(fmt, ("table", "json"))
        from sopflow.render.text import table

        p = project(ctx)
        rows = []
        out = []
        for wf in p.workflows.values():
            rows.append([wf.type, wf.title, wf.prefix, str(len(wf.states)), str(len(wf.transitions)),
                         ", ".join(wf.roles)])
            out.append({"type": wf.type, "title": wf.title, "prefix": wf.prefix, "states": list(wf.states),
                        "initial": wf.initial, "final": sorted(wf.finals), "roles": list(wf.roles)})
        if fmt == "json":
            echo_json(out)
        else:
            print(table(["TYPE", "TITLE", "PREFIX", "STATES", "TRANSITIONS", "ROLES"], rows))

    @wf_app.command("show")
    def wf_show(ctx: typer.Context, wtype: Annotated[str, typer.Argument(metavar="TYPE")],
                fmt: Annotated[str, typer.Option("--format", help="Output: table or json.")] = "table") -> None:
        """Show a workflow: fields, states, transitions with who may fire them and what they require.

        Example: sopflow workflow show issue_track
        """
        check_format(fmt, ("table", "json"))
        from sopflow.render.workflow import show_json, show_text

        p = project(ctx)
        wf = p.workflow(wtype)
        if fmt == "json":
            echo_json(show_json(wf))
        else:
            print(show_text(wf))

    @wf_app.command("graph")
    def wf_graph(ctx: typer.Context, wtype: Annotated[str, typer.Argument(metavar="TYPE")],
                 fmt: Annotated[str, typer.Option("--format", help="mermaid or dot.")] = "mermaid") -> None:
        """Render a workflow as a flowchart (Mermaid renders in GitHub/GitLab pull requests).

        Example: sopflow workflow graph issue_track --format dot | dot -Tsvg > issue_track.svg
        """
        check_format(fmt, ("mermaid", "dot"))
        from sopflow.render.workflow import dot, mermaid

        p = project(ctx)
        wf = p.workflow(wtype)
        print(mermaid(wf) if fmt == "mermaid" else dot(wf))
