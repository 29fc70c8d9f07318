"""Recommendations for many boards at once, streamed to a parquet ranked list on any executor.

The model is fitted once here and shipped to the executor; boards go out in chunks and come back
as numpy arrays (board, rank, pin, score), which are mapped to original ids and appended to the
parquet file as they arrive, so memory stays bounded. Board ``i`` of the list is seeded from its
position, so the output is identical bit for bit whatever the executor, workers or chunk size.

The file is written under a unique temporary name and renamed when complete; an interrupted batch
leaves ``<out>.partial`` (and a sidecar saying so), never a file that looks complete. A lock file
beside the output refuses a second batch writing the same file at the same time.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from workbench.engine.atomic import atomic_path, atomic_write, pid_alive
from workbench.engine.dataset import id_map, resolve_board
from workbench.engine.errors import Cancelled, InputError, OutputExistsError, WorkbenchError
from workbench.engine.executors import Executor, LocalExecutor
from workbench.engine.export import PROVENANCE_SUFFIX, provenance
from workbench.engine.progress import SILENT, Reporter
from workbench.engine.recommend import load_model
from workbench.engine.recommenders import Recommender, board_query, params_dict
from workbench.engine.runs import get_run, save_run
from workbench.engine.store import Store

CHUNK = 512
SCHEMA = pa.schema(
    [("board", pa.string()), ("rank", pa.int32()), ("pin", pa.string()), ("score", pa.float64())]
)


@dataclass(frozen=True, eq=False)
class BoardChunk:
    """Answers one chunk of boards: ``(start, dense board ids) -> (boards, ranks, pins, scores)``.

    Picklable (a fitted model and plain settings), so any executor can run it.
    """

    model: Recommender
    k: int
    seed: int
    weighting: str = "equal"

    def __call__(self, item: tuple[int, np.ndarray]) -> tuple[np.ndarray, ...]:
        start, boards = item
        graph = self.model.graph
        queries = [board_query(graph, int(b), self.weighting) for b in boards]
        rankings = self.model.recommend_batch(queries, self.k, self.seed, start)
        lengths = np.array([r.pins.size for r in rankings], dtype=np.int64)
        return (
            np.repeat(boards.astype(np.int32), lengths),
            np.concatenate([np.arange(1, n + 1, dtype=np.int32) for n in lengths])
            if lengths.size
            else np.zeros(0, np.int32),
            np.concatenate([r.pins for r in rankings]) if rankings else np.zeros(0, np.int32),
            np.concatenate([r.scores for r in rankings]) if rankings else np.zeros(0),
        )


@dataclass
class BatchReport:
    """What a batch wrote, how fast, and whether it finished."""

    run_id: int
    out: Path
    provenance: Path
    boards: int
    boards_done: int
    rows: int
    elapsed_s: float
    executor: str
    workers: int
    complete: bool

    @property
    def boards_per_s(self) -> float:
        return self.boards_done / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "out": str(self.out),
            "provenance": str(self.provenance),
            "boards": self.boards,
            "boards_done": self.boards_done,
            "rows": self.rows,
            "elapsed_s": self.elapsed_s,
            "boards_per_s": self.boards_per_s,
            "executor": self.executor,
            "workers": self.workers,
            "complete": self.complete,
        }


def read_board_list(store: Store, dataset: str, path: str | os.PathLike[str]) -> np.ndarray:
    """Dense ids of the boards listed in a file: one id per line, or a csv with a board column."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such file (a board list is 'all' or a file of board ids)")
    lines = [ln.strip() for ln in p.read_text(encoding="utf-8").splitlines()]
    if lines and lines[0].lower() in ("board", "board_id", "user", "user_id"):
        lines = [ln.split(",")[0].strip() for ln in lines[1:]]
    ids = [ln for ln in lines if ln]
    if not ids:
        raise InputError(f"{p}: no board ids in the file")
    dense = []
    with store.connect(read_only=True):
        for n, b in enumerate(ids, start=1):
            try:
                dense.append(resolve_board(store, dataset, b))
            except WorkbenchError as exc:
                raise InputError(f"{p}: line {n}: {exc}") from None
    return np.asarray(dense, dtype=np.int32)


@contextlib.contextmanager
def output_lock(out: Path) -> Iterator[Path]:
    """Hold ``.<out>.lock`` for the block: a second writer of ``out`` (another process, or
    another batch of this one) is refused; the lock of a killed writer is taken over."""
    lock = out.with_name(f".{out.name}.lock")
    out.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                pid = int(lock.read_text().strip() or "0")
            except (OSError, ValueError):
                pid = 0
            if pid and pid_alive(pid):
                raise WorkbenchError(
                    f"another batch (process {pid}) is writing {out}; wait for it to finish or "
                    "choose another output"
                ) from None
            lock.unlink(missing_ok=True)  # left by a writer that was killed
            continue
        with os.fdopen(fd, "w") as f:
            f.write(str(os.getpid()))
        break
    else:
        raise WorkbenchError(f"cannot lock {out} for writing (another writer keeps taking it)")
    try:
        yield lock
    finally:
        lock.unlink(missing_ok=True)


