"""Walk speed: Pinterest query latency, steps/s on a 20M-edge power-law graph, thread scaling.

Usage: .venv/bin/python bench/bench_walks.py [--queries 500] [--edges 20000000]
Prints (results and commands are kept in bench/walks.md):

1. one 100k-step Pixie query on pinterest-20 (from ../shared/data, skipped if absent): median
   and p99 latency over random query pins, one thread, warm JIT cache;
2. pin-steps/s of the numba walk on a generated power-law bipartite graph, one thread, and of a
   plain vectorised numpy implementation of the same walk in the same process (the ratio is
   machine-independent);
3. batch throughput on 1 and 2 threads and the ratio;
4. a second process: import + first query time, and numba cache hits/misses (no recompilation).

Times are wall clock and, because the machine may be shared, also cpu time of this process.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numba
import numpy as np

from workbench.engine.graph import Graph, load_graph
from workbench.engine.ingest import load_dataset
from workbench.engine.recommenders import Query, Recommender, create
from workbench.engine.store import Store

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def power_law_graph(n_edges: int, seed: int = 0) -> Graph:
    """A bipartite configuration-model graph with Zipf-like degrees on both sides (pins ~ rank
    ^-0.75, boards ~ rank^-0.6), 10 pins per board on average, duplicates dropped."""
    rng = np.random.default_rng(seed)
    n_pins, n_boards = n_edges // 10, n_edges // 20

    def stubs(n: int, exponent: float, total: int) -> np.ndarray:
        w = np.arange(1, n + 1, dtype=np.float64) ** -exponent
        degree = np.maximum(1, np.floor(w * (total / w.sum()))).astype(np.int64)
        return np.repeat(rng.permutation(n), degree)

    total = int(n_edges * 1.08)
    pins, boards = stubs(n_pins, 0.75, total), stubs(n_boards, 0.6, total)
    m = min(pins.size, boards.size)
    pins, boards = rng.permutation(pins)[:m], rng.permutation(boards)[:m]
    keys = np.sort(boards * n_pins + pins)
    keys = keys[np.r_[True, keys[1:] != keys[:-1]]]
    keys = keys[np.sort(rng.permutation(keys.size)[:n_edges])]
    return Graph.from_edges(n_pins, n_boards, keys // n_pins, keys % n_pins)


def numpy_walk(g: Graph, q: int, n_steps: int, alpha: float, walkers: int, seed: int) -> np.ndarray:
    """The same walk (restart before each step, pin -> board -> pin, visit counts) vectorised
    over ``walkers`` walkers with numpy."""
    rng = np.random.default_rng(seed)
    counts = np.zeros(g.n_pins, dtype=np.int64)
    cur = np.full(walkers, q, dtype=np.int64)
    for _ in range(n_steps // walkers):
        cur[rng.random(walkers) < alpha] = q
        lo = g.pin_indptr[cur]
        pick = (rng.random(walkers) * (g.pin_indptr[cur + 1] - lo)).astype(np.int64)
        board = g.pin_boards[lo + pick]
        lo = g.board_indptr[board]
        pick = (rng.random(walkers) * (g.board_indptr[board + 1] - lo)).astype(np.int64)
        cur = g.board_pins[lo + pick].astype(np.int64)
        counts += np.bincount(cur, minlength=g.n_pins)
    return counts


def query_pins(g: Graph, n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.choice(np.flatnonzero(g.pin_degree > 0), n, replace=False).astype(np.int32)


def latency(model: Recommender, pins: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Wall-clock and cpu milliseconds of single queries, one thread, warm cache."""
    numba.set_num_threads(1)
    model.recommend(Query([int(pins[0])]), 10)  # warm up (loads the cached machine code)
    wall, cpu = [], []
    for i, p in enumerate(pins):
        started, started_cpu = time.perf_counter(), time.thread_time()
        model.recommend(Query([int(p)]), 10, seed=i)
        wall.append(time.perf_counter() - started)
        cpu.append(time.thread_time() - started_cpu)
    return np.array(wall) * 1000, np.array(cpu) * 1000


def batch_rate(
    model: Recommender, pins: np.ndarray, threads: int, repeat: int
) -> tuple[float, float]:
    """Queries per second of one batch (best of ``repeat``) and the cpu seconds it used on all
    threads: equal cpu seconds on 1 and 2 threads mean the work splits without overhead."""
    numba.set_num_threads(threads)
    queries = [Query([int(p)]) for p in pins]
    best = cpu = np.inf
    for _ in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        model.recommend_batch(queries, 10, seed=1)
        best = min(best, time.perf_counter() - started)
        cpu = min(cpu, time.process_time() - started_cpu)
    return len(queries) / best, cpu


