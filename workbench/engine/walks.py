"""Pixie random walks with restart as numba kernels, and the top-k ranking all recommenders share.

Pixie: Eksombatchai et al., "Pixie: A System for Recommending 3+ Billion Items to 200+ Million
Users in Real-Time", WWW 2018. One step goes pin -> board -> pin, each neighbour drawn uniformly
or, in a biased walk, with probability ``bias`` among the neighbours whose topic matches the
query's (the paper's PersonalizedNeighbor). Before every step the walker goes back to its query
pin with probability ``alpha``, so walks have geometric lengths (Alg. 1) and the normalised visit
counts converge to the personalised PageRank of the pin->pin chain (computed exactly by
``recommenders/ppr.py``).

Speed: ``WALKERS`` independent walkers of one query pin advance together one memory access at a
time, so their cache misses overlap; random numbers come from an inline splitmix64 generator; visit
counts live in a dense int32 array per thread of which only the touched entries are reset.

Reproducibility: query ``i`` of a batch walks with the generator seeded by
``query_seed(seed, start + i)``, never by a thread id, so a ranking does not depend on the number
of threads or on how queries are split into batches.

The ranking kernels at the end (:func:`rank_into`, :func:`rank_dense_batch`) finish every
recommender's scores, not only the walks'.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NamedTuple

import numba
import numpy as np

from workbench.engine.graph import Graph

WALKERS = 32
"""Walkers of one query pin advanced together (bench/walks.md compares 16, 32 and 64)."""

ALLOCATIONS = ("paper", "equal")
"""How a query's steps are split among its pins: Pixie's degree-based budget, or equally."""

CREDITS = ("sample", "expected")
"""What a step credits: the one pin sampled, or every pin of the board its expected visit."""

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_LOW32 = np.uint64(0xFFFFFFFF)
_LOW16 = np.uint64(0xFFFF)
_U64 = (1 << 64) - 1


class WalkGraph(NamedTuple):
    """The arrays a walk reads. With a topic, neighbour lists are sorted by the neighbours' topic
    codes (``board_codes``: of the boards in ``pin_boards``; ``pin_codes``: of the pins in
    ``board_pins``) so a biased step finds the matching neighbours by binary search."""

    pin_indptr: np.ndarray
    pin_boards: np.ndarray
    board_indptr: np.ndarray
    board_pins: np.ndarray
    board_codes: np.ndarray  # int32, aligned with pin_boards; empty without a topic
    pin_codes: np.ndarray  # int32, aligned with board_pins; empty without a topic
    pin_degree: np.ndarray  # int64
    max_degree: float  # C in the step budget


class WalkParams(NamedTuple):
    """Walk parameters in kernel form (probabilities as integer thresholds)."""

    n_steps: int
    restart: np.uint64  # alpha * 2**32
    bias_board: np.uint64  # probability * 2**16 of a biased pin -> board choice
    bias_pin: np.uint64  # and of a biased board -> pin choice
    n_p: int
    n_v: int
    boost: bool
    degree_beta: float
    equal: bool  # allocation "equal": the same steps per query pin (times its weight)
    expected: bool  # credit "expected": each pin of a visited board gets its transition probability


def walk_graph(graph: Graph, topic: str | None = None) -> WalkGraph:
    """The walk arrays of ``graph``; with ``topic`` (a pin attribute) ready for biased walks."""
    degree = np.asarray(graph.pin_degree, dtype=np.int64)  # no copy: it is int64
    pin_boards, board_codes = graph.pin_boards, np.zeros(0, dtype=np.int32)
    board_pins, pin_codes = graph.board_pins, np.zeros(0, dtype=np.int32)
    if topic is not None:
        pin_boards, board_codes = _sort_segments(
            graph.pin_indptr, graph.pin_boards, graph.board_topics(topic)
        )
        board_pins, pin_codes = _sort_segments(
            graph.board_indptr, graph.board_pins, graph.pin_attribute(topic).codes
        )
    max_degree = float(degree.max()) if degree.size else 0.0
    return WalkGraph(
        graph.pin_indptr,
        pin_boards,
        graph.board_indptr,
        board_pins,
        board_codes,
        pin_codes,
        degree,
        max_degree,
    )


def _sort_segments(
    indptr: np.ndarray, nbrs: np.ndarray, codes: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each CSR row's neighbours (ascending ids) sorted by (code, id), and their codes."""
    sorted_nbrs = np.empty(nbrs.shape[0], dtype=np.int32)
    sorted_codes = np.empty(nbrs.shape[0], dtype=np.int32)
    codes = np.ascontiguousarray(codes, dtype=np.int32)
    _sort_rows_by_code(indptr, nbrs, codes, sorted_nbrs, sorted_codes)
    return sorted_nbrs, sorted_codes


