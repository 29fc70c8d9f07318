"""Stored runs: every recommendation, evaluation, visual search and fusion, with its provenance.

A run is one row of ``main.runs`` (algorithm, params, seed, dataset fingerprint, timing, metrics)
plus its ranked lists in ``main.run_results`` (original pin ids) and, for evaluations, per-board
metric values in ``main.run_board_metrics``. Runs are written in one transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb
import numpy as np
import polars as pl

from workbench.engine.errors import NotFoundError, WorkbenchError
from workbench.engine.store import Store, frame, table

RUN_KINDS = ("recommend", "eval", "visual", "fusion", "batch", "stability")


@dataclass
class Run:
    """A run's provenance and summary (its results are read separately: they can be large)."""

    run_id: int
    dataset: str
    kind: str
    algorithm: str
    params: dict[str, Any]
    seed: int | None
    fingerprint: str
    created_at: datetime
    elapsed_ms: float | None = None
    steps: int | None = None
    query: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    name: str | None = None
    status: str = "complete"

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id, "name": self.name, "dataset": self.dataset, "kind": self.kind,
            "algorithm": self.algorithm, "params": self.params, "seed": self.seed,
            "fingerprint": self.fingerprint, "created_at": self.created_at.isoformat(),
            "elapsed_ms": self.elapsed_ms, "steps": self.steps, "query": self.query,
            "metrics": self.metrics, "info": self.info, "status": self.status,
        }  # fmt: skip


_RUN_COLUMNS = [
    "run_id", "dataset", "kind", "algorithm", "params", "seed", "fingerprint", "created_at",
    "elapsed_ms", "steps", "query", "metrics", "info", "name", "status",
]  # fmt: skip


def _run_from_row(row: tuple[Any, ...]) -> Run:
    d = dict(zip(_RUN_COLUMNS, row, strict=True))
    for c in ("params", "query", "metrics", "info"):
        d[c] = json.loads(d[c]) if d[c] else {}
    return Run(**d)


def save_run(
    store: Store,
    *,
    dataset: str,
    kind: str,
    algorithm: str,
    params: dict[str, Any],
    seed: int | None,
    fingerprint: str,
    results: pl.DataFrame | None = None,
    board_metrics: pl.DataFrame | None = None,
    elapsed_ms: float | None = None,
    steps: int | None = None,
    query: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    info: dict[str, Any] | None = None,
    name: str | None = None,
    status: str = "complete",
) -> int:
    """Store a run and its results in one transaction; returns the new run id.

    ``results`` has columns ``query`` (str), ``rank`` (int), ``pin`` (str, original id), ``score``;
    ``board_metrics`` has ``board`` (str), ``metric`` (str), ``value`` (float).
    """
    if kind not in RUN_KINDS:
        raise WorkbenchError(f"unknown run kind {kind!r}")
    with store.transaction() as con:
        run_id = con.execute(
            "INSERT INTO runs (dataset, kind, algorithm, params, seed, fingerprint, created_at, "
            "elapsed_ms, steps, query, metrics, info, name, status) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING run_id",
            [
                dataset, kind, algorithm, json.dumps(params, default=_json_default), seed,
                fingerprint, datetime.now(), elapsed_ms, steps,
                json.dumps(query or {}, default=_json_default),
                json.dumps(metrics or {}, default=_json_default),
                json.dumps(info or {}, default=_json_default), name, status,
            ],
        ).fetchone()[0]  # type: ignore[index]  # fmt: skip
        if results is not None and results.height:
            _append(con, "run_results", run_id, results, ["query", "rank", "pin", "score"])
        if board_metrics is not None and board_metrics.height:
            _append(con, "run_board_metrics", run_id, board_metrics, ["board", "metric", "value"])
    return int(run_id)


def _append(con: duckdb.DuckDBPyConnection, tbl: str, run_id: int, df: pl.DataFrame,
            cols: list[str]) -> None:  # fmt: skip
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise WorkbenchError(f"internal: {tbl} rows lack columns {missing}")
    arrow = (df if df.columns == cols else df.select(cols)).to_arrow()
    con.register("_rows", arrow)
    try:
        con.execute(
            f"INSERT INTO {tbl} SELECT ?, {', '.join(cols)} FROM _rows",  # fixed column names
            [run_id],
        )
    finally:
        con.unregister("_rows")


