"""The export command: a run's ranked lists as csv, parquet, jsonl, TREC or a contact sheet."""

from __future__ import annotations

import click

from workbench.commands._common import db_option, emit_json, get_store, json_option
from workbench.engine.export import FORMATS, PROVENANCE_SUFFIX, export_run


@click.command()
@click.argument("run_id", type=int)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="csv", show_default=True)
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
    path = export_run(get_store(), run_id, fmt, out=out, force=force, query=query, k=k)
    files = [str(path)] + [
        str(p) for p in (path.with_suffix(".qrels"),) if p.exists() and fmt == "trec"
    ]
    sidecar = str(path.with_name(path.name + PROVENANCE_SUFFIX))
    if as_json:
        emit_json({"run_id": run_id, "format": fmt, "files": files, "provenance": sidecar})
        return
    for f in files:
        click.echo(f"wrote {f}")
    click.echo(f"provenance in {sidecar}")
