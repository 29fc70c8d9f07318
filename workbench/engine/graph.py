"""The board<->pin graph as CSR arrays in both directions, cached next to the store, and pruning.

A :class:`Graph` holds, for dense ids, ``pin -> boards`` and ``board -> pins`` adjacency (int64
offsets, int32 neighbour ids, each neighbour list sorted by id), optional per-edge weights
(float32) and timestamps (int64 microseconds since the epoch, :data:`NO_TIME` where unknown)
aligned with both directions, and pin/board attributes as int codes. :func:`load_graph` builds it
from a dataset with one DuckDB query and caches the arrays in ``store.cache_dir(dataset,
fingerprint)``, so a reloaded dataset (new fingerprint) gets a new cache.

:func:`prune` implements Pixie's graph pruning (Eksombatchai et al., WWW 2018): boards whose
pins' topics are spread out (high entropy) are dropped, and pins keep only ``ceil(deg^delta)`` of
their edges.
"""

from __future__ import annotations

import os
import threading
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import duckdb
import numba
import numpy as np
import scipy.sparse as sps

from workbench.engine.errors import StoreError, WorkbenchError
from workbench.engine.store import DatasetInfo, Store, ident, table

NO_TIME = np.iinfo(np.int64).min
"""The timestamp of an edge whose time is unknown."""

CACHE_FILE = "graph-v1.npz"
"""Cache file name; bump the version when the layout of the arrays changes."""


@dataclass(frozen=True, eq=False)
class Attribute:
    """A categorical attribute as int codes (``-1`` = missing) and the value of each code."""

    codes: np.ndarray  # int32, one per pin (or board)
    values: tuple[str, ...]

    def code(self, value: str) -> int:
        """The code of ``value``, or -1 when no node has it."""
        try:
            return self.values.index(str(value))
        except ValueError:
            return -1


