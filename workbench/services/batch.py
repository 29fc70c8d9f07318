"""Recommendations for many boards at once, streamed to a parquet ranked list, locally or on
Ray; the output is identical whatever the executor, workers or chunk size.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from workbench.engine.executors import EXECUTORS
from workbench.engine.progress import SILENT, Reporter
from workbench.services.parsing import ParseError, check_seed
from workbench.services.recommend import DEFAULT_ALGORITHM, DEFAULT_K

if TYPE_CHECKING:
    from workbench.engine.batch import BatchReport
    from workbench.engine.store import Store

__all__ = ["DEFAULT_CHUNK", "EXECUTORS", "BatchReport", "BatchRequest", "batch", "check_request"]

DEFAULT_CHUNK = 512
"""Boards per task."""


def __getattr__(name: str) -> Any:
    if name == "BatchReport":
        from workbench.engine.batch import BatchReport

        return BatchReport
    raise AttributeError(name)


@dataclass(frozen=True)
class BatchRequest:
    """Top-``k`` pins for every board of ``dataset`` (``boards``: None for all, or a file of
    board ids) written to the parquet file ``out``."""

    dataset: str
    out: str
    algo: str = DEFAULT_ALGORITHM
    params: Mapping[str, Any] = field(default_factory=dict)
    boards: str | None = None
    k: int = DEFAULT_K
    seed: int = 0
    weighting: str = "equal"
    executor: str = "local"
    workers: int | None = None
    ray_address: str | None = None
    ray_shared_files: bool | None = None
    """Ship the graph to Ray nodes as file paths (None: ``WORKBENCH_RAY_SHARED_FILES``)."""
    chunk: int = DEFAULT_CHUNK
    overwrite: bool = False


def check_request(request: BatchRequest) -> None:
    """Refuse bad settings before any work, one line each."""
    check_seed(request.seed)
    if request.k < 1:
        raise ParseError(f"the number of results must be at least 1, got {request.k}")
    if request.chunk < 1:
        raise ParseError(f"the chunk size must be at least 1 board, got {request.chunk}")
    if request.workers is not None and request.workers < 1:
        raise ParseError(f"the number of workers must be at least 1, got {request.workers}")
    if request.executor not in EXECUTORS:
        raise ParseError(f"unknown executor {request.executor!r} (one of {', '.join(EXECUTORS)})")


def batch(store: Store, request: BatchRequest, reporter: Reporter = SILENT) -> BatchReport:
    """Write the ranked lists; a cancel (through ``reporter``) keeps what was written as
    ``<out>.partial``, marked so in its sidecar and in the stored run (status ``partial``)."""
    check_request(request)
    from workbench.engine.batch import batch_recommend, read_board_list
    from workbench.engine.executors import make_executor

    store.dataset(request.dataset)
    dense = (
        None
        if request.boards in (None, "all")
        else read_board_list(store, request.dataset, str(request.boards))
    )
    runner = make_executor(
        request.executor,
        request.workers,
        request.ray_address,
        shared_files=request.ray_shared_files,
    )
    return batch_recommend(
        store,
        request.dataset,
        request.algo,
        request.params,
        request.out,
        boards=dense,
        k=request.k,
        seed=request.seed,
        weighting=request.weighting,
        executor=runner,
        chunk=request.chunk,
        force=request.overwrite,
        reporter=reporter,
    )
