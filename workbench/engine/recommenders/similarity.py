"""Item-based recommenders: a sparse pin x pin matrix W, and a query scores pins by profile @ W.

The subclasses (ItemKNN, P3alpha, RP3beta) only say how W is built; this module computes the
top-K product rows with a numba kernel and answers queries: the scores of a query with pins i and
weights w_i are ``sum_i w_i W[i, :]``, accumulated per thread in a dense array.

W follows the reference implementations of Ferrari Dacrema et al. (RecSys 2019 / TOIS 2021,
github.com/MaurizioFD/RecSys2019_DeepLearning_Evaluation), so their published results can be
reproduced: rows are computed as a product ``A @ B`` of two sparse matrices, scaled, the
diagonal dropped, and the largest ``topk`` entries of each row kept.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import TYPE_CHECKING

import numba
import numpy as np

from workbench.engine.graph import Graph
from workbench.engine.recommenders.base import BatchOutput, QueryBatch, Recommender
from workbench.engine.walks import Scratch, ScratchPool, parallel, rank_into

if TYPE_CHECKING:
    import scipy.sparse as sps

BLOCK_BYTES = 128 << 20
"""Output buffer per block of rows while computing W."""


@numba.njit(cache=True, nogil=True, parallel=True)
def _product_topk(
    a_indptr: np.ndarray,
    a_idx: np.ndarray,
    a_val: np.ndarray,
    b_indptr: np.ndarray,
    b_idx: np.ndarray,
    b_val: np.ndarray,
    row_norm: np.ndarray,
    col_norm: np.ndarray,
    col_scale: np.ndarray,
    shrink: float,
    first_row: int,
    s: Scratch,
    out_idx: np.ndarray,
    out_val: np.ndarray,
    out_n: np.ndarray,
) -> None:
    """Rows ``first_row + r`` of ``S = A @ B``, each entry turned into
    ``S[i, j] * col_scale[j] / (row_norm[i] * col_norm[j] + shrink)``, without the diagonal, and
    only the ``out_idx.shape[1]`` largest positive entries per row (ties: lower column first)."""
    no_cands = np.zeros(0, dtype=np.int32)
    no_scores = np.zeros(0)
    for r in numba.prange(out_idx.shape[0]):
        t = numba.get_thread_id()
        acc, touched, seen = s.acc[t], s.acc_touched[t], s.counts[t]
        i = first_row + r
        n = 0
        for a in range(a_indptr[i], a_indptr[i + 1]):
            u, x = a_idx[a], a_val[a]
            for b in range(b_indptr[u], b_indptr[u + 1]):
                j = b_idx[b]
                if seen[j] == 0:
                    seen[j] = 1
                    touched[n] = j
                    n += 1
                acc[j] += x * b_val[b]
        for m in range(n):
            j = touched[m]
            acc[j] = acc[j] * col_scale[j] / (row_norm[i] * col_norm[j] + shrink)
        diagonal = np.full(1, i, dtype=np.int32)
        out_n[r] = rank_into(
            acc, touched, n, diagonal, s.mask[t], out_idx[r], out_val[r], no_cands, no_scores
        )
        for m in range(n):
            acc[touched[m]] = 0.0
            seen[touched[m]] = 0


def product_topk(
    a: sps.csr_matrix,
    b: sps.csr_matrix,
    topk: int,
    scratch: ScratchPool,
    row_norm: np.ndarray | None = None,
    col_norm: np.ndarray | None = None,
    col_scale: np.ndarray | None = None,
    shrink: float = 0.0,
) -> sps.csr_matrix:
    """The top-``topk`` entries of each row of the scaled ``a @ b`` without its diagonal, as CSR
    (see :func:`_product_topk`); computed in blocks of rows to bound memory."""
    import scipy.sparse as sps

    n_rows, n_cols = a.shape[0], b.shape[1]
    ones_r, ones_c = np.ones(n_rows), np.ones(n_cols)
    row_norm = ones_r if row_norm is None else row_norm
    col_norm = ones_c if col_norm is None else col_norm
    col_scale = ones_c if col_scale is None else col_scale
    k = max(1, min(topk, n_cols))
    block = max(1, BLOCK_BYTES // (12 * k))
    indptr, indices, data = [np.zeros(1, dtype=np.int64)], [], []
    for first in range(0, n_rows, block):
        rows = min(block, n_rows - first)
        out_idx = np.zeros((rows, k), dtype=np.int32)
        out_val = np.zeros((rows, k))
        out_n = np.zeros(rows, dtype=np.int64)
        with parallel(rows), scratch.borrow() as s:
            _product_topk(
                a.indptr,
                a.indices,
                a.data,
                b.indptr,
                b.indices,
                b.data,
                row_norm,
                col_norm,
                col_scale,
                float(shrink),
                first,
                s,
                out_idx,
                out_val,
                out_n,
            )
        keep = np.arange(k)[None, :] < out_n[:, None]
        indptr.append(indptr[-1][-1] + np.cumsum(out_n))
        indices.append(out_idx[keep])
        data.append(out_val[keep])
    w = sps.csr_matrix(
        (
            np.concatenate(data) if data else np.zeros(0),
            np.concatenate(indices) if indices else np.zeros(0, np.int32),
            np.concatenate(indptr),
        ),
        shape=(n_rows, n_cols),
    )
    w.sort_indices()
    return w


def keep_topk_columns(w: sps.csr_matrix, topk: int, scratch: ScratchPool) -> sps.csr_matrix:
    """Only the ``topk`` largest entries of each column of ``w`` (the reference's
    ``similarityMatrixTopK``, which it applies after the row-wise selection)."""
    import scipy.sparse as sps

    # Column top-k of W is row top-k of W^T = I @ W^T, through the same kernel; dropping the
    # diagonal changes nothing because W has none.
    n = w.shape[0]
    kept = product_topk(sps.identity(n, format="csr"), sps.csr_matrix(w.T), topk, scratch)
    return sps.csr_matrix(kept.T)


def row_normalised(m: sps.csr_matrix) -> sps.csr_matrix:
    """Each row divided by its sum (rows summing to 0 stay 0), like sklearn's l1 ``normalize``."""
    import scipy.sparse as sps

    sums = np.asarray(abs(m).sum(axis=1)).ravel()
    return sps.csr_matrix(sps.diags(1.0 / np.where(sums > 0, sums, 1.0)) @ m)


