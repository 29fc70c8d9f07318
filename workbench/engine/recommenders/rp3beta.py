"""RP3beta (Paudel et al., ACM TiiS 2017): P3alpha re-ranked by dividing by popularity^beta.

As in the reference (Ferrari Dacrema et al., ``RP3betaRecommender``): column j of the P3alpha
product is multiplied by deg(j)^-beta (deg = number of boards of pin j) before the row-wise
top-K selection; see :func:`three_step_similarity` for the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from workbench.engine.graph import Graph
from workbench.engine.recommenders.base import param, register
from workbench.engine.recommenders.p3alpha import three_step_similarity
from workbench.engine.recommenders.similarity import ItemSimilarity
from workbench.engine.walks import ScratchPool

if TYPE_CHECKING:
    import scipy.sparse as sps


@dataclass(frozen=True)
class RP3betaParams:
    topk: int = param(100, "entries kept per row and per column of W", (1, 1_000_000))
    alpha: float = param(1.0, "element-wise power of the transition probabilities", (0.0, 5.0))
    beta: float = param(0.6, "popularity penalty: divide by deg(pin)^beta", (0.0, 5.0))
    normalize: bool = param(True, "normalise each row of W to sum 1")
    weighted: bool = param(False, "use the edge weights in the board -> pin step")


@register
class RP3beta(ItemSimilarity):
    name = "rp3beta"
    Params = RP3betaParams
    description = "RP3beta: P3alpha with a popularity penalty (Paudel et al. 2017)"

    def build(self, graph: Graph, scratch: ScratchPool) -> sps.csr_matrix:
        p: RP3betaParams = self.params
        degree = graph.pin_degree.astype(np.float64)
        penalty = np.zeros(graph.n_pins)
        np.power(degree, -p.beta, out=penalty, where=degree > 0)
        return three_step_similarity(
            graph, p.alpha, p.topk, p.normalize, p.weighted, scratch, col_scale=penalty
        )
