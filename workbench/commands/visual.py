"""`workbench visual`: index pin images, search by pin, image or crop box, import, eval, fuse."""

from __future__ import annotations

import click

from workbench.commands._common import (
    Progress,
    db_option,
    emit_json,
    get_store,
    json_option,
    parse_key_values,
    show_progress,
)
from workbench.engine.errors import WorkbenchError
from workbench.engine.visual.service import (
    FUSION_METHODS,
    RankedRun,
    fuse_runs,
    import_vectors,
    index_images,
    visual_evaluate,
    visual_search,
)


def _print_ranking(run: RankedRun, what: str) -> None:
    click.echo(f"{'rank':>4}  {'pin':<14} {'score':>9}")
    for rank, pin, score in run.results.select("rank", "pin", "score").iter_rows():
        click.echo(f"{rank:>4}  {pin:<14} {score:>9.4f}")
    click.echo(f"run {run.run_id}: {what}, {run.elapsed_ms:.1f} ms")


def _parse_box(text: str | None) -> tuple[int, int, int, int] | None:
    if text is None:
        return None
    parts = text.split(",")
    try:
        box = tuple(int(p) for p in parts)
    except ValueError:
        box = ()
    if len(box) != 4:
        raise WorkbenchError(f"--crop {text!r}: expected X,Y,W,H in pixels, e.g. 10,20,40,40")
    return box  # type: ignore[return-value]


@click.group()
def visual() -> None:
    """Visual similarity search over pin images."""


@visual.command("index")
@click.option("--dataset", required=True)
@click.option("--embedding", default="builtin", show_default=True)
@db_option
@json_option
def index_cmd(dataset: str, embedding: str, as_json: bool) -> None:
    """Extract descriptors of new or changed images and build the faiss indexes."""
    bar = Progress("indexing images", enabled=show_progress(as_json))
    report = index_images(get_store(), dataset, embedding, progress=bar)
    bar.close()
    if as_json:
        emit_json(
            {
                "embedding": report.name,
                "vectors": report.count,
                "dim": report.dim,
                "extracted": report.extracted,
                "reused": report.reused,
                "failed": [{"pin": p, "reason": r} for p, r in report.failed],
                "index": report.index.kind if report.index else None,
                "recall@10": report.index.recall_at_10 if report.index else None,
                "seconds": report.seconds,
            }
        )
        return
    click.echo(report.summary())
    for pin, reason in report.failed[:10]:
        click.echo(f"skipped {pin}: {reason}", err=True)


@visual.command("search")
@click.option("--dataset", required=True)
@click.option("--pin", default=None, help="Search with this pin's image.")
@click.option("--image", type=click.Path(), default=None, help="Search with an image file.")
@click.option("--crop", default=None, metavar="X,Y,W,H", help="A box inside the pin or image.")
@click.option("--top", "k", type=int, default=20, show_default=True)
@click.option("--embedding", default="builtin", show_default=True)
@click.option("--where", multiple=True, metavar="ATTR=VALUE", help="Only pins with this value.")
@click.option("--exclude-duplicates", is_flag=True, help="Drop near-duplicates of the query.")
@db_option
@json_option
def search_cmd(
    dataset: str,
    pin: str | None,
    image: str | None,
    crop: str | None,
    k: int,
    embedding: str,
    where: tuple[str, ...],
    exclude_duplicates: bool,
    as_json: bool,
) -> None:
    """Pins that look like a pin, an image file, or an object cropped out of either."""
    run = visual_search(
        get_store(),
        dataset,
        pin=pin,
        image=image,
        crop=_parse_box(crop),
        k=k,
        embedding=embedding,
        where=parse_key_values(where, "--where"),
        exclude_duplicates=exclude_duplicates,
    )
    if as_json:
        emit_json(run.to_json())
    else:
        _print_ranking(run, run.algorithm)


@visual.command("import")
@click.option("--dataset", required=True)
@click.option("--embedding", required=True, help="Name of the embedding space.")
@click.argument("file", type=click.Path())
@click.option(
    "--ids",
    "ids_path",
    type=click.Path(),
    default=None,
    help="Ids file for a .npy matrix (one id per line, or csv/json).",
)
@click.option("--skip-unknown", is_flag=True, help="Drop vectors of ids that are not pins.")
@db_option
@json_option
def import_cmd(
    dataset: str, embedding: str, file: str, ids_path: str | None, skip_unknown: bool, as_json: bool
) -> None:
    """Import precomputed embeddings (.npy + ids, or parquet with id and vector columns)."""
    report = import_vectors(get_store(), dataset, embedding, file, ids_path, skip_unknown)
    if as_json:
        emit_json(
            {
                "embedding": report.name,
                "vectors": report.count,
                "dim": report.dim,
                "missing": report.missing,
            }
        )
    else:
        click.echo(report.summary())


@visual.command("eval")
@click.option("--dataset", required=True)
@click.option("--label", required=True, help="Pin attribute whose equal values count as hits.")
@click.option("--k", type=int, default=10, show_default=True)
@click.option("--sample", type=int, default=None, help="Evaluate a seeded sample of queries.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--embedding", default="builtin", show_default=True)
@db_option
@json_option
def eval_cmd(
    dataset: str, label: str, k: int, sample: int | None, seed: int, embedding: str, as_json: bool
) -> None:
    """Precision@k and mAP@k of same-label neighbours, the query itself excluded."""
    result = visual_evaluate(get_store(), dataset, label, k, sample, seed, embedding)
    queries = result.pop("queries")
    if as_json:
        emit_json({"metrics": result, "queries": queries, "label": label, "embedding": embedding})
        return
    metrics = "  ".join(f"{m} {v:.4f}" for m, v in result.items())
    click.echo(f"{metrics}  ({queries} queries, label {label})")


@visual.command("fuse")
@click.argument("run_ids", nargs=-1, type=int, required=True)
@click.option("--method", type=click.Choice(FUSION_METHODS), default="rrf", show_default=True)
@click.option("--weights", default=None, help="Comma-separated weight per run.")
@click.option("--top", "k", type=int, default=20, show_default=True)
@db_option
@json_option
def fuse_cmd(
    run_ids: tuple[int, ...], method: str, weights: str | None, k: int, as_json: bool
) -> None:
    """Fuse stored rankings (e.g. a walk and a visual search) into a hybrid run."""
    w = None
    if weights:
        try:
            w = [float(x) for x in weights.split(",")]
        except ValueError:
            raise WorkbenchError(f"--weights {weights!r}: expected numbers like 0.7,0.3") from None
        if len(w) != len(run_ids):
            raise WorkbenchError(f"--weights has {len(w)} values for {len(run_ids)} runs")
    run = fuse_runs(get_store(), list(run_ids), method, w, k)
    if as_json:
        emit_json(run.to_json())
    else:
        _print_ranking(run, run.algorithm)
