"""Ranking each board's candidates by score, equal scores ordered by a seeded hash of (board, pin)
(random, and independent of where a candidate was listed, so the held-out pin never wins a tie by
position), counting the held-out pins that share their score with another candidate."""

from __future__ import annotations

import numba
import numpy as np

from workbench.engine.splits import STREAM_TIES, pair_key, stream_base


@numba.njit(cache=True, nogil=True)
def _rank_one(board, pins, scores, relevant, base, out_pins, out_scores, out_keys):  # type: ignore[no-untyped-def]
    """Best ``len(out_pins)`` of ``pins`` by score (NaN counts as -inf), equal scores ordered by
    the pair key, by insertion into the sorted output. Returns how many ``relevant`` pins share
    their score with another candidate."""
    depth = out_pins.shape[0]
    size = 0
    for j in range(pins.shape[0]):
        s = scores[j]
        if np.isnan(s):
            s = -np.inf
        key = pair_key(base, board, pins[j])
        if size == depth and not (
            s > out_scores[size - 1] or (s == out_scores[size - 1] and key < out_keys[size - 1])
        ):
            continue
        i = size if size < depth else depth - 1
        while i > 0 and (
            s > out_scores[i - 1] or (s == out_scores[i - 1] and key < out_keys[i - 1])
        ):
            out_pins[i], out_scores[i], out_keys[i] = (
                out_pins[i - 1],
                out_scores[i - 1],
                out_keys[i - 1],
            )
            i -= 1
        out_pins[i], out_scores[i], out_keys[i] = pins[j], s, key
        size = min(size + 1, depth)
    tied = 0
    for r in relevant:
        s_r = np.nan
        for j in range(pins.shape[0]):
            if pins[j] == r:
                s_r = scores[j]
        same = 0
        for j in range(pins.shape[0]):
            same += scores[j] == s_r
        tied += same > 1
    return tied


@numba.njit(cache=True, parallel=True)
def _rank_batch(boards, c_indptr, c_pins, c_scores, r_indptr, relevant, base, out_pins, out_scores):  # type: ignore[no-untyped-def]
    tied = np.zeros(boards.shape[0], dtype=np.int64)
    keys = np.zeros(out_pins.shape, dtype=np.uint64)
    for i in numba.prange(boards.shape[0]):
        lo, hi = c_indptr[i], c_indptr[i + 1]
        tied[i] = _rank_one(
            boards[i],
            c_pins[lo:hi],
            c_scores[lo:hi],
            relevant[r_indptr[i] : r_indptr[i + 1]],
            base,
            out_pins[i],
            out_scores[i],
            keys[i],
        )
    return tied.sum()


def rank_candidates(
    boards: np.ndarray,
    c_indptr: np.ndarray,
    c_pins: np.ndarray,
    c_scores: np.ndarray,
    r_indptr: np.ndarray,
    relevant: np.ndarray,
    seed: int,
    depth: int,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Top ``depth`` candidates of each board (CSR ``c_indptr``/``c_pins`` with ``c_scores``),
    ties broken by the seeded pair key; returns (pins, scores, held-out pins in a tie)."""
    out_pins = np.full((boards.size, depth), -1, dtype=np.int32)
    out_scores = np.full((boards.size, depth), -np.inf)
    tied = _rank_batch(
        boards.astype(np.int64),
        c_indptr,
        c_pins,
        c_scores.astype(np.float64),
        r_indptr,
        relevant,
        stream_base(seed, STREAM_TIES),
        out_pins,
        out_scores,
    )
    return out_pins, out_scores, int(tied)
