"""The TUI's speed: time to the first screen, and key-to-screen latency on a large store.

Start-up (default): runs ``workbench --db STORE`` in a pseudo-terminal (120x36) with
``WORKBENCH_TUI_EXIT_ON_READY=1``: the App quits as soon as its first screen has been drawn and
prints the wall-clock time of that moment, which is compared with the time just before the
process was started (target: under 1.5 s). The store holds the sample dataset and is opened once
before timing (warm caches, as on a researcher's machine).

    python bench/bench_tui.py [--runs 7] [--command workbench]

Latency (``--latency STORE``): drives the App headless (Textual's Pilot, 80x24) on STORE through
the researcher's steps (open a screen, search, open a pin page, select a run, run SQL, ...) and
reports for each the time from the key to the screen showing the answer, and the longest stall
of the UI's event loop meanwhile (a 10 ms heartbeat on the App's loop: work that grows with the
data must run in workers, so the stall must stay small whatever the store's size). The same
steps on a copy of the sample store, in the same process, are the baseline.

    python bench/bench_tui.py --latency /work/stores/tui.duckdb [--dataset pinterest]
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import os
import pty
import select
import statistics
import struct
import sys
import tempfile
import termios
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
READY = b"workbench-tui-ready "
SEARCHES = ("1", "12", "123")
"""Explore searches: ids containing the text (200 hits, the cap, on both stores for '1')."""
REPEATS = 5
"""Each search is timed this many times (the median is reported): one is too noisy."""
APP_ONLY = (
    "import sys; from workbench.engine.store import Store; "
    "from workbench.tui.app import WorkbenchApp; WorkbenchApp(Store(sys.argv[1])).run()"
)


def time_once(argv: list[str], env: dict[str, str]) -> float:
    """Seconds from just before the process started to its first screen being drawn."""
    started = time.time()
    pid, fd = pty.fork()
    if pid == 0:  # the child: a terminal of 120x36 cells, then the command
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 36, 120, 0, 0))
        os.execvpe(argv[0], argv, env)
    output = b""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
            if b"\x1b[c" in chunk or b"\x1b[16t" in chunk or b"\x1b_G" in chunk:
                os.write(fd, b"\x1b[?62;c")  # answer terminal queries like a VT220 would
    os.waitpid(pid, 0)
    os.close(fd)
    at = output.find(READY)
    if at < 0:
        raise RuntimeError(f"no ready line from {' '.join(argv)}: {output[-400:]!r}")
    return float(output[at + len(READY) :].split()[0]) - started


# -- key-to-screen latency --------------------------------------------------------------------


class Heartbeat:
    """A task on the App's event loop that wakes every 10 ms: how late it wakes is how long the
    UI could not answer a key."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _beat(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(0.01)
            self.worst = max(self.worst, time.perf_counter() - before - 0.01)

    def start(self) -> None:
        self.worst = 0.0
        self._task = asyncio.get_running_loop().create_task(self._beat())

    def stop(self) -> float:
        if self._task is not None:
            self._task.cancel()
        return self.worst