def get_run(store: Store, run_id: int) -> Run:
    with store.connect(read_only=True) as con:
        row = con.execute(
            f"SELECT {', '.join(_RUN_COLUMNS)} FROM runs WHERE run_id = ?", [int(run_id)]
        ).fetchone()
    if row is None:
        raise NotFoundError(f"unknown run {run_id}")
    return _run_from_row(row)


def list_runs(store: Store, dataset: str | None = None, kind: str | None = None,
              limit: int | None = None) -> list[Run]:  # fmt: skip
    if not store.exists:
        return []
    sql = f"SELECT {', '.join(_RUN_COLUMNS)} FROM runs WHERE (? IS NULL OR dataset = ?) " \
          "AND (? IS NULL OR kind = ?) ORDER BY run_id DESC LIMIT ?"  # fmt: skip
    with store.connect(read_only=True) as con:
        rows = con.execute(sql, [dataset, dataset, kind, kind, limit or 2**62]).fetchall()
    return [_run_from_row(r) for r in rows]


def run_results(
    store: Store, run_id: int, offset: int = 0, limit: int | None = None
) -> pl.DataFrame:
    """A run's ranked lists: query, rank, pin (original id), score; ordered by query and rank;
    rows ``offset .. offset+limit`` only when ``limit`` is given (a page)."""
    with store.connect(read_only=True) as con:
        get_run(store, run_id)
        return frame(
            con,
            "SELECT query, rank, pin, score FROM run_results WHERE run_id = ? "
            "ORDER BY query, rank LIMIT ? OFFSET ?",
            [int(run_id), 2**62 if limit is None else int(limit), int(offset)],
        )


def count_results(store: Store, run_id: int) -> int:
    """How many ranked rows run ``run_id`` has."""
    row = store.query("SELECT count(*) FROM run_results WHERE run_id = ?", [int(run_id)])
    return int(row[0][0]) if row else 0


def results_page(store: Store, run_id: int, offset: int, limit: int,
                 dataset: str | None) -> tuple[pl.DataFrame, int]:  # fmt: skip
    """One page of a run's ranked rows with each pin's title (from ``dataset`` when it is still
    in the store) and the number of rows in all; one read of the store."""
    with store.connect(read_only=True) as con:
        get_run(store, run_id)
        total = count_results(store, run_id)
        titles = f"LEFT JOIN {table(dataset, 'pins')} p ON p.pin = r.pin" if dataset else ""
        page = frame(
            con,
            f"SELECT r.query, r.rank, r.pin, r.score, {'p.title' if dataset else 'NULL'} AS title "
            f"FROM (SELECT * FROM run_results WHERE run_id = ? ORDER BY query, rank "
            f"LIMIT ? OFFSET ?) r {titles} ORDER BY r.query, r.rank",
            [int(run_id), int(limit), int(offset)],
        )
    return page.with_columns(pl.col("title").cast(pl.String)), total


def run_board_metrics(store: Store, run_id: int) -> pl.DataFrame:
    """Per-board metric values of an evaluation run: a row per board, a column per metric."""
    get_run(store, run_id)
    with store.connect(read_only=True) as con:
        long = frame(
            con,
            "SELECT board, metric, value FROM run_board_metrics WHERE run_id = ?",
            [int(run_id)],
        )
    if long.height == 0:
        return pl.DataFrame({"board": []}, schema={"board": pl.String})
    return long.pivot(on="metric", index="board", values="value").sort("board")


def delete_run(store: Store, run_id: int) -> None:
    with store.transaction() as con:
        get_run(store, run_id)
        for tbl in ("run_results", "run_board_metrics", "runs"):
            con.execute(f"DELETE FROM {tbl} WHERE run_id = ?", [int(run_id)])


def rename_run(store: Store, run_id: int, name: str | None) -> None:
    with store.transaction() as con:
        get_run(store, run_id)
        con.execute("UPDATE runs SET name = ? WHERE run_id = ?", [name, int(run_id)])


def _json_default(o: Any) -> Any:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, datetime):
        return o.isoformat()
    raise TypeError(f"cannot store {type(o).__name__} in a run")