@numba.njit(cache=True, nogil=True, parallel=True)
def _sort_rows_by_code(
    indptr: np.ndarray,
    nbrs: np.ndarray,
    codes: np.ndarray,
    out_nbrs: np.ndarray,
    out_codes: np.ndarray,
) -> None:
    """Row by row, a stable sort of the neighbours (ascending ids) by their codes."""
    for r in numba.prange(indptr.shape[0] - 1):
        lo, hi = indptr[r], indptr[r + 1]
        row_codes = np.empty(hi - lo, dtype=np.int32)
        for j in range(lo, hi):
            row_codes[j - lo] = codes[nbrs[j]]
        order = np.argsort(row_codes, kind="mergesort")
        for j in range(hi - lo):
            out_nbrs[lo + j] = nbrs[lo + order[j]]
            out_codes[lo + j] = row_codes[order[j]]


def walk_params(
    steps: int,
    alpha: float,
    n_p: int = 0,
    n_v: int = 4,
    boost: bool = True,
    degree_beta: float = 0.0,
    bias: float = 0.0,
    bias_side: str = "board",
    allocation: str = "paper",
    credit: str = "sample",
) -> WalkParams:
    """Kernel parameters; ``bias_side`` is "board", "pin" or "both"; ``allocation`` is "paper"
    or "equal" (:func:`step_budget`); ``credit`` is "sample" or "expected" (:func:`pixie_scores`).
    """
    if allocation not in ALLOCATIONS:
        raise ValueError(f"allocation must be one of {ALLOCATIONS}, got {allocation!r}")
    if credit not in CREDITS:
        raise ValueError(f"credit must be one of {CREDITS}, got {credit!r}")
    bias_t = np.uint64(round(bias * (1 << 16)))
    none = np.uint64(0)
    return WalkParams(
        n_steps=int(steps),
        restart=np.uint64(round(alpha * (1 << 32))),
        bias_board=bias_t if bias_side in ("board", "both") else none,
        bias_pin=bias_t if bias_side in ("pin", "both") else none,
        n_p=int(n_p),
        n_v=int(n_v),
        boost=bool(boost),
        degree_beta=float(degree_beta),
        equal=allocation == "equal",
        expected=credit == "expected",
    )


def query_seed(seed: int, index: int) -> int:
    """The generator seed of query ``index`` of a batch run with ``seed`` (index 0: ``seed``)."""
    return (seed + index * int(_GOLDEN)) & _U64


def query_seeds(seed: int, start: int, n: int) -> np.ndarray:
    """``query_seed(seed, start + i)`` for ``i < n``, as uint64."""
    index = np.arange(start, start + n, dtype=np.uint64)
    return np.uint64(seed & _U64) + index * _GOLDEN  # uint64 arrays wrap modulo 2**64


class Scratch(NamedTuple):
    """Per-thread work arrays over all pins; every kernel leaves them as it found them (zero).

    The last three are only allocated (else 0 columns) for walks with expected-visit credit."""

    counts: np.ndarray  # int32 [threads, pins]: visits of the current query pin
    touched: np.ndarray  # int32 [threads, pins + 1]: pins with counts > 0
    acc: np.ndarray  # float64 [threads, pins]: scores of the current query
    acc_touched: np.ndarray  # int32 [threads, pins + 1]: pins with acc > 0
    mask: np.ndarray  # bool [threads, pins]: excluded pins while ranking
    visits: np.ndarray  # float64 [threads, pins]: expected visits of the current query pin
    board_counts: np.ndarray  # int32 [threads, boards]: visits of each board
    board_touched: np.ndarray  # int32 [threads, boards + 1]: boards with board_counts > 0


