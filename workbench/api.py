"""The notebook API: the engine's functions with friendly arguments, returning polars frames.

Everything here takes and returns original pin and board ids; dense ids stay inside the engine::

    import workbench as wb
    store = wb.open_store("workbench.duckdb")
    wb.load(store, ["../shared/data/pinterest-20"], "pinterest-20")
    wb.datasets(store)                       # polars DataFrame, one row per dataset
    wb.edges(store, "pinterest-20").head()   # board, pin, weight, timestamp
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import polars as pl

from workbench.engine.dataset import dataset_summary, pins_frame
from workbench.engine.ingest import LoadReport, load_dataset
from workbench.engine.runs import Run, get_run, list_runs, run_board_metrics, run_results
from workbench.engine.store import Store, frame, table

__all__ = [
    "Run",
    "boards",
    "datasets",
    "edges",
    "get_run",
    "info",
    "load",
    "open_store",
    "pins",
    "run_board_metrics",
    "run_results",
    "runs",
]


def open_store(path: str | os.PathLike[str] = "workbench.duckdb") -> Store:
    """A handle on a store file (created on first write; no connection is held)."""
    return Store(path)


def load(store: Store, paths: Sequence[str | os.PathLike[str]], name: str, fmt: str = "auto",
         images: str | None = None, replace: bool = False) -> LoadReport:  # fmt: skip
    """Load files or directories as dataset ``name`` (one transaction; see README for formats)."""
    return load_dataset(store, paths, name, fmt=fmt, images=images, replace=replace)


def datasets(store: Store) -> pl.DataFrame:
    """The stored datasets with their counts, badges and fingerprints."""
    rows = [
        {"name": d.name, "format": d.format, "pins": d.pins, "boards": d.boards,
         "edges": d.edges, "has_split": d.has_split, "has_images": d.has_images,
         "fingerprint": d.fingerprint, "loaded_at": d.loaded_at}
        for d in store.datasets()
    ]  # fmt: skip
    return pl.DataFrame(rows)


def info(store: Store, dataset: str) -> dict[str, Any]:
    """Counts, degree distributions, attribute columns and split size of a dataset."""
    return dataset_summary(store, dataset)


def pins(store: Store, dataset: str) -> pl.DataFrame:
    """All pins with title, description, image path and attribute columns."""
    return pins_frame(store, dataset)


def _frame(store: Store, sql: str) -> pl.DataFrame:
    with store.connect(read_only=True) as con:
        return frame(con, sql)


def boards(store: Store, dataset: str) -> pl.DataFrame:
    """All boards with name and attribute columns."""
    return _frame(store, f"SELECT * EXCLUDE (idx) FROM {table(dataset, 'boards')} ORDER BY idx")


def edges(store: Store, dataset: str) -> pl.DataFrame:
    """The board-pin edges with original ids, weight and timestamp."""
    return _frame(store, f"SELECT * FROM {table(dataset, 'edges_v')}")


def runs(store: Store, dataset: str | None = None, kind: str | None = None) -> pl.DataFrame:
    """Stored runs, newest first, one row each (params and metrics as JSON text)."""
    import json

    rows = [
        {**{k: v for k, v in r.to_json().items() if k not in ("params", "metrics", "query",
                                                            "info")},
         "params": json.dumps(r.params), "metrics": json.dumps(r.metrics)}
        for r in list_runs(store, dataset=dataset, kind=kind)
    ]  # fmt: skip
    return pl.DataFrame(rows)
