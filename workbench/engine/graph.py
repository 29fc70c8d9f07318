"""The board<->pin graph as CSR arrays in both directions, cached next to the store, and pruning.

A :class:`Graph` holds, for dense ids, ``pin -> boards`` and ``board -> pins`` adjacency (int64
offsets, int32 neighbour ids, each neighbour list sorted by id), optional per-edge weights
(float32) and timestamps (int64 microseconds since the epoch, :data:`NO_TIME` where unknown)
aligned with both directions, and pin/board attributes as int codes. :func:`load_graph` builds it
from a dataset in chunks (Arrow record batches of the edges table, counted and placed by numba
kernels: no Python object per edge) straight into ``.npy`` files in ``store.cache_dir(dataset,
fingerprint)``, and maps them read-only: every process on the machine shares one copy in the page
cache, and a reloaded dataset (new fingerprint) gets a new cache while the old one is removed.

:func:`prune` implements Pixie's graph pruning (Eksombatchai et al., WWW 2018): boards whose
pins' topics are spread out (high entropy) are dropped, and pins keep only ``ceil(deg^delta)`` of
their edges.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import numba
import numpy as np

from workbench.engine.atomic import atomic_write_many
from workbench.engine.errors import StoreError, WorkbenchError
from workbench.engine.progress import SILENT, Reporter
from workbench.engine.store import DatasetInfo, Store, ident, table

if TYPE_CHECKING:
    import scipy.sparse as sps

NO_TIME = np.iinfo(np.int64).min
"""The timestamp of an edge whose time is unknown."""

CACHE_DIR = "graph-v2"
"""The graph's directory inside the dataset version's cache directory: one ``.npy`` file per
array and ``meta.json``; bump the version when the layout of the arrays changes."""

CACHE_VERSION = 2
META_FILE = "meta.json"


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
        arrays = _csr_arrays(
            n_pins, n_boards, len(boards), weights is not None, times is not None, _in_memory
        )
        builder = _CSRBuilder(arrays, n_pins, n_boards, where)
        builder.count(boards, pins)
        builder.place(
            boards,
            pins,
            None if weights is None else np.asarray(weights, dtype=np.float32),
            None if times is None else np.asarray(times, dtype=np.int64),
        )
        builder.finish()
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
            pin_attributes=dict(pin_attributes or {}),
            board_attributes=dict(board_attributes or {}),
            dataset=dataset,
            fingerprint=fingerprint,
            **arrays,
        )

    @property
    def n_edges(self) -> int:
        return int(self.pin_boards.shape[0])

    @cached_property
    def pin_degree(self) -> np.ndarray:
        """Number of boards of each pin (int64)."""
        return np.diff(np.asarray(self.pin_indptr))

    @cached_property
    def board_degree(self) -> np.ndarray:
        return np.diff(np.asarray(self.board_indptr))

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
        import scipy.sparse as sps

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


# -- building the CSR arrays in chunks ------------------------------------------------------------


@numba.njit(cache=True, nogil=True)
def _count(ids: np.ndarray, n: int, indptr: np.ndarray) -> int:
    """Add the occurrences of each id to ``indptr[id + 1]``; the index of the first id outside
    ``[0, n)`` (then nothing is counted), or -1."""
    for i in range(ids.shape[0]):
        if ids[i] < 0 or ids[i] >= n:
            return i
    for i in range(ids.shape[0]):
        indptr[ids[i] + 1] += 1
    return -1


@numba.njit(cache=True, nogil=True)
def _place(
    boards: np.ndarray,
    pins: np.ndarray,
    weights: np.ndarray,
    times: np.ndarray,
    end: np.ndarray,
    pos: np.ndarray,
    out_pins: np.ndarray,
    out_weights: np.ndarray,
    out_times: np.ndarray,
) -> bool:
    """Put each edge at the next free place of its board's row (``pos``, bounded by ``end``);
    ``weights``/``times`` are empty when absent. False if a row overflows (the edges changed
    since they were counted)."""
    has_w, has_t = weights.shape[0] > 0, times.shape[0] > 0
    for i in range(boards.shape[0]):
        b = boards[i]
        if b < 0 or b >= pos.shape[0]:
            return False
        k = pos[b]
        if k >= end[b]:
            return False
        pos[b] = k + 1
        out_pins[k] = pins[i]
        if has_w:
            out_weights[k] = weights[i]
        if has_t:
            out_times[k] = times[i]
    return True


BOARD_BLOCK_BITS = 12
"""Boards per block (2^12) when a chunk of edges in no board order is grouped before placing."""


@numba.njit(cache=True, nogil=True)
def _ascending(ids: np.ndarray) -> bool:
    for i in range(1, ids.shape[0]):  # noqa: SIM110 (numba compiles no generator into all())
        if ids[i] < ids[i - 1]:
            return False
    return True


@numba.njit(cache=True, nogil=True)
def _block_order(ids: np.ndarray, n: int, block_bits: int) -> np.ndarray:
    """The stable order that groups ``ids`` by block of ``2^block_bits``; empty if an id is not
    in ``[0, n)``."""
    n_blocks = (n >> block_bits) + 1
    start = np.zeros(n_blocks + 1, dtype=np.int64)
    for i in range(ids.shape[0]):
        if ids[i] < 0 or ids[i] >= n:
            return np.empty(0, dtype=np.int64)
        start[(ids[i] >> block_bits) + 1] += 1
    for b in range(n_blocks):
        start[b + 1] += start[b]
    order = np.empty(ids.shape[0], dtype=np.int64)
    for i in range(ids.shape[0]):
        blk = ids[i] >> block_bits
        order[start[blk]] = i
        start[blk] += 1
    return order


@numba.njit(cache=True, nogil=True, parallel=True)
def _sort_rows(indptr: np.ndarray, ids: np.ndarray, weights: np.ndarray, times: np.ndarray) -> None:
    """Sort each CSR row by id (rows already sorted are left as they are), carrying the aligned
    ``weights``/``times`` (empty when absent)."""
    has_w, has_t = weights.shape[0] > 0, times.shape[0] > 0
    for r in numba.prange(indptr.shape[0] - 1):
        lo, hi = indptr[r], indptr[r + 1]
        ordered = True
        for j in range(lo + 1, hi):
            if ids[j] < ids[j - 1]:
                ordered = False
                break
        if ordered:
            continue
        order = np.argsort(ids[lo:hi], kind="mergesort") + lo
        ids[lo:hi] = ids[order]
        if has_w:
            weights[lo:hi] = weights[order]
        if has_t:
            times[lo:hi] = times[order]


TRANSPOSE_CHUNK = 1 << 24
"""Edges the transposition stages at a time (grouped by block of pins)."""

PIN_BLOCK_BITS = 14
"""Pins per block of the transposition (2^14): a block's rows and offsets stay in the cache."""


