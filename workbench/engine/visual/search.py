"""Visual similarity queries: by pin id, by image file, by crop box, with filters and dedup.

Crop search looks the crop's descriptor up among the region descriptors of every indexed image
(whole image plus 33 windows, see ``descriptors.REGION_BOXES``) and scores each pin by its best
region, so a crop finds pins that contain something similar, not only similar whole images.

Region descriptors describe whole windows, background included. When the crop shows an object
(it is partly transparent, or its frame is a smooth background), each pin also gets the cosine
of its best object proposal to the crop's object (:mod:`workbench.engine.visual.objects`: both
sides described by the object's pixels only), and pins are ranked by
``best region cosine + objects x best object cosine``. Up to :data:`OBJECT_SCAN_MAX` pins every
pin is scored so (an exact scan); above, the pins of the best regions are re-ranked.
:func:`crop_match` recomputes one pin's score and its parts (for explanations).
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from workbench.engine.visual import objects as object_signatures
from workbench.engine.visual.descriptors import DescriptorConfig
from workbench.engine.visual.embedders import BuiltinEmbedder
from workbench.engine.visual.errors import NotFoundError, VisualInputError
from workbench.engine.visual.foreground import BACKGROUND_WEIGHT
from workbench.engine.visual.images import Box
from workbench.engine.visual.index import flat_storage, load_index, search_index
from workbench.engine.visual.pca import Whitening, l2_normalise
from workbench.engine.visual.storage import BUILTIN, read_meta, space_dir

__all__ = [
    "NEAR_DUPLICATE",
    "OBJECT_WEIGHT",
    "CropMatch",
    "SearchResult",
    "VisualSpace",
    "crop_match",
    "open_space",
    "search_crop",
    "search_image",
    "search_pin",
    "search_vector",
]

# Default cosine above which a result counts as a near-duplicate of the query.
NEAR_DUPLICATE = 0.98
# Up to this many allowed vectors a filtered HNSW query is answered by an exact scan.
_BRUTE_FORCE_MAX = 20_000
OBJECT_WEIGHT = 4.0
"""Weight of the object score in a crop query's ranking, chosen on scenes made of the tuning
half's emoji only (bench/bench_visual_crops.py --grid: the best object-file figure with neither
ordinary crops nor boxes in scenes below the regions-only method)."""
OBJECT_SCAN_MAX = 5_000
"""Up to this many pins a crop query with an object scores every pin's proposals (about 30
proposals of 160 bytes per image; 5,000 pins scan in ~10-20 ms on a loaded machine); above, only
the pins of its :data:`RERANK_REGIONS` best regions."""
RERANK_REGIONS = 4096

Allowed = Collection[str] | np.ndarray | None


@dataclass
class SearchResult:
    """Ranked pin ids with scores (cosine; for crops the best region's cosine)."""

    ids: list[str]
    scores: list[float]
    excluded_self: int = 0
    excluded_duplicates: int = 0

    def __len__(self) -> int:
        return len(self.ids)

    def __iter__(self) -> Iterator[tuple[str, float]]:
        return iter(zip(self.ids, self.scores, strict=True))

    def as_ranking(self) -> tuple[list[str], list[float]]:
        """``(ids, scores)``, the input format of the fusion helpers."""
        return list(self.ids), list(self.scores)


class VisualSpace:
    """A stored embedding space opened for search (vectors memory-mapped)."""

    def __init__(self, directory: Path, meta: dict[str, Any]) -> None:
        gen = directory / str(meta["generation"])
        self.directory = directory
        self.meta = meta
        self.name: str = meta["name"]
        self.kind: str = meta["kind"]
        self.dim: int = int(meta["dim"])
        self.version: str = str(meta.get("version", ""))
        self.ids: np.ndarray = np.load(gen / "ids.npy", allow_pickle=False)
        self.vectors: np.ndarray = np.load(gen / "vectors.npy", mmap_mode="r")
        self.count = int(self.ids.shape[0])
        self.index: faiss.Index | None = load_index(gen / "index.faiss") if self.count else None
        index_meta = meta.get("index") or {}
        self.ef_search: int | None = index_meta.get("ef_search")
        self.raw: np.ndarray | None = None
        self.whitening: Whitening | None = None
        self.embedder: BuiltinEmbedder | None = None
        self.region_index: faiss.Index | None = None
        self.region_pca: Whitening | None = None
        self.regions_per_image = 0
        self.region_ef_search: int | None = None
        self.objects: np.ndarray | None = None
        self.object_boxes: np.ndarray | None = None
        self.object_offsets: np.ndarray | None = None
        self._region_table: np.ndarray | None = None
        if self.kind == BUILTIN:
            self.raw = np.load(gen / "raw.npy", mmap_mode="r")
            if meta.get("whitening"):
                self.whitening = Whitening.load(gen / "whitening.npz")
            self.embedder = BuiltinEmbedder(
                DescriptorConfig.from_json(meta["descriptor"]),
                DescriptorConfig.from_json(meta["region_descriptor"]),
            )
            if self.embedder.version != self.version:
                raise VisualInputError(
                    f"embedding space {self.name!r} was built by another descriptor version; "
                    "re-run the visual index"
                )
            regions = meta.get("regions")
            if regions and self.count:
                self.region_index = load_index(gen / "regions.faiss")
                self.region_pca = Whitening.load(gen / "regions_pca.npz")
                self.regions_per_image = int(regions["per_image"])
                self.region_ef_search = (regions.get("index") or {}).get("ef_search")
            found = meta.get("objects")
            if found and self.count and found.get("version") == object_signatures.VERSION:
                self.objects = np.load(gen / "objects.npy", mmap_mode="r")
                self.object_boxes = np.load(gen / "object_boxes.npy", mmap_mode="r")
                self.object_offsets = np.load(gen / "object_offsets.npy")
        self._positions: dict[str, int] | None = None
        self._paths: dict[str, str] | None = None

    @property
    def paths(self) -> dict[str, str]:
        """Image path of each pin at extraction time (built-in spaces)."""
        if self._paths is None:
            self._paths = {k: v[0] for k, v in self.meta.get("images", {}).items()}
        return self._paths

    @property
    def failed(self) -> dict[str, str]:
        """Pins whose image could not be read, with the reason."""
        return {k: str(v[3]) for k, v in self.meta.get("failed", {}).items()}

    @property
    def has_regions(self) -> bool:
        return self.region_index is not None

    @property
    def has_objects(self) -> bool:
        return self.objects is not None and self.region_index is not None

    @property
    def positions(self) -> dict[str, int]:
        """Row of each pin id."""
        if self._positions is None:
            self._positions = {str(s): i for i, s in enumerate(self.ids.tolist())}
        return self._positions

    def position(self, pin_id: object) -> int:
        """Row of ``pin_id``; NotFoundError if the space has no vector for it."""
        sid = str(pin_id)
        try:
            return self.positions[sid]
        except KeyError:
            reason = self.failed.get(sid)
            extra = f" (its image failed: {reason})" if reason else ""
            raise NotFoundError(
                f"pin {sid!r} has no vector in embedding space {self.name!r}{extra}"
            ) from None

    def allowed_mask(self, allowed: Allowed) -> np.ndarray | None:
        """Boolean mask over the rows from a mask or a collection of pin ids."""
        if allowed is None:
            return None
        if isinstance(allowed, np.ndarray) and allowed.dtype == bool:
            if allowed.shape != (self.count,):
                raise VisualInputError(
                    f"allowed mask has {allowed.shape[0]} entries, the space has {self.count}"
                )
            return allowed
        mask = np.zeros(self.count, dtype=bool)
        rows = [self.positions.get(str(v), -1) for v in allowed]
        mask[[r for r in rows if r >= 0]] = True
        return mask

    def _builtin(self, what: str) -> BuiltinEmbedder:
        if self.embedder is None:
            raise VisualInputError(
                f"embedding space {self.name!r} holds imported vectors and cannot embed {what}; "
                "query it by pin id or use the built-in space"
            )
        return self.embedder

    def project(self, raw: np.ndarray) -> np.ndarray:
        """Search vector of a raw built-in descriptor (whitened if the space is)."""
        if self.whitening is not None:
            return self.whitening.apply(raw)
        return l2_normalise(raw)

    def describe_image(self, path: str | os.PathLike[str]) -> np.ndarray:
        """Raw built-in descriptor of an image file (ImageDecodeError if unreadable)."""
        return self._builtin("image files").embed_image(path)

    def describe_crop(self, path: str | os.PathLike[str], box: Box | None) -> np.ndarray:
        """Raw built-in descriptor of a crop (CropError / ImageDecodeError on bad input)."""
        return self._builtin("crops").embed_crop(path, box)

    def describe_crop_region(
        self,
        path: str | os.PathLike[str],
        box: Box | None,
        background: float | None = BACKGROUND_WEIGHT,
    ) -> np.ndarray:
        """Region-layout descriptor of a crop (its background weighted ``background``, see
        :mod:`workbench.engine.visual.foreground`), projected like the stored regions."""
        if self.region_pca is None:
            raise VisualInputError(f"embedding space {self.name!r} has no region index")
        raw = self._builtin("crops").embed_crop_region(path, box, background)
        return self.region_pca.apply(raw)

    def describe_crop_query(
        self,
        path: str | os.PathLike[str],
        box: Box | None,
        background: float | None = BACKGROUND_WEIGHT,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """:meth:`describe_crop_region` and the crop's object signature (None: no object)."""
        if self.region_pca is None:
            raise VisualInputError(f"embedding space {self.name!r} has no region index")
        raw, found = self._builtin("crops").embed_crop_query(path, box, background)
        return self.region_pca.apply(raw), found

    def region_scores(self, query: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Cosine of every stored region of each pin in ``rows`` [len(rows), regions] to a
        projected crop descriptor (read from the region index's own float32 table)."""
        if self._region_table is None:
            assert self.region_index is not None
            flat = flat_storage(self.region_index)
            xb = faiss.rev_swig_ptr(flat.get_xb(), flat.ntotal * flat.d)
            self._region_table = np.asarray(xb).reshape(self.count, -1, flat.d)
        q = np.asarray(query, np.float32).ravel()
        if rows.size == self.count:
            return self._region_table @ q
        return self._region_table[rows] @ q

    def object_scores(self, query: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Best object-proposal cosine of each pin in ``rows`` to an object signature (0 for a
        pin without proposals)."""
        assert self.objects is not None and self.object_offsets is not None
        return object_signatures.best_scores(self.objects, self.object_offsets, rows, query)


def open_space(cache_dir: Path, name: str = BUILTIN) -> VisualSpace:
    """Open the embedding space ``name``; NotFoundError if it was never built."""
    directory = space_dir(cache_dir, name)
    for attempt in range(3):
        meta = read_meta(directory)
        if meta is None:
            raise NotFoundError(
                f"no embedding space {name!r}; build it with the visual index or import"
            )
        try:
            return VisualSpace(directory, meta)
        except FileNotFoundError:
            # A concurrent update replaced the generation between reading meta and files.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _candidates(
    index: faiss.Index,
    query: np.ndarray,
    fetch: int,
    mask: np.ndarray | None,
    ef_search: int | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Top ``fetch`` (scores, rows) among the allowed rows, exact when filtering is tight."""
    n = index.ntotal
    hnsw = isinstance(index, faiss.IndexHNSW)
    if mask is not None:
        n_allowed = int(mask.sum())
        if n_allowed == 0:
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        fetch = min(fetch, n_allowed)
        if hnsw and n_allowed > _BRUTE_FORCE_MAX:
            ef_filtered = max(ef_search or 0, fetch)
            scores, rows = search_index(index, query, fetch, allowed=mask, ef_search=ef_filtered)
            valid = rows[0] >= 0
            if valid.sum() >= fetch:
                return scores[0][valid], rows[0][valid]
        # Exact scan of the allowed rows only (HNSW with a tight filter can come back short).
        scores, rows = search_index(flat_storage(index), query, fetch, allowed=mask)
    else:
        fetch = min(fetch, n)
        ef = max(ef_search or 0, fetch) if hnsw else None
        scores, rows = search_index(index, query, fetch, ef_search=ef)
    valid = rows[0] >= 0
    return scores[0][valid], rows[0][valid]


def _near_duplicate(
    space: VisualSpace, query: np.ndarray, rows: np.ndarray, threshold: float, use_raw: bool
) -> np.ndarray:
    """Which ``rows`` have cosine > threshold to ``query`` (raw descriptors if ``use_raw``)."""
    if rows.size == 0:
        return np.zeros(0, dtype=bool)
    ref = space.raw if use_raw and space.raw is not None else space.vectors
    sorted_rows = np.sort(rows)
    cand = l2_normalise(np.asarray(ref[sorted_rows], dtype=np.float32))
    q = l2_normalise(np.asarray(query, dtype=np.float32).reshape(1, -1))[0]
    sims = np.einsum("ij,j->i", cand, q)  # small: no threaded BLAS call
    return sims[np.searchsorted(sorted_rows, rows)] > threshold


def _screen(
    space: VisualSpace,
    rows: np.ndarray,
    excluded: Collection[int],
    near_duplicate: float | None,
    dedup_query: np.ndarray | None,
    use_raw: bool,
) -> tuple[np.ndarray, int, np.ndarray]:
    """Which candidate rows to keep: not excluded, and not near-duplicates of the query."""
    keep = np.array([r not in excluded for r in rows], dtype=bool)
    n_self = int((~keep).sum())
    dup = np.zeros(rows.size, dtype=bool)
    if near_duplicate is not None and dedup_query is not None:
        dup = _near_duplicate(space, dedup_query, rows, near_duplicate, use_raw) & keep
        keep &= ~dup
    return keep, n_self, dup


def _result(
    space: VisualSpace,
    rows: np.ndarray,
    scores: np.ndarray,
    keep: np.ndarray,
    n_self: int,
    dup: np.ndarray,
    k: int,
) -> SearchResult:
    sel = np.flatnonzero(keep)[:k]
    return SearchResult(
        ids=[str(space.ids[r]) for r in rows[sel]],
        scores=[float(s) for s in scores[sel]],
        excluded_self=n_self,
        excluded_duplicates=int(dup.sum()),
    )


def search_vector(
    space: VisualSpace,
    query: np.ndarray,
    k: int = 20,
    allowed: Allowed = None,
    exclude: Collection[str] = (),
    near_duplicate: float | None = None,
    dedup_query: np.ndarray | None = None,
) -> SearchResult:
    """Top ``k`` pins for a search vector of the space.

    ``allowed`` (mask over ``space.ids`` or a collection of ids) restricts the results;
    ``exclude`` ids never appear; with ``near_duplicate`` results whose cosine to
    ``dedup_query`` (un-whitened descriptor for the built-in space, else the search vector)
    is above it are dropped.
    """
    if space.index is None or space.count == 0:
        return SearchResult([], [])
    q = l2_normalise(np.asarray(query, dtype=np.float32).reshape(1, -1))[0]
    if q.shape[0] != space.dim:
        raise VisualInputError(f"query has dimension {q.shape[0]}, the space has {space.dim}")
    mask = space.allowed_mask(allowed)
    excluded_rows = {space.position(e) for e in exclude if _has(space, e)}
    use_raw = dedup_query is not None and space.raw is not None
    if dedup_query is None:
        dedup_query = q
    fetch = k + len(excluded_rows) + (k if near_duplicate is not None else 0) + 8
    limit = int(mask.sum()) if mask is not None else space.count
    while True:
        scores, rows = _candidates(space.index, q, fetch, mask, space.ef_search)
        keep, n_self, dup = _screen(
            space, rows, excluded_rows, near_duplicate, dedup_query, use_raw
        )
        if keep.sum() >= k or fetch >= limit:
            break
        fetch = min(limit, fetch * 4)
    return _result(space, rows, scores, keep, n_self, dup, k)


def _has(space: VisualSpace, pin_id: object) -> bool:
    return str(pin_id) in space.positions


def search_pin(
    space: VisualSpace,
    pin_id: object,
    k: int = 20,
    allowed: Allowed = None,
    exclude_self: bool = True,
    near_duplicate: float | None = None,
) -> SearchResult:
    """Pins that look like ``pin_id``'s image (itself excluded unless ``exclude_self=False``)."""
    row = space.position(pin_id)
    raw = np.asarray(space.raw[row], dtype=np.float32) if space.raw is not None else None
    return search_vector(
        space,
        np.asarray(space.vectors[row], dtype=np.float32),
        k=k,
        allowed=allowed,
        exclude=[str(pin_id)] if exclude_self else [],
        near_duplicate=near_duplicate,
        dedup_query=raw,
    )


def search_image(
    space: VisualSpace,
    path: str | os.PathLike[str],
    k: int = 20,
    allowed: Allowed = None,
    exclude: Collection[str] = (),
    near_duplicate: float | None = None,
) -> SearchResult:
    """Pins that look like an image file (built-in spaces only)."""
    raw = space.describe_image(path)
    return search_vector(
        space,
        space.project(raw),
        k=k,
        allowed=allowed,
        exclude=exclude,
        near_duplicate=near_duplicate,
        dedup_query=raw,
    )


def search_crop(
    space: VisualSpace,
    box: Box | None,
    pin_id: object | None = None,
    path: str | os.PathLike[str] | None = None,
    k: int = 20,
    allowed: Allowed = None,
    exclude_self: bool = False,
    near_duplicate: float | None = None,
    background: float | None = BACKGROUND_WEIGHT,
    objects: float | None = OBJECT_WEIGHT,
) -> SearchResult:
    """Pins containing something like the crop ``box = (x, y, w, h)`` (pixels).

    The crop is taken from ``pin_id``'s image or from the image file ``path``; ``box=None``
    uses the whole image (find pins that contain this picture). Each pin scores its
    best-matching region. An object on a plain or transparent background is described by the
    object: its background pixels count ``background`` (None: fully), and with ``objects``
    (None: regions only) each pin's score adds that times its best object proposal's cosine
    to the crop's object. The source pin stays in the results unless ``exclude_self``.
    """
    if (pin_id is None) == (path is None):
        raise VisualInputError("give either a pin id or an image file for the crop")
    if not space.has_regions or space.region_pca is None or space.region_index is None:
        raise VisualInputError(
            f"embedding space {space.name!r} has no region index; crop search needs the "
            "built-in descriptor indexed with regions"
        )
    exclude_rows: set[int] = set()
    if pin_id is not None:
        row = space.position(pin_id)
        src = space.paths.get(str(pin_id))
        if src is None:
            raise NotFoundError(f"no image path recorded for pin {str(pin_id)!r}")
        path = src
        if exclude_self:
            exclude_rows.add(row)
    assert path is not None
    found: np.ndarray | None = None
    if objects is not None and space.has_objects:
        q, found = space.describe_crop_query(path, box, background)
    else:
        q = space.describe_crop_region(path, box, background)
    raw = space.describe_crop(path, box) if near_duplicate is not None else None
    mask = space.allowed_mask(allowed)
    if found is not None and objects is not None:
        return _fused_crop(space, q, found, objects, mask, exclude_rows, near_duplicate, raw, k)
    per = space.regions_per_image
    region_mask = np.repeat(mask, per) if mask is not None else None
    total_regions = space.region_index.ntotal
    limit = int(region_mask.sum()) if region_mask is not None else total_regions
    fetch = min(limit, max(64, (k + len(exclude_rows) + 8) * per))
    while True:
        scores, rows = _candidates(
            space.region_index, q, fetch, region_mask, space.region_ef_search
        )
        owners = rows // per
        # First occurrence of each owner in descending score order is its best region.
        uniq, first = np.unique(owners, return_index=True)
        order = np.argsort(first, kind="stable")
        pins = uniq[order]
        best = scores[first[order]]
        keep, n_self, dup = _screen(space, pins, exclude_rows, near_duplicate, raw, True)
        if keep.sum() >= k or fetch >= limit:
            break
        fetch = min(limit, fetch * 4)
    return _result(space, pins, best, keep, n_self, dup, k)


def _fused_crop(
    space: VisualSpace,
    query: np.ndarray,
    found: np.ndarray,
    weight: float,
    mask: np.ndarray | None,
    exclude_rows: set[int],
    near_duplicate: float | None,
    raw: np.ndarray | None,
    k: int,
) -> SearchResult:
    """Crop search with an object: pins ranked by best region cosine + weight x best object
    cosine, both exact, over every allowed pin or the pins of the best regions."""
    if space.count <= OBJECT_SCAN_MAX:
        pins = np.arange(space.count) if mask is None else np.flatnonzero(mask)
    else:
        assert space.region_index is not None
        per = space.regions_per_image
        region_mask = np.repeat(mask, per) if mask is not None else None
        limit = int(region_mask.sum()) if region_mask is not None else space.region_index.ntotal
        fetch = min(limit, max(RERANK_REGIONS, (k + len(exclude_rows) + 8) * per))
        _, rows = _candidates(space.region_index, query, fetch, region_mask, space.region_ef_search)
        pins = np.unique(rows // per)
    if pins.size == 0:
        return SearchResult([], [])
    total = space.region_scores(query, pins).max(axis=1)
    total += weight * space.object_scores(found, pins)
    order = np.argsort(-total, kind="stable")
    pins, total = pins[order], total[order]
    # Screen the head of the ranking only, longer while too few of it survive.
    head = k + len(exclude_rows) + 64
    while True:
        keep, n_self, dup = _screen(space, pins[:head], exclude_rows, near_duplicate, raw, True)
        if keep.sum() >= k or head >= pins.size:
            break
        head *= 4
    return _result(space, pins[:head], total[:head], keep, n_self, dup, k)


@dataclass
class CropMatch:
    """How a crop query scored one pin: its ranking score and the parts of it."""

    score: float
    """Region cosine, plus the object weight x object cosine when the crop shows an object."""
    region: int
    """The best-matching stored region (index into ``descriptors.REGION_BOXES``)."""
    region_cosine: float
    object_cosine: float | None
    """None when the crop shows no object (or the space has no object proposals)."""
    object_box: tuple[float, float, float, float] | None
    """The best-matching proposal's box (x0, y0, x1, y1) as fractions of the pin's image."""


def crop_match(
    space: VisualSpace,
    box: Box | None,
    target: object,
    pin_id: object | None = None,
    path: str | os.PathLike[str] | None = None,
    background: float | None = BACKGROUND_WEIGHT,
    objects: float | None = OBJECT_WEIGHT,
) -> CropMatch:
    """Recompute how :func:`search_crop` with these arguments scored pin ``target``."""
    if (pin_id is None) == (path is None):
        raise VisualInputError("give either a pin id or an image file for the crop")
    if not space.has_regions:
        raise VisualInputError(f"embedding space {space.name!r} has no region index")
    if pin_id is not None:
        space.position(pin_id)
        path = space.paths.get(str(pin_id))
        if path is None:
            raise NotFoundError(f"no image path recorded for pin {str(pin_id)!r}")
    assert path is not None
    row = np.array([space.position(target)])
    found: np.ndarray | None = None
    if objects is not None and space.has_objects:
        q, found = space.describe_crop_query(path, box, background)
    else:
        q = space.describe_crop_region(path, box, background)
    cosines = space.region_scores(q, row)[0]
    best = int(np.argmax(cosines))
    match = CropMatch(float(cosines[best]), best, float(cosines[best]), None, None)
    if found is None or objects is None:
        return match
    assert space.objects is not None and space.object_offsets is not None
    assert space.object_boxes is not None
    a, b = (int(v) for v in space.object_offsets[row[0] : row[0] + 2])
    match.object_cosine = float(space.object_scores(found, row)[0])
    match.score = float(np.float32(match.region_cosine) + np.float32(objects * match.object_cosine))
    if b > a:
        q8 = object_signatures.to_int8(found).astype(np.int32)
        sims = np.asarray(space.objects[a:b], np.int32) @ q8
        edges = space.object_boxes[a + int(np.argmax(sims))] / object_signatures.BOX_UNIT
        match.object_box = (float(edges[0]), float(edges[1]), float(edges[2]), float(edges[3]))
    return match
