"""``sopflow site build`` and ``sopflow site serve``: the read-only static web view."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from sopflow.cli.context import project, say

if TYPE_CHECKING:
    from sopflow.project import Project
    from sopflow.site import BuildResult

OUT_HELP = "Folder to write the site to (default: _site in the repository root)."
LANG_HELP = "Language of the site's own text: zh or en."
URL_HELP = "Link each commit to this URL; {sha} is replaced, e.g. https://github.com/OWNER/REPO/commit/{sha}."


def _build(p: Project, out: str | None, lang: str, commit_url: str | None) -> BuildResult:
    from sopflow.site import build_site

    target = Path(out).expanduser() if out else p.root / "_site"
    if not target.is_absolute():
        target = Path.cwd() / target
    result = build_site(p, target, lang=lang, commit_url=commit_url)
    if result.unreadable:
        say(f"site: {len(result.unreadable)} files could not be read and were left out "
            f"(first: {result.unreadable[0]}); run 'sopflow check'")
    if result.shallow:
        say("site: this is a shallow clone, so steps older than it show no commit "
            "(fetch the whole history: git fetch --unshallow, or fetch-depth: 0 in CI)")
    say(result.summary())
    return result


def register(app: typer.Typer) -> None:
    site_app = typer.Typer(help="A read-only static web site of the board, tickets, wiki and workflows.",
                           no_args_is_help=True, rich_markup_mode=None)
    app.add_typer(site_app, name="site")

    @site_app.command("build")
    def build_cmd(
        ctx: typer.Context,
        out: Annotated[str | None, typer.Option("--out", "-o", help=OUT_HELP, metavar="DIR")] = None,
        lang: Annotated[str, typer.Option("--lang", help=LANG_HELP)] = "zh",
        commit_url: Annotated[str | None, typer.Option("--commit-url", help=URL_HELP, metavar="URL")] = None,
    ) -> None:
        """Build the static site (rewrites only pages whose inputs changed since the last build).

        Example: sopflow site build --out public --lang en
        """
        _build(project(ctx), out, lang, commit_url)

    @site_app.command("serve")
    def serve_cmd(
        ctx: typer.Context,
        port: Annotated[int, typer.Option("--port", "-p", help="Port on 127.0.0.1 (0 picks a free one).")] = 8000,
        out: Annotated[str | None, typer.Option("--out", "-o", help=OUT_HELP, metavar="DIR")] = None,
        lang: Annotated[str, typer.Option("--lang", help=LANG_HELP)] = "zh",
        commit_url: Annotated[str | None, typer.Option("--commit-url", help=URL_HELP, metavar="URL")] = None,
    ) -> None:
        """Build the site, then serve it on 127.0.0.1 for a local look (Ctrl-C stops).

        Example: sopflow site serve --port 8000
        """
        import functools
        import http.server

        from sopflow.errors import SopflowError

        if not 0 <= port <= 65535:
            from sopflow.errors import UsageError

            raise UsageError(f"--port must be between 0 and 65535 (got {port})")
        result = _build(project(ctx), out, lang, commit_url)

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # quiet: one line per error only
                if args and str(args[1] if len(args) > 1 else "").startswith(("4", "5")):
                    super().log_message(format, *args)

        handler = functools.partial(Handler, directory=str(result.out))
        try:
            server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
        except OSError as exc:
            raise SopflowError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}") from None
        say(f"serving {result.out} at http://127.0.0.1:{server.server_address[1]}/ (Ctrl-C stops)")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            say("stopped")
        finally:
            server.server_close()
