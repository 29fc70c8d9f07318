"""Faults: a load killed mid-write, two processes at once, corrupt stores, a full disk."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import hold_store, write
from workbench.engine.errors import StoreError, WorkbenchError
from workbench.engine.ingest import load_dataset
from workbench.engine.store import Store

WORKBENCH = str(Path(sys.executable).parent / "workbench")


def big_edges(path: Path, n: int = 1_500_000) -> Path:
    rng = np.random.default_rng(0)
    boards = rng.integers(0, 50_000, n)
    pins = rng.integers(0, 200_000, n)
    with path.open("w") as f:
        f.write("board,pin\n")
        np.savetxt(f, np.column_stack([boards, pins]), fmt="%d", delimiter=",")
    return path


def cli(db: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    env = {**os.environ, "WORKBENCH_NO_SAMPLE": "1", **(env or {})}
    return subprocess.Popen(
        [WORKBENCH, "--db", str(db), *args],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def snapshot(db: Path) -> list[tuple[str, str]]:
    return [(d.name, d.fingerprint) for d in Store(db).datasets()]


KILL_AT_STAGE = """
import os, signal, sys
from workbench.engine.ingest import load_dataset
from workbench.engine.progress import Reporter
from workbench.engine.store import Store

def progress(done, total, stage):
    if stage == sys.argv[3]:
        os.kill(os.getpid(), signal.SIGKILL)

load_dataset(Store(sys.argv[1]), [sys.argv[2]], "big", reporter=Reporter(on_progress=progress))
"""


@pytest.mark.parametrize("stage", ["reading files", "writing edges", "committing"])
def test_sigkill_at_each_stage_of_a_load_leaves_previous_datasets(
    tmp_path: Path, tiny_dir: Path, stage: str
) -> None:
    """The process kills itself when the load reports ``stage``: at the start, mid-build, and with
    every table written but the transaction not yet committed. Nothing of it may remain."""
    db = tmp_path / "wb.duckdb"
    load_dataset(Store(db), [tiny_dir], "keep")
    before = snapshot(db)
    edges = big_edges(tmp_path / "edges.csv", n=200_000)
    proc = subprocess.run([sys.executable, "-c", KILL_AT_STAGE, str(db), str(edges), stage],
                          capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == -signal.SIGKILL, proc.stderr  # the stage was reached
    assert snapshot(db) == before
    schemas = Store(db).query("SELECT schema_name FROM information_schema.schemata")
    assert ("big",) not in schemas


def test_sigkill_of_the_cli_load_is_all_or_nothing(tmp_path: Path, tiny_dir: Path) -> None:
    """A kill at an arbitrary moment: either the load had committed (the whole dataset is there)
    or it had not (the store is as before). Which of the two depends on the machine's speed."""
    db = tmp_path / "wb.duckdb"
    load_dataset(Store(db), [tiny_dir], "keep")
    before = snapshot(db)
    edges = big_edges(tmp_path / "edges.csv")
    proc = cli(db, "load", str(edges), "--dataset", "big")
    time.sleep(0.9)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    after = Store(db).datasets()
    if [(d.name, d.fingerprint) for d in after] != before:
        assert [d.name for d in after] == ["big", "keep"]
        big = next(d for d in after if d.name == "big")
        edges_stored = Store(db).query('SELECT count(*) FROM "big".edges')[0][0]
        assert big.edges == edges_stored == 1_499_882


def test_second_writer_gets_a_clear_message(tmp_path: Path, tiny_dir: Path) -> None:
    db = tmp_path / "wb.duckdb"
    load_dataset(Store(db), [tiny_dir], "keep")
    holder = hold_store(db, 60)
    try:
        env = {"WORKBENCH_LOCK_TIMEOUT": "0.5"}
        proc = cli(db, "load", str(tiny_dir), "--dataset", "second", env=env)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 2
        assert err.strip().splitlines() == [
            f"error: store {db} is in use by another process (a writer holds it); "
            "try again when it has finished"
        ]
    finally:
        holder.kill()
        holder.wait()
    assert snapshot(db) == [("keep", snapshot(db)[0][1])]


