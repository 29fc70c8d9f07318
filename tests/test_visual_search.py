"""Embedding spaces on disk, faiss indexes, and queries by pin, image file and crop."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from workbench.engine.errors import Cancelled, NotFoundError
from workbench.engine.progress import Reporter
from workbench.engine.visual import (
    CropError,
    ImageDecodeError,
    VisualInputError,
    build_index,
    list_spaces,
    measure_recall,
    open_space,
    remove_space,
    search_crop,
    search_image,
    search_pin,
    update_builtin,
)
from workbench.engine.visual import search as visual_search
from workbench.engine.visual.index import exact_search, load_index, save_index
from workbench.engine.visual.search import crop_match

SCENE_W, SCENE_H = 128, 96
OBJ = 56  # pasted objects cover ~25% of a scene


def _object(seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    im = Image.new("RGB", (OBJ, OBJ), tuple(int(v) for v in rng.integers(0, 256, 3)))
    draw = ImageDraw.Draw(im)
    for _ in range(5):
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        x0, y0 = (int(v) for v in rng.integers(0, OBJ - 12, 2))
        x1, y1 = x0 + int(rng.integers(8, 28)), y0 + int(rng.integers(8, 28))
        if rng.random() < 0.5:
            draw.ellipse([x0, y0, x1, y1], fill=colour)
        else:
            draw.rectangle([x0, y0, x1, y1], fill=colour)
    return im


def _make_scenes(root: Path, n: int, seed: int = 0) -> tuple[list[tuple[str, Path]], dict]:
    """Scenes with a gradient background and one pasted object each (its box returned)."""
    rng = np.random.default_rng(seed)
    items: list[tuple[str, Path]] = []
    boxes: dict[str, tuple[int, int, int, int]] = {}
    t = np.linspace(0.0, 1.0, SCENE_W)[None, :, None]
    for j in range(n):
        c0, c1 = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
        bg = np.broadcast_to(c0 * (1 - t) + c1 * t, (SCENE_H, SCENE_W, 3)).astype(np.uint8)
        im = Image.fromarray(bg)
        x = int(rng.integers(0, SCENE_W - OBJ))
        y = int(rng.integers(0, SCENE_H - OBJ))
        im.paste(_object(1000 + j), (x, y))
        path = root / f"scene{j}.png"
        im.save(path)
        items.append((f"s{j}", path))
        boxes[f"s{j}"] = (x, y, OBJ, OBJ)
    return items, boxes


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list, dict]:
    root = tmp_path_factory.mktemp("scenes")
    items, boxes = _make_scenes(root, 30)
    cache = root / "cache"
    report = update_builtin(cache, items, workers=2)
    assert report.count == 30 and report.extracted == 30 and not report.failed
    return cache, items, boxes


def test_space_files_and_listing(scenes: tuple[Path, list, dict]) -> None:
    cache, items, _ = scenes
    meta = json.loads((cache / "visual" / "builtin" / "meta.json").read_text())
    gen = cache / "visual" / "builtin" / meta["generation"]
    for name in ["ids.npy", "vectors.npy", "raw.npy", "index.faiss", "regions.npy"]:
        assert (gen / name).is_file(), name
    assert meta["count"] == 30 and set(meta["images"]) == {sid for sid, _ in items}
    [info] = list_spaces(cache)
    assert info["name"] == "builtin" and info["count"] == 30 and info["regions"]
    space = open_space(cache)
    assert space.ids.dtype.kind == "U" and list(space.ids) == [sid for sid, _ in items]
    np.testing.assert_allclose(np.linalg.norm(space.vectors, axis=1), 1.0, atol=1e-5)
    with pytest.raises(NotFoundError):
        open_space(cache, "nothing")


def test_crop_of_pasted_object_finds_its_scene(scenes: tuple[Path, list, dict]) -> None:
    cache, items, boxes = scenes
    space = open_space(cache)
    top1 = 0
    for sid, _ in items:
        res = search_crop(space, boxes[sid], pin_id=sid, k=5)
        assert sid in res.ids[:3]
        top1 += res.ids[0] == sid
    assert top1 >= 27
    # The same crop saved as its own file (another pin would upload) finds the scene too.
    sid, path = items[4]
    x, y, w, h = boxes[sid]
    crop_file = path.with_name("crop.png")
    Image.open(path).crop((x, y, x + w, y + h)).save(crop_file)
    assert search_crop(space, None, path=crop_file, k=3).ids[0] == sid
    assert search_crop(space, (0, 0, w, h), path=crop_file, k=3).ids[0] == sid
    # exclude_self drops the source pin.
    assert sid not in search_crop(space, boxes[sid], pin_id=sid, k=5, exclude_self=True).ids


def test_crop_errors_are_clear(scenes: tuple[Path, list, dict]) -> None:
    cache, items, _ = scenes
    space = open_space(cache)
    with pytest.raises(CropError, match="zero size"):
        search_crop(space, (10, 10, 0, 5), pin_id="s0")
    with pytest.raises(CropError, match="outside the image"):
        search_crop(space, (100, 50, 40, 40), pin_id="s0")
    with pytest.raises(VisualInputError):
        search_crop(space, (0, 0, 5, 5))
    bad = items[0][1].with_name("bad.png")
    bad.write_bytes(b"\x89PNG\r\n\x1a\nnope")
    with pytest.raises(ImageDecodeError):
        search_crop(space, (0, 0, 5, 5), path=bad)
    with pytest.raises(ImageDecodeError):
        search_image(space, bad)
    with pytest.raises(NotFoundError):
        search_pin(space, "nope")


def test_pin_and_image_search_filters_and_duplicates(
    scenes: tuple[Path, list, dict], tmp_path: Path
) -> None:
    _, items, _ = scenes
    # A near-duplicate of s3 (resized and re-encoded) added as its own pin.
    dup_path = tmp_path / "dup.jpg"
    Image.open(items[3][1]).resize((192, 144), Image.Resampling.BICUBIC).save(
        dup_path, "JPEG", quality=95
    )
    own_cache = tmp_path / "cache"
    report = update_builtin(own_cache, [*items, ("dup3", dup_path)], workers=1)
    assert report.count == 31
    space = open_space(own_cache)
    res = search_pin(space, "s3", k=5)
    assert "s3" not in res.ids and res.ids[0] == "dup3" and res.excluded_self == 1
    assert res.scores == sorted(res.scores, reverse=True)
    res = search_pin(space, "s3", k=5, near_duplicate=0.98)
    assert "dup3" not in res.ids and res.excluded_duplicates == 1 and len(res) == 5
    assert search_pin(space, "s3", k=3, exclude_self=False).ids[0] == "s3"
    # Query by the image file itself: itself first, unless near-duplicates are dropped.
    assert search_image(space, items[3][1], k=3).ids[:2] in (["s3", "dup3"], ["dup3", "s3"])
    res = search_image(space, items[3][1], k=3, near_duplicate=0.98)
    assert not {"s3", "dup3"} & set(res.ids)
    # Filters: a set of ids or a mask aligned with space.ids.
    allowed = {"s1", "s2", "s10"}
    res = search_pin(space, "s3", k=10, allowed=allowed)
    assert set(res.ids) == allowed
    mask = np.isin(space.ids, ["s5", "s6"])
    assert set(search_pin(space, "s3", k=10, allowed=mask).ids) == {"s5", "s6"}
    res = search_crop(space, (0, 0, 60, 60), pin_id="s3", k=10, allowed={"s7", "s8"})
    assert set(res.ids) == {"s7", "s8"}
    assert search_pin(space, "s3", k=10, allowed=set()).ids == []


def test_incremental_update_touches_only_changed_images(tmp_path: Path) -> None:
    items, _ = _make_scenes(tmp_path, 8, seed=3)
    cache = tmp_path / "cache"
    first = update_builtin(cache, items, workers=1)
    assert (first.extracted, first.reused) == (8, 0)
    before = open_space(cache)
    assert before.raw is not None
    old = {sid: np.array(before.raw[i]) for i, sid in enumerate(before.ids)}
    # Change one image, delete one pin, add one pin, break one file.
    Image.open(items[2][1]).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(items[2][1])
    st = items[2][1].stat()
    os.utime(items[2][1], ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    new_path = tmp_path / "new.png"
    Image.new("RGB", (50, 40), (10, 200, 30)).save(new_path)
    items[5][1].write_text("broken")
    changed = [it for it in items if it[0] != "s7"] + [("new", new_path)]
    seen: list[tuple[float, float | None]] = []
    second = update_builtin(
        cache, changed, workers=1, reporter=Reporter(lambda d, t, _s: seen.append((d, t)))
    )
    assert second.extracted == 2 and second.reused == 5 and second.removed == 1
    assert [sid for sid, _ in second.failed] == ["s5"]
    assert seen[-1] == (3, 3)
    after = open_space(cache)
    assert after.raw is not None
    assert set(after.ids) == {"s0", "s1", "s2", "s3", "s4", "s6", "new"}
    for i, sid in enumerate(after.ids):
        if sid in ("s0", "s1", "s3", "s4", "s6"):
            np.testing.assert_array_equal(after.raw[i], old[sid])
    assert not np.array_equal(after.raw[after.position("s2")], old["s2"])
    # Object proposals follow their pins: reused ones are copied unchanged.
    assert after.objects is not None and after.object_offsets is not None
    assert before.objects is not None and before.object_offsets is not None
    assert after.object_offsets[-1] == after.objects.shape[0] == after.meta["objects"]["count"]

    def proposals(space: object, sid: str) -> np.ndarray:
        row = space.position(sid)  # type: ignore[attr-defined]
        a, b = space.object_offsets[row], space.object_offsets[row + 1]  # type: ignore[attr-defined]
        return np.asarray(space.objects[a:b])  # type: ignore[attr-defined]

    for sid in ("s0", "s1", "s3", "s4", "s6"):
        np.testing.assert_array_equal(proposals(after, sid), proposals(before, sid))
    # Nothing changed: nothing is decoded, the failed image is not retried.
    third = update_builtin(cache, changed, workers=1)
    assert third.extracted == 0 and third.reused == 7 and len(third.failed) == 1
    # Only one generation directory is kept.
    gens = [p for p in (cache / "visual" / "builtin").iterdir() if p.is_dir()]
    assert len(gens) == 1


def test_cancel_leaves_previous_space(tmp_path: Path) -> None:
    items, _ = _make_scenes(tmp_path, 6, seed=4)
    cache = tmp_path / "cache"
    update_builtin(cache, items[:3], workers=1)
    stop = threading.Event()
    with pytest.raises(Cancelled):
        update_builtin(
            cache,
            items,
            workers=1,
            reporter=Reporter(lambda d, _t, _s: stop.set() if d else None, stop.is_set),
        )
    assert open_space(cache).count == 3
    remove_space(cache, "builtin")
    assert list_spaces(cache) == []


def test_exact_and_hnsw_recall_on_random_vectors(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4000, 24)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    flat, finfo = build_index(x, exact_threshold=10_000)
    assert finfo.kind == "flat" and finfo.recall_at_10 is None
    assert measure_recall(flat, x, queries=100)[0] == pytest.approx(1.0)
    hnsw, hinfo = build_index(x, exact_threshold=1000, m=16, ef_search=16, recall_queries=150)
    assert hinfo.kind == "hnsw" and hinfo.recall_queries == 150
    assert hinfo.recall_at_10 is not None and hinfo.recall_at_10 >= 0.95
    # Held-out queries (not indexed) are harder than the in-sample ones measured above.
    q = rng.standard_normal((100, 24)).astype(np.float32)
    _, truth = exact_search(x, q, 10)
    _, got = hnsw.search(q, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(truth, got, strict=True)])
    assert recall >= 0.85
    path = tmp_path / "h.faiss"
    save_index(hnsw, path)
    again = load_index(path)
    assert again.ntotal == 4000
    np.testing.assert_array_equal(again.search(q[:5], 5)[1], hnsw.search(q[:5], 5)[1])


def test_hnsw_space_filters(tmp_path: Path) -> None:
    items, _ = _make_scenes(tmp_path, 40, seed=5)
    cache = tmp_path / "cache"
    report = update_builtin(cache, items, workers=2, exact_threshold=20, region_exact_threshold=200)
    assert report.index is not None and report.index.kind == "hnsw"
    assert report.regions is not None and report.regions.kind == "hnsw"
    space = open_space(cache)
    res = search_pin(space, "s0", k=39)
    assert len(res) == 39 and "s0" not in res.ids
    assert set(search_pin(space, "s0", k=5, allowed={"s1", "s9"}).ids) == {"s1", "s9"}
    assert search_crop(space, (10, 10, 60, 50), pin_id="s0", k=3).ids[0] == "s0"


def _cut_out(seed: int) -> Image.Image:
    """A transparent object: a few coloured shapes, nothing around them."""
    rng = np.random.default_rng(seed)
    im = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    draw = ImageDraw.Draw(im)
    draw.ellipse([6, 6, 58, 58], fill=(*(int(v) for v in rng.integers(0, 256, 3)), 255))
    for _ in range(3):
        colour = (*(int(v) for v in rng.integers(0, 256, 3)), 255)
        x0, y0 = (int(v) for v in rng.integers(14, 40, 2))
        draw.rectangle([x0, y0, x0 + int(rng.integers(6, 16)), y0 + int(rng.integers(6, 16))],
                       fill=colour)  # fmt: skip
    return im


def test_a_transparent_object_finds_the_scenes_containing_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The object file (shown on white) against scenes where it sits on gradient + noise."""
    rng = np.random.default_rng(7)
    t = np.linspace(0.0, 1.0, SCENE_W)[None, :, None]
    items, holder = [], {}
    for j in range(16):
        c0, c1 = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
        bg = c0 * (1 - t) + c1 * t + rng.normal(0, 8, (SCENE_H, SCENE_W, 3))
        im = Image.fromarray(np.clip(bg, 0, 255).astype(np.uint8))
        obj = _cut_out(j).resize((44, 44), Image.Resampling.BILINEAR)
        im.paste(obj, (int(rng.integers(0, SCENE_W - 44)), int(rng.integers(0, SCENE_H - 44))), obj)
        im.save(tmp_path / f"scene{j}.png")
        items.append((f"s{j}", tmp_path / f"scene{j}.png"))
        _cut_out(j).save(tmp_path / f"object{j}.png")
        holder[f"s{j}"] = tmp_path / f"object{j}.png"
    cache = tmp_path / "cache"
    update_builtin(cache, items, workers=2)
    space = open_space(cache)
    assert space.has_objects and space.meta["objects"]["count"] > 16
    hits = [search_crop(space, None, path=p, k=1).ids == [sid] for sid, p in holder.items()]
    regions_only = [
        search_crop(space, None, path=p, k=1, objects=None).ids == [sid]
        for sid, p in holder.items()
    ]
    assert sum(hits) >= 14 and sum(hits) >= sum(regions_only)
    # Its score recomputed for one pin, with the parts and where the object was found.
    res = search_crop(space, None, path=holder["s5"], k=3)
    match = crop_match(space, None, res.ids[0], path=holder["s5"])
    assert match.score == pytest.approx(res.scores[0], abs=1e-4)
    assert match.object_cosine is not None and match.object_cosine > 0.9
    assert match.object_box is not None
    assert match.score == pytest.approx(match.region_cosine + 4.0 * match.object_cosine, abs=1e-4)
    plain = crop_match(space, None, res.ids[0], path=holder["s5"], objects=None)
    assert plain.object_cosine is None and plain.score == pytest.approx(plain.region_cosine)
    # A large collection re-ranks the pins of the best regions only (here 9 pins' worth).
    monkeypatch.setattr(visual_search, "OBJECT_SCAN_MAX", 0)
    monkeypatch.setattr(visual_search, "RERANK_REGIONS", 0)
    reranked = [search_crop(space, None, path=p, k=1).ids == [sid] for sid, p in holder.items()]
    assert sum(reranked) >= 14
    monkeypatch.undo()
    # Filters and exclusion hold on the fused ranking too.
    res = search_crop(space, None, path=holder["s3"], k=5, allowed={"s1", "s3", "s5"})
    assert set(res.ids) <= {"s1", "s3", "s5"} and res.ids[0] == "s3"
    res = search_crop(space, (0, 0, SCENE_W, SCENE_H), pin_id="s3", k=5, exclude_self=True)
    assert "s3" not in res.ids and len(res) == 5
    res = search_crop(space, (0, 0, SCENE_W, SCENE_H), pin_id="s3", k=5, near_duplicate=0.98)
    assert "s3" not in res.ids and res.excluded_duplicates >= 1 and len(res) == 5


def test_a_space_stored_before_object_signatures_is_refused_then_rebuilt(tmp_path: Path) -> None:
    items, _ = _make_scenes(tmp_path, 5, seed=6)
    cache = tmp_path / "cache"
    update_builtin(cache, items, workers=1)
    meta_path = cache / "visual" / "builtin" / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["version"] = meta["version"].rsplit("-o", 1)[0]  # as written before objects existed
    meta.pop("objects")
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(VisualInputError, match="another descriptor version; re-run"):
        open_space(cache)
    again = update_builtin(cache, items, workers=1)
    assert again.extracted == 5 and again.reused == 0
    assert open_space(cache).has_objects
