"""On-disk embedding spaces: incremental extraction, whitening, indexes, atomic updates.

Layout under the caller's ``cache_dir`` (keyed by dataset and fingerprint by the caller)::

    visual/<name>/meta.json          the commit point, replaced atomically; names the generation
    visual/<name>/<generation>/      ids.npy (str), vectors.npy (float32, unit rows),
                                     index.faiss, and for the built-in descriptor raw.npy
                                     (float16 descriptors before whitening), whitening.npz,
                                     regions.npy (float16 [n, regions, p]), regions_pca.npz,
                                     regions.faiss, objects.npy (int8 object signatures of
                                     every image, image by image), object_boxes.npy (uint16
                                     [m, 4], their boxes as fractions of the image) and
                                     object_offsets.npy (int64 [n + 1]: image i's are rows
                                     offsets[i]:offsets[i+1])
    visual/<name>/.lock              held while an update runs

An update writes a new generation directory, then replaces ``meta.json`` (through
:mod:`workbench.engine.atomic`), then deletes older generations, so readers always see a complete
space. ``meta.json`` keeps each image's path, mtime and size: only new or changed images are
extracted again (and images that failed stay failed until their file changes). ``meta.json`` also
records the fingerprint of the dataset version the space was built for, checked on use.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from workbench.engine.atomic import atomic_write
from workbench.engine.progress import SILENT, Reporter
from workbench.engine.visual import objects
from workbench.engine.visual.descriptors import DescriptorConfig
from workbench.engine.visual.embedders import BuiltinEmbedder
from workbench.engine.visual.errors import NotFoundError, VisualInputError
from workbench.engine.visual.index import EXACT_THRESHOLD, IndexInfo, build_index, save_index
from workbench.engine.visual.pca import Whitening, fit_whitening, l2_normalise

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "BUILTIN",
    "FORMAT",
    "BuildReport",
    "list_spaces",
    "read_meta",
    "remove_space",
    "save_npy",
    "space_dir",
    "update_builtin",
    "write_space",
]

FORMAT = 1
BUILTIN = "builtin"
# Whitening is fitted only on datasets at least this large (and to at most n // 4 dimensions).
MIN_WHITEN = 200
WHITEN_DIM = 256
WHITEN_POWER = 0.5
WHITEN_EPS = 1e-2
REGION_DIM = 128
# Region vectors are searched exactly up to this many (~14k images): a crop query then scans
# 250k x 128 floats in a few milliseconds, and no HNSW graph has to be built over them.
REGION_EXACT_THRESHOLD = 250_000
# Images per extraction chunk; the first (random) chunk fits the frozen region projection.
CHUNK = 2048

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass
class BuildReport:
    """What an update or import did."""

    name: str
    kind: str
    count: int
    dim: int
    extracted: int = 0
    reused: int = 0
    removed: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    whitened: bool = False
    index: IndexInfo | None = None
    regions: IndexInfo | None = None
    objects: int = 0
    missing: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        """One line for a person."""
        parts = [f"{self.name}: {self.count} vectors, dim {self.dim}"]
        if self.kind in (BUILTIN, "onnx"):
            parts.append(f"{self.extracted} extracted, {self.reused} reused")
        if self.removed:
            parts.append(f"{self.removed} removed")
        if self.failed:
            parts.append(f"{len(self.failed)} failed")
        if self.objects:
            parts.append(f"{self.objects} object proposals")
        if self.missing:
            parts.append(f"{self.missing} pins without a vector")
        if self.index is not None:
            if self.index.kind == "hnsw" and self.index.recall_at_10 is not None:
                parts.append(f"HNSW recall@10 {self.index.recall_at_10:.3f}")
            else:
                parts.append("exact index")
        return ", ".join(parts)


def _check_name(name: str) -> str:
    if not _NAME.match(name):
        raise VisualInputError(
            f"bad embedding name {name!r}: use letters, digits, '_', '-', '.' (max 64)"
        )
    return name


def space_dir(cache_dir: Path, name: str) -> Path:
    """Directory of the embedding space ``name``."""
    return Path(cache_dir) / "visual" / _check_name(name)


def save_npy(path: Path, arr: np.ndarray) -> None:
    """Write one array as ``.npy`` through the atomic writer (replacing an older file)."""

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.save(f, arr, allow_pickle=False)

    atomic_write(path, write, overwrite=True)


def read_meta(directory: Path) -> dict[str, Any] | None:
    """The space's meta.json, or None if there is none (or it is unreadable)."""
    try:
        data = json.loads((directory / "meta.json").read_text())
    except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return None
    return data


