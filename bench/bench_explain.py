"""Explain latency in a warm process: for each algorithm, five stored board recommendations on a
store holding pinterest-20, then the explanation of each run's top 3 pins; the recommend call's
own time is printed beside it as the baseline.

    .venv/bin/workbench --db /tmp/pin.duckdb load ../shared/data/pinterest-20 \
        --dataset pinterest-20 --format ncf
    .venv/bin/python bench/bench_explain.py /tmp/pin.duckdb
"""

from __future__ import annotations

import os
import statistics
import sys
import time

from workbench.engine.store import Store
from workbench.services.explain import ExplainRequest, explain
from workbench.services.recommend import RecommendRequest, recommend

CASES = [("pixie", {}), ("pixie", {"steps": 1_000_000}), ("rp3beta", {}), ("ppr", {})]


def main(path: str, dataset: str = "pinterest-20") -> None:
    store = Store(path)
    print(f"load average {os.getloadavg()[0]:.1f}")
    for algo, params in CASES:
        recs, exps = [], []
        for board in ("1", "2", "3", "4", "5"):
            started = time.perf_counter()
            request = RecommendRequest(dataset, board=board, algo=algo, params=params, k=10)
            run = recommend(store, request)
            recs.append((time.perf_counter() - started) * 1000)
            for pin in run.results["pin"][:3]:
                started = time.perf_counter()
                explain(store, ExplainRequest(run.run_id, pin))
                exps.append((time.perf_counter() - started) * 1000)
        print(
            f"{algo} {params}: recommend median {statistics.median(recs[1:]):.1f} ms "
            f"(first {recs[0]:.0f} ms, with the fit), explain median "
            f"{statistics.median(exps):.1f} ms, max {max(exps):.1f} ms over {len(exps)}"
        )


if __name__ == "__main__":
    main(*sys.argv[1:])
