"""`workbench visual`: index pin images, search by pin, image or crop box, import, eval, fuse.

Options become requests of :mod:`workbench.services.visual`; results become text or JSON.
"""

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
from workbench.engine.progress import Reporter
from workbench.services import visual as svc
from workbench.services.parsing import parse_crop, parse_run_ids, parse_weights, parse_where


def _reporter(label: str, as_json: bool) -> tuple[Reporter, Progress]:
    bar = Progress(label, enabled=show_progress(as_json))
    return Reporter(on_progress=lambda d, t, s: bar(int(d), int(t or 0), s or None)), bar


def _print_ranking(run: svc.Ranking) -> None:
    for note in run.notes:
        click.echo(f"note: {note}", err=True)
    if run.results.height == 0:
        click.echo("no pins found")
    else:
        width = max(4, *(len(p) for p in run.results["pin"]))
        click.echo(f"{'rank':>4}  {'pin':<{width}}  {'score':>9}  title")
        for r in run.results.iter_rows(named=True):
            line = f"{r['rank']:>4}  {r['pin']:<{width}}  {r['score']:>9.4f}  {r['title'] or ''}"
            click.echo(line.rstrip())
    click.echo(f"run {run.run_id}: {run.algorithm}, {run.elapsed_ms:.1f} ms")


def _rgb(text: str | None, option: str) -> tuple[float, float, float] | None:
    return None if text is None else svc.parse_rgb(text, option)


@click.group()
def visual() -> None:
    """Visual similarity search over pin images."""


@visual.command("index")
@click.option("--dataset", required=True)
@click.option("--embedding", default=svc.BUILTIN, show_default=True,
              help="Name of the embedding space (with --model: any new name; a preset's "
                   "space is named after it unless named).")  # fmt: skip
@click.option("--model", default=None, metavar="FILE.onnx|PRESET",
              help="An ONNX image model (a MobileNet, ResNet or CLIP image tower), or a "
                   f"pretrained preset: {', '.join(svc.MODEL_PRESETS)}.")  # fmt: skip
@click.option("--input-size", type=int, default=None,
              help="Model input side in pixels [default: the preset's or model's, "
                   "else 224].")  # fmt: skip
@click.option("--mean", default=None, metavar="R,G,B",
              help="Per-channel mean of 0..1 pixels [default: the preset's, "
                   "else ImageNet's].")  # fmt: skip
@click.option("--std", default=None, metavar="R,G,B",
              help="Per-channel std of 0..1 pixels [default: the preset's, "
                   "else ImageNet's].")  # fmt: skip
@click.option("--output", default=None,
              help="Model output to use [default: the preset's, "
                   "else the first float one].")  # fmt: skip
@db_option
@json_option
def index_cmd(dataset: str, embedding: str, model: str | None, input_size: int | None,
              mean: str | None, std: str | None, output: str | None,
              as_json: bool) -> None:  # fmt: skip
    """Describe new or changed images (or run a model over them) and build the indexes."""
    request = svc.IndexRequest(dataset, embedding, model, input_size, _rgb(mean, "--mean"),
                                  _rgb(std, "--std"), output)  # fmt: skip
    reporter, bar = _reporter("indexing images", as_json)
    try:
        result = svc.index(get_store(), request, reporter)
    finally:
        bar.close()
    if as_json:
        emit_json(result.to_json())
        return
    click.echo(result.summary)
    for pin, reason in result.failed[:10]:
        click.echo(f"skipped {pin}: {reason}", err=True)


@visual.command("search")
@click.option("--dataset", required=True)
@click.option("--pin", default=None, help="Search with this pin's image.")
@click.option("--image", type=click.Path(), default=None, help="Search with an image file.")
@click.option("--crop", default=None, metavar="X,Y,W,H", help="A box inside the pin or image.")
@click.option("--top", "k", type=int, default=svc.TOP_K, show_default=True)
@click.option("--embedding", default=svc.BUILTIN, show_default=True)
@click.option("--where", multiple=True, metavar="ATTR=VALUE", help="Only pins with this value.")
@click.option("--exclude-duplicates", is_flag=True, help="Drop near-duplicates of the query.")
@db_option
@json_option
def search_cmd(dataset: str, pin: str | None, image: str | None, crop: str | None, k: int,
               embedding: str, where: tuple[str, ...], exclude_duplicates: bool,
               as_json: bool) -> None:  # fmt: skip
    """Pins that look like a pin, an image file, or an object cropped out of either."""
    request = svc.SearchRequest(
        dataset, pin=pin, image=image, crop=parse_crop(crop, "--crop"), k=k, embedding=embedding,
        where=parse_where(where, "--where"), exclude_duplicates=exclude_duplicates,
    )  # fmt: skip
    run = svc.search(get_store(), request)
    if as_json:
        emit_json(run.to_json())
    else:
        _print_ranking(run)


