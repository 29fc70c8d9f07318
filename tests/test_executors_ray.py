"""The Ray executor on a simulated multi-node cluster (a head without CPUs and two one-CPU nodes in
this machine): batches and sweeps identical bit for bit to the local executor, work spread over
both nodes, the shipped graph deserialised once per worker, memory-mapped arrays shipped by
path, a private Ray that never joins a cluster running here, and no Ray process left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np
import polars as pl
import pytest

from tests.test_evaluate import clustered_dir
from workbench.engine.batch import batch_recommend
from workbench.engine.errors import WorkbenchError
from workbench.engine.evaluate import EvalSettings
from workbench.engine.executors import (
    LocalExecutor,
    RayExecutor,
    _memmap_in,
    _memmap_out,
    _put,
    for_remote,
    make_executor,
)
from workbench.engine.ingest import load_dataset
from workbench.engine.recommend import load_model
from workbench.engine.store import Store

DEADLINE_S = 240  # the whole module, cluster start and stop included: 70-95 s at load 14-17
PIXIE = {"steps": "2000"}


@dataclass
class SimulatedCluster:
    cluster: Any  # ray.cluster_utils.Cluster
    executor: RayExecutor
    address: str
    processes: list[int]  # raylets, GCS, object managers... of every node
    workers: set[int] = field(default_factory=set)  # worker processes seen running tasks


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for its parent counts as gone)."""
    if not Path("/proc/self/stat").exists():  # no /proc here: ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def _timeout(signum: int, frame: FrameType | None) -> None:
    raise TimeoutError(f"the simulated Ray cluster tests took over {DEADLINE_S} s")


