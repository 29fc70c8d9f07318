"""Ranking metrics at a cutoff: accuracy per board (HR, precision, recall, NDCG, MRR, MAP) and
beyond-accuracy measures of the recommended lists (coverage, Gini, popularity, novelty, diversity).

Every function takes the top of each board's ranking as a matrix (one row per board, ``-1`` pads a
row shorter than the cutoff) and returns per-board values where a measure has them, so an
evaluation can keep them for paired significance tests. Conventions follow trec_eval (and ranx):
binary relevance, NDCG with gains ``1/log2(rank+1)`` (Järvelin & Kekäläinen, TOIS 2002), recall
and average precision divided by the board's number of relevant pins.
"""

from __future__ import annotations

import numpy as np

ACCURACY = ("hr", "precision", "recall", "ndcg", "mrr", "map")
"""Accuracy metrics, each with a value per board."""

PER_BOARD_BEYOND = ("popularity", "novelty", "diversity")
"""Beyond-accuracy measures of one board's list (averaged over boards)."""

CATALOGUE = ("coverage", "gini")
"""Measures of all lists together (no per-board value)."""


def metric_name(metric: str, k: int) -> str:
    """The key a metric is reported under, e.g. ``ndcg@10``."""
    return f"{metric}@{k}"


def _check(top: np.ndarray, k: int) -> None:
    # A cutoff deeper than the matrix measures the whole (shorter) lists: rankings are capped at
    # the number of candidates, and a list of k slots holding fewer pins is what they are.
    if top.ndim != 2:
        raise ValueError("a ranking matrix must have one row per board")
    if k < 1:
        raise ValueError(f"cutoff {k} must be at least 1")


def accuracy(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> dict[str, np.ndarray]:
    """Per-board accuracy at cutoff ``k``.

    ``hits[b, i]`` says whether the pin at rank ``i + 1`` of board ``b`` is relevant (fewer than
    ``k`` columns when the lists are shorter); ``n_relevant[b]`` is how many relevant pins the
    board has in all (>= 1).
    """
    _check(hits, k)
    rel = hits[:, :k].astype(np.float64)
    n_rel = np.asarray(n_relevant, dtype=np.float64)
    if np.any(n_rel < 1):
        raise ValueError("every evaluated board needs at least one relevant pin")
    found = rel.sum(axis=1)
    ranks = np.arange(1, rel.shape[1] + 1, dtype=np.float64)
    discount = 1.0 / np.log2(ranks + 1.0)
    best = np.minimum(n_rel, k).astype(np.int64)
    ideal_ranks = np.arange(1, int(best.max(initial=1)) + 1, dtype=np.float64)
    ideal = np.cumsum(1.0 / np.log2(ideal_ranks + 1.0))[best - 1]
    first = np.argmax(rel > 0, axis=1)
    precision_at = np.cumsum(rel, axis=1) / ranks
    return {
        "hr": (found > 0).astype(np.float64),
        "precision": found / k,
        "recall": found / n_rel,
        "ndcg": (rel * discount).sum(axis=1) / ideal,
        "mrr": np.where(found > 0, 1.0 / (first + 1.0), 0.0),
        "map": (precision_at * rel).sum(axis=1) / n_rel,
    }


def popularity_of_lists(top: np.ndarray, k: int, popularity: np.ndarray) -> np.ndarray:
    """Average popularity of each board's top-k pins (ARP; Abdollahpouri et al., FLAIRS 2019).

    ``popularity[pin]`` is the number of training boards holding the pin.
    """
    _check(top, k)
    t = top[:, :k]
    valid = t >= 0
    pop = np.where(valid, popularity[np.maximum(t, 0)], 0.0)
    return _row_mean(pop, valid)


def novelty_of_lists(top: np.ndarray, k: int, popularity: np.ndarray, n_boards: int) -> np.ndarray:
    """Mean self-information ``-log2(pop / boards)`` of each board's top-k pins (Zhou et al.,
    PNAS 2010). A pin on no training board counts as on one, so the value stays finite."""
    _check(top, k)
    t = top[:, :k]
    valid = t >= 0
    share = np.maximum(popularity[np.maximum(t, 0)], 1.0) / max(n_boards, 1)
    return _row_mean(np.where(valid, -np.log2(share), 0.0), valid)


def diversity_of_lists(top: np.ndarray, k: int, categories: np.ndarray) -> np.ndarray:
    """Intra-list diversity (Ziegler et al., WWW 2005) with a 0/1 distance between categories:
    the share of pairs of a board's top-k pins whose categories differ.

    ``categories[pin]`` is an int code, -1 for a pin without one; such pins are left out. A list
    with fewer than two categorised pins has no value (NaN).
    """
    _check(top, k)
    t = top[:, :k]
    codes = np.where(t >= 0, categories[np.maximum(t, 0)], -1)
    known = codes >= 0
    n = known.sum(axis=1).astype(np.float64)
    pairs = n * (n - 1) / 2
    same = np.zeros(t.shape[0])
    for c in np.unique(codes[known]):
        m = (codes == c).sum(axis=1).astype(np.float64)
        same += m * (m - 1) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(pairs > 0, 1.0 - same / pairs, np.nan)


def coverage(top: np.ndarray, k: int, n_pins: int) -> float:
    """Catalogue coverage: the share of all pins recommended in at least one top-k list
    (Herlocker et al., TOIS 2004; Ge et al., RecSys 2010)."""
    return coverage_of_counts(list_counts(top, k, n_pins))


def gini(top: np.ndarray, k: int, n_pins: int) -> float:
    """Gini coefficient of how often each pin of the catalogue is recommended in the top-k lists:
    0 when every pin is recommended equally often, near 1 when a few pins take every slot
    (Adomavicius & Kwon, TKDE 2012)."""
    return gini_of_counts(list_counts(top, k, n_pins))


def list_counts(top: np.ndarray, k: int, n_pins: int) -> np.ndarray:
    """How many top-k lists hold each pin (summed batch by batch for coverage and Gini)."""
    _check(top, k)
    t = top[:, :k]
    return np.bincount(t[t >= 0], minlength=n_pins).astype(np.float64)


def coverage_of_counts(counts: np.ndarray) -> float:
    """:func:`coverage` from :func:`list_counts` (of all lists)."""
    return float((counts > 0).sum() / max(counts.size, 1))


def gini_of_counts(counts: np.ndarray) -> float:
    """:func:`gini` from :func:`list_counts` (of all lists)."""
    n_pins = counts.size
    ordered = np.sort(counts)
    total = ordered.sum()
    if total == 0 or n_pins == 0:
        return 0.0
    i = np.arange(1, n_pins + 1, dtype=np.float64)
    return float(((2 * i - n_pins - 1) * ordered).sum() / (n_pins * total))


def _row_mean(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    n = valid.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, values.sum(axis=1) / np.maximum(n, 1), np.nan)
