"""The `workbench` command: every TUI action, headless, with --json output for scripts.

Sub-commands live in :mod:`workbench.commands` and are imported only when invoked, so
`workbench load` does not pay for numba, scipy or matplotlib. Errors a user can fix (bad input,
unknown ids, a locked store) print one line on stderr and exit with status 2; nothing prints a
traceback unless WORKBENCH_DEBUG=1.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click

from workbench import __version__
from workbench.commands._common import db_option, get_store
from workbench.engine.errors import WorkbenchError

# name -> "module:attribute" of the click command, in the order `workbench --help` lists them
COMMANDS = {
    "tui": "workbench.cli:tui",
    "load": "workbench.commands.data:load",
    "datasets": "workbench.commands.data:datasets",
    "info": "workbench.commands.data:info",
    "drop": "workbench.commands.data:drop",
    "recommend": "workbench.commands.recommend:recommend",
    "batch": "workbench.commands.batch:batch",
    "eval": "workbench.commands.evaluate:eval_command",
    "sweep": "workbench.commands.evaluate:sweep",
    "compare": "workbench.commands.compare:compare",
    "visual": "workbench.commands.visual:visual",
    "runs": "workbench.commands.runs:runs",
    "export": "workbench.commands.export:export",
}


class WorkbenchGroup(click.Group):
    """Loads sub-commands on demand and turns engine errors into one line and exit status 2."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, _, attr = target.partition(":")
        command: click.Command = getattr(importlib.import_module(module), attr)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except WorkbenchError as exc:
            _fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            _fail("interrupted", 130)
        except OSError as exc:
            _fail(f"{exc.filename or ''}{': ' if exc.filename else ''}{exc.strerror or exc}", 2)
        except Exception as exc:
            import duckdb

            if isinstance(exc, duckdb.Error):
                _fail(f"database error: {str(exc).strip().splitlines()[0]}", 2)
            if os.environ.get("WORKBENCH_DEBUG"):
                raise
            # a bug: still one line, the traceback on request
            _fail(f"internal error: {type(exc).__name__}: {exc} (WORKBENCH_DEBUG=1 for details)", 1)


def _fail(message: str, code: int) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


@click.group(cls=WorkbenchGroup, invoke_without_command=True)
@click.version_option(__version__, prog_name="workbench")
@db_option
@click.pass_context
def main(ctx: click.Context) -> None:
    """Pinboard workbench: Pixie random walks, baselines and visual search over board/pin graphs.

    With no sub-command, opens the terminal UI on the store (the sample dataset on first start).
    """
    if ctx.invoked_subcommand is None:
        ctx.invoke(tui)


@click.command()
@db_option
def tui() -> None:
    """Open the terminal UI."""
    from workbench.tui.app import WorkbenchApp

    WorkbenchApp(get_store()).run()