class ScratchPool:
    """Reusable :class:`Scratch` for one graph size, safe to borrow from several threads.
    ``n_boards`` > 0 also allocates the arrays of expected-visit credit."""

    def __init__(self, n_pins: int, n_boards: int = 0):
        self.n_pins = n_pins
        self.n_boards = n_boards
        self._free: list[Scratch] = []
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, int]:
        # Shipped to another process (a Ray worker): send the sizes only, not the buffers.
        return {"n_pins": self.n_pins, "n_boards": self.n_boards}

    def __setstate__(self, state: dict[str, int]) -> None:
        self.__init__(state["n_pins"], state.get("n_boards", 0))  # type: ignore[misc]

    @contextmanager
    def borrow(self) -> Iterator[Scratch]:
        """Scratch with a row for each of numba's current threads."""
        threads = numba.get_num_threads()
        with self._lock:
            fits = [i for i, s in enumerate(self._free) if s.acc.shape[0] >= threads]
            scratch = self._free.pop(fits[0]) if fits else None
        if scratch is None:
            n, nb = self.n_pins, self.n_boards
            extra = nb > 0
            scratch = Scratch(
                np.zeros((threads, n), np.int32),
                np.zeros((threads, n + 1), np.int32),
                np.zeros((threads, n)),
                np.zeros((threads, n + 1), np.int32),
                np.zeros((threads, n), bool),
                np.zeros((threads, n if extra else 0)),
                np.zeros((threads, nb), np.int32),
                np.zeros((threads, nb + 1 if extra else 0), np.int32),
            )
        try:
            yield scratch
        finally:
            with self._lock:
                self._free.append(scratch)


@contextmanager
def parallel(n_items: int) -> Iterator[None]:
    """Run this thread's next parallel kernels over ``n_items`` items on no more threads than
    items: a single query then never waits at a barrier for a thread on a busy core."""
    threads = numba.get_num_threads()
    numba.set_num_threads(max(1, min(threads, n_items)))
    try:
        yield
    finally:
        numba.set_num_threads(threads)


# -- walks ---------------------------------------------------------------------------------------


@numba.njit(cache=True, nogil=True)
def _mix64(z: np.uint64) -> np.uint64:
    # The output function of splitmix64 (Steele, Lea & Flood, OOPSLA 2014).
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


@numba.njit(cache=True, nogil=True)
def _below(r: np.uint64, n: int) -> np.int64:
    """A number in [0, n) from the low 32 random bits of ``r`` (Lemire's multiply-shift)."""
    return np.int64(((r & _LOW32) * np.uint64(n)) >> np.uint64(32))


@numba.njit(cache=True, nogil=True)
def _matching(codes: np.ndarray, lo: int, hi: int, code: int) -> tuple[int, int]:
    """The range of ``codes[lo:hi]`` (sorted) equal to ``code``, by binary search."""
    a, b = lo, hi
    while a < b:
        mid = (a + b) >> 1
        if codes[mid] < code:
            a = mid + 1
        else:
            b = mid
    first, b = a, hi
    while a < b:
        mid = (a + b) >> 1
        if codes[mid] <= code:
            a = mid + 1
        else:
            b = mid
    return first, a


