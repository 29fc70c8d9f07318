"""Where batch work runs: here (``local``) or on a Ray cluster (``ray``), behind one ``map``.

An executor maps a picklable function over items and yields the results in the items' order,
streaming: at most a bounded number of items are in flight, so memory stays bounded however many
there are. The function (a fitted model, or a sweep trial with its evaluation data: the graph is
inside) is shipped once per ``map`` and called once per item.

Ray ships the function in one of two ways:

- object store (the default): one ``ray.put`` on the driver; each node pulls the object into its
  own object store once, and every worker on that node reads the numpy arrays zero-copy from it.
- shared files (``shared_files=True``): arrays that are memory-mapped files (``np.memmap``, e.g.
  ``np.load(path, mmap_mode="r")``: the graph cache of :func:`workbench.engine.graph.load_graph`
  is) travel as their path, offset, dtype and shape, and each worker maps the same file; this
  needs the store's cache directory at the same path on every node (shared storage), and costs
  the driver nothing per node. Arrays that are not memory-mapped (a pruned graph, a sweep's
  training graph) still go through the object store.

Each Ray worker deserialises the shipped function once per ``map`` and reuses it for every item
it runs, so per-item state derived lazily from the graph is computed once per worker. A worker
keeps the last function until the next ``map`` or until the driver's process ends (Ray's
workers belong to the driver's job), so a node's copy of the graph stays pinned that long.

Results come back to the driver, which alone writes the store and output files: nodes never open
the DuckDB file. Results never depend on the executor: callers seed every query from its
position in the whole list (``walks.query_seed(seed, start + i)``), never from a worker or a
thread.
"""

from __future__ import annotations

import mmap
import os
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol, TypeVar

import numpy as np

from workbench.engine.errors import WorkbenchError

T = TypeVar("T")
R = TypeVar("R")

EXECUTORS = ("local", "ray")


class Executor(Protocol):
    """Runs ``fn`` on every item, yielding the results in the items' order."""

    name: str
    workers: int

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[R]: ...


def for_remote(fn: Callable[[T], R]) -> Callable[[T], R]:
    """``fn`` without what only makes sense in this process (progress and cancel hooks):
    callables that carry such hooks offer ``without_hooks()``."""
    strip = getattr(fn, "without_hooks", None)
    return strip() if callable(strip) else fn


class LocalExecutor:
    """Items one after another in this process; numba kernels inside use ``workers`` threads."""

    name = "local"

    def __init__(self, workers: int | None = None):
        self.workers = workers or os.cpu_count() or 1

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[R]:
        import numba

        previous = numba.get_num_threads()
        numba.set_num_threads(min(self.workers, numba.config.NUMBA_NUM_THREADS))
        try:
            for item in items:
                yield fn(item)
        finally:
            numba.set_num_threads(previous)


# -- shipping memory-mapped arrays by path -------------------------------------------------------


def _file_position(a: np.memmap) -> int | None:
    """Where ``a``'s first byte sits in its file, or None when it cannot travel by path (not
    a C-contiguous view of a file mapping, or empty)."""
    mm = getattr(a, "_mmap", None)
    if not isinstance(mm, mmap.mmap) or not a.filename or a.size == 0:
        return None
    if not a.flags.c_contiguous:
        return None
    # numpy maps from the allocation-granularity boundary below ``offset`` (numpy/core/memmap.py)
    start = a.offset - a.offset % mmap.ALLOCATIONGRANULARITY
    base = np.frombuffer(mm, dtype=np.uint8).ctypes.data
    return start + a.ctypes.data - base


def _memmap_out(a: np.memmap) -> tuple[Any, ...]:
    pos = _file_position(a)
    if pos is None:
        return ("data", np.array(a, copy=True).view(np.ndarray))
    return ("file", str(a.filename), pos, a.dtype.str, a.shape)


def _memmap_in(shipped: tuple[Any, ...]) -> np.ndarray:
    if shipped[0] == "data":
        return shipped[1]  # type: ignore[no-any-return]
    _, path, pos, dtype, shape = shipped
    return np.memmap(path, dtype=np.dtype(dtype), mode="r", offset=pos, shape=shape)


_register_lock = threading.Lock()


def _put(ray: Any, fn: Callable[..., Any], shared_files: bool) -> Any:
    """``fn`` in the object store; with ``shared_files``, its memory-mapped arrays by path."""
    if not shared_files:
        return ray.put(fn)
    from ray.util import deregister_serializer, register_serializer

    with _register_lock:  # the registration is process-wide: only for this one put
        register_serializer(np.memmap, serializer=_memmap_out, deserializer=_memmap_in)
        try:
            return ray.put(fn)
        finally:
            deregister_serializer(np.memmap)


# -- Ray ------------------------------------------------------------------------------------------

_session: list[str] = []
"""In the driver: the address the executors' Ray was started or joined with ("local": private)
and the address of the cluster that gave."""

_shipped: dict[str, Callable[[Any], Any]] = {}
"""In a Ray worker: the function of the current ``map``, by object id (one entry)."""


def _call(ref: list[Any], item: Any) -> tuple[str, Any]:
    """One item in a Ray worker: ``(node id, fn(item))``. ``ref`` is ``[ObjectRef]``, nested
    so that Ray does not deserialise the function again for every task."""
    import numba
    import ray

    key = ref[0].hex()
    fn = _shipped.get(key)
    if fn is None:
        _shipped.clear()  # hold one shipped graph at most, and drop the old one before the new
        fn = ray.get(ref[0])
        _shipped[key] = fn
    numba.set_num_threads(1)  # one Ray worker per core: no nested thread pools
    return ray.get_runtime_context().get_node_id(), fn(item)


