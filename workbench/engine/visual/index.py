"""faiss indexes over unit vectors: exact inner product when small, HNSW when large.

HNSW (Malkov & Yashunin, "Efficient and robust approximate nearest neighbor search using
Hierarchical Navigable Small World graphs", TPAMI 2018) is used from ``exact_threshold``
vectors up; its recall@10 against exact search is measured on a seeded sample of the indexed
vectors and ``efSearch`` is raised until it reaches ``target_recall`` (or a cap).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from workbench.engine.atomic import atomic_write

__all__ = [
    "EXACT_THRESHOLD",
    "IndexInfo",
    "build_index",
    "exact_search",
    "flat_storage",
    "load_index",
    "measure_recall",
    "save_index",
    "search_index",
    "set_threads",
    "single_thread",
]

EXACT_THRESHOLD = 50_000

# faiss's SWIG wrappers are richer than its type stubs (selectors, HNSW search parameters).
_faiss: Any = faiss

_threads_set = False


def set_threads(n: int | None = None) -> int:
    """Set faiss's OpenMP threads: ``n``, else $WORKBENCH_FAISS_THREADS, else min(2, cpus)."""
    global _threads_set
    if n is None:
        env = os.environ.get("WORKBENCH_FAISS_THREADS", "")
        n = int(env) if env.isdigit() and int(env) > 0 else min(2, os.cpu_count() or 1)
    faiss.omp_set_num_threads(max(1, n))
    _threads_set = True
    return max(1, n)


def _ensure_threads() -> None:
    if not _threads_set:
        set_threads()


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """Run faiss on one OpenMP thread inside the block (single queries).

    A one-vector search is far too small to split, and OpenMP's spinning threads cost tens of
    milliseconds when the cores are busy with other work.
    """
    _ensure_threads()
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def flat_storage(index: faiss.Index) -> faiss.Index:
    """The exact (flat) index holding the vectors: the index itself, or an HNSW's storage."""
    if isinstance(index, faiss.IndexHNSW):
        ix: Any = index
        storage: faiss.Index = faiss.downcast_index(ix.storage)
        return storage
    return index


