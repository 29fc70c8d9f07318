"""Run history commands: list, show, rename, delete."""

from __future__ import annotations

import click

from workbench.commands._common import db_option, emit_json, get_store, json_option
from workbench.engine.errors import WorkbenchError
from workbench.services import runs as svc


@click.group(invoke_without_command=True)
@click.option("--dataset", default=None, help="Only runs on this dataset.")
@click.option("--kind", default=None, help="Only runs of this kind (recommend, eval, ...).")
@click.option("--where", "text", default="", metavar="TEXT",
              help="Only runs whose name, algorithm or params match ('alpha=0.5').")  # fmt: skip
@click.option("--limit", type=click.IntRange(min=1), default=svc.DEFAULT_LIMIT, show_default=True)
@db_option
@json_option
@click.pass_context
def runs(ctx: click.Context, dataset: str | None, kind: str | None, text: str, limit: int,
         as_json: bool) -> None:  # fmt: skip
    """List stored runs (newest first); sub-commands show, rename and delete them."""
    if ctx.invoked_subcommand is not None:
        return
    rows = svc.find_runs(get_store(), svc.RunFilter(dataset, kind, text, limit))
    if as_json:
        emit_json([r.to_json() for r in rows])
        return
    if not rows:
        click.echo("no runs yet" if not (dataset or kind or text) else "no runs match")
        return
    click.echo(f"{'run':>5}  {'created':<19}  {'dataset':<14} {'kind':<9} {'algorithm':<10} "
               f"{'steps':>11}  name")  # fmt: skip
    for r in rows:
        click.echo(f"{r.run_id:>5}  {r.created_at:%Y-%m-%d %H:%M:%S}  {r.dataset:<14} "
                   f"{r.kind:<9} {r.algorithm:<10} {svc.format_steps(r.steps):>11}  "
                   f"{r.name or ''}".rstrip())  # fmt: skip


@runs.command("show")
@click.argument("run_id", type=int)
@db_option
@json_option
def show(run_id: int, as_json: bool) -> None:
    """Show one run's provenance and metrics, and the command that repeats it (--json:
    everything, in full)."""
    run = svc.show_run(get_store(), run_id)
    try:
        command: str | None = svc.cli_command(run)
    except WorkbenchError:
        command = None  # a kind that cannot be repeated from its stored settings
    if as_json:
        emit_json(run.to_json() | {"command": command})
        return
    for label, text in svc.describe_run(run):
        click.echo(f"{label:>14}  {text}".rstrip())
    if command is not None:
        click.echo(f"{'command':>14}  {command}")


@runs.command("rename")
@click.argument("run_id", type=int)
@click.argument("name")
@db_option
def rename(run_id: int, name: str) -> None:
    """Give a run a name."""
    svc.rename_run(get_store(), run_id, name)
    click.echo(f"run {run_id} renamed {name!r}")


@runs.command("delete")
@click.argument("run_id", type=int)
@db_option
def delete(run_id: int) -> None:
    """Delete a run and its results."""
    svc.delete_runs(get_store(), [run_id])
    click.echo(f"deleted run {run_id}")
