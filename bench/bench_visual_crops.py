"""Crop queries that ignore the background: object signatures fused with region scores.

Usage:
    .venv/bin/python bench/bench_visual_crops.py --half tuning --grid      # choose settings
    .venv/bin/python bench/bench_visual_crops.py --half reporting          # measure once
    .venv/bin/python bench/bench_visual_crops.py --half reporting --scene-seed 2
    .venv/bin/python bench/bench_visual_crops.py --half reporting --rerank  # large-space path

Scenes, crops and the emoji split come from bench/bench_visual.py (1,000 generated 160x120
scenes, gradient + noise, 3 emoji of 40-64 px pasted; split by label, seed 0). Three kinds of
query, 300 each, hit = the wanted pin in the top 10:
  ordinary: a random 25-50% crop of an emoji -> that emoji (space of the half's emoji);
  box: the box of a pasted emoji in its scene -> that scene;
  file: the emoji file itself (transparent, shown on white) -> any scene containing it.
"today" = the method before this change (regions only, background weight 0.5), measured on the
same spaces and queries in the same run (the stored regions are the same; only the object
signatures are added). Settings are chosen with --grid on the tuning half only; the rule: the
best "file" figure with neither "ordinary" nor "box" below today's. Also printed: index time and
stored sizes, median query latency, the exact object scan at search.OBJECT_SCAN_MAX pins, and
extraction images/s with and without object proposals (2 threads; the load is printed).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_visual as bv

from workbench.engine.visual import BuiltinEmbedder, open_space, search_crop
from workbench.engine.visual import search as visual_search
from workbench.engine.visual.objects import best_scores
from workbench.engine.visual.search import VisualSpace
from workbench.engine.visual.storage import space_dir, update_builtin

GOALS = {"ordinary": 0.90, "file": 0.60}


@dataclass(frozen=True)
class Method:
    """A crop-query setting: the object weight (None: regions only) and background weight."""

    name: str
    objects: float | None
    background: float | None = 0.5


TODAY = Method("today (regions, background 0.5)", None, 0.5)
GRID = [
    TODAY,
    Method("regions, background 0", None, 0.0),
    *(Method(f"objects {w}, background 0.5", w, 0.5) for w in (1, 2, 4, 8)),
    Method("objects 4, background 0", 4, 0.0),
]


def load() -> str:
    return "load average " + " ".join(f"{v:.1f}" for v in os.getloadavg())


def index(cache: Path, items: list) -> tuple[float, dict[str, int]]:
    """Build the built-in space; (seconds, bytes of each stored array)."""
    t0 = time.perf_counter()
    update_builtin(cache, items)
    seconds = time.perf_counter() - t0
    space = open_space(cache)
    gen = space_dir(cache, "builtin") / str(space.meta["generation"])
    return seconds, {p.name: p.stat().st_size for p in sorted(gen.iterdir()) if p.is_file()}


Query = Callable[[VisualSpace, Method], tuple[bool, float]]


def timed(fn: Callable[[], list[str]], wanted: set[str]) -> tuple[bool, float]:
    t0 = time.perf_counter()
    ids = fn()
    return bool(wanted & set(ids)), time.perf_counter() - t0


def _pin_crop(sid: str, box: tuple) -> Query:
    """A query: ``box`` of pin ``sid``; a hit when ``sid`` comes back in the top 10."""

    def query(sp: VisualSpace, m: Method) -> tuple[bool, float]:
        return timed(
            lambda: (
                search_crop(
                    sp, box, pin_id=sid, k=10, background=m.background, objects=m.objects
                ).ids
            ),
            {sid},
        )

    return query


def ordinary_queries(space: VisualSpace, n: int) -> list[Query]:
    """As bench_visual.ordinary_crops: random 25-50% crops of random emoji."""
    rng = np.random.default_rng(0)
    ids = list(space.ids)
    out: list[Query] = []
    for _ in range(n):
        sid = ids[int(rng.integers(len(ids)))]
        box = bv.random_box(rng, 64, 64)

        out.append(_pin_crop(sid, box))
    return out


def scene_queries(objects: list, n: int) -> tuple[list[Query], list[Query]]:
    """As bench_visual.object_queries: (box in its scene, the emoji file -> a scene with it)."""
    rng = np.random.default_rng(3)
    picks = [objects[int(i)] for i in rng.choice(len(objects), size=n, replace=False)]
    boxes: list[Query] = []
    files: list[Query] = []
    for sid, box, source in picks:
        wanted = {o[0] for o in objects if o[2] == source}

        def qf(
            sp: VisualSpace, m: Method, source: Path = source, wanted: set[str] = wanted
        ) -> tuple[bool, float]:
            return timed(
                lambda: (
                    search_crop(
                        sp, None, path=source, k=10, background=m.background, objects=m.objects
                    ).ids
                ),
                wanted,
            )

        boxes.append(_pin_crop(sid, box))
        files.append(qf)
    return boxes, files


def measure(space: VisualSpace, queries: list[Query], m: Method) -> tuple[float, float]:
    """(top-10 hit rate, median latency in ms)."""
    res = [q(space, m) for q in queries]
    return float(np.mean([h for h, _ in res])), 1000 * statistics.median(t for _, t in res)


def object_scan(space: VisualSpace) -> None:
    """Time of the exact object scan at OBJECT_SCAN_MAX pins (this space's proposals tiled)."""
    assert space.objects is not None and space.object_offsets is not None
    found = np.asarray(space.objects)
    counts = np.diff(space.object_offsets)
    reps = max(1, visual_search.OBJECT_SCAN_MAX // space.count)
    offsets = np.zeros(reps * space.count + 1, np.int64)
    offsets[1:] = np.cumsum(np.tile(counts, reps))
    stored = np.tile(found, (reps, 1))
    rows = np.arange(reps * space.count)
    query = found[0].astype(np.float32) / 127.0
    best_scores(stored, offsets, rows[:8], query)
    times = []
    for _ in range(10):
        t0 = time.perf_counter()
        best_scores(stored, offsets, rows, query)
        times.append(time.perf_counter() - t0)
    print(f"object scan over {rows.size:,} pins ({stored.shape[0]:,} proposals, "
          f"{stored.nbytes / 1e6:.0f} MB): median {1000 * statistics.median(times):.1f} ms "
          f"({load()})")  # fmt: skip


def extraction(paths: list[Path]) -> None:
    """Images/s of today's extraction (whole + regions) and with object signatures, 2 threads."""
    emb = BuiltinEmbedder(workers=2)
    emb.embed_for_crops(paths[:64])  # numba compiled / loaded from cache
    for what, fn in (
        ("whole + regions (today)", emb.embed_with_regions),
        ("whole + regions + objects", emb.embed_for_crops),
    ):
        t0 = time.perf_counter()
        fn(paths)
        dt = time.perf_counter() - t0
        print(f"extraction, {what}, 2 threads: {len(paths) / dt:.0f} images/s ({load()})")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--half", choices=("tuning", "reporting"), default="tuning")
    parser.add_argument("--grid", action="store_true", help="every candidate setting")
    parser.add_argument("--scene-seed", type=int, default=1, help="bench_visual's is 1")
    parser.add_argument("--scenes", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--work", type=Path, default=None, help="scratch dir (default: temp)")
    parser.add_argument(
        "--rerank", action="store_true",
        help="the large-collection path: re-rank the pins of the best regions only",
    )  # fmt: skip
    args = parser.parse_args()
    if args.rerank:
        visual_search.OBJECT_SCAN_MAX = 0
    if not bv.EMOJI.exists():
        print(f"{bv.EMOJI}: not found, skipped")
        return
    print(f"cpus: {os.cpu_count()}, {load()}; half {args.half}, scene seed {args.scene_seed}"
          + ("; re-ranking the best regions' pins only" if args.rerank else ""))  # fmt: skip
    tuning, reporting = bv.split_by_label(*bv.load_emoji())
    paths = (tuning if args.half == "tuning" else reporting)[0]
    chosen = Method(
        f"objects {visual_search.OBJECT_WEIGHT} (default), background 0.5",
        visual_search.OBJECT_WEIGHT,
        0.5,
    )
    methods = GRID if args.grid else [TODAY, chosen]
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        emoji_cache = work / f"emoji-{args.half}"
        secs, sizes = index(emoji_cache, [(str(i), p) for i, p in enumerate(paths)])
        print(f"emoji space: {len(paths)} images indexed in {secs:.1f}s")
        scenes, objects = bv.make_scenes(
            work / f"scenes-{args.half}-{args.scene_seed}", paths, args.scenes, args.scene_seed
        )
        scene_cache = work / f"scene-cache-{args.half}-{args.scene_seed}"
        secs, sizes = index(scene_cache, scenes)
        space = open_space(scene_cache)
        n_obj = int(space.meta["objects"]["count"])
        print(f"scene space: {len(scenes)} scenes indexed in {secs:.1f}s ({load()}); stored "
              + ", ".join(f"{k} {v / 1e6:.2f} MB" for k, v in sizes.items())
              + f"; {n_obj / len(scenes):.1f} object proposals per scene")  # fmt: skip
        emoji_space = open_space(emoji_cache)
        kinds = {"ordinary": ordinary_queries(emoji_space, args.queries)}
        kinds["box"], kinds["file"] = scene_queries(objects, args.queries)
        spaces = {"ordinary": emoji_space, "box": space, "file": space}
        for m in methods:
            parts = []
            for kind, queries in kinds.items():
                rate, ms = measure(spaces[kind], queries, m)
                goal = GOALS.get(kind)
                mark = "" if goal is None else (" ok" if rate >= goal else " MISS")
                parts.append(f"{kind} {rate:.3f}{mark} ({ms:.1f} ms)")
            print(f"{m.name:36s} " + "  ".join(parts) + f"  ({load()})", flush=True)
        object_scan(space)
        extraction(paths)


if __name__ == "__main__":
    main()
