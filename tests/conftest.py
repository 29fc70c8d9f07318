"""Shared fixtures: throw-away stores, tiny generated datasets, and the shipped sample."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.engine.ingest import load_dataset
from workbench.engine.store import Store

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"

# Tests never fill a new store with the sample unless they ask for it.
os.environ.setdefault("WORKBENCH_NO_SAMPLE", "1")
os.environ.setdefault("NO_COLOR", "1")


def hold_store(path: Path, seconds: float) -> subprocess.Popen[str]:
    """Another process holding a read-write connection to ``path`` for ``seconds``; returns
    once the connection is open."""
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
         "print('ok', flush=True); time.sleep(float(sys.argv[2]))", str(path), str(seconds)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout is not None and holder.stdout.readline().strip() == "ok"
    return holder


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "wb.duckdb", lock_timeout=0.5)


@pytest.fixture
def tiny_dir(tmp_path: Path) -> Path:
    """A hand-made board/pin dataset with string ids, topics, weights and timestamps."""
    d = tmp_path / "tiny"
    write(
        d / "pins.csv",
        "pin,title,topic,score\n"
        "a,Apple,fruit,1\nb,Banana,fruit,2\nc,Car,vehicle,3\nd,Dog,animal,4\ne,Eel,animal,5\n",
    )
    write(d / "boards.csv", "board,name,topic\nB1,Fruits,fruit\nB2,Things,vehicle\nB3,Zoo,animal\n")
    write(d / "edges.csv", "board,pin,weight,timestamp\n"
          "B1,a,1,2024-01-01 00:00:00\nB1,b,2,2024-01-02 00:00:00\nB2,c,1,2024-01-03 00:00:00\n"
          "B2,a,1,2024-01-04 00:00:00\nB3,d,1,2024-01-05 00:00:00\nB3,e,3,2024-01-06 00:00:00\n"
          "B3,b,1,2024-01-07 00:00:00\n")  # fmt: skip
    return d


@pytest.fixture(scope="session")
def sample_store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One store holding the shipped sample dataset, loaded once per test session."""
    path = tmp_path_factory.mktemp("sample") / "sample.duckdb"
    load_dataset(Store(path), [SAMPLE], "sample")
    return path


@pytest.fixture
def sample_store(sample_store_path: Path, tmp_path: Path) -> Store:
    """A private copy of the sample store (tests may write runs to it)."""
    path = tmp_path / "sample.duckdb"
    shutil.copy(sample_store_path, path)
    return Store(path, lock_timeout=0.5)
