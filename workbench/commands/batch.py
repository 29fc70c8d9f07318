"""`workbench batch`: recommendations for many boards, streamed to parquet, locally or on Ray."""

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
from workbench.services import batch as svc
from workbench.services import recommend as rec
from workbench.services.parsing import parse_key_values


@click.command()
@click.option("--dataset", required=True)
@click.option("--algo", default=svc.BatchRequest.algo, show_default=True)
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE")
@click.option("--boards", default="all", show_default=True, help="'all' or a file of board ids.")
@click.option("--top", "k", type=int, default=svc.BatchRequest.k, show_default=True)
@click.option("--seed", type=int, default=svc.BatchRequest.seed, show_default=True)
@click.option(
    "--weighting",
    type=click.Choice(rec.BOARD_WEIGHTINGS),
    default=svc.BatchRequest.weighting,
    show_default=True,
    help="Weights of a board's pins as query pins.",
)
@click.option("--out", required=True, type=click.Path(), help="Parquet file to write.")
@click.option("--force", is_flag=True, help="Overwrite --out if it exists.")
@click.option("--executor", type=click.Choice(svc.EXECUTORS), default=svc.BatchRequest.executor,
              show_default=True)  # fmt: skip
@click.option("--workers", type=int, default=None, help="Cores (local) or Ray CPUs (at least 1).")
@click.option("--ray-address", default=None, help="An existing Ray cluster ('auto', ray://...).")
@click.option(
    "--ray-shared-files/--no-ray-shared-files",
    default=None,
    help="Ship the graph to Ray nodes as paths of its memory-mapped files (the store's cache "
    "directory must be at the same path on every node); default: $WORKBENCH_RAY_SHARED_FILES.",
)
@click.option("--chunk", type=int, default=svc.BatchRequest.chunk, show_default=True,
              help="Boards per task (at least 1).")  # fmt: skip
@db_option
@json_option
def batch(
    dataset: str,
    algo: str,
    params: tuple[str, ...],
    boards: str,
    k: int,
    seed: int,
    weighting: str,
    out: str,
    force: bool,
    executor: str,
    workers: int | None,
    ray_address: str | None,
    ray_shared_files: bool | None,
    chunk: int,
    as_json: bool,
) -> None:
    """Top-K pins for every board (or those in a file), as a parquet ranked list."""
    request = svc.BatchRequest(
        dataset=dataset, out=out, algo=algo, params=parse_key_values(params, "--param"),
        boards=boards, k=k, seed=seed, weighting=weighting, executor=executor, workers=workers,
        ray_address=ray_address, ray_shared_files=ray_shared_files,
        chunk=chunk, overwrite=force,
    )  # fmt: skip
    svc.check_request(request)  # bad settings fail before the store is opened
    bar = Progress(f"batch {algo}", enabled=show_progress(as_json))
    report = svc.batch(get_store(), request, bar.reporter)
    bar.close()
    if as_json:
        emit_json(report.to_json())
        return
    state = "wrote" if report.complete else "INTERRUPTED, partial output in"
    click.echo(
        f"{state} {report.out}: {report.rows:,} rows for {report.boards_done:,} of "
        f"{report.boards:,} boards in {report.elapsed_s:.1f}s "
        f"({report.boards_per_s:,.0f} boards/s, {report.executor} x{report.workers}); "
        f"run {report.run_id}"
    )
    if not report.complete:
        raise SystemExit(130)
