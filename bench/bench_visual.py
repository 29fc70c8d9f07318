"""Visual search: retrieval quality on tuning and reporting halves, crop queries, speed.

Usage: .venv/bin/python bench/bench_visual.py [--quick] [--skip-latency] [--tune-only]
       [--seeds 0,1,2]
       .venv/bin/python bench/bench_visual.py --speed-only [--rounds 3] [--baseline COMMIT]
       .venv/bin/python bench/bench_visual.py --check-identical [--baseline COMMIT]

Data: ../shared/data/emoji-google-64 (base emoji only, label = subcategory) and
../shared/data/mnist-t10k (label = digit). Each set is split BY LABEL with a fixed seed (0) into a
tuning half and a reporting half: the labels are shuffled and the first half of them tune, the
rest report. Descriptor settings are chosen on the tuning halves only (the grid below); the
reporting halves are then measured once with the chosen settings, beside the naive baselines
(raw 32x32 pixels, colour and grey, and an RGB histogram) computed in the same run. The rule, fixed
before any reporting figure was looked at: the best geometric mean, over the two tuning halves, of
P@10 / best naive baseline, among the candidates that whiten as stored spaces do. Other split seeds
(--seeds) repeat the whole procedure: chosen on that seed's tuning halves, reported on its
reporting halves. Only after the choice are the other candidates' reporting figures printed,
labelled as such.

Precision@10 / mAP@10: workbench's visual_eval (every item with another of its label is a query,
the query excluded, ties broken at random with a fixed seed). Each half is its own collection: its
own whitening is fitted, as a dataset of those images would be.

Crop queries (scenes are made from the reporting half's emoji): random crops covering 25-50% of
an emoji; the box of an emoji pasted into a generated scene; and the emoji file itself (a
transparent object, composited on white) -> a scene that contains it. Hit = in the top 10.
Speed: extraction images/s on the 64-px emoji PNGs with 2 threads (load average printed), and
query latency over 100k vectors. --speed-only times the whole image, the whole image with its
regions, and the full index extraction (regions and object proposals) of today's code and of
the code of a baseline commit (read from git, imported beside today's), alternately in one
process, on the 1,911 base emoji and on 500 generated scenes. --check-identical compares the
two codes' output byte for byte (vectors, regions, proposals, crop queries, masks, tables).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import gzip
import importlib
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType

import numpy as np
from PIL import Image

from workbench.engine.visual import (
    BuiltinEmbedder,
    DescriptorConfig,
    build_index,
    embedders,
    fit_whitening,
    l2_normalise,
    open_space,
    search_crop,
    search_image,
    search_pin,
    update_builtin,
    visual_eval,
)
from workbench.engine.visual.descriptors import REGION_BOXES
from workbench.engine.visual.images import load_rgb
from workbench.engine.visual.storage import MIN_WHITEN, WHITEN_DIM, WHITEN_EPS, WHITEN_POWER

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
EMOJI = SHARED / "emoji-google-64"
MNIST = SHARED / "mnist-t10k"
SPLIT_SEED = 0
GOAL = 1.3


def load_emoji() -> tuple[list[Path], list[str]]:
    with (EMOJI / "labels.csv").open() as f:
        rows = [r for r in csv.DictReader(f) if r["is_skin_variant"] == "0"]
    return [EMOJI / r["file"] for r in rows], [r["subcategory"] for r in rows]


def load_mnist(root: Path) -> tuple[list[Path], list[str]]:
    """Write the 10,000 test digits as PNG files (the pipeline reads files) and their labels."""
    with gzip.open(MNIST / "t10k-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(MNIST / "t10k-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, img in enumerate(images):
        p = root / f"{i:05d}.png"
        if not p.exists():
            Image.fromarray(img).save(p)
        paths.append(p)
    return paths, [str(int(v)) for v in labels]


Half = tuple[list[Path], list[str]]


def split_by_label(
    paths: list[Path], labels: list[str], seed: int = SPLIT_SEED
) -> tuple[Half, Half]:
    """(tuning, reporting): the labels shuffled with ``seed``, the first half tune."""
    names = sorted(set(labels))
    order = np.random.default_rng(seed).permutation(len(names))
    tuning = {names[i] for i in order[: len(names) // 2]}
    t = [(p, lab) for p, lab in zip(paths, labels, strict=True) if lab in tuning]
    r = [(p, lab) for p, lab in zip(paths, labels, strict=True) if lab not in tuning]
    return ([p for p, _ in t], [lab for _, lab in t]), ([p for p, _ in r], [lab for _, lab in r])


# -- baselines ----------------------------------------------------------------------------


def raw_pixels(paths: Sequence[Path], colour: bool, side: int = 32) -> np.ndarray:
    rows = []
    for p in paths:
        im = Image.fromarray(load_rgb(p, 64 * 64))
        if not colour:
            im = im.convert("L")
        rows.append(np.asarray(im.resize((side, side), Image.Resampling.BOX), np.float32).ravel())
    return l2_normalise(np.array(rows))


def rgb_histogram(paths: Sequence[Path], bins: int = 8) -> np.ndarray:
    rows = []
    for p in paths:
        q = (load_rgb(p, 64 * 64).reshape(-1, 3).astype(np.int64) * bins) // 256
        codes = (q[:, 0] * bins + q[:, 1]) * bins + q[:, 2]
        rows.append(np.bincount(codes, minlength=bins**3).astype(np.float32))
    return l2_normalise(np.sqrt(np.array(rows)))  # Hellinger: cosine of square roots


def baselines(paths: Sequence[Path], labels: Sequence[str]) -> dict[str, float]:
    return {
        "raw pixels 32x32 colour": p10(raw_pixels(paths, True), labels),
        "raw pixels 32x32 grey": p10(raw_pixels(paths, False), labels),
        "RGB histogram 8x8x8": p10(rgb_histogram(paths), labels),
    }


# -- the built-in descriptor ----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Candidate:
    """A descriptor setting: the config and the whitening power (None: no whitening)."""

    name: str
    config: DescriptorConfig
    power: float | None = WHITEN_POWER


def p10(vectors: np.ndarray, labels: Sequence[str]) -> float:
    return float(visual_eval(vectors, list(labels), k=10)["precision@10"])


_DECODED: dict[Path, np.ndarray] = {}


def describe(paths: Sequence[Path], cand: Candidate) -> np.ndarray:
    """What a stored space of these images holds: the embedder's descriptor of each decoded
    image (decoded once per run, as the embedder decodes it), float16, whitened."""
    for p in paths:
        if p not in _DECODED:
            _DECODED[p] = load_rgb(p, cand.config.area)
    emb = BuiltinEmbedder(cand.config)
    with ThreadPoolExecutor(max_workers=2) as pool:
        raw = np.array(list(pool.map(emb.embed_array, [_DECODED[p] for p in paths], chunksize=64)))
    raw = raw.astype(np.float16).astype(np.float32)  # stored as float16
    if cand.power is None or raw.shape[0] < MIN_WHITEN:
        return l2_normalise(raw)
    dim = min(WHITEN_DIM, raw.shape[0] // 4, raw.shape[1])
    return fit_whitening(raw, dim=dim, power=cand.power, eps=WHITEN_EPS).apply(raw)


PREVIOUS = DescriptorConfig(
    lab_bins=(4, 5, 5), colour_grids=(1, 2), hog_grids=(2, 4, 6), tiny_grid=8, w_colour=1.0,
    w_gradient=5.0, w_tiny=0.5, rgb_bins=0,
)  # fmt: skip
FINE = dataclasses.replace(PREVIOUS, colour_grids=(), rgb_bins=8, rgb_foreground=True)
GRID = [
    Candidate("previous default (Lab 1+2, gradient 5)", PREVIOUS),
    Candidate("previous, no whitening", PREVIOUS, None),
    Candidate("previous, Lab 5x6x6", dataclasses.replace(PREVIOUS, lab_bins=(5, 6, 6))),
    Candidate("RGB 8x8x8 foreground instead of Lab", FINE),
    Candidate("RGB 8x8x8 foreground, no whitening", FINE, None),
    Candidate(
        "RGB 8x8x8 whole image instead of Lab", dataclasses.replace(FINE, rgb_foreground=False)
    ),
    Candidate("RGB 8x8x8 foreground + Lab 2x2", dataclasses.replace(FINE, colour_grids=(2,))),
    Candidate("RGB 8x8x8 foreground + Lab 1+2", dataclasses.replace(FINE, colour_grids=(1, 2))),
    Candidate("RGB 8x8x8 foreground, gradient 3", dataclasses.replace(FINE, w_gradient=3.0)),
    Candidate("RGB 8x8x8 foreground, colour 2", dataclasses.replace(FINE, w_rgb=2.0)),
    Candidate(
        "RGB 8x8x8 foreground, 12 signed",
        dataclasses.replace(FINE, orientations=12, signed=True),
    ),
    Candidate("RGB 8x8x8 foreground, tiny 1", dataclasses.replace(FINE, w_tiny=1.0)),
]


def tune(sets: dict[str, tuple[Half, dict[str, float]]]) -> Candidate:
    """Every candidate on every tuning half; the best geometric mean of P@10 / best baseline
    among the candidates that whiten as stored spaces do (the others are shown only)."""
    print("\n## tuning halves: P@10 of each candidate / best naive baseline")
    best: tuple[float, Candidate] | None = None
    for cand in GRID:
        ratios = []
        parts = []
        for name, ((paths, labels), base) in sets.items():
            value = p10(describe(paths, cand), labels)
            ratio = value / max(base.values())
            ratios.append(ratio)
            parts.append(f"{name} {value:.4f} ({ratio:.2f}x)")
        score = float(np.exp(np.mean(np.log(ratios))))
        eligible = cand.power == WHITEN_POWER
        note = "" if eligible else "  (not eligible: stored spaces whiten)"
        print(f"{cand.name:44s} {'  '.join(parts)}  geo-mean {score:.4f}x{note}", flush=True)
        if eligible and (best is None or score > best[0]):
            best = (score, cand)
    assert best is not None
    print(f"chosen on the tuning halves: {best[1].name}")
    return best[1]


def report(name: str, half: Half, cands: Sequence[Candidate], base: dict[str, float]) -> None:
    """P@10 of ``cands`` on a reporting half beside its baselines (and, where the best baseline
    is near 1, the error-rate ratio (1 - P) / (1 - P_baseline))."""
    paths, labels = half
    print(f"\n### {name} reporting half: {len(paths):,} images, {len(set(labels))} labels")
    for label, value in base.items():
        print(f"  {label:44s} P@10 {value:.4f}")
    best = max(base.values())
    for c in cands:
        value = p10(describe(paths, c), labels)
        verdict = "meets" if value >= GOAL * best else "MISSES"
        errors = f", error rate {(1 - value) / (1 - best):.2f}x" if best < 1 else ""
        print(f"  built-in: {c.name:44s} P@10 {value:.4f} = {value / best:.3f}x the best "
              f"baseline ({verdict} the {GOAL}x goal){errors}", flush=True)  # fmt: skip


def halves(seed: int, work: Path) -> tuple[dict[str, Half], dict[str, Half]]:
    """(tuning, reporting) halves of both sets for a label split seed."""
    emoji = split_by_label(*load_emoji(), seed=seed)
    mnist = split_by_label(*load_mnist(work / "mnist-png"), seed=seed)
    return {"emoji": emoji[0], "MNIST": mnist[0]}, {"emoji": emoji[1], "MNIST": mnist[1]}


def choose_and_report(seed: int, work: Path, others: bool, tune_only: bool) -> Candidate:
    """The whole procedure for one split seed: baselines, the grid on the tuning halves, the
    choice, then the reporting halves once (with ``others``, every other candidate after)."""
    print(f"\n# label split seed {seed}")
    tuning, reporting = halves(seed, work)
    for name, (paths, labels) in tuning.items():
        print(f"{name} tuning half: {len(paths):,} images, {len(set(labels))} labels")
    sets = {n: (h, baselines(*h)) for n, h in tuning.items()}
    for name, (_, base) in sets.items():
        print(f"{name} tuning half baselines: "
              + ", ".join(f"{k} {v:.4f}" for k, v in base.items()))  # fmt: skip
    chosen = tune(sets)
    same = "is" if chosen.config == DescriptorConfig() else "is NOT"
    print(f"the chosen setting {same} the shipped default DescriptorConfig()")
    if tune_only:
        return chosen
    print(f"\n## reporting halves, seed {seed} (measured once, with the setting chosen above)")
    shipped = next((c for c in GRID if c.config == DescriptorConfig() and c.power), chosen)
    cands = list(dict.fromkeys([chosen, shipped, GRID[0]]))  # chosen, shipped default, previous
    rest = [c for c in GRID if c not in cands] if others else []
    for name, half in reporting.items():
        base = baselines(*half)
        report(name, half, cands, base)
        if rest:
            print("  -- the other candidates, printed only after the choice was fixed:")
            report(name, half, rest, base)
    return chosen


# -- crops ----------------------------------------------------------------------------------


def random_box(rng: np.random.Generator, w: int, h: int) -> tuple[float, float, float, float]:
    frac = rng.uniform(0.25, 0.5)
    aspect = float(np.exp(rng.uniform(np.log(0.5), np.log(2.0))))
    bw = min(w, np.sqrt(frac * w * h * aspect))
    bh = min(h, frac * w * h / bw)
    return float(rng.uniform(0, w - bw)), float(rng.uniform(0, h - bh)), float(bw), float(bh)


def ordinary_crops(cache: Path, n: int) -> None:
    space = open_space(cache)
    rng = np.random.default_rng(0)
    ids = list(space.ids)
    hits: dict[str, list[bool]] = {"with the foreground mask": [], "without": []}
    times = []
    for _ in range(n):
        sid = ids[int(rng.integers(len(ids)))]
        box = random_box(rng, 64, 64)
        t0 = time.perf_counter()
        res = search_crop(space, box, pin_id=sid, k=10)
        times.append(time.perf_counter() - t0)
        hits["with the foreground mask"].append(sid in res.ids)
        hits["without"].append(
            sid in search_crop(space, box, pin_id=sid, k=10, background=None).ids
        )
    for what, h in hits.items():
        print(f"emoji 25-50% crops ({n}), {what}: top-10 {np.mean(h):.3f}")
    print(f"  median crop query latency {1000 * statistics.median(times):.2f} ms")


def make_scenes(
    root: Path, emoji: list[Path], n: int, seed: int = 1
) -> tuple[list[tuple[str, Path]], list]:
    """160x120 scenes: gradient + noise background, 3 emoji (40-64 px) pasted at random, drawn
    with ``seed``. Returns the items and the pasted objects (scene id, box, emoji file)."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    items, objects = [], []
    t = np.linspace(0, 1, 160)[None, :, None]
    for j in range(n):
        c0, c1 = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
        bg = c0 * (1 - t) + c1 * t + rng.normal(0, 8, (120, 160, 3))
        im = Image.fromarray(np.clip(bg, 0, 255).astype(np.uint8))
        for _ in range(3):
            source = emoji[int(rng.integers(len(emoji)))]
            src = Image.open(source).convert("RGBA")
            s = int(rng.integers(40, 65))
            src = src.resize((s, s), Image.Resampling.BILINEAR)
            x, y = int(rng.integers(0, 160 - s)), int(rng.integers(0, 120 - s))
            im.paste(src, (x, y), src)
            objects.append((f"s{j}", (x, y, s, s), source))
        p = root / f"scene{j:04d}.png"
        im.save(p)
        items.append((f"s{j}", p))
    return items, objects


