"""Fixtures of the TUI tests: a small fixed dataset with images, stored runs with fixed times,
and an app factory with deterministic settings (half-block images, no user config)."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import polars as pl
import pytest
from PIL import Image, ImageDraw
from textual.pilot import Pilot

from tests.conftest import write
from workbench.engine.ingest import load_dataset
from workbench.engine.runs import save_run
from workbench.engine.store import Store
from workbench.tui.app import WorkbenchApp
from workbench.tui.config import load_config

FIXED_TIME = "2024-06-01 12:00:00"
COLORS = {
    "red": (200, 40, 40),
    "blue": (40, 80, 200),
    "green": (40, 160, 70),
    "yellow": (230, 200, 40),
}
TOPICS = ("flowers", "ocean", "mountains", "food")


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run ``async def`` tests (Pilot scenarios) in a fresh event loop; no plugin needed."""
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    names = pyfuncitem._fixtureinfo.argnames
    asyncio.run(pyfuncitem.obj(**{n: pyfuncitem.funcargs[n] for n in names}))
    return True


@pytest.fixture(autouse=True)
def tui_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("WORKBENCH_IMAGES", "halfcell")
    monkeypatch.setenv("WORKBENCH_CONFIG", "/nonexistent/workbench/config.toml")
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("WORKBENCH_TUI_EXIT_ON_READY", raising=False)
    monkeypatch.setenv("WORKBENCH_STATE", str(tmp_path / "state.json"))
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def mini_dir(tmp_path: Path) -> Path:
    """16 pins (4 topics x 4 colours) with drawn images, 4 boards, 24 edges (in ``mini/``: the
    directory name shows on the Datasets screen)."""
    d = tmp_path / "mini"
    pins, edges = ["pin,title,description,image,topic,color"], ["board,pin"]
    (d / "images").mkdir(parents=True)
    for i in range(16):
        topic, color = TOPICS[i // 4], list(COLORS)[i % 4]
        pin = f"p{i:02d}"
        im = Image.new("RGB", (32, 32), (235, 235, 225))
        ImageDraw.Draw(im).ellipse((4 + i % 4, 6, 26, 28 - i // 4), fill=COLORS[color])
        im.save(d / "images" / f"{pin}.png")
        pins.append(
            f"{pin},{color.title()} {topic} {i},A {color} picture about {topic}.,"
            f"images/{pin}.png,{topic},{color}"
        )
    boards = ["board,name,topic"] + [f"b{j},{t.title()} board,{t}" for j, t in enumerate(TOPICS)]
    for j in range(4):
        edges += [f"b{j},p{(j * 4 + k) % 16:02d}" for k in range(6)]
    write(d / "pins.csv", "\n".join(pins) + "\n")
    write(d / "boards.csv", "\n".join(boards) + "\n")
    write(d / "edges.csv", "\n".join(edges) + "\n")
    return d


def fix_times(store: Store) -> None:
    """Make every stored timestamp the same, so screens do not change from run to run."""
    con = duckdb.connect(str(store.path))
    try:
        con.execute("UPDATE datasets SET loaded_at = ?", [FIXED_TIME])
        con.execute("UPDATE runs SET created_at = ?", [FIXED_TIME])
    finally:
        con.close()


@pytest.fixture
def mini_store(mini_dir: Path, tmp_path: Path) -> Store:
    store = Store(tmp_path / "tui.duckdb", lock_timeout=0.5)
    load_dataset(store, [mini_dir], "mini")
    fix_times(store)
    return store


def add_ranking_run(store: Store, algorithm: str, pins: list[str], query: str = "p00") -> int:
    fingerprint = store.dataset("mini").fingerprint
    results = pl.DataFrame(
        {
            "query": [query] * len(pins),
            "rank": list(range(1, len(pins) + 1)),
            "pin": pins,
            "score": [1.0 / (i + 1) for i in range(len(pins))],
        }
    )
    return save_run(
        store,
        dataset="mini",
        kind="recommend",
        algorithm=algorithm,
        params={"steps": 1000},
        seed=1,
        fingerprint=fingerprint,
        results=results,
        elapsed_ms=12.0,
        steps=1000,
        query={"pins": {query: 1.0}},
    )


@pytest.fixture
def runs_store(mini_store: Store) -> Store:
    """The mini store with two ranking runs (ids 1 and 2) on query p00."""
    add_ranking_run(mini_store, "pixie", ["p01", "p02", "p03", "p04", "p05"])
    add_ranking_run(mini_store, "itemknn", ["p02", "p01", "p06", "p04", "p07"])
    fix_times(mini_store)
    return mini_store


@pytest.fixture
def make_app() -> Callable[[Store], WorkbenchApp]:
    def make(store: Store) -> WorkbenchApp:
        app = WorkbenchApp(store, config=load_config(Path(os.environ["WORKBENCH_CONFIG"])))
        app.animation_level = "none"  # e.g. the tab underline would slide during a snapshot
        return app

    return make


async def settle(pilot: Pilot[None]) -> None:
    """Let every job finish (including jobs started by other jobs' results) and the screen redraw:
    returns after three quiet rounds in a row."""
    quiet = 0
    while quiet < 3:
        await pilot.pause()
        busy = [w for w in pilot.app.workers if not w.is_finished]
        quiet = 0 if busy else quiet + 1
        for worker in busy:
            with contextlib.suppress(Exception):
                await worker.wait()


async def wait_until(
    pilot: Pilot[None], condition: Callable[[], bool], timeout: float = 10
) -> None:
    """Settle until ``condition()`` holds (for effects that go through a dialog's callback)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the app"
        await settle(pilot)


async def poll_until(
    pilot: Pilot[None], condition: Callable[[], bool], timeout: float = 10
) -> None:
    """Wait until ``condition()`` holds while jobs keep running (``settle`` would wait for them
    to end): for watching a job's effects before it finishes."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the app"
        await pilot.pause(0.05)


def add_eval_run(store: Store, algorithm: str, values: dict[str, float]) -> int:
    """An evaluation run on mini with these nDCG@10 values per board (HR@10: value > 0.3)."""
    boards = list(values)
    metrics = pl.DataFrame(
        {
            "board": boards * 2,
            "metric": ["ndcg@10"] * len(boards) + ["hr@10"] * len(boards),
            "value": [*values.values(), *(float(v > 0.3) for v in values.values())],
        }
    )
    return save_run(
        store,
        dataset="mini",
        kind="eval",
        algorithm=algorithm,
        params={},
        seed=0,
        fingerprint=store.dataset("mini").fingerprint,
        board_metrics=metrics,
        metrics={"ndcg@10": sum(values.values()) / len(values), "hr@10": 0.5},
        info={"protocol": "sampled", "split": "test", "split_seed": 0},
    )