@dataclass(frozen=True, eq=False)
class Graph:
    """A bipartite board<->pin graph over dense ids; build it with :meth:`from_edges`."""

    n_pins: int
    n_boards: int
    pin_indptr: np.ndarray  # int64 [n_pins + 1]
    pin_boards: np.ndarray  # int32 [n_edges], the boards of each pin, ascending
    board_indptr: np.ndarray  # int64 [n_boards + 1]
    board_pins: np.ndarray  # int32 [n_edges], the pins of each board, ascending
    pin_weights: np.ndarray | None = None  # float32, aligned with pin_boards
    board_weights: np.ndarray | None = None  # float32, aligned with board_pins
    pin_times: np.ndarray | None = None  # int64 microseconds, aligned with pin_boards
    board_times: np.ndarray | None = None  # aligned with board_pins
    pin_attributes: Mapping[str, Attribute] = field(default_factory=dict)
    board_attributes: Mapping[str, Attribute] = field(default_factory=dict)
    dataset: str = ""
    fingerprint: str = ""

    @classmethod
    def from_edges(
        cls,
        n_pins: int,
        n_boards: int,
        boards: np.ndarray,
        pins: np.ndarray,
        weights: np.ndarray | None = None,
        times: np.ndarray | None = None,
        pin_attributes: Mapping[str, Attribute] | None = None,
        board_attributes: Mapping[str, Attribute] | None = None,
        dataset: str = "",
        fingerprint: str = "",
    ) -> Graph:
        """Build both CSR directions from an edge list (each board-pin pair at most once)."""
        boards = np.ascontiguousarray(boards, dtype=np.int32)
        pins = np.ascontiguousarray(pins, dtype=np.int32)
        where = f"dataset {dataset!r}" if dataset else "graph"
        if boards.shape != pins.shape or boards.ndim != 1:
            raise WorkbenchError(f"{where}: board and pin id arrays differ in shape")
        for name, ids, n in (("pin", pins, n_pins), ("board", boards, n_boards)):
            bad = np.flatnonzero((ids < 0) | (ids >= n))
            if bad.size:
                raise StoreError(
                    f"{where} is inconsistent: edge {bad[0]} points to missing "
                    f"{name} {ids[bad[0]]} (there are {n} {name}s)"
                )
        # Counting sorts, each stable: by pin, then by board (pins ascending within a board),
        # then the board-major list by pin again (boards ascending within a pin).
        _, by_pin = _counting_order(pins, n_pins)
        board_indptr, by_board = _counting_order(boards[by_pin], n_boards)
        board_major = by_pin[by_board]
        pin_indptr, by_pin_again = _counting_order(pins[board_major], n_pins)
        pin_major = board_major[by_pin_again]

        def aligned(values: np.ndarray | None, dtype: type) -> tuple[np.ndarray, ...] | None:
            if values is None:
                return None
            v: np.ndarray = np.asarray(values, dtype=dtype)
            return v[pin_major], v[board_major]

        w = aligned(weights, np.float32)
        t = aligned(times, np.int64)
        for kind, attrs, n in (
            ("pin", pin_attributes, n_pins),
            ("board", board_attributes, n_boards),
        ):
            for name, attr in (attrs or {}).items():
                if attr.codes.shape != (n,):
                    raise WorkbenchError(
                        f"{where}: {kind} attribute {name!r} has "
                        f"{attr.codes.shape[0]} values for {n} {kind}s"
                    )
        return cls(
            n_pins=int(n_pins),
            n_boards=int(n_boards),
            pin_indptr=pin_indptr,
            pin_boards=boards[pin_major],
            board_indptr=board_indptr,
            board_pins=pins[board_major],
            pin_weights=w[0] if w else None,
            board_weights=w[1] if w else None,
            pin_times=t[0] if t else None,
            board_times=t[1] if t else None,
            pin_attributes=dict(pin_attributes or {}),
            board_attributes=dict(board_attributes or {}),
            dataset=dataset,
            fingerprint=fingerprint,
        )

    @property
    def n_edges(self) -> int:
        return int(self.pin_boards.shape[0])

    @cached_property
    def pin_degree(self) -> np.ndarray:
        """Number of boards of each pin (int64)."""
        return np.diff(self.pin_indptr)

    @cached_property
    def board_degree(self) -> np.ndarray:
        return np.diff(self.board_indptr)

    def boards_of(self, pin: int) -> np.ndarray:
        return self.pin_boards[self.pin_indptr[pin] : self.pin_indptr[pin + 1]]

    def pins_of(self, board: int) -> np.ndarray:
        return self.board_pins[self.board_indptr[board] : self.board_indptr[board + 1]]

    def edges(self) -> tuple[np.ndarray, np.ndarray]:
        """The edge list ``(boards, pins)`` in board-major order (aligned with ``board_*``)."""
        boards = np.repeat(np.arange(self.n_boards, dtype=np.int32), self.board_degree)
        return boards, self.board_pins

    def interactions(self, weighted: bool = False) -> sps.csr_matrix:
        """The boards x pins matrix: ones, or the edge weights when ``weighted``."""
        if weighted and self.board_weights is None:
            raise WorkbenchError(
                f"dataset {self.dataset!r} has no edge weights (weighted=true needs them)"
            )
        data = (
            self.board_weights.astype(np.float64)
            if weighted and self.board_weights is not None
            else np.ones(self.n_edges)
        )
        return sps.csr_matrix(
            (data, self.board_pins, self.board_indptr), shape=(self.n_boards, self.n_pins)
        )

    def pin_attribute(self, name: str) -> Attribute:
        if name not in self.pin_attributes:
            known = ", ".join(self.pin_attributes) or "none"
            raise WorkbenchError(
                f"dataset {self.dataset!r} has no pin attribute {name!r} (pin attributes: {known})"
            )
        return self.pin_attributes[name]

    def board_topics(self, name: str) -> np.ndarray:
        """Board codes of pin attribute ``name``: the boards' own column of that name if there is
        one, else the most common value among each board's pins (-1 for none)."""
        attr = self.pin_attribute(name)
        own = self.board_attributes.get(name)
        if own is not None:
            # Translate the board column's codes into the pin attribute's codes.
            lookup = np.array([attr.code(v) for v in own.values] + [-1], dtype=np.int32)
            return lookup[own.codes]
        counts = topic_counts(self, attr.codes)
        out = np.full(self.n_boards, -1, dtype=np.int32)
        if counts.nnz:
            best = np.asarray(counts.argmax(axis=1)).ravel().astype(np.int32)
            has = np.diff(counts.indptr) > 0
            out[has] = best[has]
        return out


