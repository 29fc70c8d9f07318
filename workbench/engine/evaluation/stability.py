"""How much a Monte-Carlo ranking of one query changes from seed to seed at each step budget
(rank-biased overlap and top-k overlap over every pair of seeds), stored as a run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from workbench.engine.compare import stability_table
from workbench.engine.dataset import id_map, resolve_pins
from workbench.engine.errors import WorkbenchError
from workbench.engine.evaluation.data import check_version
from workbench.engine.graph import load_graph
from workbench.engine.progress import SILENT, Reporter
from workbench.engine.recommenders.base import Query, create, param_fields
from workbench.engine.runs import save_run
from workbench.engine.store import Store

STABILITY_KIND = "stability"


@dataclass
class StabilityResult:
    """Agreement between seeds per step budget (``table`` rows: steps, seeds, rbo_mean,
    rbo_min, overlap_mean, overlap_min) and the run it is stored as (None if the store cannot
    hold this kind of run yet)."""

    dataset: str
    pins: list[str]
    algorithm: str
    params: dict[str, Any]
    seeds: int
    k: int
    p: float
    depth: int
    table: list[dict[str, Any]]
    run_id: int | None = None
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "dataset": self.dataset,
            "pins": self.pins,
            "algorithm": self.algorithm,
            "params": self.params,
            "seeds": self.seeds,
            "k": self.k,
            "p": self.p,
            "depth": self.depth,
            "table": self.table,
            "notes": self.notes,
        }


def ranking_stability(
    store: Store,
    dataset: str,
    pins: Sequence[str],
    algo: str,
    params: Mapping[str, Any],
    steps: Sequence[int],
    seeds: int,
    k: int = 10,
    p: float = 0.9,
    depth: int = 100,
    reporter: Reporter = SILENT,
) -> StabilityResult:
    """Rank the query ``pins`` with seeds 0..``seeds``-1 at every step budget of ``steps`` and
    measure how the rankings agree; stored as a run whose results are every ranking (query
    ``steps=N seed=S``)."""
    if "steps" not in {f.name for f in param_fields(algo)}:
        raise WorkbenchError(f"{algo} has no step budget: its rankings do not depend on a seed")
    if seeds < 2:
        raise WorkbenchError("seed-to-seed stability needs at least two seeds")
    fingerprint = store.dataset(dataset).fingerprint
    graph = load_graph(store, dataset)
    query = Query(pins=resolve_pins(store, dataset, list(pins)))
    ids = id_map(store, dataset).pins
    check_version(store, dataset, fingerprint, "it was being read")
    rankings: dict[int, list[tuple[list[str], list[float]]]] = {}
    frames = []
    total, done = len(steps) * seeds, 0
    for n_steps in steps:
        model = create(algo, {**params, "steps": str(n_steps)}).fit(graph)
        rankings[n_steps] = []
        for seed in range(seeds):
            reporter.check("the stability study")
            r = model.recommend(query, depth, seed)
            ranked = ids[r.pins].astype(str).tolist()
            rankings[n_steps].append((ranked, r.scores.tolist()))
            frames.append(
                pl.DataFrame(
                    {
                        "query": f"steps={n_steps} seed={seed}",
                        "rank": list(range(1, len(ranked) + 1)),
                        "pin": ranked,
                        "score": r.scores.tolist(),
                    },
                    schema_overrides={"rank": pl.Int32, "score": pl.Float64},
                )
            )
            done += 1
            reporter.progress(done, total, f"{n_steps:,} steps")
    result = StabilityResult(
        dataset=dataset,
        pins=list(pins),
        algorithm=algo,
        params=dict(params),
        seeds=seeds,
        k=k,
        p=p,
        depth=depth,
        table=stability_table(rankings, k, p),
    )
    check_version(store, dataset, fingerprint, "the rankings were computed")
    result.run_id = save_run(
        store,
        dataset=dataset,
        kind=STABILITY_KIND,
        algorithm=algo,
        params=dict(params),
        seed=0,
        fingerprint=fingerprint,
        results=pl.concat(frames),
        query={"pins": list(pins)},
        info={"stability": result.to_json() | {"run_id": None}, "steps": list(steps)},
    )
    return result
