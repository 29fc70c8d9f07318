"""Visual search on a stored dataset: index its pin images, search, import, evaluate, fuse.

The functions here connect :mod:`workbench.engine.visual` to the store: they find the dataset's
images, keep embedding spaces in ``<store>.cache/<dataset>/visual/``, and store every search and
every fusion as a run. The CLI's ``workbench visual`` and the TUI call them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from workbench.engine.dataset import output_id
from workbench.engine.errors import NotFoundError, WorkbenchError
from workbench.engine.runs import get_run, run_results, save_run
from workbench.engine.store import Store, ident, table
from workbench.engine.visual.evaluation import visual_eval
from workbench.engine.visual.fusion import reciprocal_rank_fusion, weighted_score_fusion
from workbench.engine.visual.imports import import_embeddings
from workbench.engine.visual.search import (
    NEAR_DUPLICATE,
    SearchResult,
    VisualSpace,
    open_space,
    search_crop,
    search_image,
    search_pin,
)
from workbench.engine.visual.storage import BUILTIN, BuildReport, list_spaces, update_builtin

FUSION_METHODS = ("rrf", "weighted")


def visual_dir(store: Store, dataset: str) -> Path:
    """The directory holding a dataset's ``visual/`` spaces (not keyed by fingerprint: images
    are re-extracted by path, mtime and size, so a reload re-extracts only what changed)."""
    store.dataset(dataset)
    d = store.path.parent / f"{store.path.name}.cache" / dataset
    d.mkdir(parents=True, exist_ok=True)
    return d


def _images(store: Store, dataset: str) -> list[tuple[str, str]]:
    rows = store.query(
        f"SELECT pin, image FROM {table(dataset, 'pins')} WHERE image IS NOT NULL ORDER BY idx"
    )
    if not rows:
        raise WorkbenchError(
            f"dataset {dataset!r} has no pin images (load it with --images DIR or an image column)"
        )
    return [(str(p), str(i)) for p, i in rows]


def index_images(
    store: Store,
    dataset: str,
    embedding: str = BUILTIN,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> BuildReport:
    """Extract (new or changed images only), whiten and index the built-in descriptor."""
    if embedding != BUILTIN:
        raise WorkbenchError(
            f"only the {BUILTIN!r} embedding is computed here; bring {embedding!r} in with "
            "`workbench visual import`"
        )
    return update_builtin(
        visual_dir(store, dataset),
        _images(store, dataset),
        name=embedding,
        progress=progress,
        cancel=cancel,
    )


def import_vectors(
    store: Store,
    dataset: str,
    embedding: str,
    path: str | Path,
    ids_path: str | Path | None = None,
    skip_unknown: bool = False,
) -> BuildReport:
    """Import precomputed embeddings (.npy + ids file, or parquet id + vector columns)."""
    pins = [r[0] for r in store.query(f"SELECT pin FROM {table(dataset, 'pins')}")]
    return import_embeddings(
        visual_dir(store, dataset),
        embedding,
        path,
        ids_path,
        known_ids=pins,
        on_unknown="skip" if skip_unknown else "error",
    )


def embeddings(store: Store, dataset: str) -> list[str]:
    """Names of the dataset's embedding spaces."""
    return [str(s["name"]) for s in list_spaces(visual_dir(store, dataset))]


def space(store: Store, dataset: str, embedding: str = BUILTIN) -> VisualSpace:
    d = visual_dir(store, dataset)
    try:
        return open_space(d, embedding)
    except (FileNotFoundError, NotFoundError):
        raise NotFoundError(
            f"dataset {dataset!r} has no {embedding!r} embedding yet: run "
            f"`workbench visual index --dataset {dataset}` first"
        ) from None