async def until(pilot: Any, condition: Callable[[], bool], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if condition():
                break
        except Exception:  # the screen is still being built
            pass
        if time.monotonic() > deadline:
            raise TimeoutError("the screen never showed the answer")
        await pilot.pause(0.005)
    await pilot.pause()  # one more refresh: the answer is on the screen


async def latency_steps(store_path: Path, dataset: str | None) -> list[tuple[str, float, float]]:
    """``(step, seconds from key to answer, worst UI stall in seconds)`` for each step."""
    from textual.widgets import Input, TextArea

    from workbench.engine.store import Store
    from workbench.tui.app import WorkbenchApp
    from workbench.tui.screens.pin_page import PinPageScreen

    app = WorkbenchApp(Store(store_path))
    out: list[tuple[str, float, float]] = []
    beat = Heartbeat()
    async with app.run_test(size=(80, 24)) as pilot:

        async def step(name: str, act: Callable[[], Awaitable[None]],
                       done: Callable[[], bool]) -> None:  # fmt: skip
            beat.start()
            started = time.perf_counter()
            try:
                await act()
                await until(pilot, done)
                out.append((name, time.perf_counter() - started, beat.stop()))
            except Exception as exc:
                beat.stop()
                out.append((f"{name} (failed: {type(exc).__name__}: {exc})", float("nan"), 0.0))

        def q(selector: str) -> Any:
            return app.screen.query_one(selector)

        async def press(*keys: str) -> None:
            await pilot.press(*keys)

        await step("first screen: datasets listed", pilot.pause,
                   lambda: q("#datasets-table").row_count > 0)  # fmt: skip
        if dataset:
            app.dataset = dataset
            await pilot.pause()
        await step("alt+2 Explore: degree histograms", lambda: press("alt+2"),
                   lambda: "pins" in str(q("#overview-text").render()))  # fmt: skip

        for text in SEARCHES:
            tries: list[tuple[str, float, float]] = []
            for _ in range(REPEATS):
                q("#explore-search").value = ""  # untimed: an empty box empties the results
                await until(pilot, lambda: q("#explore-results").row_count == 0)

                async def search(text: str = text) -> None:
                    q("#explore-search").value = text

                await step(f"Explore: search '{text}' (median of {REPEATS})", search,
                           lambda: q("#explore-results").row_count > 0)  # fmt: skip
                tries.append(out.pop())
            out.append((tries[0][0], statistics.median(t[1] for t in tries),
                        statistics.median(t[2] for t in tries)))  # fmt: skip
        await step("alt+4 Visual: the form (its service imported)", lambda: press("alt+4"),
                   lambda: app.current_mode == "visual" and bool(q("#vis-k").value))  # fmt: skip
        await step(
            "alt+7 Runs: runs listed, first run's results",
            lambda: press("alt+7"),
            lambda: q("#runs-table").row_count > 0 and q("#run-results").row_count > 0,
        )

        runs = q("#runs-table")
        for row in range(min(runs.row_count, 4)):
            key = str(runs.coordinate_to_cell_key((row, 0))[0].value)

            async def select(row: int = row) -> None:
                q("#runs-table").move_cursor(row=row)

            await step(f"Runs: select run {key}", select,
                       lambda key=key: f"run {key}" in str(q("#run-results").border_title or "")
                       or "No results" in str(q("#run-results").border_title or ""))  # fmt: skip

        async def open_pin() -> None:
            q("#run-results").focus()
            await pilot.press("enter")

        await step("Runs: Enter on a result opens the pin page", open_pin,
                   lambda: isinstance(app.screen, PinPageScreen)
                   and q("#page-boards").row_count > 0
                   and q("#page-board-pins").row_count > 0)  # fmt: skip
        await step("Backspace: back to Runs", lambda: press("backspace"),
                   lambda: not isinstance(app.screen, PinPageScreen))  # fmt: skip

        await step(
            "alt+9 SQL: tables listed",
            lambda: press("alt+9"),
            lambda: q("#sql-tables").row_count > 0,
        )

        async def sql() -> None:
            table = "pins" if dataset is None else f"{dataset}.edges"
            q(TextArea).text = f"SELECT * FROM {table}"
            await pilot.press("ctrl+r")

        await step("SQL: SELECT * FROM <edges> (first 10,000 rows, page 1)", sql,
                   lambda: q("#sql-result").row_count > 0)  # fmt: skip
        await step("alt+8 Eval: form with algorithms", lambda: press("alt+8"),
                   lambda: bool(q("#eval-ks").value))  # fmt: skip

        await step("alt+3 Recommend: form with algorithms", lambda: press("alt+3"),
                   lambda: isinstance(q("#rec-pins"), Input)
                   and isinstance(q("#rec-algo").value, str))  # fmt: skip
    return out


def latency(store: Path, dataset: str | None) -> int:
    """Print the latency table for ``store`` and for the sample (the baseline)."""
    import shutil
    import subprocess

    with tempfile.TemporaryDirectory() as tmp:
        sample = Path(tmp) / "sample.duckdb"
        cli = [str(ROOT / ".venv" / "bin" / "workbench"), "--db", str(sample)]
        subprocess.run([*cli, "load", str(ROOT / "sample_data"), "--dataset", "sample"],
                       check=True, capture_output=True)  # fmt: skip
        subprocess.run([*cli, "recommend", "--dataset", "sample", "--pin", "p00001"],
                       check=True, capture_output=True)  # fmt: skip
        copy = Path(tmp) / "large.duckdb"
        shutil.copy(store, copy)  # never hold the real store; runs added here stay here
        os.environ.setdefault("WORKBENCH_STATE", str(Path(tmp) / "state.json"))
        os.environ.setdefault("WORKBENCH_IMAGES", "none")
        results = {
            "sample": asyncio.run(latency_steps(sample, "sample")),
            store.name: asyncio.run(latency_steps(copy, dataset)),
        }
    load = os.getloadavg()
    print(f"key-to-screen latency, 80x24, headless; load average {load[0]:.2f} {load[1]:.2f}")
    print(f"| step | sample: latency | stall | {store.name}: latency | stall |")
    print("| --- | --- | --- | --- | --- |")
    base = dict((n, (t, s)) for n, t, s in results["sample"])
    for name, took, stall in results[store.name]:
        b = base.get(name, (float("nan"), float("nan")))
        print(f"| {name} | {b[0] * 1000:,.0f} ms | {b[1] * 1000:,.0f} ms | "
              f"{took * 1000:,.0f} ms | {stall * 1000:,.0f} ms |")  # fmt: skip
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--latency",
        type=Path,
        metavar="STORE",
        help="key-to-screen latency on STORE (a copy of it) against the sample",
    )
    parser.add_argument("--dataset", help="the dataset of STORE to use (default: as the App picks)")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--command", default=str(ROOT / ".venv" / "bin" / "workbench"))
    parser.add_argument(
        "--app-only",
        action="store_true",
        help="start the App directly (python -c ...), without the CLI's imports",
    )
    args = parser.parse_args()
    if args.latency is not None:
        return latency(args.latency, args.dataset)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.duckdb"
        env = dict(os.environ, TERM="xterm-256color", WORKBENCH_TUI_EXIT_ON_READY="1")
        env.pop("WORKBENCH_NO_SAMPLE", None)
        argv = [args.command, "--db", str(db)]
        time_once(argv, env)  # creates the store with the sample, warms the OS and JIT caches
        if args.app_only:
            argv = [sys.executable, "-c", APP_ONLY, str(db)]
        times = sorted(time_once(argv, env) for _ in range(args.runs))
    print(
        f"first screen after {statistics.median(times):.3f} s (median of {args.runs}; "
        f"min {times[0]:.3f} s, max {times[-1]:.3f} s): "
        + ("the App alone (--app-only)" if args.app_only else f"{args.command} --db STORE")
    )
    return 0 if statistics.median(times) < 1.5 else 1


if __name__ == "__main__":
    sys.exit(main())
