"""The export command: a run's ranked lists as csv, parquet, jsonl, TREC or a contact sheet."""

from __future__ import annotations

import click

from workbench.commands._common import (
    Progress,
    db_option,
    emit_json,
    get_store,
    json_option,
    show_progress,
)
from workbench.services import export as svc


@click.command()
@click.argument("run_id", type=int)
@click.option("--format", "fmt", type=click.Choice(svc.FORMATS), default=svc.ExportRequest.format,
              show_default=True)  # fmt: skip
@click.option(
    "--out",
    type=click.Path(),
    default=None,
    help="File or directory (default exports/run-<id>-<algorithm>.<ext>).",
)
@click.option("--force", is_flag=True, help="Overwrite existing files.")
@click.option("--query", default=None, help="Only this query (sheet: the query to draw).")
@click.option(
    "--k",
    "k",
    type=click.IntRange(min=1),
    default=None,
    help="Only each query's top k (sheet: default 20).",
)
@db_option
@json_option
def export(
    run_id: int,
    fmt: str,
    out: str | None,
    force: bool,
    query: str | None,
    k: int | None,
    as_json: bool,
) -> None:
    """Write RUN's ranked pins (query, rank, pin, score, title, attributes) with a provenance
    sidecar; TREC exports of evaluation runs also write qrels."""
    bar = Progress(f"export run {run_id}", enabled=show_progress(as_json))
    request = svc.ExportRequest(run_id, fmt, out, force, query, k)
    result = svc.export(get_store(), request, bar.reporter)
    bar.close()
    if as_json:
        emit_json(result.to_json())
        return
    for f in result.files:
        click.echo(f"wrote {f}")
    click.echo(f"provenance in {result.provenance}")
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
