"""Foreground weights for crop queries: alpha where present, else distance from the dominant
border colour; no mask without a clear figure; an object on two backgrounds looks more alike.
Object proposals on the indexed side: an object pasted on a scene is found and matches its
cut-out; stored int8 signatures score like the float ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from workbench.engine.visual import BuiltinEmbedder
from workbench.engine.visual.foreground import foreground_mask, foreground_weights
from workbench.engine.visual.images import load_rgba
from workbench.engine.visual.objects import (
    BOX_UNIT,
    DIM,
    best_scores,
    image_objects,
    query_object,
    to_int8,
)


def _object(background: tuple[int, int, int] | None, size: int = 64) -> Image.Image:
    """A red disc with a blue square on it, on a plain background (None: transparent)."""
    im = Image.new("RGBA", (size, size), (*background, 255) if background else (0, 0, 0, 0))
    d = ImageDraw.Draw(im)
    d.ellipse([12, 12, 52, 52], fill=(210, 30, 40, 255))
    d.rectangle([26, 26, 38, 38], fill=(20, 40, 200, 255))
    return im


def test_alpha_is_the_mask(tmp_path: Path) -> None:
    _object(None).save(tmp_path / "cut.png")
    rgb, alpha = load_rgba(tmp_path / "cut.png", 64 * 64)
    assert alpha is not None and rgb[0, 0].tolist() == [255, 255, 255]  # composited on white
    mask = foreground_mask(rgb, alpha)
    assert mask is not None and mask[32, 32] == 1.0 and mask[0, 0] == 0.0
    weights = foreground_weights(rgb, alpha, floor=0.25)
    assert weights is not None and weights[0, 0] == 0.25 and weights[32, 32] == 1.0


def test_border_colour_mask_and_no_mask_without_a_figure() -> None:
    on_white = np.asarray(_object((255, 255, 255)).convert("RGB"))
    mask = foreground_mask(on_white)
    assert mask is not None and mask[32, 32] == 1.0 and mask[2, 2] == 0.0
    assert 0.2 < mask.mean() < 0.5
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    assert foreground_mask(noise) is None  # a varied border: no background colour
    assert foreground_mask(np.full((32, 32, 3), 90, np.uint8)) is None  # nothing in front


def test_a_masked_object_looks_more_like_itself_on_another_background(tmp_path: Path) -> None:
    emb = BuiltinEmbedder(workers=1)
    _object(None).save(tmp_path / "cut.png")
    scene = Image.new("RGB", (64, 64), (40, 160, 60))
    scene.paste(_object(None), (0, 0), _object(None))
    scene.save(tmp_path / "scene.png")

    def cosine(background: float | None) -> float:
        a = emb.embed_crop_region(tmp_path / "cut.png", None, background)
        b = emb.embed_crop_region(tmp_path / "scene.png", None, background)
        return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))

    assert cosine(0.1) > cosine(None) + 0.05


# -- object proposals and signatures (the indexed side gets foreground masks too) ------------


def _scene(
    objects: list[tuple[Image.Image, int, int]], seed: int, size: tuple[int, int] = (160, 120)
) -> np.ndarray:
    """A gradient + noise background with transparent objects pasted at (x, y)."""
    rng = np.random.default_rng(seed)
    w, h = size
    t = np.linspace(0, 1, w)[None, :, None]
    c0, c1 = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    bg = c0 * (1 - t) + c1 * t + rng.normal(0, 8, (h, w, 3))
    im = Image.fromarray(np.clip(bg, 0, 255).astype(np.uint8))
    for obj, x, y in objects:
        im.paste(obj, (x, y), obj)
    return np.asarray(im)


def _other() -> Image.Image:
    """Another object: a green triangle with a yellow bar, transparent around it."""
    im = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    d = ImageDraw.Draw(im)
    d.polygon([(32, 6), (60, 58), (4, 58)], fill=(40, 170, 60, 255))
    d.rectangle([18, 40, 46, 48], fill=(240, 220, 30, 255))
    return im


def test_an_object_on_a_scene_is_proposed_and_matches_the_cut_out(tmp_path: Path) -> None:
    small = _object(None).resize((48, 48), Image.Resampling.BILINEAR)
    other = _other().resize((48, 48), Image.Resampling.BILINEAR)
    scene = _scene([(small, 20, 30), (other, 100, 50)], seed=1)
    found, boxes = image_objects(scene)
    assert found.shape[1] == DIM and found.shape[0] >= 2 and boxes.shape == (found.shape[0], 4)
    np.testing.assert_allclose(np.linalg.norm(found, axis=1), 1.0, atol=1e-5)
    _object(None).save(tmp_path / "cut.png")
    _other().save(tmp_path / "other.png")
    q = query_object(*load_rgba(tmp_path / "cut.png", 64 * 64))
    q_other = query_object(*load_rgba(tmp_path / "other.png", 64 * 64))
    assert q is not None and q_other is not None
    # Each cut-out has a close proposal, a different one, closer than the two cut-outs are.
    assert float((found @ q).max()) > 0.9 and float((found @ q_other).max()) > 0.8
    assert int(np.argmax(found @ q)) != int(np.argmax(found @ q_other))
    assert float(q @ q_other) < float((found @ q_other).max()) - 0.1
    # The best proposal's box (fractions of the scene) lies on the pasted disc: (20, 30) + 48.
    x0, y0, x1, y1 = boxes[int(np.argmax(found @ q))] / BOX_UNIT * [160, 120, 160, 120]
    assert 14 <= x0 <= 36 and 24 <= y0 <= 46 and 52 <= x1 <= 74 and 62 <= y1 <= 84
    # A scene without that object has no proposal as close to it.
    alone = image_objects(_scene([(other, 60, 40)], seed=2))[0]
    assert float((alone @ q).max(initial=0.0)) < float((found @ q).max()) - 0.1


def test_the_object_query_mask_and_no_object_without_a_background() -> None:
    on_white = np.asarray(_object((255, 255, 255)).convert("RGB"))
    with_alpha = np.asarray(_object(None).convert("RGBA"))
    a = query_object(on_white)  # the frame's plane is the background
    b = query_object(with_alpha[..., :3], with_alpha[..., 3])
    assert a is not None and b is not None and float(a @ b) > 0.95
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    assert query_object(noise) is None
    assert query_object(np.full((32, 32, 3), 90, np.uint8)) is None
    assert image_objects(noise)[0].shape == (0, DIM)


def test_stored_signatures_score_like_the_float_ones() -> None:
    rng = np.random.default_rng(0)
    sigs = rng.standard_normal((10, DIM)).astype(np.float32)
    sigs /= np.linalg.norm(sigs, axis=1, keepdims=True)
    offsets = np.array([0, 3, 3, 10])  # image 1 has no proposals
    q = sigs[5] + 0.1 * rng.standard_normal(DIM).astype(np.float32)
    q /= np.linalg.norm(q)
    got = best_scores(to_int8(sigs), offsets, np.array([2, 0, 1]), q)
    want = [float((sigs[3:] @ q).max()), float((sigs[:3] @ q).max()), 0.0]
    np.testing.assert_allclose(got, want, atol=0.02)
