"""The store reads an explanation needs: a pin's place in a stored ranking, names of pins and
boards by dense id."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl

from workbench.engine.errors import WorkbenchError
from workbench.engine.store import Store, table


def ranked_pin(store: Store, run_id: int, pin: str) -> tuple[int, float] | None:
    """(rank, score) of original pin id ``pin`` in run ``run_id``'s ranked list (its best rank
    if the run ranked it for several queries), or None when the run did not rank it."""
    rows = store.query(
        "SELECT rank, score FROM run_results WHERE run_id = ? AND pin = ? ORDER BY rank LIMIT 1",
        [int(run_id), str(pin)],
    )
    return (int(rows[0][0]), float(rows[0][1])) if rows else None


def batch_ranked_pin(path: str | Path, board: str, pin: str) -> tuple[int, float] | None:
    """(rank, score) of original pin id ``pin`` in board ``board``'s list of a batch output
    (parquet with board, rank, pin, score), or None when that list does not hold it."""
    if not Path(path).is_file():
        raise WorkbenchError(f"the batch output {path} is gone")
    found = (
        pl.scan_parquet(path)
        .filter((pl.col("board") == str(board)) & (pl.col("pin") == str(pin)))
        .select("rank", "score")
        .collect()
    )
    return (int(found["rank"][0]), float(found["score"][0])) if found.height else None


def names(
    store: Store, dataset: str, pins: Sequence[int], boards: Sequence[int]
) -> tuple[dict[int, tuple[str, str | None]], dict[int, tuple[str, str | None]]]:
    """Original id and title of the given dense pin ids, and original id and name of the given
    dense board ids (one connection)."""
    found_pins: dict[int, tuple[str, str | None]] = {}
    found_boards: dict[int, tuple[str, str | None]] = {}
    with store.connect(read_only=True) as con:
        if pins:
            for idx, pin, title in con.execute(
                f"SELECT idx, pin, title FROM {table(dataset, 'pins')} "
                "WHERE idx IN (SELECT unnest(?::INTEGER[]))",
                [[int(p) for p in pins]],
            ).fetchall():
                found_pins[int(idx)] = (str(pin), title)
        if boards:
            for idx, board, name in con.execute(
                f"SELECT idx, board, name FROM {table(dataset, 'boards')} "
                "WHERE idx IN (SELECT unnest(?::INTEGER[]))",
                [[int(b) for b in boards]],
            ).fetchall():
                found_boards[int(idx)] = (str(board), name)
    return found_pins, found_boards
