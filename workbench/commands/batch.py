"""`workbench batch`: recommendations for many boards, streamed to parquet, locally or on Ray."""

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
from workbench.engine.batch import batch_recommend, read_board_list
from workbench.engine.executors import EXECUTORS, make_executor


@click.command()
@click.option("--dataset", required=True)
@click.option("--algo", default="pixie", show_default=True)
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE")
@click.option("--boards", default="all", show_default=True, help="'all' or a file of board ids.")
@click.option("--top", "k", type=int, default=10, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--weighting",
    type=click.Choice(["equal", "recency", "edge"]),
    default="equal",
    show_default=True,
    help="Weights of a board's pins as query pins.",
)
@click.option("--out", required=True, type=click.Path(), help="Parquet file to write.")
@click.option("--force", is_flag=True, help="Overwrite --out if it exists.")
@click.option("--executor", type=click.Choice(EXECUTORS), default="local", show_default=True)
@click.option("--workers", type=int, default=None, help="Cores (local) or Ray CPUs.")
@click.option("--ray-address", default=None, help="An existing Ray cluster ('auto', ray://...).")
@click.option("--chunk", type=int, default=512, show_default=True, help="Boards per task.")
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
    chunk: int,
    as_json: bool,
) -> None:
    """Top-K pins for every board (or those in a file), as a parquet ranked list."""
    store = get_store()
    store.dataset(dataset)
    dense = None if boards == "all" else read_board_list(store, dataset, boards)
    runner = make_executor(executor, workers, ray_address)
    bar = Progress(f"batch {algo}", enabled=show_progress(as_json))
    report = batch_recommend(
        store,
        dataset,
        algo,
        parse_key_values(params, "--param"),
        out,
        boards=dense,
        k=k,
        seed=seed,
        weighting=weighting,
        executor=runner,
        chunk=chunk,
        force=force,
        progress=bar,
    )
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
