"""The `workbench recommend` command: rank pins for query pins or a board, stored as a run."""

from __future__ import annotations

import click

from workbench.commands._common import db_option, emit_json, get_store, json_option
from workbench.services import recommend as svc
from workbench.services.parsing import parse_key_values, parse_pin_specs


class _WithAlgorithms(click.Command):
    """Lists each algorithm and its parameters (ranges, defaults) after the options; read only
    when help is asked for, so resolving the command loads no algorithm."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_paragraph()
        formatter.write_text("Algorithms and their parameters (--param KEY=VALUE):")
        with formatter.indentation():
            for algo in svc.algorithm_help():
                about = f": {algo.description}" if algo.description else ""
                formatter.write(f"{'':{formatter.current_indent}}{algo.name}{about}\n")
                for p in algo.params:
                    formatter.write(f"{'':{formatter.current_indent + 2}}{p.describe()}\n")


@click.command(cls=_WithAlgorithms)
@click.option("--dataset", "name", required=True, help="Dataset to recommend from.")
@click.option("--pin", "pins", multiple=True, metavar="ID[:WEIGHT]",
              help="A query pin (repeatable), optionally weighted.")  # fmt: skip
@click.option("--board", default=None, metavar="ID", help="Query with the pins of a board.")
@click.option("--board-weights", type=click.Choice(svc.BOARD_WEIGHTINGS),
              default=svc.RecommendRequest.board_weighting,
              show_default=True, help="Weights of a board's pins.")  # fmt: skip
@click.option("--algo", default=svc.RecommendRequest.algo, show_default=True,
              help="Algorithm (see below).")  # fmt: skip
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE",
              help="An algorithm parameter (repeatable).")  # fmt: skip
@click.option("--top", "k", type=int, default=svc.RecommendRequest.k, show_default=True,
              help="Pins to return.")  # fmt: skip
@click.option("--seed", type=int, default=svc.RecommendRequest.seed, show_default=True,
              help="Seed of the random walks.")  # fmt: skip
@db_option
@json_option
def recommend(name: str, pins: tuple[str, ...], board: str | None, board_weights: str,
              algo: str, params: tuple[str, ...], k: int, seed: int,
              as_json: bool) -> None:  # fmt: skip
    """Rank pins for --pin ID[:WEIGHT]... or --board ID and store the result as a run."""
    ids, weights = parse_pin_specs(list(pins), "pin")
    request = svc.RecommendRequest(
        dataset=name, pins=tuple(ids), weights=tuple(weights) if ids else None, board=board,
        board_weighting=board_weights, algo=algo, params=parse_key_values(params, "--param"),
        k=k, seed=seed,
    )  # fmt: skip
    result = svc.recommend(get_store(), request)
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
    click.echo(f"run {result.run_id}: {result.algorithm}, steps {svc.format_steps(result.steps)}, "
               f"{result.elapsed_ms:.1f} ms")  # fmt: skip