@numba.njit(cache=True, nogil=True)
def _transpose(
    board_indptr: np.ndarray,
    board_pins: np.ndarray,
    board_weights: np.ndarray,
    board_times: np.ndarray,
    pin_indptr: np.ndarray,
    pin_boards: np.ndarray,
    pin_weights: np.ndarray,
    pin_times: np.ndarray,
    chunk_edges: int,
    block_bits: int,
) -> None:
    """The pin -> boards rows from the board -> pins rows, read in board order so each pin's
    boards come out ascending. The edges go through in chunks of ``chunk_edges``: each chunk is
    first grouped by block of ``2^block_bits`` pins (a stable counting sort), then placed block by
    block, so the writes of a block land in a small region of the output, not all over it."""
    has_w, has_t = board_weights.shape[0] > 0, board_times.shape[0] > 0
    n_pins = pin_indptr.shape[0] - 1
    n_edges = board_pins.shape[0]
    n_blocks = (n_pins >> block_bits) + 1
    chunk = max(1, min(n_edges, chunk_edges))
    tmp_b = np.empty(chunk, dtype=np.int32)
    tmp_p = np.empty(chunk, dtype=np.int32)
    tmp_w = np.empty(chunk if has_w else 0, dtype=np.float32)
    tmp_t = np.empty(chunk if has_t else 0, dtype=np.int64)
    block_start = np.empty(n_blocks + 1, dtype=np.int64)
    pos = pin_indptr[:-1].copy()
    b = 0
    start = 0
    while start < n_edges:
        end = min(start + chunk, n_edges)
        block_start[:] = 0
        for j in range(start, end):
            block_start[(board_pins[j] >> block_bits) + 1] += 1
        for i in range(n_blocks):
            block_start[i + 1] += block_start[i]
        for j in range(start, end):
            while board_indptr[b + 1] <= j:
                b += 1
            p = board_pins[j]
            blk = p >> block_bits
            k = block_start[blk]
            block_start[blk] = k + 1
            tmp_b[k] = b
            tmp_p[k] = p
            if has_w:
                tmp_w[k] = board_weights[j]
            if has_t:
                tmp_t[k] = board_times[j]
        for k in range(end - start):
            p = tmp_p[k]
            i = pos[p]
            pos[p] = i + 1
            pin_boards[i] = tmp_b[k]
            if has_w:
                pin_weights[i] = tmp_w[k]
            if has_t:
                pin_times[i] = tmp_t[k]
        start = end


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