class _Stopped(Exception):
    """Leaves the output's temporary file in place (it became the partial file)."""


def batch_recommend(
    store: Store,
    dataset: str,
    algo: str,
    params: Mapping[str, Any] | None,
    out: str | os.PathLike[str],
    *,
    boards: np.ndarray | None = None,
    k: int = 10,
    seed: int = 0,
    weighting: str = "equal",
    executor: Executor | None = None,
    chunk: int = CHUNK,
    force: bool = False,
    reporter: Reporter = SILENT,
) -> BatchReport:
    """Top-``k`` pins for every board (or the given dense ``boards``), written to ``out``."""
    out = Path(out)
    if k < 1:
        raise WorkbenchError(f"the number of results must be at least 1, got {k}")
    if chunk < 1:
        raise WorkbenchError(f"the chunk size must be at least 1 board, got {chunk}")
    if out.exists() and not force:
        raise OutputExistsError(f"the output file {out} exists", path=out)
    with output_lock(out):
        return _write_batch(store, dataset, algo, params, out, boards, k, seed, weighting,
                            executor or LocalExecutor(), chunk, force, reporter)  # fmt: skip


def _write_batch(store: Store, dataset: str, algo: str, params: Mapping[str, Any] | None,
                 out: Path, boards: np.ndarray | None, k: int, seed: int, weighting: str,
                 executor: Executor, chunk: int, force: bool,
                 reporter: Reporter) -> BatchReport:  # fmt: skip
    info = store.dataset(dataset)
    started = time.perf_counter()
    model = load_model(store, dataset, algo, params)
    ids = id_map(store, dataset)
    if boards is None:
        boards = np.arange(model.graph.n_boards, dtype=np.int32)
    chunks = [(s, boards[s : s + chunk]) for s in range(0, boards.size, chunk)]
    partial = out.with_name(out.name + ".partial")
    partial.unlink(missing_ok=True)
    done = rows = 0
    complete = False
    try:
        with atomic_path(out, overwrite=force) as tmp:
            with pq.ParquetWriter(tmp, SCHEMA) as writer:
                fn = BoardChunk(model, k, seed, weighting)
                try:
                    answers = executor.map(fn, chunks)
                    for (_, asked), (b, r, p, s) in zip(chunks, answers, strict=True):
                        columns = {"board": ids.boards[b], "rank": r, "pin": ids.pins[p],
                                   "score": s}  # fmt: skip
                        writer.write_table(pa.table(columns, schema=SCHEMA))
                        done += int(asked.size)
                        rows += int(b.size)
                        reporter.progress(min(done, boards.size), int(boards.size), "boards")
                except (Cancelled, KeyboardInterrupt):
                    writer.close()
                    os.replace(tmp, partial)
                    raise _Stopped from None
        complete = True
    except _Stopped:
        pass
    elapsed = time.perf_counter() - started
    written = out if complete else partial
    run_id = save_run(
        store,
        dataset=dataset,
        kind="batch",
        algorithm=algo,
        params=params_dict(model.params),
        seed=seed,
        fingerprint=info.fingerprint,
        elapsed_ms=elapsed * 1000,
        query={"boards": int(boards.size), "weighting": weighting, "k": k},
        info={
            "out": str(written.resolve()),
            "rows": rows,
            "boards_done": done,
            "executor": getattr(executor, "name", "local"),
            "workers": getattr(executor, "workers", 1),
        },
        status="complete" if complete else "partial",
    )
    sidecar = written.with_name(written.name + PROVENANCE_SUFFIX)
    notes = [] if complete else [f"PARTIAL: interrupted after {done} of {boards.size} boards"]
    meta = provenance(store, get_run(store, run_id), "parquet", [written], rows, notes)
    atomic_write(sidecar, lambda t: t.write_text(json.dumps(meta, indent=2) + "\n"),
                 overwrite=True)  # fmt: skip
    return BatchReport(
        run_id=run_id,
        out=written,
        provenance=sidecar,
        boards=int(boards.size),
        boards_done=done,
        rows=rows,
        elapsed_s=elapsed,
        executor=getattr(executor, "name", "local"),
        workers=getattr(executor, "workers", 1),
        complete=complete,
    )