def test_waiting_writer_succeeds_when_the_lock_is_released(tmp_path: Path, tiny_dir: Path) -> None:
    db = tmp_path / "wb.duckdb"
    load_dataset(Store(db), [tiny_dir], "keep")
    holder = hold_store(db, 1.0)
    proc = cli(db, "load", str(tiny_dir), "--dataset", "second",
               env={"WORKBENCH_LOCK_TIMEOUT": "20"})  # fmt: skip
    _, err = proc.communicate(timeout=60)
    holder.wait()
    assert proc.returncode == 0, err
    assert [n for n, _ in snapshot(db)] == ["keep", "second"]


def test_truncated_store_is_refused_with_a_message(tmp_path: Path, tiny_dir: Path) -> None:
    db = tmp_path / "wb.duckdb"
    load_dataset(Store(db), [tiny_dir], "keep")
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 3])
    proc = cli(db, "datasets")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "Traceback" not in err
    assert err.startswith("error: ") and err.count("\n") == 1


def test_full_disk_fails_cleanly_and_keeps_the_store(tmp_path: Path, tiny_dir: Path) -> None:
    """RLIMIT_FSIZE stands in for a full disk: writes past the limit fail with EFBIG."""
    db = tmp_path / "wb.duckdb"
    load_dataset(Store(db), [tiny_dir], "keep")
    before = snapshot(db)
    size = db.stat().st_size
    edges = big_edges(tmp_path / "edges.csv", n=400_000)
    code = (
        "import resource, signal, sys\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({size + 256 * 1024}, {size + 256 * 1024}))\n"
        "from workbench.cli import main\n"
        "sys.argv = ['workbench', '--db', sys.argv[1], 'load', sys.argv[2], '--dataset', 'big']\n"
        "main()\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(db), str(edges)], capture_output=True,
                          text=True, env={**os.environ, "WORKBENCH_NO_SAMPLE": "1"})  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
    assert snapshot(db) == before


def test_store_in_missing_or_unwritable_place(tmp_path: Path, tiny_dir: Path) -> None:
    with pytest.raises(StoreError, match="directory does not exist"):
        load_dataset(Store(tmp_path / "nope" / "wb.duckdb"), [tiny_dir], "x")
    bad = write(tmp_path / "file", "not a directory")
    with pytest.raises(StoreError):
        load_dataset(Store(bad / "wb.duckdb"), [tiny_dir], "x")


def test_sigkill_mid_sweep_keeps_trials_and_resumes(tmp_path: Path) -> None:
    from tests.conftest import SAMPLE

    db = tmp_path / "wb.duckdb"
    load_dataset(Store(db), [SAMPLE], "sample")
    grid = ["--grid", "steps=3000,3100,3200,3300,3400,3500,3600,3700,3800,3900,4000,4100"]
    proc = cli(db, "sweep", "--dataset", "sample", "--algo", "pixie", *grid, "--json")
    query = "SELECT count(*), min(info->>'$.sweep.id') FROM runs WHERE kind = 'eval'"
    deadline = time.monotonic() + 120
    trials, sweep_id = 0, None
    while time.monotonic() < deadline and proc.poll() is None and trials < 2:
        time.sleep(0.2)
        try:
            trials, sweep_id = Store(db, lock_timeout=0.05).query(query)[0]
        except WorkbenchError:  # the sweep is writing a trial right now
            continue
    assert proc.poll() is None, "the sweep finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    kept = Store(db).query(query)[0][0]
    assert kept >= 2 and sweep_id is not None
    resumed = cli(db, "sweep", "--resume", sweep_id, "--json")
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    steps = [r[0] for r in Store(db).query(
        "SELECT params->>'$.steps' FROM runs WHERE kind = 'eval' ORDER BY run_id")]  # fmt: skip
    assert len(steps) == 12 and len(set(steps)) == 12  # every setting once, none repeated
