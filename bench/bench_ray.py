"""What shipping a graph to Ray nodes costs: object store vs shared files vs the local executor.

Usage: .venv/bin/python bench/bench_ray.py [--edges 1000000,10000000,100000000]
                                            [--store-edges 2000000]

For each size, a synthetic power-law board/pin graph (both CSR directions, int32 neighbours,
int64 offsets, no weights) is built in numpy, wrapped in a picklable function that touches every
page of the graph (a strided checksum: what a first walk over a big graph costs at least), and
run three ways:

- local: the function called in this process (the local executor ships nothing);
- object store: a simulated 2-node Ray cluster in this machine (``ray.cluster_utils.Cluster``,
  a head without CPUs and two 1-CPU nodes); ``ray.put`` of the function, then one task per node
  at once (each node pulls the graph from the head's object store, deserialises it zero-copy
  and touches it), then one more task per node (the worker reuses the graph it holds);
- shared files: the graph arrays written once as ``.npy`` files and memory-mapped
  (``np.load(mmap_mode="r")``), shipped with ``shared_files=True`` (the arrays travel as their
  path); each task maps the files. The files were just written, so the page cache is warm: on
  real shared storage (NFS, a cluster file system) the first touch also reads over the network.

Then the real path, end to end (``--store-edges``, default 2M): a generated data set
(``engine/generate.py``) loaded into a temporary store, its graph cache built (memory-mapped
``.npy`` files), a Pixie model fitted, and ``batch_recommend`` over the first boards locally and
on the 2 simulated nodes in both modes: how big the shipped model is, how long the batch takes,
and whether the parquet output is identical to the local one (it must be).

The checksums of every path must agree (printed). A size whose graph (times ~6: the driver's
copy, the head's and two nodes' object stores, build scratch) does not fit in the memory
available now is skipped with the reason. Nothing is asserted; figures vary with the load.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numba
import numpy as np

from workbench.engine.executors import RayExecutor, _put
from workbench.engine.graph import Graph

ARRAYS = ("pin_indptr", "pin_boards", "board_indptr", "board_pins")


def power_law_graph(n_edges: int, seed: int = 0) -> Graph:
    """Boards of Zipf-like degrees (mean 50), pins drawn with Zipf-like popularity (mean degree
    10), both CSR directions; built in chunks (no Python object per edge). Repeated pairs are
    kept: they cost the same to ship."""
    rng = np.random.default_rng(seed)
    n_boards, n_pins = max(n_edges // 50, 1), max(n_edges // 10, 1)
    weight = 1.0 / np.arange(1, n_boards + 1) ** 0.8
    degree = np.floor(weight / weight.sum() * n_edges).astype(np.int64)
    degree[: n_edges - int(degree.sum())] += 1
    board_indptr = np.zeros(n_boards + 1, dtype=np.int64)
    np.cumsum(degree, out=board_indptr[1:])
    cdf = np.cumsum(1.0 / np.arange(1, n_pins + 1) ** 0.9)
    cdf /= cdf[-1]
    board_pins = np.empty(n_edges, dtype=np.int32)
    step = 10_000_000
    for lo in range(0, n_edges, step):
        hi = min(lo + step, n_edges)
        board_pins[lo:hi] = np.searchsorted(cdf, rng.random(hi - lo))  # pin 0 most popular
    pin_indptr, pin_boards = _transpose(board_indptr, board_pins, n_pins)
    return Graph(n_pins, n_boards, pin_indptr, pin_boards, board_indptr, board_pins)


@numba.njit(cache=True)
def _transpose(
    board_indptr: np.ndarray, board_pins: np.ndarray, n_pins: int
) -> tuple[np.ndarray, np.ndarray]:
    """The pin -> boards CSR of a board -> pins CSR (a counting sort, boards ascending)."""
    pin_indptr = np.zeros(n_pins + 1, dtype=np.int64)
    for p in board_pins:
        pin_indptr[p + 1] += 1
    pin_indptr = np.cumsum(pin_indptr)
    fill = pin_indptr[:-1].copy()
    pin_boards = np.empty(board_pins.size, dtype=np.int32)
    for b in range(board_indptr.size - 1):
        for e in range(board_indptr[b], board_indptr[b + 1]):
            p = board_pins[e]
            pin_boards[fill[p]] = b
            fill[p] += 1
    return pin_indptr, pin_boards


@dataclass(frozen=True, eq=False)
class Touch:
    """Reads one int32 of every 4 KiB page of both edge arrays; returns ``(checksum, seconds)``."""

    graph: Graph

    def __call__(self, item: int) -> tuple[int, float]:
        started = time.perf_counter()
        g = self.graph
        total = int(g.board_pins[::1024].sum(dtype=np.int64))
        total += int(g.pin_boards[::1024].sum(dtype=np.int64))
        total += int(g.pin_indptr[-1] + g.board_indptr[-1])
        return total, time.perf_counter() - started


def graph_bytes(g: Graph) -> int:
    return sum(getattr(g, name).nbytes for name in ARRAYS)


def available_bytes() -> int:
    with open("/proc/meminfo") as f:
        info = {line.split(":")[0]: int(line.split()[1]) * 1024 for line in f}
    return info["MemAvailable"]


def two_per_node(executor: RayExecutor, ref: Any) -> tuple[float, list[tuple[int, float]]]:
    """One task per node at once (2 nodes with 1 CPU each: one task each); the wall time until
    both answered and their ``(checksum, touch seconds)``."""
    ray = executor._ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy as On

    nodes = [n["NodeID"] for n in ray.nodes() if n["Alive"] and n["Resources"].get("CPU")]
    started = time.perf_counter()
    out = ray.get(
        [
            executor._task.options(scheduling_strategy=On(n, soft=False)).remote([ref], i)
            for i, n in enumerate(nodes)
        ]
    )
    wall = time.perf_counter() - started
    assert len({node for node, _ in out}) == 2, "both tasks ran on the same node"
    return wall, [answer for _, answer in out]


def ship(executor: RayExecutor, fn: Touch, shared: bool, label: str, expect: int) -> None:
    ray = executor._ray
    started = time.perf_counter()
    ref = _put(ray, fn, shared)
    put = time.perf_counter() - started
    size = ray.experimental.get_object_locations([ref])[ref]["object_size"]
    first, answers = two_per_node(executor, ref)
    again, answers2 = two_per_node(executor, ref)
    touch = max(s for _, s in answers)
    same = all(c == expect for c, _ in answers + answers2)
    print(
        f"  {label}: ray.put {put:.3f} s ({size / 2**20:,.2f} MiB in the object store); "
        f"first task on each of 2 nodes {first:.3f} s "
        f"(of which touching the pages {touch:.3f} s); next task {again:.3f} s; "
        f"checksums agree: {same}",
        flush=True,
    )
    del ref


def bench_size(n_edges: int, scratch: Path) -> None:
    started = time.perf_counter()
    graph = power_law_graph(n_edges)
    size = graph_bytes(graph)
    print(
        f"{n_edges:,} edges: graph {size / 2**20:,.0f} MiB "
        f"({graph.n_boards:,} boards, {graph.n_pins:,} pins), built in "
        f"{time.perf_counter() - started:.1f} s",
        flush=True,
    )
    fn = Touch(graph)
    expect, local_touch = fn(0)
    again = fn(1)[1]
    print(f"  local: nothing shipped; first call {local_touch:.3f} s, next {again:.3f} s")

    store = int(size * 1.3) + 100 * 2**20
    started = time.perf_counter()
    cluster = _cluster(store)
    executor: RayExecutor | None = None
    try:
        executor = RayExecutor(address=cluster.address)
        # start both workers and import the workbench in them, outside the timings
        two_per_node(executor, executor._ray.put(Touch(power_law_graph(1000))))
        print(
            f"  (cluster of 3 nodes up in {time.perf_counter() - started:.1f} s, "
            f"object store {store / 2**20:,.0f} MiB per node)",
            flush=True,
        )
        ship(executor, fn, False, "object store", expect)
        folder = scratch / f"graph-{n_edges}"
        folder.mkdir()
        started = time.perf_counter()
        for name in ARRAYS:
            np.save(folder / f"{name}.npy", getattr(graph, name))
        written = time.perf_counter() - started
        mapped = Graph(
            graph.n_pins,
            graph.n_boards,
            **{name: np.load(folder / f"{name}.npy", mmap_mode="r") for name in ARRAYS},
        )
        del fn, graph
        print(f"  (graph files written once in {written:.2f} s, page cache warm)")
        ship(executor, Touch(mapped), True, "shared files", expect)
        del mapped
        shutil.rmtree(folder)
    finally:
        if executor is not None:
            executor.close()
        cluster.shutdown()


def _cluster(store_bytes: int) -> Any:
    from ray.cluster_utils import Cluster

    cluster = Cluster()
    node = {"object_store_memory": store_bytes, "include_dashboard": False}
    cluster.add_node(num_cpus=0, **node)
    cluster.add_node(num_cpus=1, **node)
    cluster.add_node(num_cpus=1, **node)
    cluster.wait_for_nodes(timeout=120)
    return cluster


def bench_store(n_edges: int, scratch: Path, boards: int = 512) -> None:
    import polars as pl

    from workbench.engine.batch import batch_recommend
    from workbench.engine.generate import generate_edges
    from workbench.engine.ingest import load_dataset
    from workbench.engine.recommend import load_model
    from workbench.engine.store import Store
    from workbench.services.generate import GenerateRequest

    folder = scratch / f"store-{n_edges}"
    folder.mkdir()
    store = Store(folder / "wb.duckdb")
    started = time.perf_counter()
    for name, n in (("warm", 20_000), ("g", n_edges)):
        rows = folder / f"{name}.parquet"
        generate_edges(GenerateRequest(edges=n, out=str(rows)).spec(), rows)
        load_dataset(store, [rows], name)
    loaded = time.perf_counter() - started
    params = {"steps": "20000"}
    started = time.perf_counter()
    model = load_model(store, "g", "pixie", params)
    fitted = time.perf_counter() - started
    g = model.graph
    print(
        f"store path: {n_edges:,} generated rows, {g.n_edges:,} edges after merging "
        f"({g.n_boards:,} boards, {g.n_pins:,} pins); generated and loaded in {loaded:.1f} s, "
        f"graph cache mapped and Pixie fitted in {fitted:.1f} s; "
        f"graph {_graph_size(g) / 2**20:,.0f} MiB, memory-mapped: "
        f"{isinstance(g.board_pins, np.memmap)}",
        flush=True,
    )
    asked = np.arange(min(boards, g.n_boards), dtype=np.int32)
    args = (store, "g", "pixie", params)
    warm = np.arange(4, dtype=np.int32)
    batch_recommend(
        *args, folder / "warm-local.parquet", boards=warm
    )  # JIT here, outside the timings
    started = time.perf_counter()
    local = batch_recommend(*args, folder / "local.parquet", boards=asked, k=10, seed=1, chunk=32)
    wall = time.perf_counter() - started
    expect = pl.read_parquet(local.out)
    print(f"  local: batch of {asked.size} boards (20k steps each) {wall:.2f} s")
    cluster = _cluster(int(_graph_size(g) * 1.5) + 200 * 2**20)
    executor: RayExecutor | None = None
    try:
        executor = RayExecutor(address=cluster.address)
        ray = executor._ray
        # workers started, the workbench imported and the walk kernels loaded, outside the timings
        small = FirstWalk(load_model(store, "warm", "pixie", params))
        for label, shared in (("object store", False), ("shared files", True)):
            executor.shared_files = shared
            two_per_node(executor, _put(ray, small, shared))
            ref = _put(ray, model, shared)
            size = ray.experimental.get_object_locations([ref])[ref]["object_size"]
            del ref
            started = time.perf_counter()
            out = folder / f"{label}.parquet"
            report = batch_recommend(*args, out, boards=asked, k=10, seed=1, chunk=32,
                                     executor=executor)  # fmt: skip
            wall = time.perf_counter() - started
            same = pl.read_parquet(report.out).equals(expect)
            print(
                f"  {label}: model in the object store {size / 2**20:,.2f} MiB; batch of "
                f"{asked.size} boards on 2 nodes {wall:.2f} s (tasks per node "
                f"{sorted(executor.tasks_per_node.values())}); output identical to local: {same}",
                flush=True,
            )
    finally:
        if executor is not None:
            executor.close()
        cluster.shutdown()
        shutil.rmtree(folder, ignore_errors=True)


@dataclass(frozen=True, eq=False)
class FirstWalk:
    """One recommendation for board 0 (to start a worker's walk kernels); ``(checksum, s)``."""

    model: Any

    def __call__(self, item: int) -> tuple[int, float]:
        from workbench.engine.recommenders import board_query

        started = time.perf_counter()
        ranking = self.model.recommend(board_query(self.model.graph, 0), k=10, seed=item)
        return int(ranking.pins.sum()), time.perf_counter() - started


def _graph_size(g: Graph) -> int:
    return sum(
        a.nbytes
        for a in (
            getattr(g, n)
            for n in (*ARRAYS, "pin_weights", "board_weights", "pin_times", "board_times")
        )
        if a is not None
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--edges", default="1000000,10000000,100000000", help="'': skip")
    parser.add_argument("--store-edges", type=int, default=2_000_000, help="0: skip")
    args = parser.parse_args()
    try:
        import ray  # noqa: F401
    except ImportError:
        print("Ray is not installed (pip install '.[ray]'), skipped")
        return
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, {os.cpu_count()} cpus")
    scratch = Path(tempfile.mkdtemp(prefix="bench-ray-"))
    try:
        for n in (int(x) for x in args.edges.split(",") if x.strip()):
            need = n * 12 * 6  # ~12 bytes per edge (2 int32 + offsets), ~6 copies at peak
            if need > available_bytes():
                print(
                    f"{n:,} edges: skipped, needs about {need / 2**30:.1f} GiB and "
                    f"{available_bytes() / 2**30:.1f} GiB are available now"
                )
                continue
            bench_size(n, scratch)
        if args.store_edges:
            bench_store(args.store_edges, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        load = os.getloadavg()
        print(f"load average at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
