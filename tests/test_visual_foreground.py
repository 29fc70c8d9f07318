"""Foreground weights for crop queries: alpha where present, else distance from the dominant
border colour; no mask without a clear figure; an object on two backgrounds looks more alike."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from workbench.engine.visual import BuiltinEmbedder
from workbench.engine.visual.foreground import foreground_mask, foreground_weights
from workbench.engine.visual.images import load_rgba


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