def scaling(label: str, model: Recommender, pins: np.ndarray, repeat: int) -> None:
    threads = min(2, numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]
    one, cpu_one = batch_rate(model, pins, 1, repeat)
    two, cpu_two = batch_rate(model, pins, threads, repeat)
    print(
        f"{label}: {one:.1f} queries/s on 1 thread, {two:.1f} on {threads}: {two / one:.2f}x "
        f"wall clock; cpu seconds {cpu_one:.2f} vs {cpu_two:.2f}, i.e. "
        f"{threads * cpu_one / cpu_two:.2f}x on {threads} otherwise idle cores"
    )


SECOND_PROCESS = """
import time
started = time.perf_counter()
import numpy as np
from workbench.engine import walks
from workbench.engine.graph import Graph
from workbench.engine.recommenders import Query, create
imported = time.perf_counter()
g = Graph.from_edges(4, 2, np.array([0, 0, 1, 1]), np.array([0, 1, 1, 2]))
create("pixie", {"steps": 1000}).fit(g).recommend(Query([0]), 3)
done = time.perf_counter()
stats = walks.pixie_batch.stats
print(imported - started, done - imported, sum(stats.cache_hits.values()),
      sum(stats.cache_misses.values()))
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--edges", type=int, default=20_000_000)
    args = parser.parse_args()
    threads = numba.get_num_threads()
    print(
        f"machine: {os.cpu_count()} cpus, numba {numba.__version__}, load average "
        f"{os.getloadavg()[0]:.2f} (other processes share the cpus)"
    )

    source = SHARED / "pinterest-20"
    if source.exists():
        with tempfile.TemporaryDirectory() as d:
            store = Store(Path(d) / "bench.duckdb")
            load_dataset(store, [source], "pinterest-20")
            g = load_graph(store, "pinterest-20")
        model = create("pixie", {"steps": 100_000}).fit(g)
        pins = query_pins(g, args.queries)
        wall, cpu = latency(model, pins)
        print(
            f"pinterest-20 ({g.n_edges:,} edges): one 100k-step query, 1 thread, "
            f"{pins.size} query pins: median {np.median(wall):.2f} ms, p99 "
            f"{np.percentile(wall, 99):.2f} ms wall clock; median {np.median(cpu):.2f} ms, "
            f"p99 {np.percentile(cpu, 99):.2f} ms cpu"
        )
        scaling(f"pinterest-20 batch of {min(200, pins.size)} queries", model, pins[:200], 3)
    else:
        print(f"pinterest-20: {source} not found, skipped")

    started = time.perf_counter()
    g = power_law_graph(args.edges)
    print(
        f"power-law graph: {g.n_edges:,} edges, {g.n_pins:,} pins, {g.n_boards:,} boards, "
        f"max degree pin {g.pin_degree.max():,} board {g.board_degree.max():,} "
        f"(generated in {time.perf_counter() - started:.1f} s)"
    )
    steps = 1_000_000
    model = create("pixie", {"steps": steps, "alpha": 0.5}).fit(g)
    pins = query_pins(g, 16, seed=1)
    numba.set_num_threads(1)
    model.recommend(Query([int(pins[0])]), 10)
    best = best_cpu = np.inf
    for _ in range(3):
        started, started_cpu = time.perf_counter(), time.thread_time()
        taken = sum(r.steps for r in model.recommend_batch([Query([int(p)]) for p in pins], 10))
        best = min(best, time.perf_counter() - started)
        best_cpu = min(best_cpu, time.thread_time() - started_cpu)
    rate, rate_cpu = taken / best, taken / best_cpu
    started, started_cpu = time.perf_counter(), time.thread_time()
    for p in pins[:4]:
        numpy_walk(g, int(p), steps, 0.5, walkers=50_000, seed=int(p))
    numpy_rate = 4 * steps / (time.perf_counter() - started)
    numpy_cpu = 4 * steps / (time.thread_time() - started_cpu)
    print(
        f"power-law graph, 1 thread: numba {rate / 1e6:.1f} M pin-steps/s wall clock "
        f"({rate_cpu / 1e6:.1f} M per cpu second); numpy, 50k walkers vectorised: "
        f"{numpy_rate / 1e6:.2f} M ({numpy_cpu / 1e6:.2f} M per cpu second): "
        f"{rate / numpy_rate:.1f}x ({rate_cpu / numpy_cpu:.1f}x per cpu second)"
    )
    scaling(f"power-law graph batch of {pins.size} 1M-step queries", model, pins, 2)
    numba.set_num_threads(threads)

    proc = subprocess.run(
        [sys.executable, "-c", SECOND_PROCESS], capture_output=True, text=True, check=True
    )
    imported, first, hits, misses = proc.stdout.split()
    print(
        f"second process: import {float(imported):.2f} s, fit + first query "
        f"{float(first):.2f} s, pixie_batch cache hits {hits}, misses {misses} (0: nothing "
        f"recompiled); threading layer {numba.threading_layer()}, load average "
        f"{os.getloadavg()[0]:.2f}"
    )


if __name__ == "__main__":
    main()
