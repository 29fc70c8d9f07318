"""Walk speed and the graph cache at scale: query latency, pin-steps/s, graph build, a second
process.

Usage: .venv/bin/python bench/bench_walks.py [--queries 500] [--edges 20000000,100000000]
                                             [--no-pinterest] [--shuffle]
Prints (results and commands are kept in bench/walks.md):

1. one 100k-step Pixie query on pinterest-20 (from ../shared/data, skipped if absent): median
   and p99 latency over random query pins, one thread, warm JIT cache; batch scaling 1 -> 2
   threads.
2. for each size in ``--edges``: a power-law bipartite graph generated in numpy, put into a
   throwaway store (edges ordered by board and pin as the loader writes them; ``--shuffle``:
   in random order, the build's worst case), then
   a. the first ``load_graph`` (graph build from the store into the memory-mapped cache) in a
      child process: wall, cpu and peak RSS;
   b. a second process: import, map the cache, fit Pixie, first query;
   c. in this process, on the mapped graph: pin-steps/s of the numba walk (16 queries of 1M
      steps, one thread) at alpha 0.5 and 0.9, against two baselines measured in the same process:
      the same walk vectorised in plain numpy, and the machine's rate of independent random
      reads from an array as large as the graph's (the ceiling for any walk that reads one
      random neighbour per hop);
   d. warm 100k-step queries with Pixie's defaults: median and p99 latency.
3. a second process on a tiny graph: numba cache hits/misses (no recompilation).

Times are wall clock and, because the machine may be shared, also cpu time of the process.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numba
import numpy as np
import pyarrow as pa

from workbench.engine.graph import Graph, load_graph
from workbench.engine.ingest import load_dataset
from workbench.engine.recommenders import Query, Recommender, create
from workbench.engine.store import Store, table

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def power_law_graph(n_edges: int, seed: int = 0) -> Graph:
    """A bipartite configuration-model graph with Zipf-like degrees on both sides (pins ~ rank
    ^-0.75, boards ~ rank^-0.6), 10 edges per pin and 20 per board on average, duplicate pairs
    dropped; int32 stubs sorted in place, so 100M edges need about 2.6 GB at the peak."""
    rng = np.random.default_rng(seed)
    n_pins, n_boards = n_edges // 10, n_edges // 20
    total = int(n_edges * 1.08)

    def stubs(n: int, exponent: float) -> np.ndarray:
        w = np.arange(1, n + 1, dtype=np.float64) ** -exponent
        degree = np.maximum(1, np.floor(w * (total / w.sum()))).astype(np.int64)
        out = np.repeat(rng.permutation(n).astype(np.int32), degree)
        rng.shuffle(out)
        return out

    pins = stubs(n_pins, 0.75)
    boards = stubs(n_boards, 0.6)
    m = min(pins.size, boards.size)
    keys = boards[:m].astype(np.int64) * n_pins
    del boards
    keys += pins[:m]
    del pins
    keys.sort()
    keep = np.empty(keys.size, dtype=bool)
    keep[0] = True
    np.not_equal(keys[1:], keys[:-1], out=keep[1:])
    keys = keys[keep]
    del keep
    if keys.size > n_edges:
        drop = np.ones(keys.size, dtype=bool)
        drop[rng.choice(keys.size, keys.size - n_edges, replace=False)] = False
        keys = keys[drop]
    boards_, pins_ = (keys // n_pins).astype(np.int32), (keys % n_pins).astype(np.int32)
    del keys
    return Graph.from_edges(n_pins, n_boards, boards_, pins_)


def synthetic_store(g: Graph, directory: Path, shuffle: bool, seed: int = 0) -> Store:
    """A store holding ``g`` as dataset "big", its edges ordered by board then pin as the
    loader writes them, or with ``shuffle`` in random order (the graph build's worst case). A
    shortcut for this bench: a tiny dataset is loaded, then its tables are replaced by SQL (the
    loader's own speed at this size is measured by bench/bench_scale.py)."""
    tiny = directory / "tiny"
    tiny.mkdir()
    (tiny / "edges.csv").write_text("board,pin\n1,1\n1,2\n")
    store = Store(directory / "bench.duckdb")
    load_dataset(store, [tiny], "big")
    boards, pins = g.edges()
    if shuffle:
        order = np.random.default_rng(seed).permutation(g.n_edges)
        boards, pins = boards[order], pins[order]
        del order
    edges = pa.table({"board_idx": boards, "pin_idx": pins})
    del boards
    with store.connect() as con:
        con.register("bench_edges", edges)
        con.execute(
            f"CREATE OR REPLACE TABLE {table('big', 'edges')} AS SELECT board_idx, pin_idx, "
            "NULL::DOUBLE AS weight, NULL::TIMESTAMP AS ts FROM bench_edges"
        )
        con.unregister("bench_edges")
        for kind, n in (("pins", g.n_pins), ("boards", g.n_boards)):
            col = kind[:-1]
            con.execute(
                f"CREATE OR REPLACE TABLE {table('big', kind)} AS SELECT range::INTEGER AS idx, "
                f"range::VARCHAR AS {col} FROM range({n})"
            )
        con.execute(
            "UPDATE datasets SET pins = ?, boards = ?, edges = ?, fingerprint = ?, "
            "has_weights = false, has_timestamps = false WHERE name = 'big'",
            [g.n_pins, g.n_boards, g.n_edges, f"bench{g.n_edges}"],
        )
    return store


@numba.njit(cache=True, nogil=True)
def random_reads(a: np.ndarray, n: int, seed: int) -> int:
    """``n`` reads of ``a`` at independent random positions (a linear congruential sequence):
    the most a walk reading one random neighbour per hop could do."""
    x = np.uint64(seed)
    s = 0
    size = np.uint64(a.shape[0])
    for _ in range(n):
        x = x * np.uint64(6364136223846793005) + np.uint64(1442695040888963407)
        s += a[np.int64((x >> np.uint64(32)) * size >> np.uint64(32))]
    return s


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


def load() -> str:
    return f"load average {os.getloadavg()[0]:.1f}"


BUILD = """
import resource, sys, time
from workbench.engine.graph import load_graph
from workbench.engine.store import Store
store = Store(sys.argv[1])
started, cpu = time.perf_counter(), time.process_time()
g = load_graph(store, "big")
print(time.perf_counter() - started, time.process_time() - cpu,
      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, g.n_edges)
"""

SECOND = """
import sys, time
started = time.perf_counter()
import numpy as np
from workbench.engine.graph import Graph, load_graph
from workbench.engine.recommenders import Query, create
from workbench.engine.store import Store
imported = time.perf_counter()
# The kernels for read-only arrays (as mapped) loaded from numba's cache on a tiny graph first.
tiny = Graph.from_edges(4, 2, np.array([0, 0, 1, 1]), np.array([0, 1, 1, 2]))
for a in (tiny.pin_indptr, tiny.pin_boards, tiny.board_indptr, tiny.board_pins):
    a.flags.writeable = False
create("pixie", {"steps": 1000}).fit(tiny).recommend(Query([0]), 3)
jit = time.perf_counter()
g = load_graph(Store(sys.argv[1]), "big")
mapped = time.perf_counter()
model = create("pixie").fit(g)
fitted = time.perf_counter()
model.recommend(Query([int(sys.argv[2])]), 10)
first = time.perf_counter()
model.recommend(Query([int(sys.argv[3])]), 10)
second = time.perf_counter()
print(imported - started, jit - imported, mapped - jit, fitted - mapped, first - fitted,
      second - first)
"""


def at_scale(n_edges: int, queries: int, shuffle: bool) -> None:
    started = time.perf_counter()
    g = power_law_graph(n_edges)
    print(
        f"\n== power-law graph: {g.n_edges:,} edges, {g.n_pins:,} pins, {g.n_boards:,} boards, "
        f"max degree pin {g.pin_degree.max():,} board {g.board_degree.max():,} (generated in "
        f"{time.perf_counter() - started:.0f} s; {load()})"
    )
    pins = query_pins(g, max(queries, 16), seed=1)
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as d:
        store = synthetic_store(g, Path(d), shuffle)
        del g
        run = [sys.executable, "-c", BUILD, str(store.path)]
        out = subprocess.run(run, capture_output=True, text=True, check=True).stdout.split()
        wall, cpu, rss = (float(x) for x in out[:3])
        print(
            f"graph build (first load_graph: store -> memory-mapped cache; edges in "
            f"{'random' if shuffle else 'board, pin'} order), child process: "
            f"{wall:.1f} s wall, {cpu:.1f} s cpu, peak RSS {rss:.2f} GB ({load()})"
        )
        run = [sys.executable, "-c", SECOND, str(store.path), str(pins[0]), str(pins[1])]
        out = subprocess.run(run, capture_output=True, text=True, check=True).stdout.split()
        imported, jit, mapped, fitted, first, second = (float(x) * 1000 for x in out)
        print(
            f"second process: import {imported:.0f} ms, load the compiled kernels {jit:.0f} ms, "
            f"map the cache {mapped:.0f} ms, fit pixie {fitted:.0f} ms, first 100k-step query "
            f"{first:.0f} ms (faults in the pages it touches), second {second:.0f} ms ({load()})"
        )
        g = load_graph(store, "big")
        assert isinstance(g.board_pins, np.memmap)
        numba.set_num_threads(1)
        for alpha in (0.5, 0.9):
            model = create("pixie", {"steps": 1_000_000, "alpha": alpha}).fit(g)
            model.recommend(Query([int(pins[0])]), 10)
            batch = [Query([int(p)]) for p in pins[:16]]
            best = best_cpu = np.inf
            for _ in range(3):
                t, c = time.perf_counter(), time.thread_time()
                taken = sum(r.steps for r in model.recommend_batch(batch, 10))
                best = min(best, time.perf_counter() - t)
                best_cpu = min(best_cpu, time.thread_time() - c)
            print(
                f"walk, alpha {alpha}, 16 queries x 1M steps, 1 thread, mapped cache: "
                f"{taken / best / 1e6:.1f} M pin-steps/s wall clock, "
                f"{taken / best_cpu / 1e6:.1f} M per cpu second ({load()})"
            )
        t, c = time.perf_counter(), time.thread_time()
        for p in pins[:2]:
            numpy_walk(g, int(p), 1_000_000, 0.5, walkers=50_000, seed=int(p))
        print(
            f"baseline: the same walk (alpha 0.5) vectorised in numpy over 50k walkers: "
            f"{2 / (time.perf_counter() - t):.2f} M pin-steps/s wall clock, "
            f"{2 / (time.thread_time() - c):.2f} M per cpu second"
        )
        random_reads(g.board_pins, 1000, 1)
        for label, a in (("board_pins (mapped)", g.board_pins), ("a copy in memory", None)):
            arr = np.array(g.board_pins) if a is None else a
            t, c = time.perf_counter(), time.thread_time()
            random_reads(arr, 20_000_000, 7)
            print(
                f"ceiling: independent random reads of {label}, {arr.nbytes / 1e6:.0f} MB: "
                f"{20 / (time.perf_counter() - t):.1f} M/s wall clock, "
                f"{20 / (time.thread_time() - c):.1f} M per cpu second"
            )
            del arr
        model = create("pixie").fit(g)
        wall, cpu = latency(model, pins[:queries])
        print(
            f"pixie defaults (100k steps, alpha 0.9), 1 thread, mapped cache, {len(wall)} query "
            f"pins: median {np.median(wall):.2f} ms, p99 {np.percentile(wall, 99):.2f} ms wall "
            f"clock; median {np.median(cpu):.2f} ms, p99 {np.percentile(cpu, 99):.2f} ms cpu "
            f"({load()})"
        )
        del g, model


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
    parser.add_argument("--edges", default="20000000,100000000")
    parser.add_argument("--no-pinterest", action="store_true")
    parser.add_argument(
        "--shuffle", action="store_true", help="store the edges in random order (worst case)"
    )
    args = parser.parse_args()
    threads = numba.get_num_threads()
    print(
        f"machine: {os.cpu_count()} cpus, numba {numba.__version__}, {load()} (other processes "
        "share the cpus)"
    )

    source = SHARED / "pinterest-20"
    if source.exists() and not args.no_pinterest:
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
                f"p99 {np.percentile(cpu, 99):.2f} ms cpu ({load()})"
            )
            scaling(f"pinterest-20 batch of {min(200, pins.size)} queries", model, pins[:200], 3)
            del g, model
    else:
        print(f"pinterest-20: {source} not found or skipped")

    for n in (int(x) for x in args.edges.split(",") if x):
        at_scale(n, min(args.queries, 200), args.shuffle)
    numba.set_num_threads(threads)

    proc = subprocess.run(
        [sys.executable, "-c", SECOND_PROCESS], capture_output=True, text=True, check=True
    )
    imported, first, hits, misses = proc.stdout.split()
    print(
        f"second process: import {float(imported):.2f} s, fit + first query "
        f"{float(first):.2f} s, pixie_batch cache hits {hits}, misses {misses} (0: nothing "
        f"recompiled); threading layer {numba.threading_layer()}, {load()}"
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    print(f"this process: peak RSS {peak:.2f} GB")


if __name__ == "__main__":
    main()
