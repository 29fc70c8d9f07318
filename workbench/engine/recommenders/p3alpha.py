"""P3alpha (Cooper et al., WWW 2014 companion): three-step random-walk probabilities ^ alpha.

As in the reference (Ferrari Dacrema et al., ``P3alphaRecommender``): W = Piu^alpha @ Pui^alpha
with Pui the row-normalised boards x pins matrix and Piu the row-normalised binary pins x boards
matrix (element-wise powers), scaled per target pin by ``col_scale`` (RP3beta's popularity
penalty), without the diagonal, the ``topk`` largest entries of each row kept, rows optionally
normalised to sum 1, and finally the ``topk`` largest entries of each column kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from workbench.engine.graph import Graph
from workbench.engine.recommenders.base import param, register
from workbench.engine.recommenders.similarity import (
    ItemSimilarity,
    keep_topk_columns,
    product_topk,
    row_normalised,
)
from workbench.engine.walks import ScratchPool

if TYPE_CHECKING:
    import scipy.sparse as sps


def _entry_power(m: sps.csr_matrix, alpha: float) -> sps.csr_matrix:
    """Stored entries to the power ``alpha`` (alpha 0 turns them into ones, as the reference's
    ``Pui.data ** alpha`` does; scipy's ``power(0)`` refuses)."""
    import scipy.sparse as sps

    out = sps.csr_matrix(m, copy=True)
    out.data = np.power(out.data, alpha)
    return out


def three_step_similarity(
    graph: Graph,
    alpha: float,
    topk: int,
    normalize: bool,
    weighted: bool,
    scratch: ScratchPool,
    col_scale: np.ndarray | None = None,
) -> sps.csr_matrix:
    """W of P3alpha (``col_scale`` None) or RP3beta (``col_scale`` = popularity^-beta)."""
    import scipy.sparse as sps

    x = graph.interactions(weighted)
    board_to_pin = _entry_power(row_normalised(x), alpha)
    binary = sps.csr_matrix(
        (np.ones(graph.n_edges), graph.pin_boards, graph.pin_indptr),
        shape=(graph.n_pins, graph.n_boards),
    )
    pin_to_board = _entry_power(row_normalised(binary), alpha)
    w = product_topk(pin_to_board, board_to_pin, topk, scratch, col_scale=col_scale)
    if normalize:
        w = row_normalised(w)
    return keep_topk_columns(w, topk, scratch)


@dataclass(frozen=True)
class P3alphaParams:
    topk: int = param(100, "entries kept per row and per column of W", (1, 1_000_000))
    alpha: float = param(1.0, "element-wise power of the transition probabilities", (0.0, 5.0))
    normalize: bool = param(False, "normalise each row of W to sum 1")
    weighted: bool = param(False, "use the edge weights in the board -> pin step")


@register
class P3alpha(ItemSimilarity):
    name = "p3alpha"
    Params = P3alphaParams
    description = "P3alpha three-step random walk similarity (Cooper et al. 2014)"

    def build(self, graph: Graph, scratch: ScratchPool) -> sps.csr_matrix:
        p: P3alphaParams = self.params
        return three_step_similarity(graph, p.alpha, p.topk, p.normalize, p.weighted, scratch)
