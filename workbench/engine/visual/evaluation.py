"""Retrieval quality of an embedding against item labels: precision@k and mAP@k.

For a query q with label y, the relevant items are the *other* items labelled y (R of them);
the query itself is never ranked. Items are ranked by inner product with q (cosine for unit
vectors); ties are broken by a seeded random order, so input order never helps.

* precision@k = |relevant among the top k| / k, averaged over queries;
* AP@k = (1 / min(k, R)) * sum_{i=1..k} P@i * rel_i, where rel_i is 1 if the i-th result is
  relevant and P@i is the precision of the first i results; mAP@k averages AP@k over queries.
  (The truncated AP of e.g. Manning, Raghavan & Schütze, *Introduction to Information
  Retrieval*, 2008, ch. 8, normalised by the best achievable count min(k, R).)

Queries whose label is missing (None/NaN/"") or that have no other item with their label
(R = 0) are skipped: they cannot be answered. Items with a missing label stay in the ranking
as distractors.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

import numpy as np

from workbench.engine.progress import SILENT, Reporter

__all__ = ["LabelEval", "evaluate_labels", "visual_eval"]


def _label_codes(labels: Sequence[Hashable] | np.ndarray) -> tuple[np.ndarray, list[Hashable]]:
    codes = np.full(len(labels), -1, dtype=np.int64)
    seen: dict[Hashable, int] = {}
    for i, lab in enumerate(labels):
        if lab is None or (isinstance(lab, float) and math.isnan(lab)) or lab == "":
            continue
        key = lab.item() if isinstance(lab, np.generic) else lab
        codes[i] = seen.setdefault(key, len(seen))
    return codes, list(seen)


@dataclass
class LabelEval:
    """Everything one evaluation measured: overall and per-label precision@k and mAP@k, and how
    often a query of label a had a neighbour of label b != a in its top k."""

    k: int
    queries: int
    precision: float
    map: float
    labels: list[Hashable]
    """The label of each code."""
    label_queries: np.ndarray
    label_precision: np.ndarray
    label_map: np.ndarray
    confusions: dict[tuple[int, int], int] = field(default_factory=dict)


def visual_eval(
    vectors: np.ndarray,
    labels: Sequence[Hashable] | np.ndarray,
    k: int = 10,
    sample: int | None = None,
    seed: int = 0,
    block: int = 512,
) -> dict[str, float | int]:
    """Precision@k and mAP@k of same-label neighbours (see the module docstring).

    ``vectors`` is [n, d] (compared by inner product), ``labels`` has n entries. With
    ``sample`` only that many queries, drawn with ``seed``, are evaluated (all n items are
    still ranked). Returns ``{"precision@K": ..., "map@K": ..., "queries": ...}`` with the
    actual ``k`` in the keys.
    """
    ev = evaluate_labels(vectors, labels, k, sample, seed, block)
    return {f"precision@{k}": ev.precision, f"map@{k}": ev.map, "queries": ev.queries}


def _top(scores: np.ndarray, qi: int, kk: int, top: np.ndarray, tie_rank: np.ndarray) -> np.ndarray:
    """The query's top ``kk`` items, ties at the k-th score drawn by ``tie_rank``."""
    threshold = scores[top].min()
    # Everything strictly above the k-th score is in; ties at it are drawn by rank.
    cand = np.flatnonzero(scores >= threshold)
    cand = cand[cand != qi]
    order = np.lexsort((tie_rank[cand], -scores[cand]))[:kk]
    return cand[order]


def evaluate_labels(
    vectors: np.ndarray,
    labels: Sequence[Hashable] | np.ndarray,
    k: int = 10,
    sample: int | None = None,
    seed: int = 0,
    block: int = 512,
    reporter: Reporter = SILENT,
) -> LabelEval:
    """:func:`visual_eval` with per-label figures and confusions; ``k`` must not exceed the
    number of items less one (the caller caps it)."""
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"vectors must be 2-D, got shape {x.shape}")
    n = x.shape[0]
    if len(labels) != n:
        raise ValueError(f"{len(labels)} labels for {n} vectors")
    if k < 1:
        raise ValueError("k must be >= 1")
    codes, names = _label_codes(labels)
    counts = np.bincount(codes[codes >= 0], minlength=len(names))
    r_all = np.where(codes >= 0, counts[np.maximum(codes, 0)] - 1 if counts.size else 0, 0)
    candidates = np.flatnonzero((codes >= 0) & (r_all > 0))
    rng = np.random.default_rng(seed)
    if sample is not None and sample < candidates.size:
        queries = np.sort(rng.choice(candidates, size=sample, replace=False))
    else:
        queries = candidates
    # Random tie-break: rank ties by a random permutation of the items.
    tie_rank = rng.permutation(n)
    kk = min(k, n - 1)
    n_labels = len(names)
    prec = np.zeros(n_labels)
    ap = np.zeros(n_labels)
    asked = np.zeros(n_labels)
    confusions: dict[tuple[int, int], int] = {}
    steps = np.arange(1, k + 1, dtype=np.float64)
    for start in range(0, queries.size, block):
        reporter.progress(start, queries.size, "evaluating")
        q = queries[start : start + block]
        scores = x[q] @ x.T
        scores[np.arange(q.size), q] = -np.inf
        if kk < n - 1:
            part = np.argpartition(-scores, kk - 1, axis=1)[:, :kk]
        else:
            part = np.tile(np.arange(n), (q.size, 1))
        for row, qi in enumerate(q):
            ranked = _top(scores[row], qi, kk, part[row], tie_rank)
            c = codes[qi]
            rel = np.zeros(k, dtype=np.float64)
            rel[: ranked.size] = codes[ranked] == c
            hits = np.cumsum(rel)
            prec[c] += hits[-1] / k
            ap[c] += float(np.sum(hits / steps * rel)) / min(k, int(r_all[qi]))
            asked[c] += 1
            for other in codes[ranked]:
                if other != c and other >= 0:
                    key = (int(c), int(other))
                    confusions[key] = confusions.get(key, 0) + 1
    reporter.progress(queries.size, queries.size, "evaluating")
    m = int(queries.size)
    with np.errstate(invalid="ignore", divide="ignore"):
        label_prec = np.where(asked > 0, prec / np.maximum(asked, 1), 0.0)
        label_map = np.where(asked > 0, ap / np.maximum(asked, 1), 0.0)
    return LabelEval(
        k=k,
        queries=m,
        precision=float(prec.sum() / m) if m else 0.0,
        map=float(ap.sum() / m) if m else 0.0,
        labels=names,
        label_queries=asked.astype(np.int64),
        label_precision=label_prec,
        label_map=label_map,
        confusions=confusions,
    )
