"""Where batch work runs: here (``local``) or on a Ray cluster (``ray``), behind one ``map``.

An executor maps a picklable function over items and yields the results in the items' order,
streaming: at most a bounded number of items are in flight, so memory stays bounded however many
there are. The function is shipped once (Ray: one ``ray.put``, after which workers read its numpy
arrays zero-copy from the object store) and called once per item.

Results never depend on the executor: callers seed every query from its position in the whole
list (``walks.query_seed(seed, start + i)``), never from a worker or a thread.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol, TypeVar

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


def _call(fn: Callable[[Any], Any], item: Any) -> Any:
    import numba

    numba.set_num_threads(1)  # one Ray worker per core: no nested thread pools
    return fn(item)


class RayExecutor:
    """Items as Ray tasks (retried if a worker dies), at most ``2 * workers`` in flight.

    ``address=None`` starts a private local Ray with ``workers`` CPUs; otherwise it connects to
    an existing cluster (``"auto"`` or ``"ray://host:10001"``), whose nodes need the workbench
    installed (``pip install 'pinboard-workbench[ray]'``).
    """

    name = "ray"

    def __init__(self, workers: int | None = None, address: str | None = None):
        try:
            import ray
        except ImportError:
            raise WorkbenchError(
                "the ray executor needs Ray: pip install 'pinboard-workbench[ray]'"
            ) from None
        self._ray = ray
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {
                "include_dashboard": False,
                "log_to_driver": False,
                "configure_logging": False,
            }
            if address:
                kwargs["address"] = address
            else:
                kwargs["num_cpus"] = workers or os.cpu_count() or 1
            try:
                ray.init(**kwargs)
            except Exception as exc:  # Ray raises many types; all mean "no cluster here"
                where = address or "a local Ray instance"
                raise WorkbenchError(f"cannot start or reach {where}: {exc}") from None
        self.workers = workers or int(ray.cluster_resources().get("CPU", 1))
        self._task = ray.remote(max_retries=3, retry_exceptions=False)(_call)

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[R]:
        ray = self._ray
        fn_ref = ray.put(for_remote(fn))
        in_flight: deque[Any] = deque()
        try:
            for item in items:
                in_flight.append(self._task.remote(fn_ref, item))
                if len(in_flight) >= 2 * self.workers:
                    yield ray.get(in_flight.popleft())
            while in_flight:
                yield ray.get(in_flight.popleft())
        finally:
            for ref in in_flight:  # stopped early (cancelled, or an error): drop the rest
                ray.cancel(ref, force=True)


def make_executor(name: str = "local", workers: int | None = None,
                  address: str | None = None) -> Executor:  # fmt: skip
    """The executor called ``name`` (``local`` or ``ray``)."""
    if name == "local":
        return LocalExecutor(workers)
    if name == "ray":
        return RayExecutor(workers, address)
    raise WorkbenchError(f"unknown executor {name!r} (expected one of {', '.join(EXECUTORS)})")