@numba.njit(cache=True, nogil=True)
def step_budget(
    pins: np.ndarray,
    weights: np.ndarray,
    pin_degree: np.ndarray,
    n_steps: int,
    max_degree: float,
    out: np.ndarray,
    equal: bool = False,
) -> None:
    """Steps per query pin, adding up to exactly ``n_steps`` (0 when no query pin has a board).

    Shares: Pixie's Alg. 3, s_q = deg(q) (C - log deg(q)) with C the largest pin degree, or with
    ``equal`` s_q = 1; a pin without boards gets 0. Query pin q gets N_q proportional to
    w_q s_q, rounded by largest remainder (ties: the earlier pin) so that sum N_q = N. With all
    weights 1 this is the paper's N_q = N s_q / sum_r s_r; the paper's formula puts the weights
    outside the normalisation (sum N_q = N sum w_q s_q / sum s_q), here they only shift steps
    between the query's pins, so ``steps`` is the cost of every query whatever its weights.
    """
    n = pins.shape[0]
    share = np.zeros(n)
    total = 0.0
    for i in range(n):
        d = pin_degree[pins[i]]
        if d > 0:
            share[i] = weights[i] * (1.0 if equal else d * (max_degree - np.log(d)))
            total += share[i]
    if total <= 0.0:
        out[:] = 0
        return
    frac = np.zeros(n)
    given = 0
    for i in range(n):
        exact = n_steps * (share[i] / total)
        out[i] = np.int64(np.floor(exact))
        frac[i] = exact - out[i] if share[i] > 0 else -1.0
        given += out[i]
    order = np.argsort(-frac, kind="mergesort")
    j = 0
    while given < n_steps and j < n:
        if frac[order[j]] >= 0.0:
            out[order[j]] += 1
            given += 1
        j += 1
    j = n - 1  # floating-point rounding could overshoot: take back from the smallest remainders
    while given > n_steps and j >= 0:
        if out[order[j]] > 0:
            out[order[j]] -= 1
            given -= 1
        j -= 1


@numba.njit(cache=True, nogil=True)
def _walk_pin(
    q: int,
    n_steps: int,
    state: np.uint64,
    topic: int,
    g: WalkGraph,
    wp: WalkParams,
    counts: np.ndarray,
    touched: np.ndarray,
    board_counts: np.ndarray,
    board_touched: np.ndarray,
) -> tuple[int, int, int, np.uint64]:
    """Walk ``n_steps`` steps from query pin ``q`` (Pixie Alg. 1, with Alg. 2's early stopping).

    Visits are added to ``counts`` and newly visited pins appended to ``touched``; with
    expected-visit credit, board visits likewise to ``board_counts`` and ``board_touched``
    (and pin visits only when early stopping needs them).
    Stops early once ``n_p`` pins (0: never) have ``n_v`` visits, checked every ``WALKERS``
    steps. Returns (steps taken, length of ``touched``, of ``board_touched``, generator state).

    The walkers advance in stages, each one memory access per walker, so the accesses within a
    stage are independent and their cache misses overlap. ``lo``/``deg`` is the neighbour range a
    walker draws from next: its pin's boards, then its board's pins.
    """
    # Per-walker lanes, allocated here so the compiler knows they alias nothing else.
    lo, deg = np.empty(WALKERS, dtype=np.int64), np.empty(WALKERS, dtype=np.int64)
    node = np.empty(WALKERS, dtype=np.int64)
    r1, r2 = np.empty(WALKERS, dtype=np.uint64), np.empty(WALKERS, dtype=np.uint64)
    q_lo = g.pin_indptr[q]
    q_deg = g.pin_indptr[q + 1] - q_lo
    lo[:] = q_lo
    deg[:] = q_deg
    # Without a topic to prefer (the query pins have none) the walk is unbiased.
    bias_board = wp.bias_board if topic >= 0 else np.uint64(0)
    bias_pin = wp.bias_pin if topic >= 0 else np.uint64(0)
    # Expected-visit credit scores the boards' visits: pins are counted only for early stopping.
    count_pins = not wp.expected or wp.n_p > 0
    taken = 0
    n_touched = 0
    n_btouched = 0
    n_high = 0
    while taken < n_steps:
        m = min(WALKERS, n_steps - taken)
        for w in range(m):  # back to the query pin with probability alpha, branch-free
            state += _GOLDEN
            r1[w] = _mix64(state)
            state += _GOLDEN
            r2[w] = _mix64(state)
            back = (r2[w] & _LOW32) < wp.restart
            lo[w] = q_lo if back else lo[w]
            deg[w] = q_deg if back else deg[w]
        if bias_board > 0:
            for w in range(m):
                if ((r2[w] >> np.uint64(32)) & _LOW16) < bias_board:
                    a, b = _matching(g.board_codes, lo[w], lo[w] + deg[w], topic)
                    if b > a:
                        lo[w], deg[w] = a, b - a
        for w in range(m):
            node[w] = g.pin_boards[lo[w] + _below(r1[w], deg[w])]
        for w in range(m):
            lo[w] = g.board_indptr[node[w]]
            deg[w] = g.board_indptr[node[w] + 1] - lo[w]
        if wp.expected:
            for w in range(m):
                b = node[w]
                c = board_counts[b] + 1
                board_counts[b] = c
                board_touched[n_btouched] = b
                n_btouched += c == 1
        if bias_pin > 0:
            for w in range(m):
                if (r2[w] >> np.uint64(48)) < bias_pin:
                    a, b = _matching(g.pin_codes, lo[w], lo[w] + deg[w], topic)
                    if b > a:
                        lo[w], deg[w] = a, b - a
        for w in range(m):
            node[w] = g.board_pins[lo[w] + _below(r1[w] >> np.uint64(32), deg[w])]
        if count_pins:
            for w in range(m):
                p = node[w]
                c = counts[p] + 1
                counts[p] = c
                touched[n_touched] = p  # branch-free append, kept only on the first visit
                n_touched += c == 1
                n_high += c == wp.n_v
                lo[w] = g.pin_indptr[p]
                deg[w] = g.pin_indptr[p + 1] - lo[w]
        else:
            for w in range(m):
                p = node[w]
                lo[w] = g.pin_indptr[p]
                deg[w] = g.pin_indptr[p + 1] - lo[w]
        taken += m
        if wp.n_p > 0 and n_high >= wp.n_p:
            break
    return taken, n_touched, n_btouched, state