def object_queries(cache: Path, objects: list, n: int) -> None:
    space = open_space(cache)
    rng = np.random.default_rng(3)
    picks = [objects[int(i)] for i in rng.choice(len(objects), size=n, replace=False)]
    for background, what in ((None, "without the mask"), (0.5, "with the foreground mask")):
        in_scene, from_file = [], []
        for sid, box, source in picks:
            res = search_crop(space, box, pin_id=sid, k=10, background=background)
            in_scene.append(sid in res.ids)
            # Any scene that contains this emoji counts (the same emoji can be pasted twice).
            wanted = {o[0] for o in objects if o[2] == source}
            res = search_crop(space, None, path=source, k=10, background=background)
            from_file.append(bool(wanted & set(res.ids)))
        print(f"{what}: the box of a pasted emoji in its scene ({n}): top-10 "
              f"{np.mean(in_scene):.3f}; the emoji file itself (transparent) -> a scene "
              f"containing it: top-10 {np.mean(from_file):.3f}")  # fmt: skip


# -- speed ----------------------------------------------------------------------------------

BASELINE = "63263acb1e5e7af4727e5df693b612fb6d63fff3"
"""The extraction code before the numba speed path (the reference for identical output)."""
BASELINE_MODULES = ("foreground", "descriptors", "objects", "embedders")


