"""Built-in descriptor and image decoding: shape, norms, determinism, odd modes, bad files."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import struct
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from workbench.engine.errors import Cancelled, WorkbenchError
from workbench.engine.progress import Reporter
from workbench.engine.visual import (
    BuiltinEmbedder,
    CropError,
    DescriptorConfig,
    ImageDecodeError,
    load_rgb,
    open_space,
    update_builtin,
)
from workbench.engine.visual.descriptors import (
    REGION_BOXES,
    describe_boxes,
    integral_features,
    region_config_for,
    region_pixel_boxes,
    same_features,
)
from workbench.engine.visual.foreground import foreground_mask


def _scene(seed: int, size: tuple[int, int] = (80, 60)) -> Image.Image:
    rng = np.random.default_rng(seed)
    w, h = size
    arr = np.zeros((h, w, 3), dtype=np.uint8)
    arr[:] = rng.integers(0, 256, 3)
    for _ in range(4):
        x0, y0 = rng.integers(0, w - 10), rng.integers(0, h - 10)
        arr[y0 : y0 + rng.integers(5, 30), x0 : x0 + rng.integers(5, 30)] = rng.integers(0, 256, 3)
    return Image.fromarray(arr)


@pytest.fixture(scope="module")
def embedder() -> BuiltinEmbedder:
    return BuiltinEmbedder(workers=2, chunk=4)


def test_descriptor_shape_norm_and_determinism(tmp_path: Path, embedder: BuiltinEmbedder) -> None:
    paths = []
    for i in range(6):
        p = tmp_path / f"{i}.png"
        _scene(i).save(p)
        paths.append(p)
    a, failed = embedder.embed_images(paths)
    b, _ = BuiltinEmbedder(workers=1).embed_images(paths)
    assert failed == []
    assert a.shape == (6, DescriptorConfig().dim) and a.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(a, b)
    sims = a @ a.T
    assert (sims[~np.eye(6, dtype=bool)] < 0.99).all()
    # The same picture at another resolution describes almost the same.
    big = tmp_path / "big.png"
    _scene(0).resize((240, 180), Image.Resampling.BICUBIC).save(big)
    assert float(embedder.embed_image(big) @ a[0]) > 0.95
    whole, regions, _ = embedder.embed_with_regions(paths[:2])
    assert regions.shape == (2, len(REGION_BOXES), embedder.region_dim)
    np.testing.assert_array_equal(whole, a[:2])
    np.testing.assert_allclose(np.linalg.norm(regions, axis=2), 1.0, atol=1e-5)
    # The whole-image region equals the crop descriptor of the whole image.
    whole_crop = embedder.embed_crop_region(paths[0], None, background=None)  # every pixel alike
    np.testing.assert_allclose(whole_crop, regions[0, 0], atol=1e-5)


def test_config_version_changes_with_parameters() -> None:
    base = DescriptorConfig()
    assert base.version == DescriptorConfig().version
    assert DescriptorConfig(w_tiny=1.0).version != base.version
    assert DescriptorConfig.from_json(base.to_json()) == base


def _odd_mode_files(tmp_path: Path) -> dict[str, Path]:
    rgb = _scene(3)
    files: dict[str, Path] = {}

    def save(name: str, im: Image.Image, fmt: str = "PNG") -> None:
        p = tmp_path / name
        im.save(p, fmt)
        files[name] = p

    save("p.png", rgb.convert("P", palette=Image.Palette.ADAPTIVE))
    pt = rgb.convert("P", palette=Image.Palette.ADAPTIVE)
    pt.info["transparency"] = 0
    save("p_transparent.png", pt)
    rgba = rgb.convert("RGBA")
    rgba.putalpha(128)
    save("rgba.png", rgba)
    save("la.png", rgb.convert("LA"))
    gray16 = (np.asarray(rgb.convert("L"), dtype=np.uint16) * 257).astype(np.uint16)
    i16 = Image.fromarray(gray16)
    assert i16.mode == "I;16"
    save("i16.png", i16)
    save("cmyk.jpg", rgb.convert("CMYK"), "JPEG")
    save("cmyk.tif", rgb.convert("CMYK"), "TIFF")
    save("one.png", rgb.convert("1"))
    save("l.jpg", rgb.convert("L"), "JPEG")
    save("f.tif", Image.fromarray(np.asarray(rgb.convert("L"), dtype=np.float32) / 255.0), "TIFF")
    return files


def test_odd_modes_are_converted(tmp_path: Path, embedder: BuiltinEmbedder) -> None:
    files = _odd_mode_files(tmp_path)
    vectors, failed = embedder.embed_images(list(files.values()))
    assert failed == []
    assert vectors.shape == (len(files), embedder.dim)
    assert np.isfinite(vectors).all()
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    gray = load_rgb(tmp_path / "la.png", 64 * 64)
    from16 = load_rgb(tmp_path / "i16.png", 64 * 64)
    # 16-bit samples are scaled to 8 bits, not clipped.
    assert abs(int(gray.astype(int).mean()) - int(from16.astype(int).mean())) <= 2


def test_alpha_is_composited_on_white(tmp_path: Path) -> None:
    clear = Image.new("RGBA", (32, 32), (255, 0, 0, 0))
    clear.save(tmp_path / "clear.png")
    arr = load_rgb(tmp_path / "clear.png", 32 * 32)
    assert (arr == 255).all()
    la = Image.new("LA", (16, 16), (0, 0))
    la.save(tmp_path / "la.png")
    assert (load_rgb(tmp_path / "la.png", 256) == 255).all()


def test_bad_images_are_skipped_and_reported(tmp_path: Path, embedder: BuiltinEmbedder) -> None:
    good = tmp_path / "good.png"
    _scene(1).save(good)
    buf = io.BytesIO()
    _scene(2, (200, 150)).save(buf, "PNG")
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    text = tmp_path / "notes.jpg"
    text.write_text("this is not an image\n")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    # A PNG header claiming a zero-width image.
    zero = tmp_path / "zero.png"
    ihdr = struct.pack(">IIBBBBB", 0, 10, 8, 2, 0, 0, 0)
    zero.write_bytes(b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr + b"\0" * 4)
    missing = tmp_path / "missing.png"
    paths = [good, truncated, text, empty, good, zero, missing]
    vectors, failed = embedder.embed_images(paths)
    assert vectors.shape == (2, embedder.dim)
    assert [i for i, _ in failed] == [1, 2, 3, 5, 6]
    reasons = dict(failed)
    assert "truncated" in reasons[1] or "broken" in reasons[1] or "decode" in reasons[1]
    assert "not an image" in reasons[2]
    assert "empty" in reasons[3]
    assert "no such file" in reasons[6]
    assert all("\n" not in r for _, r in failed)


def test_progress_and_cancel(tmp_path: Path) -> None:
    paths = []
    for i in range(10):
        p = tmp_path / f"{i}.png"
        _scene(i).save(p)
        paths.append(p)
    calls: list[tuple[float, float | None]] = []
    emb = BuiltinEmbedder(workers=2, chunk=3)
    emb.embed_images(paths, Reporter(on_progress=lambda d, t, _s: calls.append((d, t))))
    assert calls[0] == (0, 10) and calls[-1] == (10, 10)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    stop = threading.Event()

    def progress(done: float, _total: float | None, _stage: str) -> None:
        if done >= 3:
            stop.set()

    with pytest.raises(Cancelled):
        BuiltinEmbedder(workers=1, chunk=3).embed_images(paths, Reporter(progress, stop.is_set))


def test_crop_errors(tmp_path: Path, embedder: BuiltinEmbedder) -> None:
    p = tmp_path / "a.png"
    _scene(5).save(p)  # 80 x 60
    assert embedder.embed_crop(p, (10, 10, 30, 20)).shape == (embedder.dim,)
    assert embedder.embed_crop(p, (0, 0, 80, 60)).shape == (embedder.dim,)
    for box in [(0, 0, 0, 10), (5, 5, 10, -1), (70, 0, 20, 10), (-1, 0, 10, 10), (0, 0, 81, 60)]:
        with pytest.raises(CropError) as err:
            embedder.embed_crop(p, box)
        assert isinstance(err.value, ValueError) and isinstance(err.value, WorkbenchError)
    with pytest.raises(CropError):
        embedder.embed_crop(p, (1, 2, 3))  # type: ignore[arg-type]
    bad = tmp_path / "bad.png"
    bad.write_text("nope")
    with pytest.raises(ImageDecodeError):
        embedder.embed_crop(bad, (0, 0, 5, 5))
    with pytest.raises(ImageDecodeError):
        embedder.embed_image(tmp_path / "missing.png")


def test_jpeg_draft_and_exif_orientation(tmp_path: Path, embedder: BuiltinEmbedder) -> None:
    im = _scene(7, (800, 600))
    png = tmp_path / "a.png"
    im.save(png)
    jpg = tmp_path / "a.jpg"
    im.save(jpg, "JPEG", quality=92)
    assert float(embedder.embed_image(png) @ embedder.embed_image(jpg)) > 0.97
    # Stored rotated with an EXIF orientation tag: decoded upright, crops in upright pixels.
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW on display
    rotated = tmp_path / "r.jpg"
    im.transpose(Image.Transpose.ROTATE_90).save(rotated, "JPEG", quality=92, exif=exif)
    assert load_rgb(rotated, 64 * 64).shape[1] > load_rgb(rotated, 64 * 64).shape[0]
    assert float(embedder.embed_image(jpg) @ embedder.embed_image(rotated)) > 0.97
    crop_a = embedder.embed_crop(png, (400, 300, 400, 300))
    crop_b = embedder.embed_crop(rotated, (400, 300, 400, 300))
    assert float(crop_a @ crop_b) > 0.95


def _object_on(background: tuple[int, int, int]) -> np.ndarray:
    """A red disc with a blue bar on a plain 64x64 background."""
    arr = np.zeros((64, 64, 3), dtype=np.uint8)
    arr[:] = background
    yy, xx = np.mgrid[:64, :64]
    arr[(yy - 32) ** 2 + (xx - 32) ** 2 < 14**2] = (220, 30, 30)
    arr[28:36, 20:44] = (30, 30, 220)
    return arr


def _whole(rgb: np.ndarray, cfg: DescriptorConfig) -> np.ndarray:
    feat = integral_features(rgb, cfg)
    return describe_boxes(feat, np.array([[0.0, 0.0, rgb.shape[1], rgb.shape[0]]]), cfg)[0]


def test_fine_colour_block_counts_the_object_not_its_background() -> None:
    fine = DescriptorConfig(colour_grids=(), rgb_bins=8, w_gradient=0.0, w_tiny=0.0)
    assert fine.dim == 512 + fine.orientations * sum(g * g for g in fine.hog_grids) + 64 + 32
    on_white, on_black = _object_on((255, 255, 255)), _object_on((0, 0, 0))
    a, b = _whole(on_white, fine), _whole(on_black, fine)
    np.testing.assert_allclose([np.linalg.norm(a), np.linalg.norm(b)], 1.0, atol=1e-5)
    # Only the fine colour block has weight: the same object on another plain background
    # describes the same, while counting every pixel makes them differ.
    assert float(a @ b) > 0.99
    whole = dataclasses.replace(fine, rgb_foreground=False)
    assert float(_whole(on_white, whole) @ _whole(on_black, whole)) < 0.8
    # The block is the Hellinger-mapped histogram of the foreground's RGB bins.
    mask = foreground_mask(on_white)
    assert mask is not None
    codes = (on_white.astype(np.int64) * 8 // 256) @ np.array([64, 8, 1])
    hist = np.bincount(codes.ravel(), weights=mask.ravel(), minlength=512)
    expected = np.sqrt(hist / hist.sum())
    np.testing.assert_allclose(a[:512], expected / np.linalg.norm(expected), atol=1e-5)


def test_region_layout_reads_the_fine_colour_table() -> None:
    fine = DescriptorConfig(colour_grids=(), rgb_bins=8)
    region = region_config_for(fine)
    assert region.rgb_bins == 0 and same_features(fine, region)
    rgb = np.asarray(_scene(4, (64, 48)))
    boxes = region_pixel_boxes(64, 48)
    from_fine = describe_boxes(integral_features(rgb, fine), boxes, region)
    from_region = describe_boxes(integral_features(rgb, region), boxes, region)
    np.testing.assert_allclose(from_fine, from_region, atol=1e-6)
    # A table without the fine colour channels cannot serve the layout that needs them.
    with pytest.raises(ValueError, match="channels"):
        describe_boxes(integral_features(rgb, region), boxes[:1], fine)
    # A box smaller than a pixel still reads one pixel.
    tiny_box = describe_boxes(integral_features(rgb, fine), np.array([[3.2, 3.2, 3.4, 3.4]]), fine)
    assert np.isfinite(tiny_box).all()


def test_a_space_built_by_the_previous_descriptor_is_refused_then_rebuilt(
    tmp_path: Path,
) -> None:
    items = []
    for i in range(4):
        p = tmp_path / f"{i}.png"
        _scene(i).save(p)
        items.append((str(i), p))
    cache = tmp_path / "cache"
    update_builtin(cache, items)
    meta_path = next(cache.rglob("meta.json"))
    meta = json.loads(meta_path.read_text())
    # What the previous code wrote: no fine colour fields, and versions hashed without them.
    old_fields = ("rgb_bins", "rgb_foreground", "w_rgb")
    old = {k: v for k, v in DescriptorConfig().to_json().items() if k not in old_fields}
    old["colour_grids"] = [1, 2]
    old_region = {k: v for k, v in meta["region_descriptor"].items() if k not in old_fields}

    def old_version(fields: dict[str, object]) -> str:
        blob = json.dumps({"algo": 1, **fields}, sort_keys=True).encode()
        return hashlib.sha1(blob).hexdigest()[:10]

    boxes = hashlib.sha1(repr(REGION_BOXES).encode()).hexdigest()[:6]
    meta["descriptor"], meta["region_descriptor"] = old, old_region
    meta["version"] = f"builtin-3-{old_version(old)}{old_version(old_region)}-{boxes}"
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(WorkbenchError, match="another descriptor version") as err:
        open_space(cache)
    assert "\n" not in str(err.value)
    report = update_builtin(cache, items)
    assert report.extracted == 4 and report.reused == 0
    assert open_space(cache).version == BuiltinEmbedder().version
