"""Evaluation splits: held-out pins per board (the dataset's test table, or a random or latest-pins
holdout), a validation split carved from training, and sampled negatives.

Nothing is stored: every choice comes from a 64-bit key hashed from ``(seed, stream, board, pin)``
(:func:`pair_keys`), so a split is recomputed identically from its seed, does not depend on the
order of the edges, and the same seed gives independent streams for the test holdout, the
validation holdout, negatives, tie-breaking and board sampling.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

import numba
import numpy as np

from workbench.engine.errors import WorkbenchError
from workbench.engine.graph import Graph

SPLITS = ("test", "validation")
HOLDOUT_METHODS = ("random", "time")

# Independent key streams drawn from one seed.
STREAM_TEST, STREAM_VALIDATION, STREAM_NEGATIVES, STREAM_TIES, STREAM_BOARDS = 1, 2, 3, 4, 5

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


@numba.njit(cache=True, nogil=True)
def _mix(x: np.uint64) -> np.uint64:
    # The splitmix64 finaliser (Steele, Lea & Flood, OOPSLA 2014): a bijection on 64-bit integers
    # whose outputs pass BigCrush, so hashed counters serve as independent uniform draws.
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


@numba.njit(cache=True, nogil=True)
def _stream_key(seed: np.uint64, stream: np.uint64) -> np.uint64:
    return _mix(_mix(seed + _GOLDEN) ^ (stream * _GOLDEN))


@numba.njit(cache=True, nogil=True)
def pair_key(base: np.uint64, board: np.int64, pin: np.int64) -> np.uint64:
    """The key of one ``(board, pin)`` pair in the stream ``base`` (see :func:`stream_base`)."""
    return _mix(_mix(base ^ np.uint64(board)) + np.uint64(pin) * _GOLDEN)


@numba.njit(cache=True, nogil=True)
def _pair_keys(base: np.uint64, boards: np.ndarray, pins: np.ndarray) -> np.ndarray:
    out = np.empty(boards.shape[0], dtype=np.uint64)
    for i in range(boards.shape[0]):
        out[i] = pair_key(base, boards[i], pins[i])
    return out


def stream_base(seed: int, stream: int) -> np.uint64:
    """The base of key stream ``stream`` drawn from ``seed``."""
    return np.uint64(_stream_key(np.uint64(seed % 2**64), np.uint64(stream)))


def pair_keys(seed: int, stream: int, boards: np.ndarray, pins: np.ndarray) -> np.ndarray:
    """A pseudo-random uint64 key per ``(board, pin)`` pair, fixed by ``seed`` and ``stream``."""
    return _pair_keys(
        stream_base(seed, stream),
        np.ascontiguousarray(boards, dtype=np.int64),
        np.ascontiguousarray(pins, dtype=np.int64),
    )


@dataclass(frozen=True)
class SplitSpec:
    """How to hold out pins when a dataset has no test split, and to carve validation from train.

    ``method``: ``random`` (uniform per board) or ``time`` (each board's latest pins; pins of
    unknown time count as oldest). ``holdout`` pins per board, or ``fraction`` of each board's pins
    (rounded, at least one) when it is above 0; a board always keeps ``min_train`` pins. The
    choice of pins comes from the evaluation's seed.
    """

    method: str = "random"
    holdout: int = 1
    fraction: float = 0.0
    min_train: int = 1

    def __post_init__(self) -> None:
        if self.method not in HOLDOUT_METHODS:
            raise WorkbenchError(f"unknown holdout method {self.method!r} (random or time)")
        if self.holdout < 1 or not 0.0 <= self.fraction < 1.0 or self.min_train < 0:
            raise WorkbenchError("holdout must be >= 1, fraction in [0, 1), min_train >= 0")

    def describe(self, seed: int) -> str:
        amount = (
            f"{self.fraction:g} of each board" if self.fraction > 0 else f"{self.holdout} per board"
        )
        return f"{self.method} holdout, {amount}, seed {seed}"


def holdout_mask(
    boards: np.ndarray,
    pins: np.ndarray,
    times: np.ndarray | None,
    n_boards: int,
    spec: SplitSpec,
    seed: int,
    stream: int,
) -> np.ndarray:
    """Which edges to hold out, per board, as ``spec`` says (a boolean mask over the edges)."""
    key = pair_keys(seed, stream, boards, pins)
    if spec.method == "time":
        if times is None:
            raise WorkbenchError("a time holdout needs edge timestamps; this dataset has none")
        order = np.lexsort((key, ~times, boards))  # ~t sorts newest first, without overflow
    else:
        order = np.lexsort((key, boards))
    degree = np.bincount(boards, minlength=n_boards)
    if spec.fraction > 0:
        wanted = np.maximum(np.rint(spec.fraction * degree), 1).astype(np.int64)
    else:
        wanted = np.full(n_boards, spec.holdout, dtype=np.int64)
    n_hold = np.clip(np.minimum(wanted, degree - spec.min_train), 0, None)
    start = np.concatenate(([0], np.cumsum(degree)[:-1]))
    sorted_boards = boards[order]
    rank = np.arange(order.size) - start[sorted_boards]
    mask = np.zeros(boards.size, dtype=bool)
    mask[order] = rank < n_hold[sorted_boards]
    return mask


@dataclass(frozen=True, eq=False)
class Split:
    """What one evaluation needs: the graph to fit on and each board's held-out pins.

    ``boards`` (ascending) are the boards with held-out pins; ``relevant[relevant_indptr[i]:
    relevant_indptr[i + 1]]`` are those of ``boards[i]``. ``touched`` is every pin a board has
    anywhere (training, validation or test), as CSR over all boards, for negative sampling.
    """

    name: str
    source: str
    train: Graph
    boards: np.ndarray
    relevant_indptr: np.ndarray
    relevant: np.ndarray
    touched_indptr: np.ndarray
    touched: np.ndarray
    notes: tuple[str, ...] = ()

    def relevant_of(self, i: int) -> np.ndarray:
        return self.relevant[self.relevant_indptr[i] : self.relevant_indptr[i + 1]]

    def restrict(self, keep: np.ndarray) -> Split:
        """The same split evaluated on the boards at positions ``keep`` (ascending) only."""
        counts = np.diff(self.relevant_indptr)[keep]
        indptr = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
        parts = [self.relevant_of(int(i)) for i in keep]
        relevant = np.concatenate(parts) if parts else np.empty(0, dtype=np.int32)
        return replace(
            self,
            boards=self.boards[keep],
            relevant_indptr=indptr,
            relevant=relevant.astype(np.int32),
        )


def _csr(n_rows: int, rows: np.ndarray, cols: np.ndarray, n_cols: int) -> tuple[np.ndarray, ...]:
    """Unique (row, col) pairs as CSR with sorted columns."""
    key = np.unique(rows.astype(np.int64) * max(n_cols, 1) + cols.astype(np.int64))
    r, c = key // max(n_cols, 1), key % max(n_cols, 1)
    indptr = np.concatenate(([0], np.cumsum(np.bincount(r, minlength=n_rows)))).astype(np.int64)
    return indptr, c.astype(np.int32)


def _derived_fingerprint(graph: Graph, split: str, source: str, spec: SplitSpec) -> str:
    # A fitted graph that lacks held-out edges must never share a cache key with the full graph.
    text = f"{graph.fingerprint}|{split}|{source}|{spec}"
    return hashlib.sha256(text.encode()).hexdigest()


def make_split(
    graph: Graph,
    test_pairs: tuple[np.ndarray, np.ndarray] | None,
    split: str,
    spec: SplitSpec,
    seed: int = 0,
) -> Split:
    """The ``test`` or ``validation`` split of ``graph`` (all of a dataset's training edges).

    ``test_pairs`` (boards, pins) is the dataset's own test split; without one, a holdout is
    carved from the edges as ``spec`` says. The validation split is carved from what remains for
    training in the same way (with an independent key stream), and its model is fitted on
    training minus validation, so no test or validation edge is ever seen while fitting.
    """
    if split not in SPLITS:
        raise WorkbenchError(f"unknown split {split!r} (test or validation)")
    boards, pins = graph.edges()
    notes: list[str] = []
    if test_pairs is not None and test_pairs[0].size:
        test_b = np.asarray(test_pairs[0], dtype=np.int32)
        test_p = np.asarray(test_pairs[1], dtype=np.int32)
        n = max(graph.n_pins, 1)
        train_mask = ~np.isin(
            boards.astype(np.int64) * n + pins, test_b.astype(np.int64) * n + test_p
        )
        leaked = int((~train_mask).sum())
        if leaked:
            notes.append(f"{leaked} test pairs were also training edges; left out of training")
        source = "the dataset's test split"
    else:
        held = holdout_mask(
            boards, pins, graph.board_times, graph.n_boards, spec, seed, STREAM_TEST
        )
        test_b, test_p, train_mask = boards[held], pins[held], ~held
        source = spec.describe(seed)
    touched_indptr, touched = _csr(
        graph.n_boards,
        np.concatenate([boards, test_b]),
        np.concatenate([pins, test_p]),
        graph.n_pins,
    )
    if split == "validation":
        train_idx = np.flatnonzero(train_mask)
        times = graph.board_times[train_idx] if graph.board_times is not None else None
        held = holdout_mask(
            boards[train_idx], pins[train_idx], times, graph.n_boards, spec, seed, STREAM_VALIDATION
        )
        rel_b, rel_p = boards[train_idx[held]], pins[train_idx[held]]
        train_mask[train_idx[held]] = False
        source = f"validation carved from training ({spec.describe(seed)}); test from {source}"
    else:
        rel_b, rel_p = test_b, test_p
    if train_mask.all():
        train = graph
    else:
        train = Graph.from_edges(
            graph.n_pins,
            graph.n_boards,
            boards[train_mask],
            pins[train_mask],
            weights=graph.board_weights[train_mask] if graph.board_weights is not None else None,
            times=graph.board_times[train_mask] if graph.board_times is not None else None,
            pin_attributes=graph.pin_attributes,
            board_attributes=graph.board_attributes,
            dataset=graph.dataset,
            fingerprint=_derived_fingerprint(graph, split, source, spec),
        )
    rel_indptr, relevant = _csr(graph.n_boards, rel_b, rel_p, graph.n_pins)
    counts = np.diff(rel_indptr)
    eval_boards = np.flatnonzero(counts > 0).astype(np.int32)
    indptr = np.concatenate(([0], np.cumsum(counts[eval_boards]))).astype(np.int64)
    return Split(
        name=split,
        source=source,
        train=train,
        boards=eval_boards,
        relevant_indptr=indptr,
        relevant=relevant,
        touched_indptr=touched_indptr,
        touched=touched,
        notes=tuple(notes),
    )


def sample_boards(boards: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Positions of ``n`` of ``boards`` chosen uniformly (seeded), ascending."""
    if n >= boards.size:
        return np.arange(boards.size)
    key = pair_keys(seed, STREAM_BOARDS, boards, np.zeros_like(boards))
    return np.sort(np.argsort(key, kind="stable")[:n])


@numba.njit(cache=True, nogil=True)
def _sample_negatives(
    boards: np.ndarray,
    touched_indptr: np.ndarray,
    touched: np.ndarray,
    n_pins: int,
    n: int,
    base: np.uint64,
) -> np.ndarray:
    out = np.full((boards.shape[0], n), -1, dtype=np.int32)
    mark = np.zeros(n_pins, dtype=np.bool_)
    for i in range(boards.shape[0]):
        b = boards[i]
        lo, hi = touched_indptr[b], touched_indptr[b + 1]
        for j in range(lo, hi):
            mark[touched[j]] = True
        taken = 0
        if n_pins - (hi - lo) <= n:  # too few untouched pins: all of them
            for p in range(n_pins):
                if not mark[p]:
                    out[i, taken] = p
                    taken += 1
        else:  # uniform without replacement by rejection
            state = _mix(base ^ np.uint64(b))
            while taken < n:
                state += _GOLDEN
                pick = np.int64(_mix(state) % np.uint64(n_pins))
                if not mark[pick]:
                    mark[pick] = True
                    out[i, taken] = pick
                    taken += 1
        for j in range(taken):
            mark[out[i, j]] = False
        for j in range(lo, hi):
            mark[touched[j]] = False
    return out


def sample_negatives(split: Split, n: int, seed: int) -> np.ndarray:
    """``n`` negatives for each evaluated board (rows follow ``split.boards``): pins drawn
    uniformly without replacement from those the board never touched (NCF protocol; He et al.,
    WWW 2017). A board with fewer untouched pins gets all of them, padded with -1."""
    if n < 1:
        raise WorkbenchError(f"the number of negatives must be at least 1, got {n}")
    return _sample_negatives(
        split.boards,
        split.touched_indptr,
        split.touched,
        split.train.n_pins,
        n,
        stream_base(seed, STREAM_NEGATIVES),
    )