def _cluster_of(ray: Any) -> str:
    """The address of the cluster this process's Ray is part of ("" when Ray cannot say, as
    through Ray Client)."""
    try:
        return str(ray.get_runtime_context().gcs_address)
    except Exception:  # only an identity for _session: never worth an error
        return ""


def _task_failed(exc: Exception) -> WorkbenchError:
    """A failed Ray task as one line: the task's own :class:`WorkbenchError` as it was raised,
    anything else as its last line (Ray's text carries the remote traceback)."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, WorkbenchError):
        return cause
    lines = [ln.strip() for ln in str(cause or exc).splitlines() if ln.strip()]
    last = lines[-1] if lines else type(exc).__name__
    if "ModuleNotFoundError" in last or "ImportError" in last:
        last += " (every node needs the workbench installed, the same version as the driver)"
    return WorkbenchError(f"a task failed on the Ray cluster: {last}")


class RayExecutor:
    """Items as Ray tasks (retried if a worker dies), at most ``2 * workers`` in flight; a task
    that fails for good raises a one-line :class:`WorkbenchError`.

    ``address=None`` starts a private local Ray with ``workers`` CPUs; otherwise it connects to
    an existing cluster (``"auto"``, ``"HOST:6379"`` or ``"ray://HOST:10001"``), whose nodes need
    the workbench installed (``pip install 'pinboard-workbench[ray]'``). ``shared_files``: ship
    memory-mapped arrays by path (see the module's text). ``tasks_per_node`` counts, after a
    ``map``, how many items each node ran.
    """

    name = "ray"

    def __init__(
        self,
        workers: int | None = None,
        address: str | None = None,
        *,
        shared_files: bool = False,
    ):
        try:
            import ray
        except ImportError:
            raise WorkbenchError(
                "the ray executor needs Ray: pip install 'pinboard-workbench[ray]'"
            ) from None
        self._ray = ray
        self._started = False
        asked = address or "local"
        if ray.is_initialized():
            ours = _session and _session[1] == _cluster_of(ray)
            if ours and _session[0] != asked:
                raise WorkbenchError(
                    f"this process already uses Ray at {_session[0]!r}; it cannot also use "
                    f"{asked!r} (start a new process for it)"
                )
        else:
            kwargs: dict[str, Any] = {
                "include_dashboard": False,
                "log_to_driver": False,
                "configure_logging": False,
            }
            if address:
                kwargs["address"] = address
            else:  # "local": a new instance even when a cluster runs here (ray.init's default
                # would join the cluster last started on this machine)
                kwargs["address"] = "local"
                kwargs["num_cpus"] = workers or os.cpu_count() or 1
            try:
                ray.init(**kwargs)
            except Exception as exc:  # Ray raises many types; all mean "no cluster here"
                where = f"Ray at {address!r}" if address else "a local Ray instance"
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise WorkbenchError(f"cannot start or reach {where}: {first}") from None
            self._started = True
            _session[:] = [asked, _cluster_of(ray)]
        self.workers = workers or int(ray.cluster_resources().get("CPU", 1))
        self.shared_files = shared_files
        self.tasks_per_node: Counter[str] = Counter()
        # SPREAD: items go round the nodes (the default packs one node first), so every node
        # of a cluster works, each pulling the shipped graph once
        self._task = ray.remote(
            max_retries=3, retry_exceptions=False, scheduling_strategy="SPREAD"
        )(_call)

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[R]:
        ray = self._ray
        fn_ref = _put(ray, for_remote(fn), self.shared_files)
        self.tasks_per_node = Counter()
        in_flight: deque[Any] = deque()

        def collect() -> Any:
            try:
                node, result = ray.get(in_flight.popleft())
            except ray.exceptions.RayError as exc:
                raise _task_failed(exc) from exc
            self.tasks_per_node[node] += 1
            return result

        try:
            for item in items:
                in_flight.append(self._task.remote([fn_ref], item))
                if len(in_flight) >= 2 * self.workers:
                    yield collect()
            while in_flight:
                yield collect()
        finally:
            for ref in in_flight:  # stopped early (cancelled, or an error): drop the rest
                ray.cancel(ref, force=True)

    def close(self) -> None:
        """Stop the Ray this executor started (a cluster it only connected to keeps running)."""
        if self._started and self._ray.is_initialized():
            self._ray.shutdown()
            _session.clear()
        self._started = False


SHARED_FILES_ENV = "WORKBENCH_RAY_SHARED_FILES"
"""Set to 1 to ship memory-mapped graphs to Ray nodes by path (see the module's text)."""


def make_executor(
    name: str = "local",
    workers: int | None = None,
    address: str | None = None,
    *,
    shared_files: bool | None = None,
) -> Executor:
    """The executor called ``name`` (``local`` or ``ray``); ``shared_files`` None: from the
    environment variable ``WORKBENCH_RAY_SHARED_FILES`` (1/true/yes)."""
    if name == "local":
        return LocalExecutor(workers)
    if name == "ray":
        if shared_files is None:
            flag = os.environ.get(SHARED_FILES_ENV, "").strip().lower()
            shared_files = flag in ("1", "true", "yes")
        return RayExecutor(workers, address, shared_files=shared_files)
    raise WorkbenchError(f"unknown executor {name!r} (expected one of {', '.join(EXECUTORS)})")
