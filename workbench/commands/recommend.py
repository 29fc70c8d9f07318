"""The `workbench recommend` command: rank pins for query pins or a board, stored as a run."""

from __future__ import annotations

import click

from workbench.commands._common import (
    db_option,
    emit_json,
    get_store,
    json_option,
    parse_key_values,
)
from workbench.engine.recommend import parse_pin_specs
from workbench.engine.recommend import recommend as recommend_query
from workbench.engine.recommenders import ALGORITHMS
from workbench.engine.recommenders.base import BOARD_WEIGHTINGS


@click.command()
@click.option("--dataset", "name", required=True, help="Dataset to recommend from.")
@click.option("--pin", "pins", multiple=True, metavar="ID[:WEIGHT]",
              help="A query pin (repeatable), optionally weighted.")  # fmt: skip
@click.option("--board", default=None, metavar="ID", help="Query with the pins of a board.")
@click.option("--board-weights", type=click.Choice(BOARD_WEIGHTINGS), default="equal",
              show_default=True, help="Weights of a board's pins.")  # fmt: skip
@click.option("--algo", default="pixie", show_default=True,
              help=f"Algorithm: {', '.join(ALGORITHMS)}.")  # fmt: skip
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE",
              help="An algorithm parameter (repeatable).")  # fmt: skip
@click.option("--top", "k", type=int, default=10, show_default=True, help="Pins to return.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random walks.")
@db_option
@json_option
def recommend(name: str, pins: tuple[str, ...], board: str | None, board_weights: str,
              algo: str, params: tuple[str, ...], k: int, seed: int,
              as_json: bool) -> None:  # fmt: skip
    """Rank pins for --pin ID[:WEIGHT]... or --board ID and store the result as a run."""
    ids, weights = parse_pin_specs(pins)
    result = recommend_query(
        get_store(), name, algo, parse_key_values(params, "--param"), pins=ids or None,
        weights=weights or None, board=board, board_weighting=board_weights, k=k, seed=seed,
    )  # fmt: skip
    if as_json:
        emit_json(result.to_json())
        return
    if result.results.height == 0:
        click.echo("no pins reached (the query pins have no boards)")
    else:
        width = max(4, *(len(p) for p in result.results["pin"]))
        click.echo(f"{'rank':>4}  {'pin':<{width}}  {'score':>12}  title")
        for r in result.results.iter_rows(named=True):
            click.echo(f"{r['rank']:>4}  {r['pin']:<{width}}  {r['score']:>12.6g}  "
                       f"{r['title'] or ''}".rstrip())  # fmt: skip
    steps = f", {result.steps:,} steps" if result.algorithm == "pixie" else ""
    click.echo(f"run {result.run_id}: {result.algorithm}{steps}, {result.elapsed_ms:.1f} ms")
