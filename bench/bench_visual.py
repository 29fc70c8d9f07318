"""Visual search: retrieval quality, crop queries, extraction speed and query latency.

Usage: .venv/bin/python bench/bench_visual.py [--quick] [--skip-latency]

Data: ../shared/data/emoji-google-64 (base emoji only, label = subcategory) and
../shared/data/mnist-t10k (label = digit). Precision@10 / mAP@10 (workbench's visual_eval,
all items as queries) for the built-in descriptor (as stored: PCA-whitened when the dataset
has >= 200 images; and un-whitened) against two baselines computed here: raw downscaled pixels
(16x16, L2-normalised) and average / perceptual hashes (64 bits, Hamming similarity).
Crop queries: random crops covering 25-50% of an image (aspect 1:2..2:1) on the emoji set and
on generated scenes (emoji pasted on random backgrounds); hit = source pin in the top 10.
Speed: extraction images/s on the emoji PNGs (64 px) with 2 threads, and query latency
(image file -> descriptor -> whitening -> HNSW over 100k vectors -> ids).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from scipy.fft import dctn

from workbench.engine.visual import (
    BuiltinEmbedder,
    build_index,
    l2_normalise,
    open_space,
    search_crop,
    search_image,
    search_pin,
    update_builtin,
    visual_eval,
)
from workbench.engine.visual.images import load_rgb

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
EMOJI = SHARED / "emoji-google-64"
MNIST = SHARED / "mnist-t10k"


def load_emoji() -> tuple[list[Path], list[str]]:
    with (EMOJI / "labels.csv").open() as f:
        rows = [r for r in csv.DictReader(f) if r["is_skin_variant"] == "0"]
    return [EMOJI / r["file"] for r in rows], [r["subcategory"] for r in rows]


def load_mnist(root: Path) -> tuple[list[Path], list[int]]:
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
    return paths, [int(v) for v in labels]


def gray_small(path: Path, size: int) -> np.ndarray:
    rgb = Image.fromarray(load_rgb(path, 64 * 64))
    return np.asarray(rgb.convert("L").resize((size, size), Image.Resampling.BOX), np.float32)


def raw_pixels(paths: list[Path], colour: bool) -> np.ndarray:
    rows = []
    for p in paths:
        im = Image.fromarray(load_rgb(p, 64 * 64))
        if not colour:
            im = im.convert("L")
        rows.append(np.asarray(im.resize((16, 16), Image.Resampling.BOX), np.float32).ravel())
    return l2_normalise(np.array(rows))


def hashes(paths: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    """aHash (8x8 > mean) and pHash (8x8 low DCT of 32x32 > median) as +-1 vectors."""
    ah, ph = [], []
    for p in paths:
        g8 = gray_small(p, 8).ravel()
        ah.append(np.where(g8 > g8.mean(), 1.0, -1.0))
        low = dctn(gray_small(p, 32), norm="ortho")[:8, :8].ravel()
        ph.append(np.where(low > np.median(low), 1.0, -1.0))
    return np.array(ah, np.float32), np.array(ph, np.float32)


def fmt(r: dict[str, float | int]) -> str:
    return f"P@10 {r['precision@10']:.4f}  mAP@10 {r['map@10']:.4f}  (n={r['queries']})"


def quality(name: str, paths: list[Path], labels: list, cache: Path) -> Path:
    print(f"\n## {name}: {len(paths)} images")
    items = [(str(i), p) for i, p in enumerate(paths)]
    t0 = time.perf_counter()
    report = update_builtin(cache, items, regions=(name == "emoji"))
    print(f"index built in {time.perf_counter() - t0:.1f}s: {report.summary()}")
    space = open_space(cache)
    assert space.raw is not None
    rows = [int(s) for s in space.ids]
    labs = [labels[i] for i in rows]
    results = {
        "builtin (whitened, as stored)": visual_eval(np.asarray(space.vectors), labs),
        "builtin (no whitening)": visual_eval(l2_normalise(np.asarray(space.raw)), labs),
        "raw pixels 16x16 gray": visual_eval(raw_pixels(paths, False), labels),
        "raw pixels 16x16 colour": visual_eval(raw_pixels(paths, True), labels),
    }
    ah, ph = hashes(paths)
    results["average hash 64 bit"] = visual_eval(ah, labels)
    results["perceptual hash 64 bit"] = visual_eval(ph, labels)
    for k, v in results.items():
        print(f"{k:32s} {fmt(v)}")
    return cache


def random_box(rng: np.random.Generator, w: int, h: int) -> tuple[float, float, float, float]:
    frac = rng.uniform(0.25, 0.5)
    aspect = float(np.exp(rng.uniform(np.log(0.5), np.log(2.0))))
    bw = min(w, np.sqrt(frac * w * h * aspect))
    bh = min(h, frac * w * h / bw)
    return float(rng.uniform(0, w - bw)), float(rng.uniform(0, h - bh)), float(bw), float(bh)


def crop_queries(name: str, cache: Path, sizes: dict[str, tuple[int, int]], n: int) -> None:
    space = open_space(cache)
    rng = np.random.default_rng(0)
    ids = list(space.ids)
    ranks = []
    times = []
    for _ in range(n):
        sid = ids[int(rng.integers(len(ids)))]
        w, h = sizes[sid]
        box = random_box(rng, w, h)
        t0 = time.perf_counter()
        res = search_crop(space, box, pin_id=sid, k=10)
        times.append(time.perf_counter() - t0)
        ranks.append(res.ids.index(sid) if sid in res.ids else 99)
    r = np.array(ranks)
    print(
        f"crop queries on {name} ({n} random crops, 25-50% of the area): "
        f"top-1 {np.mean(r < 1):.3f}, top-10 {np.mean(r < 10):.3f}, "
        f"median latency {1000 * statistics.median(times):.2f} ms"
    )


def make_scenes(
    root: Path, emoji: list[Path], n: int
) -> tuple[list[tuple[str, Path]], dict, list[tuple[str, tuple[int, int, int, int], Path]]]:
    """160x120 scenes: gradient + noise background, 3 emoji (40-64 px) pasted at random.

    Returns the items, each scene's size and the pasted objects (scene id, box, emoji file).
    """
    rng = np.random.default_rng(1)
    root.mkdir(parents=True, exist_ok=True)
    items, sizes, objects = [], {}, []
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
        sizes[f"s{j}"] = (160, 120)
    return items, sizes, objects


def object_queries(cache: Path, objects: list, n: int) -> None:
    """Crops of pasted objects (8-21% of a scene) and the emoji files themselves."""
    space = open_space(cache)
    rng = np.random.default_rng(3)
    picks = [objects[int(i)] for i in rng.choice(len(objects), size=n, replace=False)]
    in_scene, from_file = [], []
    for sid, box, source in picks:
        res = search_crop(space, box, pin_id=sid, k=10)
        in_scene.append(sid in res.ids)
        # Any scene that contains this emoji counts (the same emoji can be pasted twice).
        wanted = {o[0] for o in objects if o[2] == source}
        res = search_crop(space, None, path=source, k=10)
        from_file.append(bool(wanted & set(res.ids)))
    print(
        f"object crops in scenes ({n}, box = the pasted emoji, 8-21% of the area): "
        f"top-10 {np.mean(in_scene):.3f}; the emoji file itself (transparent, on white) "
        f"-> a scene containing it in the top 10: {np.mean(from_file):.3f}"
    )


def extraction_speed(paths: list[Path]) -> None:
    for regions in (False, True):
        emb = BuiltinEmbedder(workers=2)
        emb.embed_images(paths[:64])  # numba compiled / loaded from cache
        t0 = time.perf_counter()
        if regions:
            emb.embed_with_regions(paths)
        else:
            emb.embed_images(paths)
        dt = time.perf_counter() - t0
        what = "whole image + 18 regions" if regions else "whole image"
        print(f"extraction, {what}, 2 threads: {len(paths) / dt:.0f} images/s")


def latency(emoji_cache: Path, paths: list[Path], n_vectors: int, queries: int) -> None:
    """Replicate the emoji vectors with noise up to n_vectors and time image-file queries."""
    space = open_space(emoji_cache)
    base = np.asarray(space.vectors)
    rng = np.random.default_rng(2)
    reps = int(np.ceil(n_vectors / base.shape[0]))
    big = np.repeat(base, reps, axis=0)[:n_vectors]
    big = l2_normalise(big + rng.normal(0, 0.03, big.shape).astype(np.float32))
    big[: base.shape[0]] = base
    for threshold, label in ((10**9, "exact (IndexFlatIP)"), (50_000, "HNSW")):
        t0 = time.perf_counter()
        index, info = build_index(big, exact_threshold=threshold)
        build = time.perf_counter() - t0
        space.index = index
        space.vectors = big
        space.ef_search = info.ef_search
        space.count = big.shape[0]
        space.ids = np.array([f"{i}" for i in range(big.shape[0])])
        space._positions = None
        space._paths = None
        extra = (
            f", recall@10 {info.recall_at_10:.3f} at efSearch {info.ef_search}"
            if info.recall_at_10 is not None
            else ""
        )
        times, pin_times = [], []
        for i in range(queries):
            p = paths[i % len(paths)]
            t0 = time.perf_counter()
            search_image(space, p, k=10)
            times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            search_pin(space, str(i), k=10)
            pin_times.append(time.perf_counter() - t0)
        ms = np.array(times[5:]) * 1000
        pms = np.array(pin_times[5:]) * 1000
        print(
            f"{label} over {big.shape[0]} x {big.shape[1]} (built in {build:.1f}s{extra}): "
            f"image-file query median {np.median(ms):.2f} ms, p99 {np.percentile(ms, 99):.2f} ms; "
            f"pin query median {np.median(pms):.2f} ms, p99 {np.percentile(pms, 99):.2f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer crop and latency queries")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--work", type=Path, default=None, help="scratch dir (default: temp)")
    args = parser.parse_args()
    if not EMOJI.exists() or not MNIST.exists():
        print(f"{SHARED}: emoji-google-64 / mnist-t10k not found, skipped")
        return
    print(f"cpus: {os.cpu_count()}, faiss threads: min(2, cpus)")
    n_crops = 100 if args.quick else 300
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        emoji_paths, emoji_labels = load_emoji()
        emoji_cache = quality("emoji", emoji_paths, emoji_labels, work / "emoji-cache")
        mnist_paths, mnist_labels = load_mnist(work / "mnist-png")
        quality("mnist", mnist_paths, mnist_labels, work / "mnist-cache")
        print("\n## crop queries")
        crop_queries(
            "emoji", emoji_cache, {str(i): (64, 64) for i in range(len(emoji_paths))}, n_crops
        )
        scenes, sizes, objects = make_scenes(work / "scenes", emoji_paths, 1000)
        scene_cache = work / "scene-cache"
        update_builtin(scene_cache, scenes)
        crop_queries("1000 generated scenes", scene_cache, sizes, n_crops)
        object_queries(scene_cache, objects, n_crops)
        print("\n## speed")
        extraction_speed(emoji_paths)
        if not args.skip_latency:
            latency(emoji_cache, emoji_paths, 100_000, 200 if args.quick else 1000)


if __name__ == "__main__":
    main()