@numba.njit(cache=True, nogil=True, parallel=True)
def _score_batch(
    q_indptr: np.ndarray,
    q_pins: np.ndarray,
    q_weights: np.ndarray,
    ex_indptr: np.ndarray,
    ex_pins: np.ndarray,
    c_indptr: np.ndarray,
    c_pins: np.ndarray,
    w_indptr: np.ndarray,
    w_idx: np.ndarray,
    w_val: np.ndarray,
    s: Scratch,
    out_pins: np.ndarray,
    out_scores: np.ndarray,
    out_n: np.ndarray,
    out_cands: np.ndarray,
) -> None:
    """Scores ``sum_i w_i W[i, :]`` of each query, ranked and read at the candidates."""
    for q in numba.prange(q_indptr.shape[0] - 1):
        t = numba.get_thread_id()
        acc, touched, seen = s.acc[t], s.acc_touched[t], s.counts[t]
        n = 0
        for a in range(q_indptr[q], q_indptr[q + 1]):
            i, x = q_pins[a], q_weights[a]
            for b in range(w_indptr[i], w_indptr[i + 1]):
                j = w_idx[b]
                if seen[j] == 0:
                    seen[j] = 1
                    touched[n] = j
                    n += 1
                acc[j] += x * w_val[b]
        c0, c1 = c_indptr[q], c_indptr[q + 1]
        out_n[q] = rank_into(
            acc,
            touched,
            n,
            ex_pins[ex_indptr[q] : ex_indptr[q + 1]],
            s.mask[t],
            out_pins[q],
            out_scores[q],
            c_pins[c0:c1],
            out_cands[c0:c1],
        )
        for m in range(n):
            acc[touched[m]] = 0.0
            seen[touched[m]] = 0


class ItemSimilarity(Recommender):
    """A recommender whose model is a pin x pin matrix ``W`` (``self.similarity``)."""

    similarity: sps.csr_matrix

    @abstractmethod
    def build(self, graph: Graph, scratch: ScratchPool) -> sps.csr_matrix:
        """The similarity matrix W of ``graph``."""

    def _fit(self, graph: Graph) -> None:
        self._scratch = ScratchPool(graph.n_pins)
        self.similarity = self.build(graph, self._scratch)

    def _run(self, batch: QueryBatch, k: int, seeds: np.ndarray) -> BatchOutput:
        out = BatchOutput.empty(batch, k)
        w = self.similarity
        with self._scratch.borrow() as scratch:
            _score_batch(*batch, w.indptr, w.indices, w.data, scratch, *out[:4])
        return out
