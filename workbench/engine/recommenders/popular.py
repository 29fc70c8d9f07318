"""Most popular pins: every query gets the pins on the most boards (a non-personalised baseline)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workbench.engine.graph import Graph
from workbench.engine.recommenders.base import BatchOutput, QueryBatch, Recommender, register
from workbench.engine.walks import ScratchPool, rank_dense_batch


@dataclass(frozen=True)
class PopularParams:
    pass


@register
class Popular(Recommender):
    name = "popular"
    Params = PopularParams
    description = "most popular pins (number of boards)"

    def _fit(self, graph: Graph) -> None:
        self._scores = graph.pin_degree.astype(np.float64)[None, :]
        self._scratch = ScratchPool(graph.n_pins)

    def _run(self, batch: QueryBatch, k: int, seeds: np.ndarray) -> BatchOutput:
        out = BatchOutput.empty(batch, k)
        rows = np.zeros(batch.size, dtype=np.int64)
        with self._scratch.borrow() as scratch:
            rank_dense_batch(
                self._scores,
                rows,
                batch.ex_indptr,
                batch.ex_pins,
                batch.c_indptr,
                batch.c_pins,
                scratch.mask,
                out.pins,
                out.scores,
                out.n,
                out.cand_scores,
            )
        return out
