"""Reading one stored dataset: id mapping (original <-> dense), pins, boards, summaries.

Dense int32 ids exist for the walk engine only; everything a user sees is an original id. These
functions are the one place where the two are translated.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from workbench.engine.errors import NotFoundError
from workbench.engine.store import (
    DatasetInfo,
    Store,
    frame,
    ident,
    table,
    validate_dataset_name,
)


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


@dataclass(frozen=True, eq=False)
class PinTable:
    """Every pin's original id and title by dense id, and the dense id of each original id."""

    ids: np.ndarray  # object: str
    titles: list[str | None]
    index: dict[str, int]


PIN_TABLE_MAX = 2_000_000
"""Datasets with more pins than this are never held in memory (look-ups stay in SQL)."""
_pin_tables: dict[tuple[Any, ...], PinTable] = {}
_pin_table_uses: dict[tuple[Any, ...], int] = {}
_pin_tables_lock = threading.Lock()


def pin_table(store: Store, dataset: str, info: DatasetInfo) -> PinTable | None:
    """The pins of this version of ``dataset`` held in memory, built the second time a process
    asks (a one-off command keeps its single SQL look-up; a notebook, the TUI or a batch of calls
    then resolves ids without a query); None until then, and for very large datasets."""
    key = (store.key, dataset, info.fingerprint, info.loaded_at)
    with _pin_tables_lock:
        found = _pin_tables.get(key)
        if found is not None or info.pins > PIN_TABLE_MAX:
            return found
        _pin_table_uses[key] = _pin_table_uses.get(key, 0) + 1
        if _pin_table_uses[key] < 2:
            return None
    with store.connect(read_only=True) as con:
        got = con.execute(f"SELECT pin, title FROM {table(dataset, 'pins')} ORDER BY idx")
        arrays = got.fetchnumpy()
    ids = np.asarray(arrays["pin"], dtype=object)
    titles = arrays["title"]
    if isinstance(titles, np.ma.MaskedArray):
        missing = np.ma.getmaskarray(titles)
        values = np.ma.getdata(titles)
        title_list = [None if m else str(t) for t, m in zip(values, missing, strict=True)]
    else:
        title_list = [None if t is None else str(t) for t in titles]
    built = PinTable(ids, title_list, {str(p): i for i, p in enumerate(ids)})
    with _pin_tables_lock:
        _pin_tables[key] = built
        while len(_pin_tables) > 2:
            del _pin_tables[next(iter(_pin_tables))]
    return built


def resolve_pins(
    store: Store, dataset: str, pins: Sequence[Any], info: DatasetInfo | None = None
) -> np.ndarray:
    """Dense ids of the given original pin ids; an unknown id raises a one-line error. Pass the
    dataset's ``info`` when at hand (it saves a read)."""
    info = info or store.dataset(dataset)
    # ids match exactly as given: integer ids are all canonical, so '007' is not pin 7
    wanted = [str(p).strip() for p in pins]
    held = pin_table(store, dataset, info)
    if held is not None:
        rows = {p: held.index[p] for p in wanted if p in held.index}
    else:
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


def resolve_board(store: Store, dataset: str, board: Any, info: DatasetInfo | None = None) -> int:
    """Dense id of the given original board id; an unknown id raises a one-line error."""
    info = info or store.dataset(dataset)
    key = str(board).strip()
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


TABLES = {
    "pins": "SELECT * EXCLUDE (idx) FROM {pins} ORDER BY idx",
    "boards": "SELECT * EXCLUDE (idx) FROM {boards} ORDER BY idx",
    "edges": "SELECT * FROM {edges_v}",
}
"""The tables of a dataset a researcher reads whole, with original ids."""


def table_frame(store: Store, dataset: str, which: str) -> pl.DataFrame:
    """All of a dataset's ``pins``, ``boards`` or ``edges`` (board, pin, weight, timestamp) with
    original ids, as polars."""
    if which not in TABLES:
        raise NotFoundError(f"no table {which!r} (one of {', '.join(TABLES)})")
    names = {n: table(dataset, n) for n in ("pins", "boards", "edges_v")}
    with store.connect(read_only=True) as con:
        store.dataset(dataset)
        return frame(con, TABLES[which].format(**names))