def allowed_pins(store: Store, dataset: str, where: Mapping[str, str]) -> set[str] | None:
    """Pins whose attributes equal the given values (``{"topic": "food"}``); None: no filter."""
    if not where:
        return None
    attrs = store.dataset(dataset).pin_attributes
    conditions, params = [], []
    for column, value in where.items():
        if column not in attrs:
            raise WorkbenchError(
                f"unknown pin attribute {column!r} (attributes: {', '.join(attrs) or 'none'})"
            )
        conditions.append(f"CAST({ident(column)} AS VARCHAR) = ?")
        params.append(str(value))
    rows = store.query(
        f"SELECT pin FROM {table(dataset, 'pins')} WHERE {' AND '.join(conditions)}", params
    )
    return {str(r[0]) for r in rows}


@dataclass
class RankedRun:
    """A stored ranking (visual search or fusion): the run id and its ranked pins."""

    run_id: int
    algorithm: str
    params: dict[str, Any]
    query: dict[str, Any]
    elapsed_ms: float
    results: pl.DataFrame  # rank, pin, score
    pin_id_type: str
    info: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "algorithm": self.algorithm,
            "params": self.params,
            "query": self.query,
            "elapsed_ms": self.elapsed_ms,
            "info": self.info,
            "results": [
                {"rank": r, "pin": output_id(p, self.pin_id_type), "score": s}
                for r, p, s in self.results.select("rank", "pin", "score").iter_rows()
            ],
        }


def _store_ranking(
    store: Store,
    dataset: str,
    kind: str,
    algorithm: str,
    params: dict[str, Any],
    query: dict[str, Any],
    label: str,
    ids: Sequence[str],
    scores: Sequence[float],
    elapsed_ms: float,
    info: dict[str, Any],
) -> RankedRun:
    ds = store.dataset(dataset)
    results = pl.DataFrame(
        {
            "rank": np.arange(1, len(ids) + 1, dtype=np.int32),
            "pin": list(ids),
            "score": np.asarray(scores, dtype=np.float64),
        },
        schema={"rank": pl.Int32, "pin": pl.String, "score": pl.Float64},
    )
    run_id = save_run(
        store,
        dataset=dataset,
        kind=kind,
        algorithm=algorithm,
        params=params,
        seed=None,
        fingerprint=ds.fingerprint,
        results=results.select(pl.lit(label).alias("query"), "*"),
        elapsed_ms=elapsed_ms,
        query=query,
        info=info,
    )
    return RankedRun(run_id, algorithm, params, query, elapsed_ms, results, ds.pin_id_type, info)


def visual_search(
    store: Store,
    dataset: str,
    *,
    pin: str | None = None,
    image: str | Path | None = None,
    crop: tuple[int, int, int, int] | None = None,
    k: int = 20,
    embedding: str = BUILTIN,
    where: Mapping[str, str] | None = None,
    exclude_duplicates: bool = False,
) -> RankedRun:
    """Pins that look like a pin's image or an image file, or like a crop box inside either;
    stored as a ``visual`` run."""
    if (pin is None) == (image is None):
        raise WorkbenchError("give either a pin or an image file to search with")
    if k < 1:
        raise WorkbenchError(f"--top must be at least 1, got {k}")
    sp = space(store, dataset, embedding)
    allowed = allowed_pins(store, dataset, where or {})
    dup = NEAR_DUPLICATE if exclude_duplicates else None
    started = time.perf_counter()
    result: SearchResult
    if crop is not None:
        result = search_crop(
            sp,
            crop,
            pin_id=pin,
            path=image,
            k=k,
            allowed=allowed,
            exclude_self=False,
            near_duplicate=dup,
        )
    elif pin is not None:
        if pin not in sp.positions:
            raise NotFoundError(f"pin {pin!r} has no {embedding!r} vector in dataset {dataset!r}")
        result = search_pin(sp, pin, k=k, allowed=allowed, near_duplicate=dup)
    else:
        assert image is not None
        result = search_image(sp, image, k=k, allowed=allowed, near_duplicate=dup)
    elapsed = (time.perf_counter() - started) * 1000
    query: dict[str, Any] = {"pin": pin} if pin is not None else {"image": str(image)}
    if crop is not None:
        query["crop"] = list(crop)
    params = {
        "embedding": embedding,
        "k": k,
        "where": dict(where or {}),
        "exclude_duplicates": exclude_duplicates,
    }
    label = pin if pin is not None else Path(str(image)).name
    info = {
        "excluded_self": result.excluded_self,
        "excluded_duplicates": result.excluded_duplicates,
    }
    return _store_ranking(
        store,
        dataset,
        "visual",
        f"visual:{embedding}",
        params,
        query,
        label + (" crop" if crop else ""),
        result.ids,
        result.scores,
        elapsed,
        info,
    )


