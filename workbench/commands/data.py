"""Dataset commands: load, datasets, info, drop."""

from __future__ import annotations

from dataclasses import asdict

import click

from workbench.commands._common import (
    Progress,
    db_option,
    emit_json,
    get_store,
    json_option,
    show_progress,
)
from workbench.services import datasets as svc


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--dataset", "name", required=True, help="Name to store the dataset under.")
@click.option("--format", "fmt", type=click.Choice(svc.formats()),
              default=svc.LoadRequest.format, show_default=True)  # fmt: skip
@click.option("--images", type=click.Path(), help="Directory of images named by pin id.")
@click.option("--replace", is_flag=True, help="Replace a dataset of the same name.")
@db_option
@json_option
def load(paths: tuple[str, ...], name: str, fmt: str, images: str | None, replace: bool,
         as_json: bool) -> None:  # fmt: skip
    """Load files or directories into the store as one dataset, all or nothing."""
    store = get_store(create=True)
    bar = Progress(f"loading {name}", enabled=show_progress(as_json))
    request = svc.LoadRequest(tuple(paths), name, fmt, images, replace)
    report = svc.load(store, request, bar.reporter)
    bar.close()
    if as_json:
        emit_json(asdict(report))
        return
    click.echo(
        f"loaded {report.dataset} ({report.format}): {report.pins:,} pins, "
        f"{report.boards:,} boards, "
        f"{report.edges:,} edges, {report.test:,} test, {report.negatives:,} negatives, "
        f"{report.images:,} images in {report.elapsed_s:.2f}s"
    )
    for w in report.warnings:
        click.echo(f"warning: {w}", err=True)


@click.command()
@db_option
@json_option
def datasets(as_json: bool) -> None:
    """List the stored datasets."""
    rows = svc.list_datasets(get_store())
    if as_json:
        emit_json(svc.datasets_json(rows))
        return
    if not rows:
        click.echo("no datasets (load one with `workbench load`)")
        return
    click.echo(f"{'name':<20} {'pins':>10} {'boards':>10} {'edges':>12}  badges")
    for d in rows:
        click.echo(f"{d.name:<20} {d.pins:>10,} {d.boards:>10,} {d.edges:>12,}  "
                   f"{' '.join(svc.badges(d))}")  # fmt: skip


@click.command()
@click.option("--dataset", "name", required=True)
@db_option
@json_option
def info(name: str, as_json: bool) -> None:
    """Counts, degree distributions, attributes and split of one dataset."""
    summary = svc.info(get_store(), name)
    if as_json:
        emit_json(summary.to_json())
        return
    i = summary.info
    click.echo(f"{i.name}  ({i.format}, loaded {i.loaded_at.isoformat()}, fingerprint "
               f"{i.fingerprint[:12]})")  # fmt: skip
    click.echo(f"  pins {i.pins:,}  boards {i.boards:,}  edges {i.edges:,}  "
               f"images {i.images:,} (missing {i.missing_images:,})")  # fmt: skip
    for what, d in (("pin degree", summary.pin_degree), ("board degree", summary.board_degree)):
        click.echo(f"  {what}: min {d.min:g}  median {d.median:g}  p99 {d.p99:g}  "
                   f"max {d.max:g}  mean {d.mean:.2f}")  # fmt: skip
    for what, attributes in (("pin attributes", i.pin_attributes),
                             ("board attributes", i.board_attributes)):  # fmt: skip
        listed = ", ".join(f"{k} ({v.lower()})" for k, v in attributes.items()) or "none"
        click.echo(f"  {what}: {listed}")
    click.echo(f"  split: {i.test:,} test pins over {summary.test_boards:,} boards, "
               f"{i.negatives:,} negatives")  # fmt: skip


@click.command()
@click.option("--dataset", "name", required=True)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@db_option
@json_option
def drop(name: str, yes: bool, as_json: bool) -> None:
    """Remove a dataset and its derived files (its runs stay, marked with its old fingerprint)."""
    store = get_store()
    svc.dataset_info(store, name)
    if not yes and not as_json and click.get_text_stream("stdin").isatty():
        click.confirm(f"drop dataset {name!r}?", abort=True)
    dropped = svc.drop(store, name)
    if as_json:
        emit_json({"dropped": dropped.name})
    else:
        click.echo(f"dropped {dropped.name}")