_EMPTY_F4 = np.zeros(0, dtype=np.float32)
_EMPTY_I8 = np.zeros(0, dtype=np.int64)

Allocate = Callable[[str, np.dtype[Any], int], np.ndarray]
"""``alloc(name, dtype, size)``: a writable 1-d array for one of the graph's arrays."""


def _in_memory(name: str, dtype: np.dtype[Any], size: int) -> np.ndarray:
    return np.zeros(size, dtype=dtype)


def _array_specs(
    n_pins: int, n_boards: int, n_edges: int, weights: bool, times: bool
) -> list[tuple[str, np.dtype[Any], int]]:
    """Name, dtype and length of each CSR array of a graph of this size."""
    specs = [
        ("pin_indptr", np.dtype(np.int64), n_pins + 1),
        ("pin_boards", np.dtype(np.int32), n_edges),
        ("board_indptr", np.dtype(np.int64), n_boards + 1),
        ("board_pins", np.dtype(np.int32), n_edges),
    ]
    if weights:
        specs += [("pin_weights", np.dtype(np.float32), n_edges)]
        specs += [("board_weights", np.dtype(np.float32), n_edges)]
    if times:
        specs += [("pin_times", np.dtype(np.int64), n_edges)]
        specs += [("board_times", np.dtype(np.int64), n_edges)]
    return specs


def _csr_arrays(
    n_pins: int, n_boards: int, n_edges: int, weights: bool, times: bool, alloc: Allocate
) -> dict[str, Any]:
    """The graph's CSR arrays, allocated by ``alloc``; absent ones are None."""
    arrays: dict[str, Any] = dict.fromkeys(_ARRAYS)
    for name, dtype, size in _array_specs(n_pins, n_boards, n_edges, weights, times):
        arrays[name] = alloc(name, dtype, size)
    return arrays


