"""Batch recommendations: identical output for any executor and chunking, partial on interrupt."""

from __future__ import annotations

import json
import os
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import write
from workbench.engine.batch import batch_recommend, read_board_list
from workbench.engine.errors import InputError, WorkbenchError
from workbench.engine.executors import LocalExecutor, make_executor
from workbench.engine.progress import Reporter
from workbench.engine.runs import get_run
from workbench.engine.store import Store

PIXIE = {"steps": "2000"}


def test_same_output_for_any_chunking_and_thread_count(sample_store: Store, tmp_path: Path) -> None:
    a = batch_recommend(
        sample_store,
        "sample",
        "pixie",
        PIXIE,
        tmp_path / "a.parquet",
        k=5,
        seed=3,
        chunk=7,
        executor=LocalExecutor(1),
    )
    b = batch_recommend(
        sample_store,
        "sample",
        "pixie",
        PIXIE,
        tmp_path / "b.parquet",
        k=5,
        seed=3,
        chunk=100,
        executor=LocalExecutor(2),
    )
    assert a.complete and a.boards == a.boards_done == sample_store.dataset("sample").boards
    left, right = pl.read_parquet(a.out), pl.read_parquet(b.out)
    assert left.height == a.rows and left.equals(right)
    assert left.columns == ["board", "rank", "pin", "score"]
    meta = json.loads(a.provenance.read_text())
    assert meta["algorithm"] == "pixie" and meta["params"]["steps"] == 2000 and meta["seed"] == 3
    assert get_run(sample_store, a.run_id).kind == "batch"


def test_interrupted_batch_leaves_a_marked_partial_file(
    sample_store: Store, tmp_path: Path
) -> None:
    out = tmp_path / "x.parquet"
    calls = iter(range(100))
    stop = Reporter(is_cancelled=lambda: next(calls) >= 1)
    report = batch_recommend(sample_store, "sample", "popular", None, out, chunk=50, reporter=stop)
    assert not report.complete and not out.exists()
    assert report.out.name == "x.parquet.partial" and report.boards_done == 100
    assert pl.read_parquet(report.out)["board"].n_unique() == 100
    meta = json.loads(report.provenance.read_text())
    assert meta["notes"][0].startswith("PARTIAL: interrupted after 100 of 300 boards")
    assert get_run(sample_store, report.run_id).status == "partial"


def test_board_file_and_refusals(sample_store: Store, tmp_path: Path) -> None:
    ids = write(tmp_path / "boards.txt", "b0001\nb0002\n")
    dense = read_board_list(sample_store, "sample", ids)
    report = batch_recommend(
        sample_store, "sample", "popular", None, tmp_path / "o.parquet", boards=dense, k=3
    )
    assert pl.read_parquet(report.out)["board"].unique().sort().to_list() == ["b0001", "b0002"]
    with pytest.raises(WorkbenchError, match="exists") as refused:
        batch_recommend(sample_store, "sample", "popular", None, report.out)
    assert refused.value.hint == "overwrite"
    bad = write(tmp_path / "bad.txt", "b0001\nnope\n")
    with pytest.raises(InputError, match=r"bad\.txt: line 2: unknown board 'nope'"):
        read_board_list(sample_store, "sample", bad)


def test_ray_executor_matches_local_bit_for_bit(sample_store: Store, tmp_path: Path) -> None:
    pytest.importorskip("ray", reason="Ray is not installed (pip install '.[ray]')")
    import ray

    local = batch_recommend(
        sample_store, "sample", "pixie", PIXIE, tmp_path / "l.parquet", k=5, seed=11, chunk=64
    )
    try:
        executor = make_executor("ray", workers=2)
        remote = batch_recommend(
            sample_store,
            "sample",
            "pixie",
            PIXIE,
            tmp_path / "r.parquet",
            k=5,
            seed=11,
            chunk=37,
            executor=executor,
        )
        assert remote.executor == "ray" and remote.complete
        # a worker that dies mid-batch is retried by Ray and the answers stay in order
        marker = tmp_path / "died"

        def dies_once(x: int) -> int:
            if x == 2 and not marker.exists():
                marker.touch()
                os._exit(1)
            return x * 10

        assert list(executor.map(dies_once, list(range(6)))) == [0, 10, 20, 30, 40, 50]
        assert marker.exists()
    finally:
        ray.shutdown()
    assert pl.read_parquet(local.out).equals(pl.read_parquet(remote.out))


@pytest.mark.parametrize(
    ("flag", "env", "expected"),
    [
        ("--ray-shared-files", "0", True),
        ("--no-ray-shared-files", "1", False),
        (None, "1", None),  # not given: the executor reads the environment variable
    ],
)
def test_ray_shared_files_flag_reaches_the_executor_of_batch_and_sweep(
    sample_store: Store,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    flag: str | None,
    env: str,
    expected: bool | None,
) -> None:
    from click.testing import CliRunner

    import workbench.engine.executors as executors
    import workbench.services.sweep as sweep_service
    from workbench.cli import main

    seen: list[bool | None] = []

    def fake(name: str, workers: int | None = None, address: str | None = None, *,
             shared_files: bool | None = None) -> LocalExecutor:  # fmt: skip
        seen.append(shared_files)
        raise WorkbenchError("stopped before any work")

    monkeypatch.setattr(executors, "make_executor", fake)
    monkeypatch.setattr(sweep_service, "make_executor", fake)
    monkeypatch.setenv("WORKBENCH_RAY_SHARED_FILES", env)
    extra = [flag] if flag else []
    db = ["--db", str(sample_store.path)]
    batch_args = ["batch", "--dataset", "sample", "--out", str(tmp_path / "o.parquet")]
    sweep_args = ["sweep", "--dataset", "sample", "--algo", "popular", "--grid", "x=1"]
    for args in (batch_args, sweep_args):
        res = CliRunner().invoke(main, [*args, "--executor", "ray", *extra, *db])
        assert res.exit_code != 0 and "stopped before any work" in res.output, res.output
    assert seen == [expected, expected]
