"""The generate command: a synthetic board/pin graph as a parquet file that `load` reads."""

from __future__ import annotations

import click

from workbench.commands._common import Progress, emit_json, json_option, show_progress
from workbench.engine.progress import Reporter
from workbench.services import generate as svc

_DEFAULTS = svc.GenerateRequest(edges=1, out="")


@click.command()
@click.option("--edges", type=int, required=True, help="Edge rows to write.")
@click.option("--boards", type=int, default=None,
              help=f"Boards (default: edges / {svc.ROWS_PER_BOARD}).")  # fmt: skip
@click.option("--pins", type=int, default=None,
              help=f"Pins (default: edges / {svc.ROWS_PER_PIN}).")  # fmt: skip
@click.option("--pin-skew", type=float, default=_DEFAULTS.pin_skew, show_default=True,
              help="Power-law exponent of pin popularity in a topic (0 = uniform).")  # fmt: skip
@click.option("--board-skew", type=float, default=_DEFAULTS.board_skew, show_default=True,
              help="Power-law exponent of board sizes (0 = uniform).")  # fmt: skip
@click.option("--topics", type=int, default=None,
              help=f"Topics (default: {svc.DEFAULT_TOPICS}, at most boards or pins).")  # fmt: skip
@click.option("--seed", type=int, default=_DEFAULTS.seed, show_default=True)
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="The .parquet file to write.")  # fmt: skip
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
@json_option
def generate(edges: int, boards: int | None, pins: int | None, pin_skew: float,
             board_skew: float, topics: int | None, seed: int, out: str, force: bool,
             as_json: bool) -> None:  # fmt: skip
    """Write a synthetic board/pin graph (power-law degrees, topic structure) to a parquet file.

    The same options give the same file. Rows are drawn independently, so a popular pin may
    land on a big board twice; `workbench load` merges such repeats and says how many.
    """
    request = svc.GenerateRequest(
        edges=edges, out=out, boards=boards, pins=pins, pin_skew=pin_skew,
        board_skew=board_skew, topics=topics, seed=seed, overwrite=force,
    )  # fmt: skip
    bar = Progress(f"generating {out}", enabled=show_progress(as_json))
    result = svc.generate(request, reporter=Reporter(on_progress=bar))
    bar.close()
    if as_json:
        emit_json(result.to_json())
        return
    s = result.spec
    click.echo(
        f"wrote {result.path}: {s.edges:,} edge rows over {s.boards:,} boards, {s.pins:,} pins, "
        f"{s.topics} topics ({result.bytes / 1e6:,.1f} MB in {result.elapsed_s:.1f}s)"
    )