class _CSRBuilder:
    """Fills a graph's CSR arrays from edges that arrive in chunks, in two passes over them:
    :meth:`count` every chunk, then :meth:`place` every chunk again, then :meth:`finish`.
    Memory: the arrays themselves plus one chunk; no Python object per edge."""

    def __init__(self, arrays: dict[str, Any], n_pins: int, n_boards: int, where: str):
        self.a = arrays
        self.n_pins, self.n_boards, self.where = n_pins, n_boards, where
        self.pin_counts = np.zeros(n_pins + 1, dtype=np.int64)
        self.board_counts = np.zeros(n_boards + 1, dtype=np.int64)
        self.counted = 0
        self.pos: np.ndarray | None = None

    def count(self, boards: np.ndarray, pins: np.ndarray) -> None:
        for name, ids, n, counts in (
            ("pin", pins, self.n_pins, self.pin_counts),
            ("board", boards, self.n_boards, self.board_counts),
        ):
            bad = _count(ids, n, counts)
            if bad >= 0:
                raise StoreError(
                    f"{self.where} is inconsistent: edge {self.counted + bad} points to missing "
                    f"{name} {ids[bad]} (there are {n} {name}s)"
                )
        self.counted += len(boards)

    def _start_placing(self) -> None:
        n_edges = self.a["board_pins"].shape[0]
        if self.counted != n_edges:
            raise StoreError(
                f"{self.where} changed while its graph was built ({self.counted:,} edges "
                f"counted, {n_edges:,} expected): try again"
            )
        np.cumsum(self.board_counts, out=self.a["board_indptr"])
        np.cumsum(self.pin_counts, out=self.a["pin_indptr"])
        self.pos = self.a["board_indptr"][:-1].copy()

    def place(
        self,
        boards: np.ndarray,
        pins: np.ndarray,
        weights: np.ndarray | None,
        times: np.ndarray | None,
    ) -> None:
        if self.pos is None:
            self._start_placing()
        if not _ascending(boards):
            # Grouped by block of boards first, the placements of a block land close together.
            order = _block_order(boards, self.n_boards, BOARD_BLOCK_BITS)
            if order.shape[0] != boards.shape[0]:
                raise StoreError(f"{self.where} changed while its graph was built: try again")
            boards, pins = boards[order], pins[order]
            weights = None if weights is None else weights[order]
            times = None if times is None else times[order]
        a = self.a
        ok = _place(
            boards,
            pins,
            _EMPTY_F4 if weights is None else weights,
            _EMPTY_I8 if times is None else times,
            a["board_indptr"][1:],
            self.pos,
            a["board_pins"],
            _EMPTY_F4 if a["board_weights"] is None else a["board_weights"],
            _EMPTY_I8 if a["board_times"] is None else a["board_times"],
        )
        if not ok:
            raise StoreError(f"{self.where} changed while its graph was built: try again")

    def finish(self) -> None:
        if self.pos is None:
            self._start_placing()
        a = self.a
        assert self.pos is not None
        if not np.array_equal(self.pos, a["board_indptr"][1:]):
            raise StoreError(f"{self.where} changed while its graph was built: try again")
        bw = _EMPTY_F4 if a["board_weights"] is None else a["board_weights"]
        bt = _EMPTY_I8 if a["board_times"] is None else a["board_times"]
        _sort_rows(a["board_indptr"], a["board_pins"], bw, bt)
        _transpose(
            a["board_indptr"],
            a["board_pins"],
            bw,
            bt,
            a["pin_indptr"],
            a["pin_boards"],
            _EMPTY_F4 if a["pin_weights"] is None else a["pin_weights"],
            _EMPTY_I8 if a["pin_times"] is None else a["pin_times"],
            TRANSPOSE_CHUNK,
            PIN_BLOCK_BITS,
        )


def topic_counts(graph: Graph, pin_codes: np.ndarray) -> sps.csr_matrix:
    """boards x topics counts of the topic codes of each board's pins (missing codes ignored)."""
    import scipy.sparse as sps

    boards, pins = graph.edges()
    codes = pin_codes[pins]
    known = codes >= 0
    n_topics = int(pin_codes.max()) + 1 if pin_codes.size else 0
    return sps.csr_matrix(
        (np.ones(int(known.sum())), (boards[known], codes[known])),
        shape=(graph.n_boards, max(n_topics, 1)),
    )


# -- loading and caching ------------------------------------------------------------------------

