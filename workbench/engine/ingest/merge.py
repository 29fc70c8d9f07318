"""Merging repeated board-pin rows, one key range at a time, with numpy.

A range's rows arrive as packed keys (board index in the high 32 bits, pin index in the low) with
optional weights and epoch-microsecond times; they leave sorted by key, each key once, with the
largest weight and the earliest time of its rows (missing values ignored, as SQL's max/min do).
A sort of packed 64-bit keys is several times cheaper than a hash aggregate plus a sort.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

_NO_WEIGHT = -np.inf  # below every valid weight (weights are finite and >= 0)
_NO_TIME = np.iinfo(np.int64).max


def _values(column: np.ndarray | None, fill: float) -> np.ndarray | None:
    """A fetched column with its missing values replaced by ``fill``."""
    if column is None:
        return None
    data = np.ma.getdata(column)
    mask = np.ma.getmaskarray(column)
    return np.where(mask, fill, data) if mask.any() else np.asarray(data)


def merge_pairs(keys: np.ndarray, weights: np.ndarray | None = None,
                times: np.ndarray | None = None) -> pa.Table:  # fmt: skip
    """The rows of one key range as an edges table (board_idx, pin_idx, and weight and ts when
    given), sorted and with each key once."""
    keys = np.asarray(np.ma.getdata(keys), dtype=np.int64)
    w = _values(weights, _NO_WEIGHT)
    t = _values(times, _NO_TIME)
    if w is None and t is None:
        keys = np.sort(keys)
        first = np.empty(keys.shape[0], dtype=bool)
        first[:1] = True
        np.not_equal(keys[1:], keys[:-1], out=first[1:])
        keys = keys[first]
    else:
        order = np.argsort(keys)
        keys = keys[order]
        starts = (
            np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
            if keys.size
            else (np.zeros(0, dtype=np.int64))
        )
        keys = keys[starts]
        if w is not None:
            w = np.maximum.reduceat(w[order], starts) if starts.size else w[:0]
        if t is not None:
            t = np.minimum.reduceat(t[order], starts) if starts.size else t[:0]
    columns: dict[str, pa.Array | np.ndarray] = {
        "board_idx": (keys >> 32).astype(np.int32),
        "pin_idx": (keys & 0xFFFFFFFF).astype(np.int32),
    }
    if w is not None:
        columns["weight"] = pa.array(w, type=pa.float64(), mask=w == _NO_WEIGHT)
    if t is not None:
        columns["ts"] = pa.array(t, type=pa.timestamp("us"), mask=t == _NO_TIME)
    return pa.table(columns)