def output_id(value: str, id_type: str) -> str | int:
    """An original id as JSON should show it: integers stay integers."""
    return int(value) if id_type == "integer" else value


def pin_rows(store: Store, dataset: str, dense: np.ndarray,
             info: DatasetInfo | None = None) -> dict[int, tuple[str, str | None]]:  # fmt: skip
    """Original id and title of the given dense pin ids."""
    if dense.size == 0:
        return {}
    held = pin_table(store, dataset, info or store.dataset(dataset))
    if held is not None:
        return {int(i): (str(held.ids[i]), held.titles[i]) for i in dense}
    found = store.query(
        f"SELECT idx, pin, title FROM {table(dataset, 'pins')} "
        "WHERE idx IN (SELECT unnest(?::INTEGER[]))",
        [dense.tolist()],
    )
    return {int(idx): (str(pin), title) for idx, pin, title in found}


# -- summaries ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DegreeStats:
    """The distribution of a node kind's degree (boards per pin, or pins per board)."""

    min: float
    median: float
    p99: float
    max: float
    mean: float

    def to_json(self) -> dict[str, float]:
        return {"min": self.min, "median": self.median, "p99": self.p99, "max": self.max,
                "mean": self.mean}  # fmt: skip


@dataclass(frozen=True)
class DatasetSummary:
    """What `workbench info` shows: the catalogue row, degree distributions, split size."""

    info: DatasetInfo
    pin_degree: DegreeStats
    board_degree: DegreeStats
    test_boards: int

    def __getitem__(self, key: str) -> Any:
        """``summary["edges"]``: the JSON document's fields, for code written against it."""
        return self.to_json()[key]

    def to_json(self) -> dict[str, Any]:
        i = self.info
        return {
            "name": i.name, "format": i.format, "sources": i.sources,
            "loaded_at": i.loaded_at.isoformat(), "fingerprint": i.fingerprint,
            "pins": i.pins, "boards": i.boards, "edges": i.edges,
            "pin_degree": self.pin_degree.to_json(), "board_degree": self.board_degree.to_json(),
            "pin_attributes": i.pin_attributes, "board_attributes": i.board_attributes,
            "has_weights": i.has_weights, "has_timestamps": i.has_timestamps,
            "split": {"test": i.test, "test_boards": self.test_boards, "negatives": i.negatives},
            "images": i.images, "missing_images": i.missing_images,
            "pin_id_type": i.pin_id_type, "board_id_type": i.board_id_type,
        }  # fmt: skip


def _degree_stats(con: Any, sql: str) -> DegreeStats:
    row = con.execute(
        f"SELECT min(d), quantile_cont(d, 0.5), quantile_cont(d, 0.99), max(d), avg(d) FROM ({sql})"
    ).fetchone()
    return DegreeStats(*(float(v) if v is not None else 0.0 for v in row))


def summarise(store: Store, dataset: str) -> DatasetSummary:
    """Counts, degree distributions, attributes and split size of ``dataset``, in one read."""
    schema = ident(validate_dataset_name(dataset))
    with store.connect(read_only=True) as con:
        info = store.dataset(dataset)
        pin_deg = _degree_stats(
            con,
            f"SELECT count(e.board_idx) AS d FROM {schema}.pins p "
            f"LEFT JOIN {schema}.edges e ON e.pin_idx = p.idx GROUP BY p.idx",
        )
        board_deg = _degree_stats(
            con,
            f"SELECT count(e.pin_idx) AS d FROM {schema}.boards b "
            f"LEFT JOIN {schema}.edges e ON e.board_idx = b.idx GROUP BY b.idx",
        )
        row = con.execute(f"SELECT count(DISTINCT board_idx) FROM {schema}.test").fetchone()
    return DatasetSummary(info, pin_deg, board_deg, int(row[0]) if row else 0)