@numba.njit(cache=True, nogil=True)
def _counting_order(keys: np.ndarray, n_keys: int) -> tuple[np.ndarray, np.ndarray]:
    """Stable counting sort: ``(indptr, order)`` with ``keys[order]`` ascending."""
    indptr = np.zeros(n_keys + 1, dtype=np.int64)
    for k in keys:
        indptr[k + 1] += 1
    for i in range(n_keys):
        indptr[i + 1] += indptr[i]
    pos = indptr[:-1].copy()
    order = np.empty(keys.shape[0], dtype=np.int64)
    for i in range(keys.shape[0]):
        k = keys[i]
        order[pos[k]] = i
        pos[k] += 1
    return indptr, order


def topic_counts(graph: Graph, pin_codes: np.ndarray) -> sps.csr_matrix:
    """boards x topics counts of the topic codes of each board's pins (missing codes ignored)."""
    boards, pins = graph.edges()
    codes = pin_codes[pins]
    known = codes >= 0
    n_topics = int(pin_codes.max()) + 1 if pin_codes.size else 0
    return sps.csr_matrix(
        (np.ones(int(known.sum())), (boards[known], codes[known])),
        shape=(graph.n_boards, max(n_topics, 1)),
    )


# -- loading and caching ------------------------------------------------------------------------

_memo: dict[Path, Graph] = {}
_memo_lock = threading.Lock()
_MEMO_SIZE = 2


def load_graph(store: Store, dataset: str) -> Graph:
    """The graph of ``dataset``, from the cache directory if built before, else from the store."""
    info = store.dataset(dataset)
    path = store.cache_dir(dataset, info.fingerprint) / CACHE_FILE
    with _memo_lock:
        if path in _memo:
            return _memo[path]
    graph = _read_cache(path, dataset, info.fingerprint) if path.exists() else None
    if graph is None:
        graph = _build(store, info)
        _write_cache(graph, path)
    with _memo_lock:
        _memo[path] = graph
        while len(_memo) > _MEMO_SIZE:
            del _memo[next(iter(_memo))]
    return graph


def _attribute_sql(columns: list[str]) -> str:
    """One column per attribute: dense codes in the attribute's sort order, -1 for NULL."""
    return ", ".join(
        f"CASE WHEN {ident(c)} IS NULL THEN -1 ELSE dense_rank() OVER (ORDER BY {ident(c)}) - 1 "
        f"END::INTEGER AS {ident(c)}"
        for c in columns
    )


def _read_attributes(
    con: duckdb.DuckDBPyConnection, dataset: str, kind: str, columns: list[str], n: int
) -> dict[str, Attribute]:
    if not columns:
        return {}
    tbl = table(dataset, kind)
    codes = con.execute(f"SELECT {_attribute_sql(columns)} FROM {tbl} ORDER BY idx").fetchnumpy()
    out: dict[str, Attribute] = {}
    for c in columns:
        values = con.execute(
            f"SELECT CAST(v AS VARCHAR) FROM (SELECT DISTINCT {ident(c)} AS v FROM {tbl} "
            "WHERE v IS NOT NULL) ORDER BY v"
        ).fetchall()
        arr = np.asarray(codes[c], dtype=np.int32)
        if arr.shape != (n,):
            raise StoreError(f"dataset {dataset!r} is inconsistent: {kind} ids are not dense")
        out[c] = Attribute(codes=arr, values=tuple(str(v[0]) for v in values))
    return out


