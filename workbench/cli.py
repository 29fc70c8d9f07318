"""The `workbench` command: every TUI action, headless, with --json output for scripts.

Errors a user can fix (bad input, unknown ids, a locked store) print one line on stderr and exit
with status 2; nothing prints a traceback unless WORKBENCH_DEBUG=1.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click
import duckdb

from workbench import __version__
from workbench.commands._common import db_option, get_store
from workbench.commands.data import datasets, drop, info, load
from workbench.commands.runs import runs
from workbench.engine.errors import WorkbenchError


class WorkbenchGroup(click.Group):
    """A click group that turns engine errors into one line and exit status 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except WorkbenchError as exc:
            _fail(str(exc), exc.exit_code)
        except duckdb.Error as exc:
            _fail(f"database error: {str(exc).strip().splitlines()[0]}", 2)
        except KeyboardInterrupt:
            _fail("interrupted", 130)
        except OSError as exc:
            _fail(f"{exc.filename or ''}{': ' if exc.filename else ''}{exc.strerror or exc}", 2)
        except Exception as exc:  # a bug: still one line, the traceback on request
            if os.environ.get("WORKBENCH_DEBUG"):
                raise
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


@main.command()
@db_option
def tui() -> None:
    """Open the terminal UI."""
    store = get_store()
    try:
        from workbench.tui.app import WorkbenchApp
    except ImportError:  # the TUI lands in a later issue; until then show the store summary
        ctx = click.get_current_context()
        ctx.invoke(datasets, as_json=False)
        return
    WorkbenchApp(store).run()


for command in (load, datasets, info, drop, runs):
    main.add_command(command)
