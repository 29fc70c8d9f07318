"""Load speed: the 988k-line Pinterest NCF train file and MovieLens 100K, against a plain baseline.

Usage: .venv/bin/python bench/bench_load.py [--repeat 3]
The baseline parses the same train file with Python's csv module and builds the dense id maps
with dicts, in the same process, so the ratio is machine-independent.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import tempfile
import time
from pathlib import Path

from workbench.engine.ingest import load_dataset
from workbench.engine.store import Store

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def python_baseline(train: Path) -> float:
    started = time.perf_counter()
    boards: dict[str, int] = {}
    pins: dict[str, int] = {}
    edges = set()
    with train.open() as f:
        for row in csv.reader(f, delimiter="\t"):
            b = boards.setdefault(row[0], len(boards))
            p = pins.setdefault(row[1], len(pins))
            edges.add((b, p))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    for name, path in (("pinterest-20", SHARED / "pinterest-20"), ("ml-100k", SHARED / "ml-100k")):
        if not path.exists():
            print(f"{name}: {path} not found, skipped")
            continue
        times = []
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory() as d:
                started = time.perf_counter()
                report = load_dataset(Store(Path(d) / "b.duckdb"), [path], name)
                times.append(time.perf_counter() - started)
        med = statistics.median(times)
        line = (
            f"{name}: load {med:.2f} s median of {args.repeat} "
            f"({report.edges:,} edges, {report.boards:,} boards, {report.pins:,} pins)"
        )
        if name == "pinterest-20":
            base = python_baseline(path / "pinterest-20.train.rating")
            line += f"; Python csv+dict parse alone {base:.2f} s (ratio {base / med:.2f}x)"
        print(line)


if __name__ == "__main__":
    main()
