"""Batch throughput (boards/s) on Pinterest: local with 1 and 2 cores, Ray with 2 workers.

Usage: .venv/bin/python bench/bench_batch.py [--boards 8000] [--steps 20000]
Every configuration recommends the same boards with the same seed; the script checks the
outputs are identical and prints each throughput with its ratio to local x1 (Ray's overhead
shows as the gap between local x2 and ray x2).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from workbench.engine.batch import batch_recommend
from workbench.engine.executors import LocalExecutor, make_executor
from workbench.engine.ingest import load_dataset
from workbench.engine.recommend import load_model
from workbench.engine.store import Store

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "pinterest-20"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--boards", type=int, default=8000)
    parser.add_argument("--steps", type=int, default=20000)
    args = parser.parse_args()
    if not SHARED.exists():
        print(f"{SHARED} not found, skipped")
        return
    tmp = Path(tempfile.mkdtemp())
    store = Store(tmp / "b.duckdb")
    load_dataset(store, [SHARED], "p20")
    params = {"steps": str(args.steps)}
    boards = np.arange(args.boards, dtype=np.int32)
    load_model(store, "p20", "pixie", params)  # fit (and JIT) once, outside the timings
    batch_recommend(store, "p20", "pixie", params, tmp / "warm.parquet", boards=boards[:64])
    outputs = {}
    base = None
    for label, make in (
        ("local x1", lambda: LocalExecutor(1)),
        ("local x2", lambda: LocalExecutor(2)),
        ("ray x2", lambda: make_executor("ray", workers=2)),
    ):
        try:
            executor = make()
        except Exception as exc:  # Ray missing: say so and go on
            print(f"{label}: unavailable ({exc})")
            continue
        started = time.perf_counter()
        report = batch_recommend(
            store,
            "p20",
            "pixie",
            params,
            tmp / f"{label}.parquet",
            boards=boards,
            executor=executor,
        )
        wall = time.perf_counter() - started
        rate = report.boards_done / wall
        base = base or rate
        outputs[label] = pl.read_parquet(report.out)
        print(
            f"{label}: {rate:8.0f} boards/s ({report.boards_done} boards, {args.steps} steps "
            f"each, {wall:.1f} s, ratio vs local x1 {rate / base:.2f})"
        )
    first = next(iter(outputs.values()))
    same = all(first.equals(o) for o in outputs.values())
    print(f"outputs identical across executors: {same}")


if __name__ == "__main__":
    main()
