"""Scale: generate, load and query synthetic graphs of 20M, 100M (and 500M) edges.

Usage: .venv/bin/python bench/bench_scale.py [--sizes 20M,100M] [--data /work/scale-data]
           [--memory-limit 6GB] [--queries 15] [--steps 100000] [--keep]

For each size: ``workbench generate`` writes ``<data>/gen-<size>.parquet`` (reused when present:
the file depends only on its options), then, each in its own process measured with ``wait4``
(wall time and the child's peak RSS), ``workbench load`` into a fresh store ``<data>/scale-
<size>.duckdb``, a first ``workbench recommend`` (it builds the graph cache), and a second one
(cache warm). Last, one Python process calls the recommend service ``--queries`` times (different
query pins, 100k steps) and reports the median end-to-end and walk-only times after a first call.
Every line carries the machine's load average and available memory at the time: the machine is
shared, and wall times on a busy machine are long. Data lives outside the repository.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXE = Path(sys.executable).parent / "workbench"
GB = 1e9


def parse_size(text: str) -> int:
    text = text.strip().upper()
    scale = {"K": 10**3, "M": 10**6, "G": 10**9}.get(text[-1:], 1)
    return int(float(text.rstrip("KMG")) * scale)


def available_bytes() -> int:
    """MemAvailable from /proc/meminfo (what `free` calls available)."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return 0


def machine() -> str:
    load = os.getloadavg()
    return (f"load {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f} on {os.cpu_count()} cores, "
            f"{available_bytes() / GB:.1f} GB available")  # fmt: skip


def run_measured(args: list[str], env: dict[str, str]) -> tuple[float, float, float, str]:
    """Run a child to completion: (wall s, CPU s (user + system), peak RSS GB, stdout)."""
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as err:  # a file, so a chatty child never blocks on it
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=err, env=env, text=True)
        out = proc.stdout.read()  # type: ignore[union-attr]
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        err_text = err.read()
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(
            f"failed ({proc.returncode}): {' '.join(args)}\n{err_text.strip()[-2000:]}"
        )
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024 / GB, out


WARM = """
import json, statistics, sys, time
from workbench.engine.store import Store
from workbench.services.recommend import RecommendRequest, recommend
store, dataset, steps, n = Store(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
pins = [r[0] for r in store.query(
    f'SELECT p.pin FROM "{dataset}".pins p JOIN (SELECT pin_idx, count(*) AS d FROM '
    f'"{dataset}".edges GROUP BY pin_idx HAVING d >= 2) e ON e.pin_idx = p.idx '
    f'ORDER BY hash(p.pin) LIMIT {n + 1}'
)]
def call(pin):
    t = time.perf_counter()
    r = recommend(store, RecommendRequest(dataset=dataset, pins=(pin,), params={"steps": steps}))
    return (time.perf_counter() - t) * 1000, float(r.elapsed_ms)
first = call(pins[0])
walls, walks = zip(*[call(p) for p in pins[1:]])
print(json.dumps({"first_ms": first[0], "median_ms": statistics.median(walls),
                  "median_walk_ms": statistics.median(walks), "n": len(walls)}))
"""


def bench_size(edges: int, label: str, data: Path, env: dict[str, str], args: argparse.Namespace,
               ) -> None:  # fmt: skip
    src = data / f"gen-{label}.parquet"
    db = data / f"scale-{label}.duckdb"
    if not src.exists():
        print(f"[{label}] generating {src} ({machine()})", flush=True)
        wall, cpu, rss, _ = run_measured([str(EXE), "generate", "--edges", str(edges), "--out",
                                          str(src)], env)  # fmt: skip
        print(f"[{label}] generate: {wall:.1f} s wall, {cpu:.1f} s CPU, peak RSS {rss:.2f} GB, "
              f"{src.stat().st_size / GB:.2f} GB on disk", flush=True)  # fmt: skip
    for leftover in (db, db.parent / f"{db.name}.wal", db.parent / f"{db.name}.tmp",
                     db.parent / f"{db.name}.cache"):  # fmt: skip
        shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink(missing_ok=True)
    before = machine()
    wall, cpu, rss, out = run_measured([str(EXE), "--db", str(db), "load", str(src),
                                        "--dataset", "syn", "--json"], env)  # fmt: skip
    report = json.loads(out)
    print(f"[{label}] load: {wall:.1f} s wall, {cpu:.1f} s CPU, peak RSS {rss:.2f} GB "
          f"({rss * GB / report['edges'] + 0:.0f} bytes/edge); {report['edges']:,} edges "
          f"({report['duplicate_edges']:,} repeats merged), {report['pins']:,} pins, "
          f"{report['boards']:,} boards; store {db.stat().st_size / GB:.2f} GB "
          f"(before: {before}; after: {machine()})", flush=True)  # fmt: skip
    (pin,) = json.loads(
        subprocess.run([sys.executable, "-c", (
            "import json, sys; from workbench.engine.store import Store; "
            "print(json.dumps(Store(sys.argv[1]).query("
            "'SELECT pin FROM \"syn\".pins WHERE idx = (SELECT pin_idx FROM \"syn\".edges "
            "GROUP BY pin_idx ORDER BY count(*) DESC LIMIT 1)')[0]))"), str(db)],
            capture_output=True, text=True, env=env, check=True).stdout
    )  # fmt: skip
    rec = [str(EXE), "--db", str(db), "recommend", "--dataset", "syn", "--pin", str(pin),
           "--param", f"steps={args.steps}", "--json"]  # fmt: skip
    for what in ("first recommend (builds the graph cache)", "second CLI recommend"):
        before = machine()
        wall, cpu, rss, _ = run_measured(rec, env)
        print(f"[{label}] {what}: {wall:.1f} s wall, {cpu:.1f} s CPU, peak RSS {rss:.2f} GB "
              f"({before})", flush=True)  # fmt: skip
    wall, cpu, rss, out = run_measured([sys.executable, "-c", WARM, str(db), "syn",
                                        str(args.steps), str(args.queries)], env)  # fmt: skip
    warm = json.loads(out)
    print(f"[{label}] warm process, {warm['n']} queries of {args.steps:,} steps: median "
          f"{warm['median_ms']:.1f} ms end to end (walk {warm['median_walk_ms']:.1f} ms), "
          f"first call {warm['first_ms']:.0f} ms; peak RSS {rss:.2f} GB ({machine()})",
          flush=True)  # fmt: skip
    if not args.keep:
        for p in (db, db.parent / f"{db.name}.cache", db.parent / f"{db.name}.tmp"):
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="20M,100M")
    parser.add_argument("--data", default="/work/scale-data")
    parser.add_argument("--memory-limit", default=None, help="WORKBENCH_MEMORY_LIMIT for children")
    parser.add_argument("--queries", type=int, default=15)
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--keep", action="store_true", help="Keep the stores afterwards.")
    args = parser.parse_args()
    data = Path(args.data)
    data.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "WORKBENCH_NO_SAMPLE": "1"}
    env.pop("WORKBENCH_DB", None)
    if args.memory_limit:
        env["WORKBENCH_MEMORY_LIMIT"] = args.memory_limit
    limit = env.get("WORKBENCH_MEMORY_LIMIT", "40% of RAM (default)")
    free = shutil.disk_usage(data).free / GB
    print(f"bench_scale: DuckDB memory limit {limit}; {machine()}; {free:.0f} GB free in {data}",
          flush=True)  # fmt: skip
    for label in args.sizes.split(","):
        bench_size(parse_size(label), label.strip().upper(), data, env, args)


if __name__ == "__main__":
    main()
