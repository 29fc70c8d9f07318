"""The fast extraction path gives the same bytes as the plain computations it replaces: the
numba border mask against the numpy one it replaced, the window scan's selection against a
sort, reused buffers against fresh ones, two threads against one; and the mask's version is
part of the descriptor's. (bench/bench_visual.py --check-identical compares the whole path
with the code of the previous commit on a few hundred images.)"""

from __future__ import annotations

import threading
from pathlib import Path

import numba
import numpy as np
import pytest

from workbench.engine.visual import BuiltinEmbedder, foreground, objects
from workbench.engine.visual.descriptors import (
    DescriptorConfig,
    describe_boxes,
    integral_features,
    region_config_for,
    region_pixel_boxes,
)
from workbench.engine.visual.images import load_rgb

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "images"


def _numpy_mask(rgb: np.ndarray) -> np.ndarray | None:
    """The border-colour mask as it was written in numpy (the reference)."""
    b = min(foreground.BORDER, rgb.shape[0] // 4, rgb.shape[1] // 4) or 1
    parts = [rgb[:b].reshape(-1, 3), rgb[-b:].reshape(-1, 3)]
    parts += [rgb[b:-b, :b].reshape(-1, 3), rgb[b:-b, -b:].reshape(-1, 3)]
    border = np.concatenate(parts).astype(np.float32)
    colour = np.median(border, axis=0)
    if np.mean(np.linalg.norm(border - colour, axis=1) <= foreground.NEAR) < (
        foreground.UNIFORM_SHARE
    ):
        return None
    dist = np.linalg.norm(rgb.astype(np.float32) - colour, axis=2)
    near, far = foreground.NEAR, foreground.FAR
    mask = np.clip((dist - near) / (far - near), 0.0, 1.0)
    share = float(mask.mean())
    if not foreground.MIN_FOREGROUND <= share <= foreground.MAX_FOREGROUND:
        return None
    return mask


def _images(n: int, seed: int = 0) -> list[np.ndarray]:
    """Generated RGB arrays: plain or noisy backgrounds of any size with a block on them,
    noise, flat images, and a few strips narrower than the border."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        h, w = (int(v) for v in rng.integers(1 if i % 7 == 0 else 8, 80, 2))
        bg = rng.integers(0, 256, 3) + rng.normal(0, (0, 2, 6, 12)[i % 4], (h, w, 3))
        y0, x0 = int(rng.integers(0, h)), int(rng.integers(0, w))
        bg[y0 : y0 + h // 3 + 1, x0 : x0 + w // 3 + 1] = rng.integers(0, 256, 3)
        if i % 5 == 4:
            bg = rng.integers(0, 256, (h, w, 3))
        out.append(np.clip(bg, 0, 255).astype(np.uint8))
    return out


def _sample(n: int) -> list[np.ndarray]:
    return [load_rgb(p, 64 * 64) for p in sorted(SAMPLE.glob("*.png"))[:n]]


def _same(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def test_the_numba_mask_is_the_numpy_mask_bit_for_bit() -> None:
    images = _images(400) + _sample(60)
    masks = [foreground.foreground_mask(im) for im in images]
    assert all(_same(m, _numpy_mask(im)) for m, im in zip(masks, images, strict=True))
    assert sum(m is not None for m in masks) > 100  # the mask itself is compared, not Nones


def test_the_mask_version_is_part_of_the_descriptor_version(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = DescriptorConfig().version
    unmasked = DescriptorConfig(rgb_foreground=False).version
    monkeypatch.setattr(foreground, "MASK_VERSION", foreground.MASK_VERSION + "-changed")
    assert DescriptorConfig().version != before
    assert DescriptorConfig(rgb_foreground=False).version == unmasked


def test_selection_is_the_sorted_value() -> None:
    rng = np.random.default_rng(1)
    for n in (1, 2, 3, 10, 84, 251):
        for values in (rng.normal(size=n), rng.integers(0, 4, n).astype(np.float64)):
            for k in {0, n // 2, int(0.6 * n), n - 1}:
                assert objects._select(values.copy(), k) == np.sort(values)[k]


def test_reused_buffers_give_what_fresh_ones_give() -> None:
    cfg = DescriptorConfig()
    region = region_config_for(cfg)
    images = _sample(20) + _images(20, seed=3)
    fresh = [integral_features(im, cfg) for im in images]
    dirty = np.full_like(fresh[0], np.nan)
    for im, expected in zip(images, fresh, strict=True):
        reused = integral_features(im, cfg, out=dirty)
        assert _same(reused, expected)
        if reused.shape == dirty.shape:
            assert reused is dirty
    # describe_boxes' work rows: a large call, then smaller ones, then in a new thread.
    many = region_pixel_boxes(64, 64)
    first = [describe_boxes(f, many, region) for f in fresh]
    again = [describe_boxes(f, many[:3], region) for f in fresh]
    assert all(_same(a, f[:3]) for a, f in zip(again, first, strict=True))
    other: list[np.ndarray] = []
    thread = threading.Thread(target=lambda: other.append(describe_boxes(fresh[0], many, region)))
    thread.start()
    thread.join()
    assert _same(other[0], first[0])


def test_two_threads_give_the_bytes_of_one(tmp_path: Path) -> None:
    paths = sorted(SAMPLE.glob("*.png"))[:40]
    one = BuiltinEmbedder(workers=1, chunk=4).embed_for_crops(paths)
    two = BuiltinEmbedder(workers=2, chunk=4).embed_for_crops(paths)
    for a, b in zip(one[:2], two[:2], strict=True):
        assert _same(a, b)
    assert len(one[2]) == len(two[2]) == len(paths)
    for (sa, ba), (sb, bb) in zip(one[2], two[2], strict=True):
        assert _same(sa, sb) and _same(ba, bb)
    assert sum(s.shape[0] for s, _ in one[2]) > 0  # proposals were compared, not only empties


@numba.njit(cache=True)
def _arctan2_bin(gx: float, gy: float) -> int:
    """The orientation bin as the signature computed it before, in numba as it was (numpy's
    own arctan2 differs from it in the last bit on some vectors)."""
    ang = np.arctan2(gy, gx)
    if ang < 0.0:
        ang += np.pi
    return min(7, int(ang / np.pi * 8.0))


def test_orientation_bins_are_the_arctan2_bins() -> None:
    rng = np.random.default_rng(2)
    scale = 10 ** rng.uniform(-3, 3, 4000)
    vectors = list(zip(rng.normal(size=4000) * scale, rng.normal(size=4000) * scale, strict=True))
    # On, and 1e-17..1e-6 rad beside, every bin boundary of both half planes; the axes;
    # half-integer lightness differences (what the patch gives).
    for k in range(17):
        for d in (0.0, *np.logspace(-17, -6, 12), *-np.logspace(-17, -6, 12)):
            a, r = k * np.pi / 8 + d, float(10 ** rng.uniform(-2, 2))
            x, y = r * np.cos(a), r * np.sin(a)
            vectors += [(x, y), (float(np.nextafter(x, np.inf)), y)]
    vectors += [(1.0, 0.0), (-1.0, 0.0), (0.0, 1.0), (0.0, -1.0), (-3.0, 0.0)]
    half = np.arange(-20, 21) / 2.0
    vectors += [(float(x), float(y)) for x in half for y in half if x or y]
    for gx, gy in vectors:
        assert objects._orientation_bin(gx, gy) == _arctan2_bin(gx, gy), (gx, gy)