@visual.command("import")
@click.option("--dataset", required=True)
@click.option("--embedding", required=True, help="Name of the embedding space.")
@click.argument("file", type=click.Path())
@click.option("--ids", "ids_path", type=click.Path(), default=None,
              help="Ids file for a .npy matrix (one id per line, or csv/json).")  # fmt: skip
@click.option("--skip-unknown", is_flag=True, help="Drop vectors of ids that are not pins.")
@db_option
@json_option
def import_cmd(dataset: str, embedding: str, file: str, ids_path: str | None,
               skip_unknown: bool, as_json: bool) -> None:  # fmt: skip
    """Import precomputed embeddings (.npy + ids, or parquet with id and vector columns)."""
    request = svc.ImportRequest(dataset, embedding, file, ids_path, skip_unknown)
    result = svc.import_vectors(get_store(), request)
    if as_json:
        emit_json(result.to_json())
    else:
        click.echo(result.summary)


@visual.command("eval")
@click.option("--dataset", required=True)
@click.option("--label", required=True, help="Pin attribute whose equal values count as hits.")
@click.option("--k", type=int, default=svc.TOP_K, show_default=True)
@click.option("--sample", type=int, default=None, help="Evaluate a seeded sample of queries.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--embedding", default=svc.BUILTIN, show_default=True)
@db_option
@json_option
def eval_cmd(dataset: str, label: str, k: int, sample: int | None, seed: int, embedding: str,
             as_json: bool) -> None:  # fmt: skip
    """Precision@k and mAP@k of same-label neighbours (the query excluded), per label too,
    with the most confused label pairs; stored as a run."""
    request = svc.EvalRequest(dataset, label, k, sample, seed, embedding)
    reporter, bar = _reporter("evaluating", as_json)
    try:
        result = svc.evaluate(get_store(), request, reporter)
    finally:
        bar.close()
    if as_json:
        emit_json(result.to_json())
        return
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    metrics = "  ".join(f"{m} {v:.4f}" for m, v in result.metrics.items())
    click.echo(f"{metrics}  ({result.queries:,} queries, label {label})")
    p = f"precision@{result.k}"
    worst = result.per_label.head(10)
    if worst.height:
        width = max(5, *(len(v) for v in worst["label"]))
        click.echo(f"\nworst labels\n{'label':<{width}}  {'queries':>7}  {p:>12}")
        for row in worst.iter_rows(named=True):
            click.echo(f"{row['label']:<{width}}  {row['queries']:>7,}  {row[p]:>12.4f}")
    if result.confused.height:
        click.echo("\nmost confused (query label -> neighbour label: wrong neighbours, share)")
        for row in result.confused.iter_rows(named=True):
            click.echo(f"{row['label']} -> {row['confused_with']}: {row['count']:,}, "
                       f"{row['share']:.1%}")  # fmt: skip
    click.echo(f"run {result.run_id}: visual:{embedding} eval")


@visual.command("fuse")
@click.argument("run_ids", nargs=-1, required=True)
@click.option("--method", type=click.Choice(svc.FUSION_METHODS), default="rrf",
              show_default=True)  # fmt: skip
@click.option("--weights", default=None, help="Comma-separated weight per run (finite, >= 0).")
@click.option("--top", "k", type=int, default=svc.TOP_K, show_default=True)
@db_option
@json_option
def fuse_cmd(run_ids: tuple[str, ...], method: str, weights: str | None, k: int,
             as_json: bool) -> None:  # fmt: skip
    """Fuse stored rankings (e.g. a walk and a visual search) into a hybrid run."""
    w = tuple(parse_weights(weights, "--weights")) if weights is not None else None
    request = svc.FuseRequest(tuple(parse_run_ids(run_ids, "RUN_IDS")), method, w, k)
    run = svc.fuse(get_store(), request)
    if as_json:
        emit_json(run.to_json())
    else:
        _print_ranking(run)
