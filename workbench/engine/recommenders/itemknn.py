"""ItemKNN: cosine similarity between pins' board vectors, with shrinkage, top-K neighbours.

As in the reference (Ferrari Dacrema et al., ``Compute_Similarity_Python`` with
``similarity="cosine"``): sim(i, j) = x_i . x_j / (|x_i| |x_j| + shrink + 1e-6) over the boards x
pins matrix, and each target pin j keeps its ``topk`` most similar pins i as column j of W.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from workbench.engine.graph import Graph
from workbench.engine.recommenders.base import param, register
from workbench.engine.recommenders.similarity import ItemSimilarity, product_topk
from workbench.engine.walks import ScratchPool

if TYPE_CHECKING:
    import scipy.sparse as sps


@dataclass(frozen=True)
class ItemKNNParams:
    topk: int = param(100, "neighbours kept per pin", (1, 1_000_000))
    shrink: float = param(10.0, "added to the cosine's denominator", (0.0, 1e6))
    weighted: bool = param(False, "use the edge weights instead of ones")


@register
class ItemKNN(ItemSimilarity):
    name = "itemknn"
    Params = ItemKNNParams
    description = "item-based k-nearest neighbours, cosine similarity with shrinkage"

    def build(self, graph: Graph, scratch: ScratchPool) -> sps.csr_matrix:
        import scipy.sparse as sps

        p: ItemKNNParams = self.params
        x = graph.interactions(p.weighted)
        norm = np.sqrt(np.asarray(x.multiply(x).sum(axis=0)).ravel())
        # The similarity is symmetric, so the row-wise top-k of S is the column-wise one of W.
        s = product_topk(
            sps.csr_matrix(x.T),
            x,
            p.topk,
            scratch,
            row_norm=norm,
            col_norm=norm,
            shrink=p.shrink + 1e-6,
        )
        return sps.csr_matrix(s.T)