@dataclass
class IndexInfo:
    """What was built: ``kind`` is "flat" (exact) or "hnsw"; recall only for "hnsw"."""

    kind: str
    count: int
    dim: int
    recall_at_10: float | None = None
    recall_queries: int = 0
    ef_search: int | None = None
    m: int | None = None
    build_seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> IndexInfo:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def exact_search(
    vectors: np.ndarray, queries: np.ndarray, k: int, block: int = 4096
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k by inner product with numpy: (scores [nq, k], positions [nq, k])."""
    x = np.asarray(vectors, dtype=np.float32)
    q = np.asarray(queries, dtype=np.float32).reshape(-1, x.shape[1])
    k = min(k, x.shape[0])
    scores = np.empty((q.shape[0], k), dtype=np.float32)
    pos = np.empty((q.shape[0], k), dtype=np.int64)
    for s in range(0, q.shape[0], block):
        sims = q[s : s + block] @ x.T
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k] if k < x.shape[0] else None
        if top is None:
            top = np.tile(np.arange(x.shape[0]), (sims.shape[0], 1))
        part = np.take_along_axis(sims, top, axis=1)
        order = np.argsort(-part, axis=1, kind="stable")
        pos[s : s + block] = np.take_along_axis(top, order, axis=1)
        scores[s : s + block] = np.take_along_axis(part, order, axis=1)
    return scores, pos


def measure_recall(
    index: faiss.Index,
    vectors: np.ndarray,
    queries: int = 200,
    k: int = 10,
    seed: int = 0,
) -> tuple[float, int]:
    """Mean recall@k of ``index`` against exact search, for a seeded sample of the vectors.

    Each query is one of the indexed vectors; the query itself is left out of both lists.
    Returns (recall, number of queries).
    """
    _ensure_threads()
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    n = x.shape[0]
    if n < 2:
        return 1.0, 0
    nq = min(queries, n)
    rows = np.sort(np.random.default_rng(seed).choice(n, size=nq, replace=False))
    kk = min(k + 1, n)
    _, truth = exact_search(x, x[rows], kk)
    _, got = index.search(x[rows], kk)
    total = 0.0
    for i, r in enumerate(rows):
        t = [p for p in truth[i] if p != r][: kk - 1]
        g = {int(p) for p in got[i] if p != r and p >= 0}
        total += len(g.intersection(int(p) for p in t)) / max(1, len(t))
    return total / nq, nq


def build_index(
    vectors: np.ndarray,
    exact_threshold: int = EXACT_THRESHOLD,
    m: int = 32,
    ef_construction: int = 80,
    ef_search: int = 64,
    target_recall: float = 0.95,
    max_ef_search: int = 1024,
    recall_queries: int = 200,
    seed: int = 0,
) -> tuple[faiss.Index, IndexInfo]:
    """IndexFlatIP below ``exact_threshold`` vectors, IndexHNSWFlat (inner product) above."""
    _ensure_threads()
    t0 = time.perf_counter()
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"vectors must be 2-D, got shape {x.shape}")
    n, d = x.shape
    if n < exact_threshold:
        index: faiss.Index = faiss.IndexFlatIP(d)
        index.add(x)
        return index, IndexInfo("flat", n, d, build_seconds=time.perf_counter() - t0)
    hnsw = faiss.IndexHNSWFlat(d, m, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = ef_construction
    hnsw.add(x)
    ef = ef_search
    while True:
        hnsw.hnsw.efSearch = ef
        recall, nq = measure_recall(hnsw, x, queries=recall_queries, seed=seed)
        if recall >= target_recall or ef >= max_ef_search:
            break
        ef *= 2
    info = IndexInfo(
        "hnsw",
        n,
        d,
        recall_at_10=recall,
        recall_queries=nq,
        ef_search=ef,
        m=m,
        build_seconds=time.perf_counter() - t0,
    )
    return hnsw, info


def search_index(
    index: faiss.Index,
    queries: np.ndarray,
    k: int,
    allowed: np.ndarray | None = None,
    ef_search: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(scores [nq, k], positions [nq, k]); position -1 marks an empty slot.

    ``allowed`` is a boolean mask over the indexed vectors; only those can be returned.
    Fewer than 8 queries run on one thread (see :func:`single_thread`).
    """
    _ensure_threads()
    q = np.ascontiguousarray(np.asarray(queries, dtype=np.float32).reshape(-1, index.d))
    if q.shape[0] < 8:
        with single_thread():
            return _search(index, q, k, allowed, ef_search)
    return _search(index, q, k, allowed, ef_search)


def _search(
    index: faiss.Index,
    q: np.ndarray,
    k: int,
    allowed: np.ndarray | None,
    ef_search: int | None,
) -> tuple[np.ndarray, np.ndarray]:
    k = max(1, min(k, index.ntotal))
    params: faiss.SearchParameters | None = None
    keep: list[object] = []
    is_hnsw = isinstance(index, faiss.IndexHNSW)
    ix: Any = index
    if allowed is not None:
        bitmap = np.packbits(np.asarray(allowed, dtype=bool), bitorder="little")
        sel = _faiss.IDSelectorBitmap(bitmap)
        keep.extend([bitmap, sel])
        if is_hnsw:
            params = _faiss.SearchParametersHNSW(
                sel=sel, efSearch=max(ef_search or ix.hnsw.efSearch, k)
            )
        else:
            params = _faiss.SearchParameters(sel=sel)
    elif is_hnsw:
        params = _faiss.SearchParametersHNSW(efSearch=max(ef_search or ix.hnsw.efSearch, k))
    scores, pos = index.search(q, k, params=params)
    del keep
    return scores, pos


def save_index(index: faiss.Index, path: Path) -> None:
    """Write a faiss index through the atomic writer (replacing an older file)."""
    atomic_write(path, lambda tmp: faiss.write_index(index, str(tmp)), overwrite=True)


def load_index(path: Path, mmap: bool = False) -> faiss.Index:
    flags = faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY if mmap else 0
    return faiss.read_index(str(path), flags)