def list_spaces(cache_dir: Path) -> list[dict[str, Any]]:
    """Name, kind, count, dim and version of each embedding space in ``cache_dir``."""
    root = Path(cache_dir) / "visual"
    out: list[dict[str, Any]] = []
    if not root.is_dir():
        return out
    for d in sorted(root.iterdir()):
        meta = read_meta(d) if d.is_dir() else None
        if meta is None:
            continue
        out.append(
            {
                "name": meta["name"],
                "kind": meta["kind"],
                "count": meta["count"],
                "dim": meta["dim"],
                "version": meta.get("version", ""),
                "regions": meta.get("regions") is not None,
                "index": (meta.get("index") or {}).get("kind"),
                "updated": meta.get("updated"),
                "fingerprint": meta.get("fingerprint"),
            }
        )
    return out


def remove_space(cache_dir: Path, name: str) -> None:
    """Delete the embedding space ``name``; NotFoundError if there is none."""
    d = space_dir(cache_dir, name)
    if not d.is_dir():
        raise NotFoundError(f"no embedding space {name!r}")
    with _locked(d):
        (d / "meta.json").unlink(missing_ok=True)
    shutil.rmtree(d, ignore_errors=True)


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    directory.mkdir(parents=True, exist_ok=True)
    fh = open(directory / ".lock", "a+")  # noqa: SIM115 - held for the whole block
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise VisualInputError(
                    f"embedding space {directory.name!r} is being updated by another process"
                ) from exc
        yield
    finally:
        fh.close()


@contextlib.contextmanager
def _generation(directory: Path) -> Iterator[Path]:
    """A fresh generation directory, removed again unless the block commits it."""
    gen = directory / f"g{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:8]}"
    gen.mkdir(parents=True)
    try:
        yield gen
    except BaseException:
        shutil.rmtree(gen, ignore_errors=True)
        raise