def _build(store: Store, info: DatasetInfo) -> Graph:
    dataset, n_pins, n_boards = info.name, info.pins, info.boards
    cols = ["board_idx", "pin_idx"]
    if info.has_weights:
        cols.append("coalesce(weight, 1.0)::FLOAT AS weight")
    if info.has_timestamps:
        cols.append(f"coalesce(epoch_us(ts), {NO_TIME})::BIGINT AS ts")
    with store.connect(read_only=True) as con:
        arrays = con.execute(
            f"SELECT {', '.join(cols)} FROM {table(dataset, 'edges')}"
        ).fetchnumpy()
        pin_attrs = _read_attributes(con, dataset, "pins", list(info.pin_attributes), n_pins)
        board_attrs = _read_attributes(
            con, dataset, "boards", list(info.board_attributes), n_boards
        )
    return Graph.from_edges(
        n_pins,
        n_boards,
        np.asarray(arrays["board_idx"]),
        np.asarray(arrays["pin_idx"]),
        weights=np.asarray(arrays["weight"]) if info.has_weights else None,
        times=np.asarray(arrays["ts"]) if info.has_timestamps else None,
        pin_attributes=pin_attrs,
        board_attributes=board_attrs,
        dataset=dataset,
        fingerprint=info.fingerprint,
    )


_ARRAYS = (
    "pin_indptr",
    "pin_boards",
    "board_indptr",
    "board_pins",
    "pin_weights",
    "board_weights",
    "pin_times",
    "board_times",
)


def _write_cache(graph: Graph, path: Path) -> None:
    arrays: dict[str, Any] = {"shape": np.array([graph.n_pins, graph.n_boards], dtype=np.int64)}
    for name in _ARRAYS:
        value = getattr(graph, name)
        if value is not None:
            arrays[name] = value
    for kind, attrs in (("pin", graph.pin_attributes), ("board", graph.board_attributes)):
        for name, attr in attrs.items():
            arrays[f"{kind}_attr/{name}/codes"] = attr.codes
            arrays[f"{kind}_attr/{name}/values"] = np.array(attr.values, dtype=str)
    # Written under a private name and renamed, so a concurrent reader never sees half a file.
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.{threading.get_ident()}.npz")
    try:
        np.savez(tmp, **arrays)
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)  # a read-only cache directory only costs a rebuild next time


def _read_cache(path: Path, dataset: str, fingerprint: str) -> Graph | None:
    """The cached graph, or None when the file is unreadable or inconsistent (then rebuilt)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            n_pins, n_boards = (int(x) for x in z["shape"])
            arrays: dict[str, Any] = {n: z[n] if n in z.files else None for n in _ARRAYS}
            attrs: dict[str, dict[str, Attribute]] = {"pin": {}, "board": {}}
            for key in z.files:
                kind, sep, rest = key.partition("_attr/")
                if sep and rest.endswith("/codes"):
                    name = rest[: -len("/codes")]
                    values = tuple(str(v) for v in z[f"{kind}_attr/{name}/values"])
                    attrs[kind][name] = Attribute(codes=z[key], values=values)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None
    graph = Graph(
        n_pins=n_pins,
        n_boards=n_boards,
        pin_attributes=attrs["pin"],
        board_attributes=attrs["board"],
        dataset=dataset,
        fingerprint=fingerprint,
        **arrays,
    )
    return graph if _consistent(graph) else None


def _consistent(g: Graph) -> bool:
    ok = (
        g.pin_indptr.shape == (g.n_pins + 1,)
        and g.board_indptr.shape == (g.n_boards + 1,)
        and g.pin_indptr[-1] == g.pin_boards.shape[0] == g.board_indptr[-1]
        and g.board_pins.shape[0] == g.n_edges
        and (
            g.n_edges == 0
            or (
                g.pin_boards.min() >= 0
                and g.pin_boards.max() < g.n_boards
                and g.board_pins.min() >= 0
                and g.board_pins.max() < g.n_pins
            )
        )
    )
    return bool(ok)


# -- pruning (Pixie's graph pruning) ------------------------------------------------------------


@dataclass(frozen=True)
class PruneReport:
    """How much each pruning step removed."""

    edges_before: int
    boards_removed: int
    edges_removed_by_entropy: int
    edges_removed_by_degree: int
    degree_order: str  # "topic", "recency", "random" or "none": which edges high-degree pins kept

    @property
    def edges_after(self) -> int:
        return self.edges_before - self.edges_removed_by_entropy - self.edges_removed_by_degree


def board_entropy(graph: Graph, pin_codes: np.ndarray) -> np.ndarray:
    """Entropy in bits of the topic distribution of each board's pins (0 for no known topic)."""
    counts = topic_counts(graph, pin_codes)
    totals = np.asarray(counts.sum(axis=1)).ravel()
    rows = np.repeat(np.arange(graph.n_boards), np.diff(counts.indptr))
    p = counts.data / totals[rows]
    return np.bincount(rows, weights=-p * np.log2(p), minlength=graph.n_boards)