@numba.njit(cache=True, nogil=True)
def _expected_visits(
    n_btouched: int,
    topic: int,
    g: WalkGraph,
    wp: WalkParams,
    board_counts: np.ndarray,
    board_touched: np.ndarray,
    visits: np.ndarray,
    touched: np.ndarray,
) -> int:
    """Expected-visit credit: each pin of each visited board gets the board's visits times its
    probability of being the next pin (1/deg(b), or the pin-side biased choice's probability).
    The sum over the walk's boards of that distribution is what the sampled pins estimate, with
    the variance of the board -> pin draw removed. Visits go to ``visits`` (all zero on entry),
    the pins to ``touched``; ``board_counts`` is left all zero. Returns the length of ``touched``.
    """
    bias = wp.bias_pin / 65536.0 if topic >= 0 else 0.0
    n_touched = 0
    for j in range(n_btouched):
        b = board_touched[j]
        c = float(board_counts[b])
        board_counts[b] = 0
        lo, hi = g.board_indptr[b], g.board_indptr[b + 1]
        a, z = lo, lo
        if bias > 0.0:
            a, z = _matching(g.pin_codes, lo, hi, topic)
        each = c / (hi - lo)
        if z > a:
            each = c * (1.0 - bias) / (hi - lo)
        for i in range(lo, hi):
            p = g.board_pins[i]
            v = each + (c * bias / (z - a) if a <= i < z else 0.0)
            if visits[p] == 0.0:
                touched[n_touched] = p
                n_touched += 1
            visits[p] += v
    return n_touched


