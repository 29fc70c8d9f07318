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
from workbench.engine.dataset import dataset_summary
from workbench.engine.ingest import FORMATS, load_dataset
from workbench.engine.progress import Reporter


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--dataset", "name", required=True, help="Name to store the dataset under.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="auto", show_default=True)
@click.option("--images", type=click.Path(), help="Directory of images named by pin id.")
@click.option("--replace", is_flag=True, help="Replace a dataset of the same name.")
@db_option
@json_option
def load(paths: tuple[str, ...], name: str, fmt: str, images: str | None, replace: bool,
         as_json: bool) -> None:  # fmt: skip
    """Load files or directories into the store as one dataset, all or nothing."""
    store = get_store()
    bar = Progress(f"loading {name}", enabled=show_progress(as_json))
    report = load_dataset(store, list(paths), name, fmt=fmt, images=images, replace=replace,
                          reporter=Reporter(on_progress=bar))  # fmt: skip
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
    rows = get_store().datasets()
    if as_json:
        emit_json([
            {"name": d.name, "pins": d.pins, "boards": d.boards, "edges": d.edges,
             "has_split": d.has_split, "has_images": d.has_images, "format": d.format,
             "fingerprint": d.fingerprint}
            for d in rows
        ])  # fmt: skip
        return
    if not rows:
        click.echo("no datasets (load one with `workbench load`)")
        return
    click.echo(f"{'name':<20} {'pins':>10} {'boards':>10} {'edges':>12}  badges")
    for d in rows:
        badges = " ".join(b for b, on in (("split", d.has_split), ("images", d.has_images)) if on)
        click.echo(f"{d.name:<20} {d.pins:>10,} {d.boards:>10,} {d.edges:>12,}  {badges}")


@click.command()
@click.option("--dataset", "name", required=True)
@db_option
@json_option
def info(name: str, as_json: bool) -> None:
    """Counts, degree distributions, attributes and split of one dataset."""
    s = dataset_summary(get_store(), name)
    if as_json:
        emit_json(s)
        return
    click.echo(f"{s['name']}  ({s['format']}, loaded {s['loaded_at']}, fingerprint "
               f"{s['fingerprint'][:12]})")  # fmt: skip
    click.echo(f"  pins {s['pins']:,}  boards {s['boards']:,}  edges {s['edges']:,}  "
               f"images {s['images']:,} (missing {s['missing_images']:,})")  # fmt: skip
    for what in ("pin_degree", "board_degree"):
        d = s[what]
        click.echo(f"  {what.replace('_', ' ')}: min {d['min']:g}  median {d['median']:g}  "
                   f"p99 {d['p99']:g}  max {d['max']:g}  mean {d['mean']:.2f}")  # fmt: skip
    for what in ("pin_attributes", "board_attributes"):
        attrs = ", ".join(f"{k} ({v.lower()})" for k, v in s[what].items()) or "none"
        click.echo(f"  {what.replace('_', ' ')}: {attrs}")
    sp = s["split"]
    click.echo(f"  split: {sp['test']:,} test pins over {sp['test_boards']:,} boards, "
               f"{sp['negatives']:,} negatives")  # fmt: skip


@click.command()
@click.option("--dataset", "name", required=True)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@db_option
@json_option
def drop(name: str, yes: bool, as_json: bool) -> None:
    """Remove a dataset (its runs stay, marked with its old fingerprint)."""
    store = get_store()
    store.dataset(name)
    if not yes and not as_json and click.get_text_stream("stdin").isatty():
        click.confirm(f"drop dataset {name!r}?", abort=True)
    store.drop(name)
    if as_json:
        emit_json({"dropped": name})
    else:
        click.echo(f"dropped {name}")