def _start_a_worker_on_each_node(executor: RayExecutor) -> None:
    """One task pinned to each node, so both have a worker ready (under load a worker takes
    seconds to start, and Ray would meanwhile give every task to the node that has one)."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    ref = ray.put(abs)
    nodes = [n["NodeID"] for n in ray.nodes() if n["Alive"] and n["Resources"].get("CPU")]
    pinned = [
        executor._task.options(
            scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=False)
        ).remote([ref], -1)
        for node in nodes
    ]
    assert len(nodes) == 2 and [answer for _, answer in ray.get(pinned)] == [1, 1]


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatedCluster]:
    pytest.importorskip("ray", reason="Ray is not installed (pip install '.[ray]')")
    from ray.cluster_utils import Cluster

    timed = threading.current_thread() is threading.main_thread()
    if timed:
        previous = signal.signal(signal.SIGALRM, _timeout)
        signal.alarm(DEADLINE_S)
    cluster = Cluster()
    executor: RayExecutor | None = None
    processes: list[int] = []
    seen: set[int] = set()
    try:
        small = {"object_store_memory": 80 * 1024**2, "include_dashboard": False}
        cluster.add_node(num_cpus=0, **small)  # the head: the driver's node, runs no task
        cluster.add_node(num_cpus=1, **small)
        cluster.add_node(num_cpus=1, **small)
        cluster.wait_for_nodes(timeout=60)
        processes = [
            p.process.pid
            for node in cluster.list_all_nodes()
            for infos in node.all_processes.values()
            for p in infos
        ]
        executor = RayExecutor(address=cluster.address)
        _start_a_worker_on_each_node(executor)
        yield SimulatedCluster(cluster, executor, cluster.address, processes, seen)
    finally:
        if timed:
            signal.alarm(0)
        try:
            if executor is not None:
                executor.close()
        finally:
            cluster.shutdown()
            if timed:
                signal.signal(signal.SIGALRM, previous)
    deadline = time.monotonic() + 20
    left = [pid for pid in processes + sorted(seen) if _alive(pid)]
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = [pid for pid in left if _alive(pid)]
    assert not left, f"Ray processes still running after the cluster shut down: {left}"


def _on_both_nodes(fn: Callable[[Any], Any], folder: Path) -> Callable[[Any], Any]:
    """``fn``, but each call first waits (up to a minute) until both nodes have started one: a
    task takes milliseconds, and Ray would otherwise be free to give all of them to one node."""

    def call(item: Any) -> Any:
        import ray

        (folder / ray.get_runtime_context().get_node_id()).touch()
        deadline = time.monotonic() + 60
        while len(list(folder.iterdir())) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        return fn(item)

    return call


@dataclass
class BothNodes:
    """The simulated cluster's executor, with every map's items spread over both nodes."""

    inner: RayExecutor
    scratch: Path
    name = "ray"

    @property
    def workers(self) -> int:
        return self.inner.workers

    @property
    def tasks_per_node(self) -> Counter[str]:
        return self.inner.tasks_per_node

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> Iterator[Any]:
        folder = Path(tempfile.mkdtemp(dir=self.scratch))
        return self.inner.map(_on_both_nodes(for_remote(fn), folder), items)


@pytest.fixture
def both(sim: SimulatedCluster, tmp_path: Path) -> BothNodes:
    return BothNodes(sim.executor, tmp_path)


def _pid_and_calls() -> Any:
    calls: list[int] = []

    def probe(item: int) -> tuple[int, int, int]:
        calls.append(item)  # grows only if this worker keeps the same deserialised function
        return os.getpid(), len(calls), item * 10

    return probe


@pytest.mark.slow
def test_work_spreads_over_nodes_and_each_worker_deserialises_once(
    sim: SimulatedCluster, both: BothNodes
) -> None:
    out = list(both.map(_pid_and_calls(), list(range(8))))
    assert [r[2] for r in out] == [i * 10 for i in range(8)]  # in order
    assert len(both.tasks_per_node) == 2 and sum(both.tasks_per_node.values()) == 8
    by_worker: dict[int, list[int]] = {}
    for pid, calls, _ in out:
        by_worker.setdefault(pid, []).append(calls)
    sim.workers.update(by_worker)
    # one function per worker for the whole map: its call count runs 1, 2, 3... in each worker
    assert all(counts == list(range(1, len(counts) + 1)) for counts in by_worker.values())
    # a new map ships a new function: counts start again
    again = list(sim.executor.map(_pid_and_calls(), [0, 1]))
    assert {calls for _, calls, _ in again} <= {1, 2} and again[0][1] == 1


@pytest.mark.slow
def test_batch_on_two_nodes_matches_local_bit_for_bit(
    both: BothNodes, sample_store: Store, tmp_path: Path
) -> None:
    args = (sample_store, "sample", "pixie", PIXIE)
    local = batch_recommend(*args, tmp_path / "l.parquet", k=5, seed=11, chunk=64)
    remote = batch_recommend(*args, tmp_path / "r.parquet", k=5, seed=11, chunk=29, executor=both)
    assert remote.complete and remote.executor == "ray" and remote.rows == local.rows > 0
    assert len(both.tasks_per_node) == 2  # both nodes answered boards
    assert pl.read_parquet(local.out).equals(pl.read_parquet(remote.out))


@pytest.mark.slow
def test_sweep_on_two_nodes_matches_local_bit_for_bit(
    both: BothNodes, store: Store, tmp_path: Path
) -> None:
    from workbench.engine.sweep import SweepPlan, start_sweep

    load_dataset(store, [clustered_dir(tmp_path / "clustered", boards=40)], "clustered")
    settings = EvalSettings(negatives=20, ks=(5, 10), seed=4)
    plans = [
        SweepPlan(f"sweep{n}", "clustered", "pixie", {"steps": ["300", "1000", "3000"]}, settings)
        for n in range(2)
    ]
    local = start_sweep(store, plans[0], executor=LocalExecutor(1))
    remote = start_sweep(store, plans[1], executor=both)
    assert len(local.trials) == len(remote.trials) == 3
    assert len(both.tasks_per_node) == 2
    by_steps = {t.params["steps"]: t.metrics for t in local.trials}
    assert all(by_steps[t.params["steps"]] == t.metrics for t in remote.trials)


def test_memory_mapped_arrays_travel_as_their_path(tmp_path: Path) -> None:
    base = np.arange(100_000, dtype=np.int64)
    np.save(tmp_path / "a.npy", base)
    mapped = np.load(tmp_path / "a.npy", mmap_mode="r")
    for view in (mapped, mapped[70_000:], mapped[12345:12350]):
        shipped = _memmap_out(view)
        assert shipped[0] == "file" and shipped[1] == str(tmp_path / "a.npy")
        back = _memmap_in(shipped)
        assert isinstance(back, np.memmap) and np.array_equal(back, view)
    strided = _memmap_out(mapped[::3])  # not contiguous: travels as data
    assert strided[0] == "data" and np.array_equal(_memmap_in(strided), base[::3])


@pytest.mark.slow
def test_graph_cache_files_travel_by_path_with_shared_files(
    sim: SimulatedCluster, sample_store: Store, tmp_path: Path
) -> None:
    model = load_model(sample_store, "sample", "pixie", PIXIE)
    cached = model.graph.board_pins
    assert isinstance(cached, np.memmap)  # the graph cache is memory-mapped (engine/graph.py)
    shared = RayExecutor(address=sim.address, shared_files=True)
    ray = shared._ray
    by_path, by_value = _put(ray, model, True), _put(ray, model, False)
    size = {ref: ray.experimental.get_object_locations([ref])[ref]["object_size"]
            for ref in (by_path, by_value)}  # fmt: skip
    assert size[by_path] * 4 < size[by_value]  # paths and parameters, not the arrays

    def held(item: int) -> str | None:  # what a worker's copy of the graph is
        pins = model.graph.board_pins
        return pins.filename if isinstance(pins, np.memmap) else None

    assert set(shared.map(held, [0, 1, 2, 3])) == {str(cached.filename)}
    assert set(sim.executor.map(held, [0, 1])) == {None}  # the object store ships the arrays
    args = (sample_store, "sample", "pixie", PIXIE)
    local = batch_recommend(*args, tmp_path / "l.parquet", k=5, seed=2, chunk=64)
    on_both = BothNodes(shared, tmp_path)
    remote = batch_recommend(*args, tmp_path / "r.parquet", k=5, seed=2, chunk=50, executor=on_both)
    assert len(shared.tasks_per_node) == 2
    assert pl.read_parquet(local.out).equals(pl.read_parquet(remote.out))


@pytest.mark.slow
def test_a_private_ray_never_joins_the_cluster_running_here(sim: SimulatedCluster) -> None:
    # ray.init() without an address joins the cluster last started on this machine (here: the
    # simulated one); the executor's private Ray must start its own instead
    code = (
        "import ray\n"
        "from workbench.engine.executors import make_executor\n"
        "ex = make_executor('ray', workers=1)\n"
        "print(ray.get_runtime_context().gcs_address, ex.workers, flush=True)\n"
        "ex.close()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    address, workers = done.stdout.split()
    assert address != sim.address and workers == "1"


def test_without_ray_installed_the_ray_executor_says_how_to_get_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # makes `import ray` fail
    with pytest.raises(WorkbenchError, match=r"pip install 'pinboard-workbench\[ray\]'"):
        make_executor("ray")
    assert list(make_executor("local", 1).map(abs, [-2, 3])) == [2, 3]


@pytest.mark.slow
def test_a_failed_task_is_one_line(sim: SimulatedCluster) -> None:
    def bad_board(item: int) -> int:
        if item == 3:
            raise WorkbenchError("board 3 is not in the graph")
        return item

    def broken(item: int) -> int:
        return int("not a number")

    with pytest.raises(WorkbenchError, match=r"^board 3 is not in the graph$"):
        list(sim.executor.map(bad_board, [3]))  # one item: no other task to cancel (kill)
    with pytest.raises(WorkbenchError) as failed:
        list(sim.executor.map(broken, [1]))
    message = str(failed.value)
    assert "\n" not in message and message.startswith("a task failed on the Ray cluster: ")
    assert "invalid literal for int()" in message


@pytest.mark.slow
def test_one_process_uses_one_ray(sim: SimulatedCluster) -> None:
    assert RayExecutor(address=sim.address).workers == 2  # the same cluster again: fine
    with pytest.raises(WorkbenchError, match="already uses Ray at"):
        RayExecutor()  # a private one as well: refused, not silently the cluster


@pytest.mark.slow
def test_losing_a_node_mid_map_reruns_its_tasks_on_the_other(
    sim: SimulatedCluster, both: BothNodes
) -> None:
    # the module's last test: it removes one of the two nodes
    def slow(item: int) -> int:
        time.sleep(0.2)
        return item * 2

    answers = both.map(slow, list(range(12)))
    got = [next(answers), next(answers)]
    victim = next(iter(sim.cluster.worker_nodes))
    sim.cluster.remove_node(victim, allow_graceful=False)
    got.extend(answers)
    assert got == [i * 2 for i in range(12)]
    assert len(sim.executor.tasks_per_node) == 2  # both ran some, the survivor the rest