def visual_evaluate(
    store: Store,
    dataset: str,
    label: str,
    k: int = 10,
    sample: int | None = None,
    seed: int = 0,
    embedding: str = BUILTIN,
) -> dict[str, Any]:
    """Precision@k and mAP@k of same-label neighbours (the query excluded) over pins with a
    vector and a label."""
    if label not in store.dataset(dataset).pin_attributes:
        raise WorkbenchError(f"unknown pin attribute {label!r} for --label")
    sp = space(store, dataset, embedding)
    labels = dict(
        store.query(
            f"SELECT pin, CAST({ident(label)} AS VARCHAR) FROM {table(dataset, 'pins')} "
            f"WHERE {ident(label)} IS NOT NULL"
        )
    )
    rows = [i for i, p in enumerate(sp.ids) if str(p) in labels]
    if len(rows) < 2:
        raise WorkbenchError(f"fewer than two pins have both a vector and a {label!r} value")
    vectors = np.asarray(sp.vectors[rows], dtype=np.float32)
    values = [labels[str(sp.ids[i])] for i in rows]
    return visual_eval(vectors, values, k=k, sample=sample, seed=seed)


def fuse_runs(
    store: Store,
    run_ids: Sequence[int],
    method: str = "rrf",
    weights: Sequence[float] | None = None,
    k: int = 20,
    rrf_k: int = 60,
) -> RankedRun:
    """Hybrid ranking of stored rankings of the same dataset (e.g. a walk and a visual search):
    reciprocal rank fusion (Cormack et al., SIGIR 2009) or weighted min-max score fusion."""
    if method not in FUSION_METHODS:
        raise WorkbenchError(f"unknown fusion {method!r} (expected {', '.join(FUSION_METHODS)})")
    if len(run_ids) < 2:
        raise WorkbenchError("fusion needs at least two runs")
    runs = [get_run(store, r) for r in run_ids]
    datasets = {r.dataset for r in runs}
    if len(datasets) > 1:
        raise WorkbenchError(f"runs come from different datasets: {', '.join(sorted(datasets))}")
    rankings = []
    for r in runs:
        res = run_results(store, r.run_id)
        if res["query"].n_unique() > 1:
            raise WorkbenchError(f"run {r.run_id} holds several queries; fuse single rankings")
        rankings.append((res["pin"].to_list(), res["score"].to_list()))
    started = time.perf_counter()
    if method == "rrf":
        ids, scores = reciprocal_rank_fusion(rankings, k=rrf_k, weights=weights)
    else:
        ids, scores = weighted_score_fusion(rankings, weights or [1.0] * len(rankings))
    elapsed = (time.perf_counter() - started) * 1000
    params: dict[str, Any] = {
        "method": method,
        "runs": list(run_ids),
        "k": k,
        "weights": list(weights) if weights else None,
    }
    if method == "rrf":
        params["rrf_k"] = rrf_k
    return _store_ranking(
        store,
        runs[0].dataset,
        "fusion",
        f"fusion:{method}",
        params,
        {"runs": list(run_ids)},
        "fusion",
        list(ids)[:k],
        list(scores)[:k],
        elapsed,
        {"sources": [r.algorithm for r in runs]},
    )