@numba.njit(cache=True, nogil=True)
def pixie_scores(
    pins: np.ndarray,
    weights: np.ndarray,
    seed: np.uint64,
    topic: int,
    g: WalkGraph,
    wp: WalkParams,
    counts: np.ndarray,
    touched: np.ndarray,
    acc: np.ndarray,
    acc_touched: np.ndarray,
    visits: np.ndarray,
    board_counts: np.ndarray,
    board_touched: np.ndarray,
) -> tuple[int, int]:
    """One query (Pixie Alg. 3): a walk from each query pin with its step budget, combined.

    Scores land in ``acc`` (all zero on entry) for the pins listed in ``acc_touched``:
    V[p] = (sum_q sqrt(V_q[p]))^2 with ``boost`` (multi-hit boosting), else sum_q V_q[p]; then
    divided by deg(p)^degree_beta when ``degree_beta`` > 0 (a variant, not in the paper).
    V_q[p] is the number of visits of the walk from q (credit "sample"), or with ``expected``
    the expected visits given the boards the walk stood on (:func:`_expected_visits`; then
    ``visits``, ``board_counts`` and ``board_touched`` are work arrays, else unused).
    Returns (steps taken, number of scored pins); ``counts`` is left all zero.
    """
    budget = np.empty(pins.shape[0], dtype=np.int64)
    step_budget(pins, weights, g.pin_degree, wp.n_steps, g.max_degree, budget, wp.equal)
    state = _mix64(seed)
    steps = 0
    n_acc = 0
    for i in range(pins.shape[0]):
        if budget[i] == 0:
            continue
        taken, n_touched, n_btouched, state = _walk_pin(
            pins[i], budget[i], state, topic, g, wp, counts, touched, board_counts, board_touched
        )
        steps += taken
        if wp.expected:
            for j in range(n_touched):
                counts[touched[j]] = 0
            n_touched = _expected_visits(
                n_btouched, topic, g, wp, board_counts, board_touched, visits, touched
            )
        for j in range(n_touched):
            p = touched[j]
            if wp.expected:
                v = visits[p]
                visits[p] = 0.0
            else:
                v = float(counts[p])
                counts[p] = 0
            if acc[p] == 0.0:
                acc_touched[n_acc] = p
                n_acc += 1
            acc[p] += np.sqrt(v) if wp.boost else v
    for j in range(n_acc):
        p = acc_touched[j]
        v = acc[p] * acc[p] if wp.boost else acc[p]
        if wp.degree_beta > 0.0:
            v /= g.pin_degree[p] ** wp.degree_beta
        acc[p] = v
    return steps, n_acc


@numba.njit(cache=True, nogil=True, parallel=True)
def pixie_batch(
    q_indptr: np.ndarray,
    q_pins: np.ndarray,
    q_weights: np.ndarray,
    ex_indptr: np.ndarray,
    ex_pins: np.ndarray,
    c_indptr: np.ndarray,
    c_pins: np.ndarray,
    topics: np.ndarray,
    seeds: np.ndarray,
    g: WalkGraph,
    wp: WalkParams,
    s: Scratch,
    out_pins: np.ndarray,
    out_scores: np.ndarray,
    out_n: np.ndarray,
    out_cands: np.ndarray,
    out_steps: np.ndarray,
) -> None:
    """Many queries in parallel, one per prange iteration, on per-thread scratch rows.

    Query ``i``: pins ``q_pins[q_indptr[i]:q_indptr[i+1]]`` with ``q_weights``, excluded pins
    ``ex_pins[ex_indptr[i]:...]``, candidates ``c_pins[c_indptr[i]:...]`` whose scores go to
    ``out_cands[c_indptr[i]:...]``; its ranking goes to ``out_pins[i]``, ``out_scores[i]`` (the
    first ``out_n[i]``), its steps taken to ``out_steps[i]``.
    """
    for i in numba.prange(q_indptr.shape[0] - 1):
        # Rows of this thread's scratch, taken as views first: numba (0.68) drops writes made
        # through a NamedTuple attribute (``s.acc[t, p] = 0``) inside prange.
        t = numba.get_thread_id()
        acc, acc_touched = s.acc[t], s.acc_touched[t]
        q0, q1 = q_indptr[i], q_indptr[i + 1]
        steps, n_acc = pixie_scores(
            q_pins[q0:q1],
            q_weights[q0:q1],
            seeds[i],
            topics[i],
            g,
            wp,
            s.counts[t],
            s.touched[t],
            acc,
            acc_touched,
            s.visits[t],
            s.board_counts[t],
            s.board_touched[t],
        )
        out_steps[i] = steps
        c0, c1 = c_indptr[i], c_indptr[i + 1]
        exclude = ex_pins[ex_indptr[i] : ex_indptr[i + 1]]
        out_n[i] = rank_into(
            acc,
            acc_touched,
            n_acc,
            exclude,
            s.mask[t],
            out_pins[i],
            out_scores[i],
            c_pins[c0:c1],
            out_cands[c0:c1],
        )
        for j in range(n_acc):
            acc[acc_touched[j]] = 0.0