def _commit(directory: Path, gen: Path, meta: dict[str, Any]) -> None:
    meta = {**meta, "format": FORMAT, "generation": gen.name}
    meta["updated"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    text = json.dumps(meta, indent=1)
    atomic_write(directory / "meta.json", lambda tmp: tmp.write_text(text), overwrite=True)
    for old in directory.iterdir():
        if old.is_dir() and old.name != gen.name and old.name.startswith("g"):
            shutil.rmtree(old, ignore_errors=True)


def _signature(path: Path) -> tuple[int, int] | None:
    """(mtime, size) of a regular image file; None if missing or not a regular file (a FIFO
    or a device would block or never end)."""
    try:
        st = path.stat()
    except OSError:
        return None
    if not os.path.isfile(path):
        return None
    return st.st_mtime_ns, st.st_size


def _as_items(items: Sequence[tuple[object, str | os.PathLike[str]]]) -> list[tuple[str, Path]]:
    out: list[tuple[str, Path]] = []
    seen: set[str] = set()
    for pin_id, path in items:
        sid = str(pin_id)
        if sid in seen:
            raise VisualInputError(f"pin id {sid!r} appears twice in the image list")
        seen.add(sid)
        out.append((sid, Path(path)))
    return out


# -- an incremental update of the built-in space, step by step ---------------------------------


@dataclass
class _Previous:
    """What an earlier build of the same descriptor left that can be reused."""

    positions: dict[str, int]
    raw: np.ndarray
    regions: np.ndarray | None
    region_pca: Whitening | None
    objects: np.ndarray | None
    object_boxes: np.ndarray | None
    object_offsets: np.ndarray | None
    images: dict[str, list[Any]]
    failed: dict[str, list[Any]]


def _load_previous(directory: Path, embedder: BuiltinEmbedder, regions: bool) -> _Previous | None:
    """The reusable part of the space in ``directory``, if it was built the same way."""
    meta = read_meta(directory)
    if (
        meta is None
        or meta.get("kind") != BUILTIN
        or meta.get("version") != embedder.version
        or (regions and not meta.get("regions"))
        or (regions and (meta.get("objects") or {}).get("version") != objects.VERSION)
    ):
        return None
    gen = directory / str(meta.get("generation", ""))
    try:
        ids = np.load(gen / "ids.npy", allow_pickle=False)
        raw = np.load(gen / "raw.npy", mmap_mode="r", allow_pickle=False)
        reg = np.load(gen / "regions.npy", mmap_mode="r", allow_pickle=False) if regions else None
        region_pca = Whitening.load(gen / "regions_pca.npz") if regions else None
        obj = np.load(gen / "objects.npy", mmap_mode="r", allow_pickle=False) if regions else None
        obj_boxes = np.load(gen / "object_boxes.npy", allow_pickle=False) if regions else None
        offsets = np.load(gen / "object_offsets.npy", allow_pickle=False) if regions else None
    except (OSError, ValueError):
        return None
    if raw.shape[0] != ids.shape[0] or (reg is not None and reg.shape[0] != ids.shape[0]):
        return None
    if offsets is not None and offsets.shape[0] != ids.shape[0] + 1:
        return None
    return _Previous(
        positions={str(s): i for i, s in enumerate(ids)},
        raw=raw,
        regions=reg,
        region_pca=region_pca,
        objects=obj,
        object_boxes=obj_boxes,
        object_offsets=offsets,
        images=meta.get("images", {}),
        failed=meta.get("failed", {}),
    )


@dataclass
class _Plan:
    """Which images are reused, which failed before and still fail, which to extract."""

    reuse: dict[str, int]
    todo: list[int]
    failed: dict[str, tuple[str, int, int, str]]
    signatures: dict[str, tuple[int, int]]
    removed: int


def _plan(entries: list[tuple[str, Path]], prev: _Previous | None) -> _Plan:
    plan = _Plan({}, [], {}, {}, 0)
    for i, (sid, path) in enumerate(entries):
        sig = _signature(path)
        if sig is None:
            why = "not a regular file" if os.path.lexists(path) else "no such file"
            plan.failed[sid] = (str(path), 0, 0, why)
            continue
        plan.signatures[sid] = sig
        key = [str(path), sig[0], sig[1]]
        if prev is not None and sid in prev.positions and prev.images.get(sid) == key:
            plan.reuse[sid] = prev.positions[sid]
        elif prev is not None and sid in prev.failed and prev.failed[sid][:3] == key:
            plan.failed[sid] = (str(path), sig[0], sig[1], str(prev.failed[sid][3]))
        else:
            plan.todo.append(i)
    if prev is not None:
        wanted = {sid for sid, _ in entries}
        plan.removed = sum(1 for s in prev.positions if s not in wanted)
    return plan


@dataclass
class _Extracted:
    """Descriptors of the images extracted in this update, by pin id."""

    raw: dict[str, np.ndarray] = field(default_factory=dict)
    regions: dict[str, np.ndarray] = field(default_factory=dict)
    objects: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    region_pca: Whitening | None = None


def _project_regions(reg: np.ndarray, pca: Whitening) -> np.ndarray:
    flat = reg.reshape(-1, reg.shape[2])
    return pca.apply(flat).astype(np.float16).reshape(reg.shape[0], -1, pca.out_dim)


def _extract(
    embedder: BuiltinEmbedder,
    entries: list[tuple[str, Path]],
    plan: _Plan,
    region_pca: Whitening | None,
    regions: bool,
    reporter: Reporter,
    seed: int,
) -> _Extracted:
    """Describe the images in ``plan.todo`` chunk by chunk, in a seeded random order (the first
    chunk fits the region projection when there is none yet); failures go into ``plan``."""
    out = _Extracted(region_pca=region_pca)
    order = np.random.default_rng(seed).permutation(len(plan.todo)) if plan.todo else []
    todo = [plan.todo[j] for j in order]
    total = len(todo)
    reporter.progress(0, total, "extracting")
    for start in range(0, total, CHUNK):
        chunk = todo[start : start + CHUNK]
        part = reporter.scaled(start, len(chunk), total, "extracting")
        paths = [entries[i][1] for i in chunk]
        projected = None
        found: list[tuple[np.ndarray, np.ndarray]] = []
        if regions:
            whole, reg, found, bad = embedder.embed_for_crops(paths, part)
            if out.region_pca is None and reg.shape[0] > 0:
                flat = reg.reshape(-1, reg.shape[2])
                dim = min(REGION_DIM, flat.shape[1])
                out.region_pca = fit_whitening(flat, dim=dim, power=0.0, eps=0.0, seed=seed)
            if out.region_pca is not None and reg.shape[0]:
                projected = _project_regions(reg, out.region_pca)
        else:
            whole, bad = embedder.embed_images(paths, part)
        bad_pos = {p for p, _ in bad}
        for p, reason in bad:
            sid, path = entries[chunk[p]]
            sig = plan.signatures[sid]
            plan.failed[sid] = (str(path), sig[0], sig[1], reason)
        good = [j for j in range(len(chunk)) if j not in bad_pos]
        for row, j in enumerate(good):
            sid = entries[chunk[j]][0]
            out.raw[sid] = whole[row].astype(np.float16)
            if projected is not None:
                out.regions[sid] = projected[row]
            if found:
                out.objects[sid] = found[row]
    reporter.progress(total, total, "extracting")
    return out


@dataclass
class _Assembled:
    """Every image's descriptors in input order: reused rows and new rows together."""

    keep: list[tuple[str, Path]]
    ids: np.ndarray
    raw: np.ndarray
    regions: np.ndarray | None
    objects: np.ndarray | None
    object_boxes: np.ndarray | None
    object_offsets: np.ndarray | None


def _assemble(
    entries: list[tuple[str, Path]],
    plan: _Plan,
    new: _Extracted,
    prev: _Previous | None,
    embedder: BuiltinEmbedder,
) -> _Assembled:
    keep = [(sid, path) for sid, path in entries if sid in plan.reuse or sid in new.raw]
    n = len(keep)
    raw = np.zeros((n, embedder.dim), dtype=np.float16)
    reg: np.ndarray | None = None
    if new.region_pca is not None:
        reg = np.zeros((n, embedder.n_regions, new.region_pca.out_dim), dtype=np.float16)
    for row, (sid, _) in enumerate(keep):
        if sid in new.raw:
            raw[row] = new.raw[sid]
            if reg is not None:
                reg[row] = new.regions[sid]
        else:
            assert prev is not None
            raw[row] = prev.raw[plan.reuse[sid]]
            if reg is not None and prev.regions is not None:
                reg[row] = prev.regions[plan.reuse[sid]]
    ids = np.array([sid for sid, _ in keep], dtype=str)
    if reg is None:
        return _Assembled(keep, ids, raw, None, None, None, None)
    parts: list[tuple[np.ndarray, np.ndarray]] = []
    for sid, _ in keep:
        if sid in new.objects:
            parts.append(new.objects[sid])
        else:
            assert prev is not None and prev.objects is not None
            assert prev.object_boxes is not None and prev.object_offsets is not None
            a, b = prev.object_offsets[plan.reuse[sid] : plan.reuse[sid] + 2]
            parts.append((np.asarray(prev.objects[a:b]), prev.object_boxes[a:b]))
    offsets = np.zeros(n + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([p[0].shape[0] for p in parts])
    found = np.zeros((0, objects.DIM), np.int8)
    boxes = np.zeros((0, 4), np.uint16)
    if parts:
        found = np.concatenate([p[0] for p in parts]).astype(np.int8)
        boxes = np.concatenate([p[1] for p in parts]).astype(np.uint16)
    return _Assembled(keep, ids, raw, reg, found, boxes, offsets)


def _whiten(raw: np.ndarray, whiten: bool, seed: int) -> tuple[np.ndarray, Whitening | None]:
    """Search vectors of raw descriptors: PCA-whitened when there are enough of them."""
    raw32 = raw.astype(np.float32)
    n = raw32.shape[0]
    if not whiten or n < MIN_WHITEN:
        return l2_normalise(raw32), None
    dim = min(WHITEN_DIM, n // 4, raw32.shape[1])
    w = fit_whitening(raw32, dim=dim, power=WHITEN_POWER, eps=WHITEN_EPS, seed=seed)
    return w.apply(raw32), w


def _write_regions(
    gen: Path, reg: np.ndarray, pca: Whitening, per_image: int, exact_threshold: int, seed: int
) -> tuple[IndexInfo, dict[str, Any]]:
    save_npy(gen / "regions.npy", reg)
    pca.save(gen / "regions_pca.npz")
    flat = reg.reshape(-1, reg.shape[2]).astype(np.float32)
    index, info = build_index(flat, exact_threshold=exact_threshold, seed=seed)
    save_index(index, gen / "regions.faiss")
    return info, {"per_image": per_image, "dim": pca.out_dim, "index": info.to_json()}


def update_builtin(
    cache_dir: Path,
    items: Sequence[tuple[object, str | os.PathLike[str]]],
    name: str = BUILTIN,
    config: DescriptorConfig | None = None,
    regions: bool = True,
    whiten: bool = True,
    exact_threshold: int = EXACT_THRESHOLD,
    region_exact_threshold: int = REGION_EXACT_THRESHOLD,
    workers: int | None = None,
    reporter: Reporter = SILENT,
    seed: int = 0,
    fingerprint: str | None = None,
) -> BuildReport:
    """Extract (incrementally), whiten and index the built-in descriptor of ``items``.

    ``items`` are ``(pin_id, image_path)`` pairs; ids are stored as strings. Images whose path,
    mtime and size are unchanged since the last update are not decoded again. Unreadable images
    are skipped and listed in ``report.failed`` as ``(pin_id, reason)``. With ``regions`` the
    region descriptors per image needed by crop search are stored too. Whole-image vectors get
    an exact index below ``exact_threshold`` vectors and HNSW above; region vectors likewise
    with ``region_exact_threshold``. ``reporter`` counts images to extract; a cancel raises
    :class:`Cancelled` and leaves the previous space untouched. ``fingerprint`` (the dataset
    version) is recorded in meta.json.
    """
    t0 = time.perf_counter()
    directory = space_dir(cache_dir, name)
    entries = _as_items(items)
    embedder = BuiltinEmbedder(config, workers=workers)
    with _locked(directory):
        prev = _load_previous(directory, embedder, regions)
        plan = _plan(entries, prev)
        pca = prev.region_pca if prev is not None and regions else None
        new = _extract(embedder, entries, plan, pca, regions, reporter, seed)
        built = _assemble(entries, plan, new, prev, embedder)
        report = BuildReport(
            name=name,
            kind=BUILTIN,
            count=len(built.keep),
            dim=embedder.dim,
            extracted=len(new.raw),
            reused=len(plan.reuse),
            removed=plan.removed,
            failed=sorted((sid, f[3]) for sid, f in plan.failed.items()),
        )
        with _generation(directory) as gen:
            vectors, whitening = _whiten(built.raw, whiten, seed)
            if whitening is not None:
                whitening.save(gen / "whitening.npz")
            report.whitened = whitening is not None
            report.dim = int(vectors.shape[1]) if report.count else embedder.dim
            save_npy(gen / "ids.npy", built.ids)
            save_npy(gen / "raw.npy", built.raw)
            save_npy(gen / "vectors.npy", vectors)
            if report.count:
                index, report.index = build_index(
                    vectors, exact_threshold=exact_threshold, seed=seed
                )
                save_index(index, gen / "index.faiss")
            region_meta: dict[str, Any] | None = None
            if built.regions is not None and new.region_pca is not None:
                report.regions, region_meta = _write_regions(
                    gen,
                    built.regions,
                    new.region_pca,
                    embedder.n_regions,
                    region_exact_threshold,
                    seed,
                )
            object_meta: dict[str, Any] | None = None
            if built.objects is not None and built.object_offsets is not None:
                assert built.object_boxes is not None
                save_npy(gen / "objects.npy", built.objects)
                save_npy(gen / "object_boxes.npy", built.object_boxes)
                save_npy(gen / "object_offsets.npy", built.object_offsets)
                object_meta = {
                    "version": objects.VERSION,
                    "count": int(built.objects.shape[0]),
                    "dim": objects.DIM,
                }
                report.objects = object_meta["count"]
            reporter.check("the visual index update")
            meta = {
                "name": name,
                "kind": BUILTIN,
                "version": embedder.version,
                "fingerprint": fingerprint,
                "descriptor": embedder.config.to_json(),
                "region_descriptor": embedder.region_config.to_json(),
                "raw_dim": embedder.dim,
                "dim": report.dim,
                "count": report.count,
                "whitening": (
                    {"dim": whitening.out_dim, "power": whitening.power, "eps": whitening.eps}
                    if whitening is not None
                    else None
                ),
                "index": report.index.to_json() if report.index else None,
                "regions": region_meta,
                "objects": object_meta,
                "images": {sid: [str(p), *plan.signatures[sid]] for sid, p in built.keep},
                "failed": {sid: list(f) for sid, f in plan.failed.items()},
            }
            _commit(directory, gen, meta)
    report.seconds = time.perf_counter() - t0
    return report


def write_space(
    cache_dir: Path,
    name: str,
    ids: Sequence[str],
    vectors: np.ndarray,
    source: str = "",
    exact_threshold: int = EXACT_THRESHOLD,
    missing: int = 0,
    seed: int = 0,
    fingerprint: str | None = None,
    kind: str = "imported",
    extra: dict[str, Any] | None = None,
) -> BuildReport:
    """Store precomputed vectors (rows L2-normalised here) as the space ``name`` and index it.

    ``kind`` is "imported" (vectors from a file) or "onnx" (computed by a model, see
    :mod:`workbench.engine.visual.onnx`); ``extra`` is kept in meta.json."""
    t0 = time.perf_counter()
    if name == BUILTIN:
        raise VisualInputError(f"the name {BUILTIN!r} is reserved for the built-in descriptor")
    directory = space_dir(cache_dir, name)
    vecs = l2_normalise(np.asarray(vectors, dtype=np.float32))
    id_arr = np.array([str(s) for s in ids], dtype=str)
    with _locked(directory), _generation(directory) as gen:
        save_npy(gen / "ids.npy", id_arr)
        save_npy(gen / "vectors.npy", vecs)
        info: IndexInfo | None = None
        if vecs.shape[0]:
            index, info = build_index(vecs, exact_threshold=exact_threshold, seed=seed)
            save_index(index, gen / "index.faiss")
        meta = {
            "name": name,
            "kind": kind,
            "version": f"{kind}-{uuid.uuid4().hex[:10]}",
            "fingerprint": fingerprint,
            "source": source,
            "dim": int(vecs.shape[1]),
            "count": int(vecs.shape[0]),
            "whitening": None,
            "index": info.to_json() if info else None,
            "regions": None,
            "images": {},
            "failed": {},
            **(extra or {}),
        }
        _commit(directory, gen, meta)
    return BuildReport(
        name=name,
        kind=kind,
        count=int(vecs.shape[0]),
        dim=int(vecs.shape[1]),
        index=info,
        missing=missing,
        seconds=time.perf_counter() - t0,
    )