_memo: dict[tuple[str, ...], Graph] = {}
_memo_lock = threading.Lock()
_MEMO_SIZE = 2
_warned: set[str] = set()
log = logging.getLogger(__name__)

BATCH_ROWS = 1 << 20
"""Edges read from the store per chunk while a graph is built."""


def _warn_once(key: str, message: str) -> None:
    """One line on stderr (through logging) the first time ``key`` comes up in this process."""
    if key not in _warned:
        _warned.add(key)
        log.warning(message)


def load_graph(store: Store, dataset: str, reporter: Reporter = SILENT) -> Graph:
    """The graph of ``dataset``: memory-mapped from its cache directory if built before (shared
    with every other process on this machine, nothing copied), else built from the store in
    chunks and cached there. A store whose cache directory cannot be used (a regular file in its
    place, no permission, a full disk) still works: the graph is built in memory, with a one-line
    warning. Building a version's cache removes the files of the dataset's older versions."""
    info = store.dataset(dataset)
    directory: Path | None = None
    try:
        directory = store.cache_dir(dataset, info.fingerprint) / CACHE_DIR
    except OSError as exc:
        _warn_once(
            str(store.path),
            f"warning: cannot use the cache directory of store {store.path} "
            f"({exc.strerror or exc}): graphs are built in memory on every start",
        )
    key = (str(store.path.resolve()), dataset, info.fingerprint)
    with _memo_lock:
        if key in _memo:
            return _memo[key]
    graph = _read_cache(directory, info) if directory is not None else None
    if graph is None:
        graph = _build(store, info, directory, reporter)
    with _memo_lock:
        _memo[key] = graph
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


def _column(batch: Any, name: str, dtype: type) -> np.ndarray:
    """One column of an Arrow record batch as numpy (no copy for the store's int32 ids)."""
    col = batch.column(batch.schema.get_field_index(name))
    return np.ascontiguousarray(col.to_numpy(zero_copy_only=False), dtype=dtype)


def _batches(con: duckdb.DuckDBPyConnection, sql: str) -> Iterator[Any]:
    """The rows of ``sql`` as Arrow record batches of about :data:`BATCH_ROWS` rows."""
    rel = con.sql(sql)
    for name in ("to_arrow_reader", "fetch_arrow_reader"):  # DuckDB >= 1.5, before
        reader = getattr(rel, name, None)
        if reader is not None:
            yield from reader(BATCH_ROWS)
            return
    raise StoreError("this DuckDB cannot read results as Arrow record batches")


def _fill(
    store: Store,
    info: DatasetInfo,
    alloc: Allocate,
    reporter: Reporter,
) -> tuple[dict[str, Any], dict[str, Attribute], dict[str, Attribute]]:
    """The CSR arrays (allocated by ``alloc``) and the attributes of ``info``'s dataset, read
    from the store in chunks of :data:`BATCH_ROWS` edges: one pass counts, one places."""
    dataset = info.name
    where = f"dataset {dataset!r}"
    arrays = _csr_arrays(
        info.pins, info.boards, info.edges, info.has_weights, info.has_timestamps, alloc
    )
    builder = _CSRBuilder(arrays, info.pins, info.boards, where)
    cols = ["board_idx", "pin_idx"]
    if info.has_weights:
        cols.append("coalesce(weight, 1.0)::FLOAT AS weight")
    if info.has_timestamps:
        cols.append(f"coalesce(epoch_us(ts), {NO_TIME})::BIGINT AS ts")
    edges = table(dataset, "edges")
    total = 2 * max(info.edges, 1)
    done = 0
    with store.connect(read_only=True) as con:
        for batch in _batches(con, f"SELECT board_idx, pin_idx FROM {edges}"):
            builder.count(
                _column(batch, "board_idx", np.int32), _column(batch, "pin_idx", np.int32)
            )
            done += batch.num_rows
            reporter.progress(done, total, "graph: counting edges")
        for batch in _batches(con, f"SELECT {', '.join(cols)} FROM {edges}"):
            builder.place(
                _column(batch, "board_idx", np.int32),
                _column(batch, "pin_idx", np.int32),
                _column(batch, "weight", np.float32) if info.has_weights else None,
                _column(batch, "ts", np.int64) if info.has_timestamps else None,
            )
            done += batch.num_rows
            reporter.progress(done, total, "graph: placing edges")
        pin_attrs = _read_attributes(con, dataset, "pins", list(info.pin_attributes), info.pins)
        board_attrs = _read_attributes(
            con, dataset, "boards", list(info.board_attributes), info.boards
        )
    builder.finish()
    reporter.progress(total, total, "graph: done")
    return arrays, pin_attrs, board_attrs


