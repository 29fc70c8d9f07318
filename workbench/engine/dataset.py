"""Reading one stored dataset: id mapping (original <-> dense), pins, boards, summaries.

Dense int32 ids exist for the walk engine only; everything a user sees is an original id. These
functions are the one place where the two are translated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from workbench.engine.errors import NotFoundError
from workbench.engine.store import DatasetInfo, Store, frame, ident, table


@dataclass(frozen=True)
class IdMap:
    """Original ids of a dataset's pins and boards, indexed by dense id."""

    pins: np.ndarray  # object array of str, pins[dense] = original id
    boards: np.ndarray

    def pin_index(self) -> dict[str, int]:
        return {p: i for i, p in enumerate(self.pins)}

    def board_index(self) -> dict[str, int]:
        return {b: i for i, b in enumerate(self.boards)}


def id_map(store: Store, dataset: str) -> IdMap:
    with store.connect(read_only=True) as con:
        pins = con.execute(f"SELECT pin FROM {table(dataset, 'pins')} ORDER BY idx").fetchnumpy()
        boards = con.execute(
            f"SELECT board FROM {table(dataset, 'boards')} ORDER BY idx"
        ).fetchnumpy()
    return IdMap(pins=np.asarray(pins["pin"], dtype=object),
                 boards=np.asarray(boards["board"], dtype=object))  # fmt: skip


def _canonical(value: Any, id_type: str) -> str:
    text = str(value).strip()
    if id_type == "integer":
        try:
            return str(int(text))
        except ValueError:
            return text
    return text


def resolve_pins(store: Store, dataset: str, pins: Sequence[Any]) -> np.ndarray:
    """Dense ids of the given original pin ids; an unknown id raises a one-line error."""
    info = store.dataset(dataset)
    wanted = [_canonical(p, info.pin_id_type) for p in pins]
    with store.connect(read_only=True) as con:
        rows = dict(
            con.execute(
                f"SELECT pin, idx FROM {table(dataset, 'pins')} WHERE pin IN "
                "(SELECT unnest(?::VARCHAR[]))",
                [wanted],
            ).fetchall()
        )
    for p in wanted:
        if p not in rows:
            raise NotFoundError(f"unknown pin {p!r} in dataset {dataset!r}")
    return np.array([rows[p] for p in wanted], dtype=np.int32)


def resolve_board(store: Store, dataset: str, board: Any) -> int:
    info = store.dataset(dataset)
    key = _canonical(board, info.board_id_type)
    row = store.query(f"SELECT idx FROM {table(dataset, 'boards')} WHERE board = ?", [key])
    if not row:
        raise NotFoundError(f"unknown board {key!r} in dataset {dataset!r}")
    return int(row[0][0])


def pins_frame(store: Store, dataset: str, pins: Sequence[str] | None = None) -> pl.DataFrame:
    """Pins with their titles, images and attributes (all, or the given original ids)."""
    sql = f"SELECT * EXCLUDE (idx) FROM {table(dataset, 'pins')}"
    params: list[Any] = []
    if pins is not None:
        sql += " WHERE pin IN (SELECT unnest(?::VARCHAR[]))"
        params.append([str(p) for p in pins])
    with store.connect(read_only=True) as con:
        return frame(con, sql + " ORDER BY idx", params)


def output_id(value: str, id_type: str) -> str | int:
    """An original id as JSON should show it: integers stay integers."""
    return int(value) if id_type == "integer" else value


def _quantiles(con: Any, sql: str) -> dict[str, float]:
    row = con.execute(
        f"SELECT min(d), quantile_cont(d, 0.5), quantile_cont(d, 0.99), max(d), avg(d) FROM ({sql})"
    ).fetchone()
    keys = ("min", "median", "p99", "max", "mean")
    return {k: (float(v) if v is not None else 0.0) for k, v in zip(keys, row, strict=True)}


def dataset_summary(store: Store, dataset: str) -> dict[str, Any]:
    """What `workbench info` shows: counts, degree distributions, attributes, split size."""
    info: DatasetInfo = store.dataset(dataset)
    schema = ident(dataset)
    with store.connect(read_only=True) as con:
        pin_deg = _quantiles(
            con,
            f"SELECT count(e.board_idx) AS d FROM {schema}.pins p "
            f"LEFT JOIN {schema}.edges e ON e.pin_idx = p.idx GROUP BY p.idx",
        )
        board_deg = _quantiles(
            con,
            f"SELECT count(e.pin_idx) AS d FROM {schema}.boards b "
            f"LEFT JOIN {schema}.edges e ON e.board_idx = b.idx GROUP BY b.idx",
        )
        test_boards = con.execute(
            f"SELECT count(DISTINCT board_idx) FROM {schema}.test"
        ).fetchone()[0]  # type: ignore[index]
    return {
        "name": info.name,
        "format": info.format,
        "sources": info.sources,
        "loaded_at": info.loaded_at.isoformat(),
        "fingerprint": info.fingerprint,
        "pins": info.pins,
        "boards": info.boards,
        "edges": info.edges,
        "pin_degree": pin_deg,
        "board_degree": board_deg,
        "pin_attributes": info.pin_attributes,
        "board_attributes": info.board_attributes,
        "has_weights": info.has_weights,
        "has_timestamps": info.has_timestamps,
        "split": {
            "test": info.test,
            "test_boards": int(test_boards),
            "negatives": info.negatives,
        },
        "images": info.images,
        "missing_images": info.missing_images,
        "pin_id_type": info.pin_id_type,
        "board_id_type": info.board_id_type,
    }
