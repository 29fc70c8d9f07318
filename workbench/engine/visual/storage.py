"""On-disk embedding spaces: incremental extraction, whitening, indexes, atomic updates.

Layout under the caller's ``cache_dir`` (already keyed by dataset and fingerprint)::

    visual/<name>/meta.json          the commit point, replaced atomically; names the generation
    visual/<name>/<generation>/      ids.npy (str), vectors.npy (float32, unit rows),
                                     index.faiss, and for the built-in descriptor raw.npy
                                     (float16 descriptors before whitening), whitening.npz,
                                     regions.npy (float16 [n, regions, p]), regions_pca.npz,
                                     regions.faiss
    visual/<name>/.lock              held while an update runs

An update writes a new generation directory, then replaces ``meta.json`` (temp file +
``os.replace``), then deletes older generations, so readers always see a complete space.
``meta.json`` keeps each image's path, mtime and size: only new or changed images are
extracted again (and images that failed stay failed until their file changes).
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

from workbench.engine.visual.descriptors import DescriptorConfig
from workbench.engine.visual.embedders import BuiltinEmbedder, CancelFn, ProgressFn
from workbench.engine.visual.errors import Cancelled, NotFoundError, VisualInputError
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
    "atomic_write_bytes",
    "list_spaces",
    "read_meta",
    "remove_space",
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
    missing: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        """One line for the CLI."""
        parts = [f"{self.name}: {self.count} vectors, dim {self.dim}"]
        if self.kind == BUILTIN:
            parts.append(f"{self.extracted} extracted, {self.reused} reused")
        if self.removed:
            parts.append(f"{self.removed} removed")
        if self.failed:
            parts.append(f"{len(self.failed)} failed")
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


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temp file in the same directory and ``os.replace``."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _save_npy(path: Path, arr: np.ndarray) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.npy")
    np.save(tmp, arr, allow_pickle=False)
    os.replace(tmp, path)


def read_meta(directory: Path) -> dict[str, Any] | None:
    """The space's meta.json, or None if there is none (or it is unreadable)."""
    try:
        data = json.loads((directory / "meta.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
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


def _new_generation(directory: Path) -> Path:
    gen = directory / f"g{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:8]}"
    gen.mkdir(parents=True)
    return gen


def _commit(directory: Path, gen: Path, meta: dict[str, Any]) -> None:
    meta = {**meta, "format": FORMAT, "generation": gen.name}
    meta["updated"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    atomic_write_bytes(directory / "meta.json", json.dumps(meta, indent=1).encode())
    for old in directory.iterdir():
        if old.is_dir() and old.name != gen.name and old.name.startswith("g"):
            shutil.rmtree(old, ignore_errors=True)


def _signature(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def _load_previous(directory: Path, meta: dict[str, Any]) -> dict[str, Any] | None:
    gen = directory / str(meta.get("generation", ""))
    try:
        ids = np.load(gen / "ids.npy", allow_pickle=False)
        raw = np.load(gen / "raw.npy", mmap_mode="r", allow_pickle=False)
        regions = (
            np.load(gen / "regions.npy", mmap_mode="r", allow_pickle=False)
            if meta.get("regions")
            else None
        )
        region_pca = Whitening.load(gen / "regions_pca.npz") if meta.get("regions") else None
    except (OSError, ValueError):
        return None
    if raw.shape[0] != ids.shape[0] or (regions is not None and regions.shape[0] != ids.shape[0]):
        return None
    return {"ids": ids, "raw": raw, "regions": regions, "region_pca": region_pca}


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
    progress: ProgressFn | None = None,
    cancel: CancelFn | None = None,
    seed: int = 0,
) -> BuildReport:
    """Extract (incrementally), whiten and index the built-in descriptor of ``items``.

    ``items`` are ``(pin_id, image_path)`` pairs; ids are stored as strings. Images whose
    path, mtime and size are unchanged since the last update are not decoded again. Unreadable
    images are skipped and listed in ``report.failed`` as ``(pin_id, reason)``. With
    ``regions`` the 18 region descriptors per image needed by crop search are stored too.
    Whole-image vectors get an exact index below ``exact_threshold`` vectors and HNSW above;
    region vectors likewise with ``region_exact_threshold``.
    ``progress(done, total)`` counts images to extract; ``cancel()`` returning true raises
    :class:`Cancelled` and leaves the previous space untouched.
    """
    t0 = time.perf_counter()
    directory = space_dir(cache_dir, name)
    entries = _as_items(items)
    embedder = BuiltinEmbedder(config, workers=workers)
    with _locked(directory):
        old_meta = read_meta(directory)
        prev = None
        if (
            old_meta is not None
            and old_meta.get("kind") == BUILTIN
            and old_meta.get("version") == embedder.version
            and (bool(old_meta.get("regions")) or not regions)
        ):
            prev = _load_previous(directory, old_meta)
        old_images: dict[str, list[Any]] = (old_meta or {}).get("images", {}) if prev else {}
        old_failed: dict[str, list[Any]] = (old_meta or {}).get("failed", {}) if prev else {}
        old_pos = {str(s): i for i, s in enumerate(prev["ids"])} if prev else {}

        reuse: dict[str, int] = {}
        todo: list[int] = []
        failed: dict[str, tuple[str, int, int, str]] = {}
        sigs: dict[str, tuple[int, int]] = {}
        for i, (sid, path) in enumerate(entries):
            sig = _signature(path)
            if sig is None:
                failed[sid] = (str(path), 0, 0, "no such file")
                continue
            sigs[sid] = sig
            key = [str(path), sig[0], sig[1]]
            if sid in old_pos and old_images.get(sid) == key:
                reuse[sid] = old_pos[sid]
            elif sid in old_failed and old_failed[sid][:3] == key:
                failed[sid] = (str(path), sig[0], sig[1], str(old_failed[sid][3]))
            else:
                todo.append(i)
        wanted = {sid for sid, _ in entries}
        removed = sum(1 for s in old_pos if s not in wanted)

        region_pca = prev["region_pca"] if prev and regions else None
        raw_new: dict[str, np.ndarray] = {}
        reg_new: dict[str, np.ndarray] = {}
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(todo)) if todo else np.zeros(0, dtype=np.int64)
        todo_sorted = [todo[j] for j in order]
        total = len(todo_sorted)
        if total == 0 and progress is not None:
            progress(0, 0)
        done_before = 0
        for start in range(0, total, CHUNK):
            chunk = todo_sorted[start : start + CHUNK]
            paths = [entries[i][1] for i in chunk]

            def chunk_progress(done: int, _n: int, base: int = done_before) -> None:
                if progress is not None:
                    progress(base + done, total)

            reg: np.ndarray | None = None
            if regions:
                whole, reg, bad = embedder.embed_with_regions(paths, chunk_progress, cancel)
                if region_pca is None and reg.shape[0] > 0:
                    flat = reg.reshape(-1, reg.shape[2])
                    dim = min(REGION_DIM, flat.shape[1])
                    region_pca = fit_whitening(flat, dim=dim, power=0.0, eps=0.0, seed=seed)
            else:
                whole, bad = embedder.embed_images(paths, chunk_progress, cancel)
            bad_pos = {p for p, _ in bad}
            for p, reason in bad:
                sid, path = entries[chunk[p]]
                sig = sigs[sid]
                failed[sid] = (str(path), sig[0], sig[1], reason)
            good = [j for j in range(len(chunk)) if j not in bad_pos]
            projected = None
            if reg is not None and region_pca is not None and reg.shape[0]:
                flat = reg.reshape(-1, reg.shape[2])
                projected = (
                    region_pca.apply(flat)
                    .astype(np.float16)
                    .reshape(reg.shape[0], -1, region_pca.out_dim)
                )
            for row, j in enumerate(good):
                sid = entries[chunk[j]][0]
                raw_new[sid] = whole[row].astype(np.float16)
                if projected is not None:
                    reg_new[sid] = projected[row]
            done_before += len(chunk)
        if cancel is not None and cancel():
            raise Cancelled("visual index update cancelled")

        keep = [(sid, path) for sid, path in entries if sid in reuse or sid in raw_new]
        n = len(keep)
        raw_dim = embedder.dim
        raw = np.zeros((n, raw_dim), dtype=np.float16)
        ids = np.array([sid for sid, _ in keep], dtype=str)
        reg_all: np.ndarray | None = None
        if regions and region_pca is not None:
            reg_all = np.zeros((n, embedder.n_regions, region_pca.out_dim), dtype=np.float16)
        for row, (sid, _) in enumerate(keep):
            if sid in raw_new:
                raw[row] = raw_new[sid]
                if reg_all is not None:
                    reg_all[row] = reg_new[sid]
            else:
                raw[row] = prev["raw"][reuse[sid]]  # type: ignore[index]
                if reg_all is not None:
                    reg_all[row] = prev["regions"][reuse[sid]]  # type: ignore[index]

        report = BuildReport(
            name=name,
            kind=BUILTIN,
            count=n,
            dim=raw_dim,
            extracted=len(raw_new),
            reused=len(reuse),
            removed=removed,
            failed=sorted((sid, f[3]) for sid, f in failed.items()),
        )
        gen = _new_generation(directory)
        try:
            raw32 = raw.astype(np.float32)
            whitening: Whitening | None = None
            if whiten and n >= MIN_WHITEN:
                whitening = fit_whitening(
                    raw32,
                    dim=min(WHITEN_DIM, n // 4, raw_dim),
                    power=WHITEN_POWER,
                    eps=WHITEN_EPS,
                    seed=seed,
                )
                vectors = whitening.apply(raw32)
                whitening.save(gen / "whitening.npz")
            else:
                vectors = l2_normalise(raw32)
            del raw32
            report.whitened = whitening is not None
            report.dim = int(vectors.shape[1]) if n else raw_dim
            _save_npy(gen / "ids.npy", ids)
            _save_npy(gen / "raw.npy", raw)
            _save_npy(gen / "vectors.npy", vectors)
            if n:
                index, info = build_index(vectors, exact_threshold=exact_threshold, seed=seed)
                save_index(index, gen / "index.faiss")
                report.index = info
            region_meta: dict[str, Any] | None = None
            if reg_all is not None and region_pca is not None:
                _save_npy(gen / "regions.npy", reg_all)
                region_pca.save(gen / "regions_pca.npz")
                flat = reg_all.reshape(-1, reg_all.shape[2]).astype(np.float32)
                rindex, rinfo = build_index(flat, exact_threshold=region_exact_threshold, seed=seed)
                save_index(rindex, gen / "regions.faiss")
                report.regions = rinfo
                region_meta = {
                    "per_image": embedder.n_regions,
                    "dim": region_pca.out_dim,
                    "index": rinfo.to_json(),
                }
            if cancel is not None and cancel():
                raise Cancelled("visual index update cancelled")
            meta = {
                "name": name,
                "kind": BUILTIN,
                "version": embedder.version,
                "descriptor": embedder.config.to_json(),
                "region_descriptor": embedder.region_config.to_json(),
                "raw_dim": raw_dim,
                "dim": report.dim,
                "count": n,
                "whitening": (
                    {"dim": whitening.out_dim, "power": whitening.power, "eps": whitening.eps}
                    if whitening is not None
                    else None
                ),
                "index": report.index.to_json() if report.index else None,
                "regions": region_meta,
                "images": {sid: [str(p), *sigs[sid]] for sid, p in keep},
                "failed": {sid: list(f) for sid, f in failed.items()},
            }
            _commit(directory, gen, meta)
        except BaseException:
            shutil.rmtree(gen, ignore_errors=True)
            raise
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
) -> BuildReport:
    """Store precomputed vectors (rows L2-normalised here) as the space ``name`` and index it."""
    t0 = time.perf_counter()
    if name == BUILTIN:
        raise VisualInputError(f"the name {BUILTIN!r} is reserved for the built-in descriptor")
    directory = space_dir(cache_dir, name)
    vecs = l2_normalise(np.asarray(vectors, dtype=np.float32))
    id_arr = np.array([str(s) for s in ids], dtype=str)
    with _locked(directory):
        gen = _new_generation(directory)
        try:
            _save_npy(gen / "ids.npy", id_arr)
            _save_npy(gen / "vectors.npy", vecs)
            info: IndexInfo | None = None
            if vecs.shape[0]:
                index, info = build_index(vecs, exact_threshold=exact_threshold, seed=seed)
                save_index(index, gen / "index.faiss")
            meta = {
                "name": name,
                "kind": "imported",
                "version": f"imported-{uuid.uuid4().hex[:10]}",
                "source": source,
                "dim": int(vecs.shape[1]),
                "count": int(vecs.shape[0]),
                "whitening": None,
                "index": info.to_json() if info else None,
                "regions": None,
                "images": {},
                "failed": {},
            }
            _commit(directory, gen, meta)
        except BaseException:
            shutil.rmtree(gen, ignore_errors=True)
            raise
    return BuildReport(
        name=name,
        kind="imported",
        count=int(vecs.shape[0]),
        dim=int(vecs.shape[1]),
        index=info,
        missing=missing,
        seconds=time.perf_counter() - t0,
    )