def _graph(
    info: DatasetInfo,
    arrays: dict[str, Any],
    pin_attrs: dict[str, Attribute],
    board_attrs: dict[str, Attribute],
) -> Graph:
    return Graph(
        n_pins=info.pins,
        n_boards=info.boards,
        pin_attributes=pin_attrs,
        board_attributes=board_attrs,
        dataset=info.name,
        fingerprint=info.fingerprint,
        **arrays,
    )


def _build(store: Store, info: DatasetInfo, directory: Path | None, reporter: Reporter) -> Graph:
    """Build the graph; into the cache directory when there is one (then memory-mapped from
    there), else in memory."""
    if directory is not None:
        try:
            _write_cache(store, info, directory, reporter)
        except OSError as exc:
            _warn_once(
                str(directory),
                f"warning: cannot write the graph cache in {directory} "
                f"({exc.strerror or exc}): the graph is built in memory",
            )
        else:
            graph = _read_cache(directory, info)
            if graph is not None:
                with contextlib.suppress(OSError):
                    store.purge_artifacts(info.name, keep=info.fingerprint)
                return graph
    return _graph(info, *_fill(store, info, _in_memory, reporter))


def _file_array(path: Path, dtype: np.dtype[Any], size: int) -> np.ndarray:
    """A writable ``.npy`` file of ``size`` elements mapped in memory, its space reserved on disk
    first (a full disk fails here, with OSError, not later with SIGBUS inside a mapping)."""
    if size == 0:
        with open(path, "wb") as f:
            np.save(f, np.zeros(0, dtype=dtype), allow_pickle=False)
        return np.zeros(0, dtype=dtype)
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False,
                 "shape": (size,)}
    )  # fmt: skip
    offset = header.tell()
    with open(path, "wb") as f:
        f.write(header.getvalue())
        f.flush()
        os.posix_fallocate(f.fileno(), 0, offset + size * dtype.itemsize)
    return np.memmap(path, dtype=dtype, mode="r+", offset=offset, shape=(size,))


