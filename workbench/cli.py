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
from workbench.engine.errors import WorkbenchError, user_message

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
    "explain": "workbench.commands.explain:explain",
    "study": "workbench.commands.study:study",
    "generate": "workbench.commands.generate:generate",
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
        try:
            imported = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:  # a real missing dependency: report it
                raise
            return None  # a command being built in this checkout; not offered yet
        command: click.Command = getattr(imported, attr)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            # one line, like every other error: what was wrong, and where to read more
            where = exc.ctx.command_path if exc.ctx is not None else "workbench"
            _fail(f"{exc.format_message()} (see '{where} --help')", 2)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except BrokenPipeError:
            _quiet_broken_pipe()
        except Exception as exc:
            if not isinstance(exc, WorkbenchError | OSError) and os.environ.get("WORKBENCH_DEBUG"):
                raise
            _fail(*user_message(exc, CLI_HINTS))
        except KeyboardInterrupt as exc:
            _fail(*user_message(exc, CLI_HINTS))


CLI_HINTS = {
    "overwrite": "pass --force to overwrite it",
    "replace": "pass --replace to reload it",
    "grid": "give at least one --grid KEY=V1,V2,...",
    "top": "lower --top",
    "index": "run 'workbench visual index' first",
    "confirm": "pass --yes to confirm",
}
"""How the CLI words the hint of an engine or service error (see ``errors.HINT_KEYS``)."""


def _quiet_broken_pipe() -> None:
    """``workbench ... | head``: the reader went away; exit quietly, as Unix tools do."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    sys.exit(0)


def _set_memory_limit(value: str | None) -> None:
    if value is not None:
        from workbench.engine.store import parse_size

        try:
            parse_size(value)
        except WorkbenchError as exc:
            _fail(str(exc), 2)
        os.environ["WORKBENCH_MEMORY_LIMIT"] = value


def _fail(message: str, code: int) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


@click.group(cls=WorkbenchGroup, invoke_without_command=True)
@click.version_option(__version__, prog_name="workbench")
@db_option
@click.option("--memory-limit", metavar="SIZE", default=None, expose_value=False,
              callback=lambda _c, _p, v: _set_memory_limit(v), is_eager=True,
              help="Memory the store may use before spilling to disk, e.g. 6GB "
                   "(default $WORKBENCH_MEMORY_LIMIT, else 40% of RAM).")  # fmt: skip
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
    """Open the terminal UI (a --db file that does not exist is created, empty, to load into)."""
    from workbench.tui.app import WorkbenchApp

    WorkbenchApp(get_store(create=True)).run()
