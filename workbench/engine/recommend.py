"""Recommend for one query (pins or a board) with any algorithm and store it as a run.

:mod:`workbench.services.recommend` calls :func:`recommend`; :func:`load_model` keeps the
last few fitted models in memory, so repeated queries with the same algorithm and parameters on
the same dataset (and fingerprint) do not refit.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from workbench.engine.dataset import output_id, pin_rows, resolve_board, resolve_pins
from workbench.engine.errors import WorkbenchError
from workbench.engine.graph import load_graph
from workbench.engine.progress import SILENT, Reporter
from workbench.engine.recommenders import (
    Query,
    Recommender,
    algorithm,
    board_query,
    params_dict,
    parse_params,
)
from workbench.engine.runs import save_run
from workbench.engine.store import DatasetInfo, Store

MODEL_CACHE_SIZE = 4

_models: OrderedDict[Hashable, Recommender] = OrderedDict()
_fitting: dict[Hashable, threading.Lock] = {}
_lock = threading.Lock()


def load_model(store: Store, dataset: str, algo: str,
               params: Any | Mapping[str, Any] | None = None,
               info: DatasetInfo | None = None) -> Recommender:  # fmt: skip
    """A recommender fitted on ``dataset``'s graph, from memory when fitted before with the same
    parameters on the same data (``params`` as a ``Params`` object or strings to parse; ``info``:
    the dataset's catalogue row when at hand)."""
    cls = algorithm(algo)
    if not isinstance(params, cls.Params):
        params = parse_params(algo, params)
    info = info or store.dataset(dataset)
    key = (store.key, dataset, info.fingerprint, algo, params)
    with _lock:
        if key in _models:
            _models.move_to_end(key)
            return _models[key]
        fitting = _fitting.setdefault(key, threading.Lock())
    # The graph is read before the fit lock is taken: a thread holding the store may be waiting
    # for that lock, so nothing under it may wait for the store.
    graph = load_graph(store, dataset)
    with fitting:  # a second caller with the same key waits for this fit instead of repeating it
        with _lock:
            if key in _models:
                return _models[key]
        model = cls(params).fit(graph)
        with _lock:
            _models[key] = model
            while len(_models) > MODEL_CACHE_SIZE:
                _models.popitem(last=False)
            _fitting.pop(key, None)
    return model


@dataclass
class RecommendResult:
    """One stored recommendation: provenance and the ranked pins with original ids. ``steps`` is
    the walk steps taken (power iterations for ``ppr``; 0 for algorithms that do not walk),
    ``elapsed_ms`` the algorithm's own time, ``fit_ms`` the time to fit (0 when cached)."""

    run_id: int
    dataset: str
    algorithm: str
    params: dict[str, Any]
    seed: int
    steps: int
    elapsed_ms: float
    query: dict[str, Any]
    results: pl.DataFrame  # rank, pin (original id), score, title
    pin_id_type: str
    fit_ms: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "dataset": self.dataset,
            "algorithm": self.algorithm,
            "params": self.params,
            "seed": self.seed,
            "steps": self.steps,
            "elapsed_ms": self.elapsed_ms,
            "query": self.query,
            "results": [
                {"rank": r["rank"], "pin": output_id(r["pin"], self.pin_id_type),
                 "score": r["score"]}
                for r in self.results.iter_rows(named=True)
            ],
        }  # fmt: skip


def recommend(
    store: Store,
    dataset: str,
    algo: str,
    params: Any | Mapping[str, Any] | None,
    *,
    pins: Sequence[str] | None,
    weights: Sequence[float] | None,
    board: str | None,
    board_weighting: str,
    k: int,
    seed: int,
    reporter: Reporter = SILENT,
) -> RecommendResult:
    """Recommend ``k`` pins for query ``pins`` (original ids, optional ``weights``) or for the
    pins of ``board`` (``board_weighting``: equal, recency or edge), and store the run.

    The whole call reads and writes through one attachment of the store (one snapshot); a run
    whose dataset changed under it (another process replaced it) is refused, not stored."""
    if (pins is None or len(pins) == 0) == (board is None):
        raise WorkbenchError("give either query pins or a board")
    if k < 1:
        raise WorkbenchError(f"the number of results must be at least 1, got {k}")
    with store.open():
        info = store.dataset(dataset)
        # Ids first: an unknown pin or board fails before any model is fitted.
        if board is not None:
            dense_board = resolve_board(store, dataset, board, info)
            described: dict[str, Any] = {"board": str(board), "weighting": board_weighting}
            label = str(board)
        else:
            assert pins is not None
            dense_pins = resolve_pins(store, dataset, pins, info)
            w = [1.0] * len(pins) if weights is None else [float(x) for x in weights]
            described = {"pins": [str(p) for p in pins], "weights": w}
            label = ",".join(str(p) for p in pins)
        reporter.check("recommend")
        started = time.perf_counter()
        model = load_model(store, dataset, algo, params, info)
        fit_ms = (time.perf_counter() - started) * 1000
        reporter.check("recommend")
        query = (
            board_query(model.graph, dense_board, board_weighting)
            if board is not None
            else Query(dense_pins, w)
        )
        started = time.perf_counter()
        ranking = model.recommend(query, k, seed)
        elapsed_ms = (time.perf_counter() - started) * 1000
        reporter.check("recommend")
        rows = pin_rows(store, dataset, ranking.pins, info)
        results = pl.DataFrame(
            {
                "rank": np.arange(1, ranking.pins.size + 1, dtype=np.int32),
                "pin": [rows[int(p)][0] for p in ranking.pins],
                "score": ranking.scores,
                "title": [rows[int(p)][1] for p in ranking.pins],
            },
            schema={"rank": pl.Int32, "pin": pl.String, "score": pl.Float64, "title": pl.String},
        )
        now = store.dataset(dataset).fingerprint
        if now != info.fingerprint or model.graph.fingerprint != info.fingerprint:
            raise WorkbenchError(
                f"dataset {dataset!r} changed while the recommendation ran (fingerprint "
                f"{info.fingerprint[:12]} became {now[:12]}); nothing was stored, run it again"
            )
        run_info: dict[str, Any] = {"fit_ms": fit_ms, "k": k, **model.run_info()}
        params_json = params_dict(model.params)
        run_id = save_run(
            store, dataset=dataset, kind="recommend", algorithm=algo, params=params_json,
            seed=seed, fingerprint=info.fingerprint, results=pl.DataFrame({
                "query": [label] * results.height, "rank": results["rank"],
                "pin": results["pin"], "score": results["score"]}),
            elapsed_ms=elapsed_ms, steps=ranking.steps, query=described, info=run_info,
        )  # fmt: skip
    return RecommendResult(
        run_id=run_id, dataset=dataset, algorithm=algo, params=params_json, seed=seed,
        steps=ranking.steps, elapsed_ms=elapsed_ms, query=described, results=results,
        pin_id_type=info.pin_id_type, fit_ms=fit_ms,
    )  # fmt: skip