# -- ranking -------------------------------------------------------------------------------------


@numba.njit(cache=True, nogil=True)
def _worse(s1: float, p1: int, s2: float, p2: int) -> bool:
    """The ranking order: higher score first, then the lower pin id."""
    return s1 < s2 or (s1 == s2 and p1 > p2)


@numba.njit(cache=True, nogil=True)
def _sift_down(hs: np.ndarray, hp: np.ndarray, i: int, n: int) -> None:
    while True:
        worst = i
        for child in (2 * i + 1, 2 * i + 2):
            if child < n and _worse(hs[child], hp[child], hs[worst], hp[worst]):
                worst = child
        if worst == i:
            return
        hs[i], hs[worst] = hs[worst], hs[i]
        hp[i], hp[worst] = hp[worst], hp[i]
        i = worst


@numba.njit(cache=True, nogil=True)
def rank_into(
    scores: np.ndarray,
    pool: np.ndarray,
    n_pool: int,
    exclude: np.ndarray,
    mask: np.ndarray,
    out_pins: np.ndarray,
    out_scores: np.ndarray,
    cands: np.ndarray,
    out_cands: np.ndarray,
) -> int:
    """The best ``len(out_pins)`` of ``pool[:n_pool]`` by ``scores`` (positive scores only, none
    of ``exclude``), best first, into ``out_pins``/``out_scores``; returns how many were found.
    Also copies the scores of ``cands`` into ``out_cands``. ``mask`` is all False on entry and on
    return."""
    for j in range(cands.shape[0]):
        out_cands[j] = scores[cands[j]]
    k = out_pins.shape[0]
    if k == 0:
        return 0
    for p in exclude:
        mask[p] = True
    # A heap of the best k so far, the worst of them at the root, kept in the output arrays.
    size = 0
    for j in range(n_pool):
        p = pool[j]
        s = scores[p]
        if s <= 0.0 or mask[p]:
            continue
        if size < k:
            i = size
            size += 1
            out_scores[i], out_pins[i] = s, p
            while i > 0:
                up = (i - 1) >> 1
                if not _worse(out_scores[i], out_pins[i], out_scores[up], out_pins[up]):
                    break
                out_scores[i], out_scores[up] = out_scores[up], out_scores[i]
                out_pins[i], out_pins[up] = out_pins[up], out_pins[i]
                i = up
        elif _worse(out_scores[0], out_pins[0], s, p):
            out_scores[0], out_pins[0] = s, p
            _sift_down(out_scores, out_pins, 0, size)
    for p in exclude:
        mask[p] = False
    for end in range(size - 1, 0, -1):  # heap sort: the worst goes last
        out_scores[0], out_scores[end] = out_scores[end], out_scores[0]
        out_pins[0], out_pins[end] = out_pins[end], out_pins[0]
        _sift_down(out_scores, out_pins, 0, end)
    return size


@numba.njit(cache=True, nogil=True, parallel=True)
def rank_dense_batch(
    scores: np.ndarray,
    rows: np.ndarray,
    ex_indptr: np.ndarray,
    ex_pins: np.ndarray,
    c_indptr: np.ndarray,
    c_pins: np.ndarray,
    mask: np.ndarray,
    out_pins: np.ndarray,
    out_scores: np.ndarray,
    out_n: np.ndarray,
    out_cands: np.ndarray,
) -> None:
    """:func:`rank_into` for queries with dense scores: query ``i`` scores all pins with
    ``scores[rows[i]]``."""
    everyone = np.arange(scores.shape[1], dtype=np.int32)
    for i in numba.prange(rows.shape[0]):
        t = numba.get_thread_id()
        c0, c1 = c_indptr[i], c_indptr[i + 1]
        out_n[i] = rank_into(
            scores[rows[i]],
            everyone,
            everyone.shape[0],
            ex_pins[ex_indptr[i] : ex_indptr[i + 1]],
            mask[t],
            out_pins[i],
            out_scores[i],
            c_pins[c0:c1],
            out_cands[c0:c1],
        )