def _write_cache(store: Store, info: DatasetInfo, directory: Path, reporter: Reporter) -> None:
    """Build the graph straight into its cache files: ``.npy`` arrays and ``meta.json`` (last),
    written all or nothing (:func:`atomic_write_many`)."""
    specs = _array_specs(info.pins, info.boards, info.edges, info.has_weights, info.has_timestamps)
    attr_files = [
        (kind, name, f"{kind}_attr_{i}.npy")
        for kind, names in (("pin", info.pin_attributes), ("board", info.board_attributes))
        for i, name in enumerate(names)
    ]
    paths = [directory / f"{name}.npy" for name, _, _ in specs]
    paths += [directory / file for _, _, file in attr_files] + [directory / META_FILE]

    def write(tmps: list[Path]) -> None:
        tmp = dict(zip([p.name for p in paths], tmps, strict=True))
        mapped: list[np.ndarray] = []

        def alloc(name: str, dtype: np.dtype[Any], size: int) -> np.ndarray:
            a = _file_array(tmp[f"{name}.npy"], dtype, size)
            mapped.append(a)
            return a

        _, pin_attrs, board_attrs = _fill(store, info, alloc, reporter)
        for a in mapped:
            if isinstance(a, np.memmap):
                a.flush()
        meta: dict[str, Any] = {
            "version": CACHE_VERSION,
            "dataset": info.name,
            "fingerprint": info.fingerprint,
            "shape": [info.pins, info.boards, info.edges],
            "arrays": [name for name, _, _ in specs],
            "attributes": [],
        }
        attrs = {"pin": pin_attrs, "board": board_attrs}
        for kind, name, file in attr_files:
            attr = attrs[kind][name]
            with open(tmp[file], "wb") as f:
                np.save(f, np.ascontiguousarray(attr.codes, dtype=np.int32), allow_pickle=False)
            meta["attributes"].append(
                {"kind": kind, "name": name, "file": file, "values": list(attr.values)}
            )
        tmp[META_FILE].write_text(json.dumps(meta))

    directory.mkdir(parents=True, exist_ok=True)
    atomic_write_many(paths, write, overwrite=True)
    with contextlib.suppress(OSError):
        (directory.parent / "graph-v1.npz").unlink(missing_ok=True)  # the old single-file cache


def _load_array(path: Path, dtype: np.dtype[Any], size: int) -> np.ndarray:
    """A cached array mapped read-only (an empty one cannot be mapped: read)."""
    a: np.ndarray = np.load(path, mmap_mode="r" if size else None, allow_pickle=False)
    if a.dtype != dtype or a.shape != (size,):
        raise ValueError(f"{path.name}: {a.dtype}{a.shape}, expected {dtype}({size},)")
    return a


def _read_cache(directory: Path, info: DatasetInfo) -> Graph | None:
    """The cached graph mapped from ``directory``, or None when absent, unreadable or not of
    ``info``'s version (then it is rebuilt). Checks sizes and row offsets, not every id: a
    second process maps a graph of any size in milliseconds."""
    meta_path = directory / META_FILE
    if not meta_path.is_file():
        return None
    try:
        meta = json.loads(meta_path.read_text())
        if (
            meta.get("version") != CACHE_VERSION
            or meta.get("fingerprint") != info.fingerprint
            or meta.get("shape") != [info.pins, info.boards, info.edges]
        ):
            return None
        specs = _array_specs(
            info.pins, info.boards, info.edges, info.has_weights, info.has_timestamps
        )
        if meta.get("arrays") != [name for name, _, _ in specs]:
            return None
        arrays: dict[str, Any] = dict.fromkeys(_ARRAYS)
        for name, dtype, size in specs:
            arrays[name] = _load_array(directory / f"{name}.npy", dtype, size)
        attrs: dict[str, dict[str, Attribute]] = {"pin": {}, "board": {}}
        for entry in meta["attributes"]:
            n = info.pins if entry["kind"] == "pin" else info.boards
            codes = _load_array(directory / entry["file"], np.dtype(np.int32), n)
            attrs[entry["kind"]][entry["name"]] = Attribute(
                codes=codes, values=tuple(str(v) for v in entry["values"])
            )
        if set(attrs["pin"]) != set(info.pin_attributes) or set(attrs["board"]) != set(
            info.board_attributes
        ):
            return None
    except (OSError, KeyError, TypeError, ValueError):
        return None
    graph = _graph(info, arrays, attrs["pin"], attrs["board"])
    return graph if _consistent(graph) else None


def _consistent(g: Graph) -> bool:
    """Row offsets that start at 0 and end at the number of edges. Not a scan of every offset or
    id: a second process maps a graph of any size without reading it. (The files are written all
    or nothing and never changed in place; a damaged file shows as a wrong size or header.)"""
    for indptr in (g.pin_indptr, g.board_indptr):
        if indptr.shape[0] == 0 or indptr[0] != 0 or indptr[-1] != g.n_edges:
            return False
    return g.board_pins.shape[0] == g.n_edges


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
