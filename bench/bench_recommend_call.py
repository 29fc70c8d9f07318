"""One recommend call end to end on Pinterest-20 (Pixie, 100k steps): the walk alone (baseline),
the recommend service with the store not held (one attach of the file per call, as the CLI and
the TUI do), the same with the store held open around the calls, and `workbench recommend` as a
fresh process.

Usage: .venv/bin/python bench/bench_recommend_call.py [--calls 50] [--cli 5]
Every call stores a run, as a user's call does. Goals (issue 11): service <= 20 ms not held,
<= 5 ms held; CLI <= 0.5 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from workbench.engine.ingest import load_dataset
from workbench.engine.recommend import load_model
from workbench.engine.recommenders import Query
from workbench.engine.store import Store
from workbench.services.recommend import RecommendRequest, recommend

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "pinterest-20"
WORKBENCH = str(Path(sys.executable).parent / "workbench")
STEPS = 100_000


def timed(fn: Callable[[], object], n: int) -> list[float]:
    out = []
    for _ in range(n):
        started = time.perf_counter()
        fn()
        out.append((time.perf_counter() - started) * 1000)
    return out


def show(label: str, ms: list[float]) -> float:
    median = statistics.median(ms)
    p90 = sorted(ms)[int(0.9 * (len(ms) - 1))]
    print(f"{label:<44} median {median:8.2f} ms   p90 {p90:8.2f} ms   ({len(ms)} calls)")
    return median


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--cli", type=int, default=5)
    args = parser.parse_args()
    if not SHARED.exists():
        print(f"{SHARED} not found, skipped")
        return
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} "
          f"(1/5/15 min) on {os.cpu_count()} cores")  # fmt: skip
    tmp = Path(tempfile.mkdtemp())
    store = Store(tmp / "bench.duckdb")
    load_dataset(store, [SHARED], "p20")
    pin = store.query('SELECT pin FROM "p20".pins ORDER BY idx LIMIT 1 OFFSET 100')[0][0]
    params = {"steps": str(STEPS)}
    request = RecommendRequest("p20", (pin,), params=params)
    recommend(store, request)  # fit, JIT and caches once, outside the timings

    model = load_model(store, "p20", "pixie", params)
    dense = store.query('SELECT idx FROM "p20".pins WHERE pin = ?', [pin])[0][0]
    walk = show(
        "baseline: the walk alone", timed(lambda: model.recommend(Query([dense])), args.calls)
    )
    free = show("service, store not held (1 attach per call)",
                timed(lambda: recommend(store, request), args.calls))  # fmt: skip
    with store.open():
        held = show(
            "service, store held open", timed(lambda: recommend(store, request), args.calls)
        )
    print(f"  overhead over the walk: not held {free - walk:.2f} ms, held {held - walk:.2f} ms")
    probe = tmp / "fsync.probe"

    def fsync_4k() -> None:
        with probe.open("wb") as f:
            f.write(b"x" * 4096)
            f.flush()
            os.fsync(f.fileno())

    show("  disk: write + fsync of 4 KB (each stored run commits)", timed(fsync_4k, 20))

    env = {**os.environ, "WORKBENCH_NO_SAMPLE": "1"}
    command = [WORKBENCH, "--db", str(store.path), "recommend", "--dataset", "p20", "--pin", pin,
               "--param", f"steps={STEPS}"]  # fmt: skip
    subprocess.run(command, env=env, check=True, capture_output=True)  # warm the OS file cache
    cli = show("CLI `workbench recommend`, fresh process",
               timed(lambda: subprocess.run(command, env=env, check=True, capture_output=True),
                     args.cli))  # fmt: skip
    imports = show("  of which: python -c 'import workbench.cli'",
                   timed(lambda: subprocess.run([sys.executable, "-c", "import workbench.cli"],
                                                check=True), args.cli))  # fmt: skip
    print(f"goals: not held {free:.1f} <= 20 ms {'met' if free <= 20 else 'NOT met'}; "
          f"held {held:.1f} <= 5 ms {'met' if held <= 5 else 'NOT met'}; "
          f"CLI {cli / 1000:.2f} <= 0.5 s {'met' if cli <= 500 else 'NOT met'} "
          f"(imports {imports / 1000:.2f} s)")  # fmt: skip
    print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
