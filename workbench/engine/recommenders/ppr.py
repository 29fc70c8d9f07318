"""Exact personalised PageRank on the pin->board->pin chain, by power iteration.

The distribution Pixie's walks estimate (``walks.py``): with the same restart probability
``alpha`` before each step and the restart distribution proportional to the walks' step budgets
(Pixie's N_q), x = alpha r + (1 - alpha) x P with P = P_pin->board P_board->pin, both uniform.
Non-query pins are ranked by x; a walk's normalised visit counts converge to it. Iterates until
the L1 change of the query's vector is below ``tol``; ``Ranking.steps`` reports the iterations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from workbench.engine.graph import Graph
from workbench.engine.recommenders.base import (
    BatchOutput,
    QueryBatch,
    Recommender,
    param,
    register,
)
from workbench.engine.walks import ScratchPool, rank_dense_batch, step_budget

if TYPE_CHECKING:
    pass

CHUNK_BYTES = 256 << 20
"""Memory for the dense vectors of one chunk of queries."""


@dataclass(frozen=True)
class PPRParams:
    alpha: float = param(0.5, "restart probability before each pin->board->pin step", (0.001, 1.0))
    tol: float = param(1e-10, "stop when the L1 change of the vector is below this", (1e-15, 0.1))


def restart_vectors(graph: Graph, batch: QueryBatch, rows: slice) -> np.ndarray:
    """Dense restart distributions (one row per query) proportional to Pixie's step budgets."""
    degree = graph.pin_degree.astype(np.int64)
    max_degree = float(degree.max()) if degree.size else 0.0
    n_q = rows.stop - rows.start
    r = np.zeros((n_q, graph.n_pins))
    scale = 1 << 40  # budgets as large integers keep the shares exact to ~1e-12
    for j, i in enumerate(range(rows.start, rows.stop)):
        lo, hi = batch.q_indptr[i], batch.q_indptr[i + 1]
        budget = np.empty(hi - lo, dtype=np.int64)
        step_budget(
            batch.q_pins[lo:hi], batch.q_weights[lo:hi], degree, scale, max_degree, budget, False
        )
        np.add.at(r[j], batch.q_pins[lo:hi], budget.astype(np.float64))
        total = r[j].sum()
        if total > 0:
            r[j] /= total
    return r


@register
class PPR(Recommender):
    name = "ppr"
    Params = PPRParams
    description = "exact personalised PageRank of the walk (power iteration)"

    def _fit(self, graph: Graph) -> None:
        import scipy.sparse as sps

        x = graph.interactions()  # boards x pins, ones
        # Column vectors: y' = alpha r + (1 - alpha) Pbp^T (Ppb^T y), Ppb^T = X D_pin^-1 and
        # Pbp^T = X^T D_board^-1 (uniform transitions).
        self._to_boards = sps.csr_matrix(x @ sps.diags(1.0 / np.maximum(graph.pin_degree, 1)))
        self._to_pins = sps.csr_matrix(x.T @ sps.diags(1.0 / np.maximum(graph.board_degree, 1)))
        self._scratch = ScratchPool(graph.n_pins)

    def _run(self, batch: QueryBatch, k: int, seeds: np.ndarray) -> BatchOutput:
        p: PPRParams = self.params
        out = BatchOutput.empty(batch, k)
        chunk = max(1, CHUNK_BYTES // (8 * 3 * max(self.graph.n_pins, 1)))
        for start in range(0, batch.size, chunk):
            rows = slice(start, min(start + chunk, batch.size))
            r = restart_vectors(self.graph, batch, rows).T
            y = r.copy()
            iterations = np.zeros(r.shape[1], dtype=np.int64)
            active = np.arange(r.shape[1])  # each query iterates until its own change < tol
            while active.size:
                iterations[active] += 1
                walked = self._to_pins @ (self._to_boards @ y[:, active])
                nxt = p.alpha * r[:, active] + (1 - p.alpha) * walked
                change = np.abs(nxt - y[:, active]).sum(axis=0)
                y[:, active] = nxt
                active = active[change >= p.tol]
            out.steps[rows] = iterations
            scores = np.ascontiguousarray(y.T)
            with self._scratch.borrow() as scratch:
                rank_dense_batch(
                    scores,
                    np.arange(scores.shape[0]),
                    batch.ex_indptr[rows.start : rows.stop + 1],
                    batch.ex_pins,
                    batch.c_indptr[rows.start : rows.stop + 1],
                    batch.c_pins,
                    scratch.mask,
                    out.pins[rows],
                    out.scores[rows],
                    out.n[rows],
                    out.cand_scores,
                )
        return out
