"""Recommend for one query (pins or a board) with any algorithm and store it as a run.

The CLI's ``workbench recommend`` and the TUI call :func:`recommend`; :func:`load_model` keeps the
last few fitted models in memory, so repeated queries with the same algorithm and parameters on
the same dataset (and fingerprint) do not refit.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import OrderedDict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from workbench.engine.dataset import output_id, resolve_board, resolve_pins
from workbench.engine.errors import WorkbenchError
from workbench.engine.graph import load_graph
from workbench.engine.recommenders import (
    Query,
    Recommender,
    algorithm,
    board_query,
    params_dict,
    parse_params,
)
from workbench.engine.recommenders.pixie import Pixie
from workbench.engine.runs import save_run
from workbench.engine.store import Store, table

MODEL_CACHE_SIZE = 4

_models: OrderedDict[Hashable, Recommender] = OrderedDict()
_fitting: dict[Hashable, threading.Lock] = {}
_lock = threading.Lock()


def load_model(store: Store, dataset: str, algo: str,
               params: Any | Mapping[str, Any] | None = None) -> Recommender:  # fmt: skip
    """A recommender fitted on ``dataset``'s graph, from memory when fitted before with the same
    parameters on the same data (``params`` as a ``Params`` object or strings to parse)."""
    cls = algorithm(algo)
    if not isinstance(params, cls.Params):
        params = parse_params(algo, params)
    info = store.dataset(dataset)
    key = (str(store.path.resolve()), dataset, info.fingerprint, algo, params)
    with _lock:
        if key in _models:
            _models.move_to_end(key)
            return _models[key]
        fitting = _fitting.setdefault(key, threading.Lock())
    with fitting:  # a second caller with the same key waits for this fit instead of repeating it
        with _lock:
            if key in _models:
                return _models[key]
        model = cls(params).fit(load_graph(store, dataset))
        with _lock:
            _models[key] = model
            while len(_models) > MODEL_CACHE_SIZE:
                _models.popitem(last=False)
            _fitting.pop(key, None)
    return model


def parse_pin_specs(specs: Sequence[str]) -> tuple[list[str], list[float]]:
    """``ID[:WEIGHT]`` strings as ids and weights (1 when absent). A suffix that is not a number
    belongs to the id, so ids may contain ':'."""
    ids, weights = [], []
    for spec in specs:
        pin, sep, tail = str(spec).rpartition(":")
        weight = 1.0
        if sep:
            try:
                weight = float(tail)
            except ValueError:
                pin = str(spec)
            else:
                if not (np.isfinite(weight) and weight > 0):
                    raise WorkbenchError(f"pin {spec!r}: the weight must be a number > 0")
        else:
            pin = tail
        ids.append(pin.strip())
        weights.append(weight)
    return ids, weights


@dataclass
class RecommendResult:
    """One stored recommendation: provenance and the ranked pins with original ids."""

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
    algo: str = "pixie",
    params: Any | Mapping[str, Any] | None = None,
    *,
    pins: Sequence[str] | None = None,
    weights: Sequence[float] | None = None,
    board: str | None = None,
    board_weighting: str = "equal",
    k: int = 10,
    seed: int = 0,
) -> RecommendResult:
    """Recommend ``k`` pins for query ``pins`` (original ids, optional ``weights``) or for the
    pins of ``board`` (``board_weighting``: equal, recency or edge), and store the run."""
    if (pins is None or len(pins) == 0) == (board is None):
        raise WorkbenchError("give either query pins or a board")
    if k < 1:
        raise WorkbenchError(f"the number of results must be at least 1, got {k}")
    info = store.dataset(dataset)
    # Ids first: an unknown pin or board fails before any model is fitted.
    if board is not None:
        dense_board = resolve_board(store, dataset, board)
        described: dict[str, Any] = {"board": str(board), "weighting": board_weighting}
        label = str(board)
    else:
        assert pins is not None
        dense_pins = resolve_pins(store, dataset, pins)
        w = [1.0] * len(pins) if weights is None else [float(x) for x in weights]
        described = {"pins": [str(p) for p in pins], "weights": w}
        label = ",".join(str(p) for p in pins)
    started = time.perf_counter()
    model = load_model(store, dataset, algo, params)
    fit_ms = (time.perf_counter() - started) * 1000
    query = (
        board_query(model.graph, dense_board, board_weighting)
        if board is not None
        else Query(dense_pins, w)
    )
    started = time.perf_counter()
    ranking = model.recommend(query, k, seed)
    elapsed_ms = (time.perf_counter() - started) * 1000
    rows = _pin_rows(store, dataset, ranking.pins)
    results = pl.DataFrame(
        {
            "rank": np.arange(1, ranking.pins.size + 1, dtype=np.int32),
            "pin": [rows[int(p)][0] for p in ranking.pins],
            "score": ranking.scores,
            "title": [rows[int(p)][1] for p in ranking.pins],
        },
        schema={"rank": pl.Int32, "pin": pl.String, "score": pl.Float64, "title": pl.String},
    )
    run_info: dict[str, Any] = {"fit_ms": fit_ms}
    if isinstance(model, Pixie) and model.prune_report is not None:
        run_info["pruning"] = dataclasses.asdict(model.prune_report)
    params_json = params_dict(model.params)
    run_id = save_run(
        store, dataset=dataset, kind="recommend", algorithm=algo, params=params_json, seed=seed,
        fingerprint=info.fingerprint, results=results.select(
            pl.lit(label).alias("query"), "rank", "pin", "score"),
        elapsed_ms=elapsed_ms, steps=ranking.steps, query=described, info=run_info,
    )  # fmt: skip
    return RecommendResult(
        run_id=run_id, dataset=dataset, algorithm=algo, params=params_json, seed=seed,
        steps=ranking.steps, elapsed_ms=elapsed_ms, query=described, results=results,
        pin_id_type=info.pin_id_type,
    )  # fmt: skip


def _pin_rows(store: Store, dataset: str, dense: np.ndarray) -> dict[int, tuple[str, str | None]]:
    """Original id and title of the given dense pin ids."""
    if dense.size == 0:
        return {}
    found = store.query(
        f"SELECT idx, pin, title FROM {table(dataset, 'pins')} "
        "WHERE idx IN (SELECT unnest(?::INTEGER[]))",
        [dense.tolist()],
    )
    return {int(idx): (str(pin), title) for idx, pin, title in found}