def prune(
    graph: Graph,
    *,
    topic: str | None = None,
    max_entropy: float | None = None,
    delta: float = 1.0,
    seed: int = 0,
) -> tuple[Graph, PruneReport]:
    """Pixie's graph pruning; returns the pruned graph (same ids) and what was removed.

    * ``max_entropy``: boards whose pins' ``topic`` distribution has a higher entropy (bits) are
      dropped with all their edges (needs the pin attribute ``topic``).
    * ``delta`` < 1: a pin of degree d keeps ceil(d ** delta) edges: the boards most similar to the
      pin's topic first (cosine between the pin's one-hot topic and the board's topic
      distribution) when ``topic`` is given, else the most recent when the edges have timestamps,
      else a random choice seeded by ``seed``; remaining ties are broken by that random choice.
    """
    if not 0.0 < delta <= 1.0:
        raise WorkbenchError(f"prune delta must be in (0, 1], got {delta}")
    codes = graph.pin_attribute(topic).codes if topic is not None else None
    if max_entropy is not None and codes is None:
        raise WorkbenchError("entropy pruning needs a pin topic attribute")
    boards, pins = graph.edges()
    keep = np.ones(graph.n_edges, dtype=bool)
    boards_removed = 0
    if max_entropy is not None and codes is not None:
        dropped = board_entropy(graph, codes) > max_entropy
        boards_removed = int(dropped.sum())
        keep &= ~dropped[boards]
    removed_entropy = graph.n_edges - int(keep.sum())

    order_by = "none"
    if delta < 1.0:
        degree = np.bincount(pins[keep], minlength=graph.n_pins)
        quota = np.ceil(np.power(degree.astype(np.float64), delta) - 1e-9).astype(np.int64)
        rank_keys: list[np.ndarray] = [np.random.default_rng(seed).random(graph.n_edges)]
        if graph.board_times is not None:
            rank_keys.append(-graph.board_times.astype(np.float64))
            order_by = "recency"
        else:
            order_by = "random"
        if codes is not None:
            counts = topic_counts(graph, codes)
            norm = np.sqrt(np.asarray(counts.multiply(counts).sum(axis=1)).ravel())
            share = np.asarray(counts[boards, np.maximum(codes[pins], 0)]).ravel()
            cosine = np.where(
                (codes[pins] >= 0) & (norm[boards] > 0),
                share / np.maximum(norm[boards], 1e-300),
                0.0,
            )
            rank_keys.append(-cosine)
            order_by = "topic"
        # Kept edges grouped by pin, best first (np.lexsort sorts by the last key first).
        kept = np.flatnonzero(keep)
        order = kept[np.lexsort([k[kept] for k in rank_keys] + [pins[kept]])]
        start = np.concatenate(([0], np.cumsum(degree)[:-1]))
        rank = np.arange(order.size) - start[pins[order]]
        keep[order[rank >= quota[pins[order]]]] = False
    removed_degree = graph.n_edges - removed_entropy - int(keep.sum())

    weights = graph.board_weights[keep] if graph.board_weights is not None else None
    times = graph.board_times[keep] if graph.board_times is not None else None
    pruned = Graph.from_edges(
        graph.n_pins,
        graph.n_boards,
        boards[keep],
        pins[keep],
        weights=weights,
        times=times,
        pin_attributes=graph.pin_attributes,
        board_attributes=graph.board_attributes,
        dataset=graph.dataset,
        fingerprint=graph.fingerprint,
    )
    report = PruneReport(
        edges_before=graph.n_edges,
        boards_removed=boards_removed,
        edges_removed_by_entropy=removed_entropy,
        edges_removed_by_degree=removed_degree,
        degree_order=order_by,
    )
    return pruned, report