def load() -> str:
    return "load average " + " ".join(f"{v:.1f}" for v in os.getloadavg())


def baseline_embedders(commit: str = BASELINE) -> ModuleType:
    """The ``embedders`` module of ``commit`` (with its own foreground, descriptors and objects
    modules, read from git) importable beside today's, for same-process comparisons. Kept in
    the temp dir by commit, so numba's cache serves the next run."""
    root = Path(tempfile.gettempdir()) / f"workbench-visual-{commit[:12]}"
    pkg = f"visual_{commit[:12]}"
    repo = Path(__file__).resolve().parents[1]
    (root / pkg).mkdir(parents=True, exist_ok=True)
    (root / pkg / "__init__.py").write_text("")
    names = "|".join(BASELINE_MODULES)
    for name in BASELINE_MODULES:
        text = subprocess.run(
            ["git", "show", f"{commit}:workbench/engine/visual/{name}.py"],
            cwd=repo, check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
        text = re.sub(rf"workbench\.engine\.visual import ({names})\b", rf"{pkg} import \1", text)
        text = re.sub(rf"workbench\.engine\.visual\.({names}) import", rf"{pkg}.\1 import", text)
        target = root / pkg / f"{name}.py"
        if not target.exists() or target.read_text() != text:
            target.write_text(text)
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    return importlib.import_module(f"{pkg}.embedders")


Extract = Callable[[BuiltinEmbedder, list[Path]], object]
PATHS: dict[str, Extract] = {
    "whole image": lambda emb, paths: emb.embed_images(paths),
    f"whole image + {len(REGION_BOXES)} regions": lambda emb, paths: emb.embed_with_regions(paths),
    f"whole image + {len(REGION_BOXES)} regions + object proposals (full index)": (
        lambda emb, paths: emb.embed_for_crops(paths)
    ),
}


def extraction_speed(paths: list[Path], config: DescriptorConfig, what: str = "") -> None:
    for part, run in list(PATHS.items())[:2]:
        emb = BuiltinEmbedder(config, workers=2)
        emb.embed_images(paths[:64])  # numba compiled / loaded from cache
        t0 = time.perf_counter()
        run(emb, paths)
        dt = time.perf_counter() - t0
        print(f"extraction{what}, {part}, 2 threads: {len(paths) / dt:.0f} images/s ({load()})")


def speed_path(paths: list[Path], rounds: int, commit: str = BASELINE) -> None:
    """Images/s of today's extraction and of ``commit``'s, alternately in this process (who
    goes first alternates by round), for the whole image, with regions, and the full index
    extraction (regions and object proposals)."""
    old = baseline_embedders(commit).BuiltinEmbedder(workers=2)
    new = BuiltinEmbedder(workers=2)
    for emb in (old, new):
        emb.embed_for_crops(paths[:64])  # numba compiled / loaded from cache
    print(f"{len(paths)} images, 2 threads; baseline = commit {commit[:7]}")
    order = (("baseline", old), ("today", new))
    for r in range(rounds):
        for part, run in PATHS.items():
            for name, emb in order if r % 2 == 0 else order[::-1]:  # who goes first alternates
                t0 = time.perf_counter()
                run(emb, paths)
                rate = len(paths) / (time.perf_counter() - t0)
                print(f"round {r + 1}, {part}, {name}: {rate:.0f} images/s ({load()})", flush=True)


def _same(a: object, b: object) -> bool:
    """Bit-identical: arrays by dtype, shape and bytes; tuples and lists item by item."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    if isinstance(a, tuple | list) and isinstance(b, tuple | list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def synthetic_images(n: int, seed: int = 0) -> list[np.ndarray]:
    """RGB uint8 arrays of several sizes: noise, flat, plain or gradient backgrounds with noise
    and a disc or a block on them (every branch of the masks and the proposals)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        h, w = (int(v) for v in rng.integers(8, 97, 2))
        kind = i % 5
        if kind == 0:
            im = rng.integers(0, 256, (h, w, 3))
        elif kind == 1:
            im = np.broadcast_to(rng.integers(0, 256, 3), (h, w, 3))
        else:
            t = np.linspace(0, 1, w)[None, :, None]
            c0 = rng.integers(0, 256, 3)
            c1 = c0 if kind == 2 else rng.integers(0, 256, 3)  # kind 2: a plain background
            bg = c0 * (1 - t) + c1 * t
            im = bg + rng.normal(0, 2 + 6 * (kind - 2), (h, w, 3))
            y0, x0 = int(rng.integers(0, h // 2 + 1)), int(rng.integers(0, w // 2 + 1))
            yy, xx = np.mgrid[:h, :w]
            inside = (yy - y0 - h / 4) ** 2 + (xx - x0 - w / 4) ** 2 < (min(h, w) / 5) ** 2
            if kind == 3:
                inside = (yy >= y0) & (yy < y0 + h // 3) & (xx >= x0) & (xx < x0 + w // 3)
            im[inside] = rng.integers(0, 256, 3)
        out.append(np.clip(im, 0, 255).astype(np.uint8))
    return out


def check_identical(groups: dict[str, list[Path]], arrays: list[np.ndarray], commit: str) -> bool:
    """Today's extraction against ``commit``'s: vectors, regions, object signatures and boxes
    of every file, crop queries (region vector and object signature, alpha kept) on random
    boxes, and the per-array steps (feature table, descriptors, masks, proposals)."""
    base = baseline_embedders(commit)
    old_emb, new_emb = base.BuiltinEmbedder(workers=2), BuiltinEmbedder(workers=2)
    bf, bd, bo = (sys.modules[f"{base.__package__}.{m}"] for m in BASELINE_MODULES[:3])
    from workbench.engine.visual import descriptors, foreground, objects

    ok = True
    for what, paths in groups.items():
        same = _same(old_emb.embed_for_crops(paths), new_emb.embed_for_crops(paths))
        rng = np.random.default_rng(5)
        queries = 0
        for p in paths[:: max(1, len(paths) // 100)]:
            w, h = Image.open(p).size
            fw, fh = rng.uniform(0.3, 1.0, 2)
            box = (rng.uniform(0, w * (1 - fw)), rng.uniform(0, h * (1 - fh)), w * fw, h * fh)
            for b in (None, box):
                for bg in (None, 0.5):
                    a = old_emb.embed_crop_query(p, b, bg)
                    same = same and _same(a, new_emb.embed_crop_query(p, b, bg))
                    queries += 1
        print(f"{what}: {len(paths)} files, {queries} crop queries: "
              f"{'identical' if same else 'DIFFERENT'}")  # fmt: skip
        ok = ok and same
    cfg, old_cfg = descriptors.DescriptorConfig(), bd.DescriptorConfig()
    rcfg, old_rcfg = descriptors.region_config_for(cfg), bd.region_config_for(old_cfg)
    same = True
    for im in arrays:
        h, w = im.shape[:2]
        same = same and _same(bf.foreground_mask(im), foreground.foreground_mask(im))
        alpha = np.full((h, w), 255, np.uint8)
        alpha[: h // 2] = 0
        same = same and _same(
            bf.foreground_weights(im, alpha), foreground.foreground_weights(im, alpha)
        )
        fo, fn = bd.integral_features(im, old_cfg), descriptors.integral_features(im, cfg)
        same = same and _same(fo, fn)
        boxes = descriptors.region_pixel_boxes(w, h)
        same = same and _same(
            bd.describe_boxes(fo, boxes, old_cfg), descriptors.describe_boxes(fn, boxes, cfg)
        )
        same = same and _same(
            bd.describe_boxes(fo, boxes, old_rcfg), descriptors.describe_boxes(fn, boxes, rcfg)
        )
        same = same and _same(bo.image_objects(im), objects.image_objects(im))
        same = same and _same(bo.query_object(im), objects.query_object(im))
        same = same and _same(bo.query_object(im, alpha), objects.query_object(im, alpha))
    print(f"{len(arrays)} generated arrays (masks, feature tables, descriptors, proposals): "
          f"{'identical' if same else 'DIFFERENT'}")  # fmt: skip
    return ok and same


def latency(emoji_cache: Path, paths: list[Path], n_vectors: int, queries: int) -> None:
    """Replicate the emoji vectors with noise up to n_vectors and time image-file queries."""
    space = open_space(emoji_cache)
    base = np.asarray(space.vectors)
    rng = np.random.default_rng(2)
    reps = int(np.ceil(n_vectors / base.shape[0]))
    big = np.repeat(base, reps, axis=0)[:n_vectors]
    big = l2_normalise(big + rng.normal(0, 0.03, big.shape).astype(np.float32))
    big[: base.shape[0]] = base
    t0 = time.perf_counter()
    index, info = build_index(big, exact_threshold=50_000)
    build = time.perf_counter() - t0
    space.index, space.vectors, space.ef_search = index, big, info.ef_search
    space.count = big.shape[0]
    space.ids = np.array([f"{i}" for i in range(big.shape[0])])
    space._positions = space._paths = None
    times, pin_times = [], []
    for i in range(queries):
        t0 = time.perf_counter()
        search_image(space, paths[i % len(paths)], k=10)
        times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        search_pin(space, str(i % base.shape[0]), k=10)
        pin_times.append(time.perf_counter() - t0)
    ms, pms = np.array(times[5:]) * 1000, np.array(pin_times[5:]) * 1000
    p99 = np.percentile(ms, 99)
    print(f"HNSW over {big.shape[0]:,} x {big.shape[1]} (built in {build:.1f}s, recall@10 "
          f"{info.recall_at_10:.3f}): image-file query median {np.median(ms):.2f} ms, p99 "
          f"{p99:.2f} ms; pin query median {np.median(pms):.2f} ms ({load()})")  # fmt: skip


def crops(work: Path, emoji_report: Half, config: DescriptorConfig, n: int) -> Path:
    """The crop figures on the reporting half's emoji and on scenes made of them; returns the
    emoji space's cache directory."""
    print(f"\n## crop queries (reporting-half emoji, {len(REGION_BOXES)} regions per image)")
    emoji_cache = work / f"emoji-cache-{len(REGION_BOXES)}"
    update_builtin(emoji_cache, [(str(i), p) for i, p in enumerate(emoji_report[0])], config=config)
    ordinary_crops(emoji_cache, n)
    scenes, objects = make_scenes(work / "scenes", emoji_report[0], 1000)
    scene_cache = work / f"scene-cache-{len(REGION_BOXES)}"
    update_builtin(scene_cache, scenes, config=config)
    object_queries(scene_cache, objects, n)
    return emoji_cache


def main() -> None:
    global REGION_BOXES
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer crop and latency queries")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--tune-only", action="store_true", help="only the tuning halves")
    parser.add_argument(
        "--halves-only", action="store_true", help="only the halves (no crops, no speed)"
    )
    parser.add_argument("--latency-only", action="store_true", help="only the query latency")
    parser.add_argument(
        "--speed-only", action="store_true",
        help="only the extraction speed: whole image, with regions, with object proposals; "
        "today's code and --baseline's alternately in one process",
    )  # fmt: skip
    parser.add_argument(
        "--check-identical", action="store_true",
        help="only check that today's extraction gives the same bytes as --baseline's",
    )  # fmt: skip
    parser.add_argument("--baseline", default=BASELINE, help="git commit of the reference code")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of --speed-only")
    parser.add_argument(
        "--crops-18", action="store_true",
        help="only the crop queries, with the previous 18-region layout (for comparison)",
    )  # fmt: skip
    parser.add_argument("--work", type=Path, default=None, help="scratch dir (default: temp)")
    parser.add_argument(
        "--seeds", type=lambda t: [int(v) for v in t.split(",")], default=[SPLIT_SEED],
        help="label split seeds (the first also gives the crop and speed figures)",
    )  # fmt: skip
    parser.add_argument(
        "--all-candidates", action="store_true",
        help="after the choice, every other candidate's reporting figures too (first seed)",
    )  # fmt: skip
    args = parser.parse_args()
    if not EMOJI.exists() or not MNIST.exists():
        print(f"{SHARED}: emoji-google-64 / mnist-t10k not found, skipped")
        return
    print(f"cpus: {os.cpu_count()}, {load()}")
    n_crops = 100 if args.quick else 300
    queries = 200 if args.quick else 1000
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        emoji_tune, emoji_report = split_by_label(*load_emoji())
        if args.latency_only:
            emoji_cache = work / "emoji-cache-latency"
            update_builtin(emoji_cache, [(str(i), p) for i, p in enumerate(emoji_report[0])])
            latency(emoji_cache, emoji_report[0], 100_000, queries)
            return
        if args.speed_only:
            speed_path(emoji_tune[0] + emoji_report[0], args.rounds, args.baseline)
            scenes, _ = make_scenes(work / "scenes-speed", emoji_report[0], 500)
            speed_path([p for _, p in scenes], args.rounds, args.baseline)
            return
        if args.check_identical:
            sample = sorted((Path(__file__).resolve().parents[1] / "sample_data").rglob("*.png"))
            emoji_all = sorted((EMOJI / "png").glob("*.png"))
            groups = {
                "sample_data images": sample[::4],
                "emoji (every 9th file, variants too)": emoji_all[::9],
                "generated scenes": [
                    p
                    for _, p in make_scenes(work / "scenes-check", emoji_report[0], 300, seed=7)[0]
                ],
            }
            if not check_identical(groups, synthetic_images(300), args.baseline):
                raise SystemExit(1)
            return
        if args.crops_18:
            REGION_BOXES = embedders.REGION_BOXES = embedders.REGION_BOXES[:18]
            crops(work, emoji_report, DescriptorConfig(), n_crops)
            return
        chosen = choose_and_report(args.seeds[0], work, args.all_candidates, args.tune_only)
        for seed in args.seeds[1:]:
            choose_and_report(seed, work, False, args.tune_only)
        if args.tune_only or args.halves_only:
            return
        emoji_cache = crops(work, emoji_report, chosen.config, n_crops)
        print("\n## speed")
        extraction_speed(emoji_tune[0] + emoji_report[0], chosen.config, " (chosen)")
        extraction_speed(emoji_tune[0] + emoji_report[0], PREVIOUS, " (previous default)")
        if not args.skip_latency:
            latency(emoji_cache, emoji_report[0], 100_000, queries)


if __name__ == "__main__":
    main()
