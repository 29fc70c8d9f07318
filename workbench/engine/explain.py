"""Why a pin is in a ranking: its visits re-counted by re-walking, or its score split exactly.

Walks (Pixie, pixie-dn): :func:`trace_walk` re-walks one query exactly as
:func:`workbench.engine.walks.pixie_scores` does (same step budgets, generator stream, walker
lanes, biased choices and early stopping) and counts only the visits of one target pin: per query
pin, and per board through which each visit arrived (the board of the pin -> board -> pin step).
It mirrors ``walks._walk_pin`` stage by stage and reuses its generator, neighbour draw, topic
search and step budget; ``tests/test_explain.py`` proves on small graphs that its counts combine
to the scores the real walk produced, so a change in ``walks.py`` that is not mirrored here fails
that test. :func:`unsupported_params` lists the walk parameters this mirror understands.

Item similarity (P3alpha, RP3beta, ItemKNN): a query with pins i and weights w_i scores pin j as
sum_i w_i W[i, j] (``recommenders/similarity.py``); W[i, j] is a sum over the boards b shared by
i and j of a path weight (P3alpha: Piu[i, b]^a Pui[b, j]^a, times deg(j)^-beta for RP3beta, up to
the row normalisation; ItemKNN: x[b, i] x[b, j] over the cosine's denominator), so each query pin
contributes w_i W[i, j] and each path its share of that, exactly.

Exact PPR: the score is linear in the restart distribution, so query pin q contributes
r_q PPR_q(j), all q at once from one reverse power iteration; the boards are those of the last
step into j, x(j) = (1 - alpha) sum_b
sum_{p in b} x(p) / deg(p) / deg(b) for a pin that is not a query pin.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
import scipy.sparse as sps

from workbench.engine.errors import WorkbenchError
from workbench.engine.graph import Graph
from workbench.engine.progress import SILENT, Reporter
from workbench.engine.recommenders.base import (
    Query,
    Recommender,
    algorithm,
    pack,
    param_fields,
)
from workbench.engine.recommenders.itemknn import ItemKNN
from workbench.engine.recommenders.p3alpha import P3alpha
from workbench.engine.recommenders.pixie import Pixie
from workbench.engine.recommenders.popular import Popular
from workbench.engine.recommenders.ppr import PPR, restart_vectors
from workbench.engine.recommenders.rp3beta import RP3beta
from workbench.engine.walks import (
    _GOLDEN,
    _LOW16,
    _LOW32,
    WALKERS,
    WalkGraph,
    WalkParams,
    _below,
    _matching,
    _mix64,
    query_seeds,
    step_budget,
)

SCORE_RTOL = 1e-9
"""How closely a recomputed score must equal the stored one for an explanation to be given."""


@dataclass(frozen=True)
class PinExplanation:
    """The evidence for one pin in dense ids: per query pin (aligned with the query's pins) and
    per board (``boards`` with ``board_parts``, all boards with a part > 0, largest first).

    ``query_parts``: walk visits before boosting, or exact contributions to ``score``.
    ``board_parts``: visits that arrived through the board, or its paths' contributions.
    ``score``: the recomputed score (equal to the stored one within :data:`SCORE_RTOL`).
    """

    method: str  # "walk" or "exact"
    query_pins: np.ndarray  # int32
    query_weights: np.ndarray  # float64
    query_parts: np.ndarray  # float64
    query_shares: np.ndarray  # float64, sums to 1 (boosting taken into account for walks)
    boards: np.ndarray  # int32
    board_parts: np.ndarray  # float64
    score: float
    steps: int = 0


# -- walks ---------------------------------------------------------------------------------------

WALK_PARAMS = frozenset(
    {
        "steps", "alpha", "n_p", "n_v", "boost", "degree_beta", "bias", "bias_side",
        "bias_value", "topic", "prune_entropy", "prune_delta", "prune_seed", "allocation",
        "credit",
    }
)  # fmt: skip
"""The Pixie parameters :func:`trace_walk` mirrors, at any value. A parameter added to Pixie
is refused until the mirror handles it and it is listed here (with a case in the test that
re-walks every ranked pin)."""


WALK_CHOICES: dict[str, tuple[str, ...]] = {
    "allocation": ("paper", "equal"),
    "credit": ("sample", "expected"),
    "bias_side": ("board", "pin", "both"),
}
"""The values of Pixie's choice parameters that the mirror handles (a new value is refused)."""


def unsupported_params(algo: str, params: dict[str, Any]) -> str | None:
    """None when a run of ``algo`` with these stored parameters can be explained, else the first
    parameter that cannot (as ``name=value``): one the algorithm no longer has, or for a walk one
    that the mirror of ``walks.py`` does not know (:data:`WALK_PARAMS`)."""
    known = {f.name for f in param_fields(algo)}
    walk = issubclass(algorithm(algo), Pixie)
    for key, value in params.items():
        if key not in known or (walk and key not in WALK_PARAMS):
            return f"{key}={value!r}"
        if walk and key in WALK_CHOICES and value not in WALK_CHOICES[key]:
            return f"{key}={value!r}"
    return None


def seeded(algo: str) -> bool:
    """Whether ``algo``'s rankings depend on the seed (walks), so re-running one needs it."""
    return issubclass(algorithm(algo), Pixie)


@numba.njit(cache=True, nogil=True)
def _trace_pin(
    q: int,
    n_steps: int,
    state: np.uint64,
    topic: int,
    g: WalkGraph,
    wp: WalkParams,
    target: int,
    is_target_board: np.ndarray,
    counts: np.ndarray,
    touched: np.ndarray,
    board_visits: np.ndarray,
) -> tuple[int, int, np.uint64]:
    """``walks._walk_pin`` stage for stage, following only ``target``: with credit "sample" the
    visits of ``target`` (returned) and the board each came through (added to ``board_visits``);
    with credit "expected" the steps that stood on a board of ``target`` (``is_target_board``),
    per board in ``board_visits`` (the caller empties it after each query pin). All pins are
    counted only when early stopping needs them (``n_p`` > 0); ``counts`` is left all zero.
    Returns (steps taken, visits of ``target``, generator state)."""
    lo, deg = np.empty(WALKERS, dtype=np.int64), np.empty(WALKERS, dtype=np.int64)
    node = np.empty(WALKERS, dtype=np.int64)
    via = np.empty(WALKERS, dtype=np.int64)
    r1, r2 = np.empty(WALKERS, dtype=np.uint64), np.empty(WALKERS, dtype=np.uint64)
    q_lo = g.pin_indptr[q]
    q_deg = g.pin_indptr[q + 1] - q_lo
    lo[:] = q_lo
    deg[:] = q_deg
    bias_board = wp.bias_board if topic >= 0 else np.uint64(0)
    bias_pin = wp.bias_pin if topic >= 0 else np.uint64(0)
    count_all = wp.n_p > 0
    taken = 0
    n_touched = 0
    n_high = 0
    visits = 0
    while taken < n_steps:
        m = min(WALKERS, n_steps - taken)
        for w in range(m):
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
            via[w] = node[w]
        for w in range(m):
            lo[w] = g.board_indptr[node[w]]
            deg[w] = g.board_indptr[node[w] + 1] - lo[w]
        if wp.expected:
            for w in range(m):
                if is_target_board[node[w]]:
                    board_visits[node[w]] += 1
        if bias_pin > 0:
            for w in range(m):
                if (r2[w] >> np.uint64(48)) < bias_pin:
                    a, b = _matching(g.pin_codes, lo[w], lo[w] + deg[w], topic)
                    if b > a:
                        lo[w], deg[w] = a, b - a
        for w in range(m):
            node[w] = g.board_pins[lo[w] + _below(r1[w] >> np.uint64(32), deg[w])]
        for w in range(m):
            p = node[w]
            if p == target:
                visits += 1
                if not wp.expected:
                    board_visits[via[w]] += 1
            if count_all:
                c = counts[p] + 1
                counts[p] = c
                if c == 1:
                    touched[n_touched] = p
                    n_touched += 1
                n_high += c == wp.n_v
            lo[w] = g.pin_indptr[p]
            deg[w] = g.pin_indptr[p + 1] - lo[w]
        taken += m
        if wp.n_p > 0 and n_high >= wp.n_p:
            break
    for j in range(n_touched):
        counts[touched[j]] = 0
    return taken, visits, state


@numba.njit(cache=True, nogil=True)
def _next_pin_probability(b: int, target: int, topic: int, g: WalkGraph, wp: WalkParams) -> float:
    """The probability that a walker on board ``b`` steps to ``target`` next, as
    ``walks._expected_visits`` credits it (uniform, or with the pin-side biased choice)."""
    lo, hi = g.board_indptr[b], g.board_indptr[b + 1]
    bias = wp.bias_pin / 65536.0 if topic >= 0 else 0.0
    a, z = lo, lo
    if bias > 0.0:
        a, z = _matching(g.pin_codes, lo, hi, topic)
    each = 1.0 / (hi - lo)
    if z > a:
        each = (1.0 - bias) / (hi - lo)
    for i in range(lo, hi):
        if g.board_pins[i] == target:
            return each + (bias / (z - a) if a <= i < z else 0.0)
    return 0.0


@numba.njit(cache=True, nogil=True)
def _trace_query(
    pins: np.ndarray,
    weights: np.ndarray,
    seed: np.uint64,
    topic: int,
    g: WalkGraph,
    wp: WalkParams,
    target: int,
    is_target_board: np.ndarray,
    counts: np.ndarray,
    touched: np.ndarray,
    board_counts: np.ndarray,
    query_visits: np.ndarray,
    board_visits: np.ndarray,
) -> int:
    """``walks.pixie_scores`` for one target pin: its visits from each query pin's walk (sampled,
    or expected with credit "expected") into ``query_visits`` and per board they came through
    into ``board_visits`` (``board_counts``: work array of the current query pin, left all
    zero); returns the steps taken."""
    budget = np.empty(pins.shape[0], dtype=np.int64)
    step_budget(pins, weights, g.pin_degree, wp.n_steps, g.max_degree, budget, wp.equal)
    state = _mix64(seed)
    steps = 0
    t_lo, t_hi = g.pin_indptr[target], g.pin_indptr[target + 1]
    for i in range(pins.shape[0]):
        if budget[i] == 0:
            continue
        taken, visits, state = _trace_pin(
            pins[i], budget[i], state, topic, g, wp, target, is_target_board, counts, touched,
            board_counts,
        )  # fmt: skip
        steps += taken
        for k in range(t_lo, t_hi):
            b = g.pin_boards[k]
            v = float(board_counts[b])
            board_counts[b] = 0
            if wp.expected:
                v *= _next_pin_probability(b, target, topic, g, wp)
                query_visits[i] += v
            board_visits[b] += v
        if not wp.expected:
            query_visits[i] = visits
    return steps


def walk_score(visits: np.ndarray, degree: int, wp: WalkParams) -> float:
    """The score ``pixie_scores`` gives a pin from its visits per query pin, in its order of
    operations (so the float result is the same)."""
    acc = 0.0
    for v in visits:
        if v > 0.0:
            acc += math.sqrt(v) if wp.boost else float(v)
    score = acc * acc if wp.boost else acc
    if wp.degree_beta > 0.0:
        score /= degree**wp.degree_beta
    return score


def trace_walk(
    model: Pixie, query: Query, seed: int, target: int, index: int = 0
) -> PinExplanation:
    """Re-walk ``query`` as ``model.recommend(query, k, seed)`` did (as query ``index`` of
    ``model.recommend_batch(..., seed)`` with ``index`` > 0) and explain pin ``target``."""
    graph = model.graph
    batch = pack([query], None, graph.n_pins)
    topic = int(model.query_topics(batch)[0])
    g, wp = model.walk_graph, model.walk_params
    counts = np.zeros(graph.n_pins, dtype=np.int32)
    touched = np.zeros(graph.n_pins + 1, dtype=np.int32)
    is_target_board = np.zeros(graph.n_boards, dtype=np.bool_)
    is_target_board[g.pin_boards[g.pin_indptr[target] : g.pin_indptr[target + 1]]] = True
    board_counts = np.zeros(graph.n_boards, dtype=np.int64)
    query_visits = np.zeros(query.pins.shape[0])
    board_visits = np.zeros(graph.n_boards)
    steps = _trace_query(
        batch.q_pins, batch.q_weights, query_seeds(seed, index, 1)[0], topic, g, wp, int(target),
        is_target_board, counts, touched, board_counts, query_visits, board_visits,
    )  # fmt: skip
    shares = _shares(np.sqrt(query_visits) if wp.boost else query_visits)
    boards, parts = _largest_first(board_visits)
    return PinExplanation(
        method="walk",
        query_pins=query.pins,
        query_weights=query.weights,
        query_parts=query_visits,
        query_shares=shares,
        boards=boards,
        board_parts=parts,
        score=walk_score(query_visits, int(g.pin_degree[target]), wp),
        steps=int(steps),
    )


# -- exact algorithms -------------------------------------------------------------------------


def _shares(parts: np.ndarray) -> np.ndarray:
    total = float(parts.sum())
    return parts / total if total > 0 else np.zeros_like(parts, dtype=np.float64)


def _largest_first(per_board: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Boards with a part > 0 and their parts, largest first (ties: lower board id first)."""
    boards = np.flatnonzero(per_board > 0)
    order = np.lexsort((boards, -per_board[boards]))
    return boards[order].astype(np.int32), per_board[boards[order]].astype(np.float64)


def path_weights(model: Recommender, i: int, j: int) -> tuple[np.ndarray, np.ndarray]:
    """The boards shared by pins ``i`` and ``j`` and the weight of the path i -> b -> j through
    each, as ``model``'s W[i, j] sums them (before the factors common to all of the row's
    paths: P3alpha's and RP3beta's row normalisation and RP3beta's deg(j)^-beta, ItemKNN's
    cosine denominator)."""
    graph = model.graph
    shared, at_i, at_j = np.intersect1d(
        graph.boards_of(i), graph.boards_of(j), assume_unique=True, return_indices=True
    )
    weighted = bool(getattr(model.params, "weighted", False))
    if isinstance(model, P3alpha | RP3beta):
        # Piu[i, b] = 1 / deg(i) (binary rows); Pui[b, j] = x[b, j] / sum_p x[b, p].
        alpha = float(model.params.alpha)
        x_bj = _edge_values(graph, weighted, j, at_j, shared)
        row_sum = _board_sums(graph, weighted, shared)
        piu = np.full(shared.shape[0], 1.0 / graph.pin_degree[i])
        return shared, np.power(piu, alpha) * np.power(x_bj / row_sum, alpha)
    if isinstance(model, ItemKNN):
        x_bi = _edge_values(graph, weighted, i, at_i, shared)
        x_bj = _edge_values(graph, weighted, j, at_j, shared)
        return shared, x_bi * x_bj
    raise WorkbenchError(f"{model.name}: no path decomposition")


def _edge_values(
    graph: Graph, weighted: bool, pin: int, at: np.ndarray, boards: np.ndarray
) -> np.ndarray:
    """x[b, pin] for the given boards (positions ``at`` in the pin's board list)."""
    if not weighted or graph.pin_weights is None:
        return np.ones(boards.shape[0])
    lo = graph.pin_indptr[pin]
    return graph.pin_weights[lo + at].astype(np.float64)


def _board_sums(graph: Graph, weighted: bool, boards: np.ndarray) -> np.ndarray:
    if not weighted or graph.board_weights is None:
        return graph.board_degree[boards].astype(np.float64)
    return np.array(
        [graph.board_weights[graph.board_indptr[b] : graph.board_indptr[b + 1]].sum(
            dtype=np.float64) for b in boards]
    )  # fmt: skip


def explain_similarity(model: Recommender, query: Query, target: int) -> PinExplanation:
    """Exact contributions to ``sum_i w_i W[i, target]`` of each query pin and each board."""
    w: sps.csr_matrix = model.similarity  # type: ignore[attr-defined]
    parts = np.array(
        [
            weight * w[int(i), int(target)]
            for i, weight in zip(query.pins, query.weights, strict=True)
        ]
    )
    per_board = np.zeros(model.graph.n_boards)
    for i, part in zip(query.pins, parts, strict=True):
        if part == 0.0:
            continue
        boards, paths = path_weights(model, int(i), int(target))
        total = paths.sum()
        if total > 0:
            np.add.at(per_board, boards, part * paths / total)
    boards, board_parts = _largest_first(per_board)
    return PinExplanation(
        method="exact",
        query_pins=query.pins,
        query_weights=query.weights,
        query_parts=parts,
        query_shares=_shares(parts),
        boards=boards,
        board_parts=board_parts,
        score=float(parts.sum()),
    )


def _entry(w: sps.csr_matrix, i: int, j: int) -> float:
    """W[i, j] of a CSR matrix (0.0 when not stored), reading row i only."""
    lo, hi = w.indptr[i], w.indptr[i + 1]
    return float(w.data[lo:hi][w.indices[lo:hi] == j].sum())


def explain_ppr(
    model: PPR, query: Query, target: int, reporter: Reporter = SILENT
) -> PinExplanation:
    """Exact PPR: r_q PPR_q(target) per query pin q, and the last step's boards.

    PPR_q(target) for every q at once is one power iteration of the adjoint chain,
    z = alpha e_target + (1 - alpha) P z (P the pin -> board -> pin transitions), so that
    z_q = PPR_q(target): the target's PageRank contribution vector (Andersen et al., "Local
    computation of PageRank contributions", WAW 2007)."""
    graph = model.graph
    batch = pack([query], None, graph.n_pins)
    r = restart_vectors(graph, batch, slice(0, 1))[0]
    to_boards, to_pins = model._to_boards, model._to_pins  # P_pb^T and P_bp^T
    x = _power(model, r, lambda y: to_pins @ (to_boards @ y), reporter)
    e = np.zeros(graph.n_pins)
    e[target] = 1.0
    z = _power(model, e, lambda y: to_boards.T @ (to_pins.T @ y), reporter)
    pins = query.pins
    first = np.array([not np.any(pins[:n] == q) for n, q in enumerate(pins)], dtype=bool)
    parts = np.where(first, r[pins] * z[pins], 0.0)  # a pin given twice is counted once
    alpha = float(model.params.alpha)
    per_board = np.zeros(graph.n_boards)
    inflow = x / np.maximum(graph.pin_degree, 1)
    for b in graph.boards_of(target):
        members = graph.pins_of(int(b))
        per_board[b] = (1 - alpha) * inflow[members].sum() / graph.board_degree[b]
    # Both splits hold exactly in the limit; the iterations stop within ``tol`` of it, so each
    # is scaled to add up to the score itself.
    score = float(x[target])
    parts *= score / parts.sum() if parts.sum() > 0 else 0.0
    per_board *= score / per_board.sum() if per_board.sum() > 0 else 0.0
    found, board_parts = _largest_first(per_board)
    return PinExplanation(
        method="exact",
        query_pins=pins,
        query_weights=query.weights,
        query_parts=parts,
        query_shares=_shares(parts),
        boards=found,
        board_parts=board_parts,
        score=score,
    )


def _power(
    model: PPR, r: np.ndarray, step: Callable[[np.ndarray], np.ndarray], reporter: Reporter
) -> np.ndarray:
    """y = alpha r + (1 - alpha) step(y) iterated from y = r until the L1 change is below the
    model's ``tol``, as :class:`PPR` does (cancellable between iterations)."""
    alpha, tol = float(model.params.alpha), float(model.params.tol)
    y = r.copy()
    while True:
        reporter.check("the explanation")
        nxt = alpha * r + (1 - alpha) * step(y)
        change = float(np.abs(nxt - y).sum())
        y = nxt
        if change < tol:
            return y


def explain_pin(
    model: Recommender,
    query: Query,
    seed: int,
    target: int,
    reporter: Reporter = SILENT,
    index: int = 0,
) -> PinExplanation | None:
    """The explanation of pin ``target`` in ``model``'s ranking for ``query`` (with ``seed``,
    as query ``index`` of a batch); None for an algorithm whose scores have no query or path
    parts (``popular``)."""
    reporter.check("the explanation")
    if isinstance(model, Pixie):
        return trace_walk(model, query, seed, target, index)
    if isinstance(model, P3alpha | RP3beta | ItemKNN):
        return explain_similarity(model, query, target)
    if isinstance(model, PPR):
        return explain_ppr(model, query, target, reporter)
    if isinstance(model, Popular):
        return None
    raise WorkbenchError(f"explaining {model.name} rankings is not supported")


@dataclass(frozen=True)
class RegionMatch:
    """How a crop search scored a result image: its score; the best-matching region's pixel box
    (x, y, w, h) in the result's image, index among the space's regions and cosine with the
    crop; and, when the crop shows an object, the object term's weight, the best object
    proposal's cosine and its pixel box (x, y, w, h) (None otherwise)."""

    score: float
    box: tuple[int, int, int, int]
    region: int
    cosine: float
    object_weight: float | None = None
    object_cosine: float | None = None
    object_box: tuple[int, int, int, int] | None = None


def matched_region(
    space: Any, crop: tuple[int, int, int, int] | None, target: str,
    pin_id: str | None, path: str | None, background: float | None, objects: float | None,
) -> RegionMatch | None:  # fmt: skip
    """Recompute how a crop search with ``crop`` of pin ``pin_id``'s image (or of the image file
    ``path``) scored pin ``target`` (``visual.search.crop_match``: best region cosine, plus
    ``objects`` x best object cosine when the crop shows an object; ``objects`` None: regions
    only), with the boxes in ``target``'s pixels; None when the space has no regions of the
    built-in layout or no image path for ``target``."""
    from workbench.engine.visual.descriptors import REGION_BOXES, region_pixel_boxes
    from workbench.engine.visual.images import image_size
    from workbench.engine.visual.search import crop_match

    image = space.paths.get(str(target))
    if not space.has_regions or int(space.regions_per_image) != len(REGION_BOXES) or not image:
        return None
    found = crop_match(space, crop, target, pin_id=pin_id, path=path, background=background,
                       objects=objects)  # fmt: skip
    width, height = image_size(image)

    def pixels(x0: float, y0: float, x1: float, y1: float) -> tuple[int, int, int, int]:
        left, top, right, bottom = round(x0), round(y0), round(x1), round(y1)
        return left, top, right - left, bottom - top

    region = pixels(*(float(v) for v in region_pixel_boxes(width, height)[found.region]))
    if found.object_cosine is None:
        return RegionMatch(found.score, region, found.region, found.region_cosine)
    obj = None
    if found.object_box is not None:
        x0, y0, x1, y1 = found.object_box
        obj = pixels(x0 * width, y0 * height, x1 * width, y1 * height)
    return RegionMatch(found.score, region, found.region, found.region_cosine, objects,
                       found.object_cosine, obj)  # fmt: skip


def popularity(graph: Graph, pin: int) -> tuple[int, int]:
    """(degree, popularity rank) of ``pin``: its number of boards, and 1 + the number of pins
    on more boards."""
    degree = graph.pin_degree
    d = int(degree[pin])
    return d, int(np.count_nonzero(degree > d)) + 1
