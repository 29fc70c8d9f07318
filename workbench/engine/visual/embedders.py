"""Embedders turn image files into vectors; the built-in one needs no learned weights.

An :class:`Embedder` has a ``name``, a ``dim`` and a ``version`` (a change of version means
stored vectors are stale), embeds a batch of image files (skipping and reporting the ones it
cannot read) and a crop of one image. :class:`BuiltinEmbedder` also embeds the fixed regions
of each image and its object proposals (:mod:`workbench.engine.visual.objects`), both used by
crop search.
"""

from __future__ import annotations

import hashlib
import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from workbench.engine.progress import SILENT, Reporter
from workbench.engine.visual import objects
from workbench.engine.visual.descriptors import (
    REGION_BOXES,
    DescriptorConfig,
    describe_boxes,
    integral_features,
    region_config_for,
    region_pixel_boxes,
    same_features,
)
from workbench.engine.visual.errors import ImageDecodeError
from workbench.engine.visual.foreground import BACKGROUND_WEIGHT, foreground_weights
from workbench.engine.visual.images import Box, load_rgb, load_rgba

__all__ = [
    "BuiltinEmbedder",
    "Embedder",
    "Failed",
    "default_workers",
    "run_chunks",
]

# (position in the input sequence, or pin id at the storage level; one-line reason)
Failed = list[tuple[int, str]]
# One image's object proposals: int8 signatures [n, DIM] and uint16 boxes [n, 4] (objects.py)
Objects = tuple[np.ndarray, np.ndarray]

PathLike = str | os.PathLike[str]


def default_workers() -> int:
    """Threads for extraction: min(2, cpu count), as the numba kernels release the GIL."""
    return max(1, min(2, os.cpu_count() or 1))


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ImageDecodeError):
        return str(exc).split(": ", 1)[-1]
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def run_chunks(
    n: int, one: Callable[[int], None], workers: int, chunk: int, reporter: Reporter
) -> tuple[np.ndarray, Failed]:
    """Call ``one(i)`` for i in 0..n-1 in chunks on ``workers`` threads (the numba kernels and
    pillow release the GIL); an exception in ``one`` marks item i failed with a one-line reason.
    Returns the mask of items that succeeded and the failures; reports progress per chunk and
    stops (raising :class:`Cancelled`) when the reporter is cancelled."""
    ok = np.zeros(n, dtype=bool)
    failed: Failed = []
    lock = threading.Lock()
    stop = threading.Event()

    def work(start: int) -> int:
        done = 0
        for i in range(start, min(start + chunk, n)):
            if stop.is_set():
                break
            try:
                one(i)
                ok[i] = True
            except Exception as exc:
                with lock:
                    failed.append((i, _reason(exc)))
            done += 1
        return done

    starts = range(0, n, chunk)
    done = 0
    reporter.progress(0, n, "extracting")
    try:
        if workers <= 1 or n <= chunk:
            for s in starts:
                reporter.check("image extraction")
                done += work(s)
                reporter.progress(done, n, "extracting")
        else:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                futures = [pool.submit(work, s) for s in starts]
                try:
                    for fut in futures:
                        while True:
                            reporter.check("image extraction")
                            try:
                                done += fut.result(timeout=0.1)
                                break
                            except TimeoutError:
                                continue
                        reporter.progress(done, n, "extracting")
                finally:
                    stop.set()
                    for fut in futures:
                        fut.cancel()
    finally:
        stop.set()
    failed.sort()
    return ok, failed


class Embedder(ABC):
    """Maps image files to float32 vectors of a fixed dimension (compared by inner product)."""

    name: str
    dim: int
    version: str

    @abstractmethod
    def embed_images(
        self, paths: Sequence[PathLike], reporter: Reporter = SILENT
    ) -> tuple[np.ndarray, Failed]:
        """Vectors [n_ok, dim] for the readable images, in input order, and the failures.

        ``failed`` lists ``(position in paths, reason)``; the rows of the vectors are the
        paths that are not in ``failed``. Never raises for a bad image; raises
        :class:`Cancelled` when the reporter is cancelled.
        """

    @abstractmethod
    def embed_crop(self, path: PathLike, box: Box) -> np.ndarray:
        """Vector [dim] of the box ``(x, y, w, h)`` (pixels) of an image file."""

    def embed_image(self, path: PathLike) -> np.ndarray:
        """Vector [dim] of one image file; raises :class:`ImageDecodeError` if unreadable."""
        vectors, failed = self.embed_images([path])
        if failed:
            raise ImageDecodeError(f"{path}: {failed[0][1]}")
        return np.asarray(vectors[0])


class BuiltinEmbedder(Embedder):
    """The built-in descriptor (:mod:`workbench.engine.visual.descriptors`), no weights.

    ``config`` describes whole images; ``region_config`` (by default the coarser
    :func:`region_config_for` layout on the same features) describes regions and crops for
    crop search. The :attr:`version` also names the object signatures' version, so a space
    stored before them is rebuilt (or refused until it is).
    """

    name = "builtin"

    def __init__(
        self,
        config: DescriptorConfig | None = None,
        region_config: DescriptorConfig | None = None,
        workers: int | None = None,
        chunk: int = 32,
    ) -> None:
        self.config = config or DescriptorConfig()
        self.region_config = region_config or region_config_for(self.config)
        if not same_features(self.config, self.region_config):
            raise ValueError("region_config must share area, colour bins and orientations")
        self.dim = self.config.dim
        self.region_dim = self.region_config.dim
        boxes = hashlib.sha1(repr(REGION_BOXES).encode()).hexdigest()[:6]
        self.version = (
            f"builtin-3-{self.config.version[-10:]}{self.region_config.version[-10:]}-{boxes}"
            f"-o{objects.VERSION}"
        )
        self.workers = workers or default_workers()
        self.chunk = max(1, chunk)
        self.region_boxes = REGION_BOXES
        self._scratch = threading.local()  # each extraction thread's feature table buffer

    @property
    def n_regions(self) -> int:
        return len(self.region_boxes)

    def embed_array(self, rgb: np.ndarray) -> np.ndarray:
        """Descriptor [dim] of an RGB uint8 array (any size; resampled by the caller)."""
        feat = integral_features(rgb, self.config)
        h, w = rgb.shape[:2]
        return describe_boxes(feat, np.array([[0.0, 0.0, w, h]]), self.config)[0]

    def _one(
        self, path: PathLike, regions: bool, with_objects: bool
    ) -> tuple[np.ndarray, np.ndarray | None, Objects | None]:
        rgb = load_rgb(path, self.config.area)
        feat = integral_features(rgb, self.config, out=getattr(self._scratch, "table", None))
        self._scratch.table = feat
        h, w = rgb.shape[:2]
        whole = describe_boxes(feat, np.array([[0.0, 0.0, w, h]]), self.config)[0]
        parts = None
        if regions:
            boxes = region_pixel_boxes(w, h, self.region_boxes)
            parts = describe_boxes(feat, boxes, self.region_config)
        found = None
        if with_objects:
            signatures, boxes = objects.image_objects(rgb)
            found = (objects.to_int8(signatures), boxes)
        return whole, parts, found

    def _run(
        self, paths: Sequence[PathLike], regions: bool, with_objects: bool, reporter: Reporter
    ) -> tuple[np.ndarray, np.ndarray | None, list[Objects], Failed]:
        n = len(paths)
        out = np.zeros((n, self.dim), dtype=np.float32)
        reg = np.zeros((n, self.n_regions, self.region_dim), dtype=np.float32) if regions else None
        none = (np.zeros((0, objects.DIM), np.int8), np.zeros((0, 4), np.uint16))
        found: list[Objects] = [none] * n

        def one(i: int) -> None:
            whole, parts, obj = self._one(paths[i], regions, with_objects)
            out[i] = whole
            if reg is not None:
                reg[i] = parts
            if obj is not None:
                found[i] = obj

        ok, failed = run_chunks(n, one, self.workers, self.chunk, reporter)
        kept = [found[i] for i in np.flatnonzero(ok)] if with_objects else []
        if not failed:  # no copy of the (large) region table when every image was read
            return out, reg, kept, failed
        return out[ok], (reg[ok] if reg is not None else None), kept, failed

    def embed_images(
        self, paths: Sequence[PathLike], reporter: Reporter = SILENT
    ) -> tuple[np.ndarray, Failed]:
        vectors, _, _, failed = self._run(paths, False, False, reporter)
        return vectors, failed

    def embed_with_regions(
        self, paths: Sequence[PathLike], reporter: Reporter = SILENT
    ) -> tuple[np.ndarray, np.ndarray, Failed]:
        """Whole-image vectors [n_ok, dim] and region vectors [n_ok, n_regions, region_dim].

        Region 0 is the whole image described with the region layout.
        """
        vectors, regions, _, failed = self._run(paths, True, False, reporter)
        assert regions is not None
        return vectors, regions, failed

    def embed_for_crops(
        self, paths: Sequence[PathLike], reporter: Reporter = SILENT
    ) -> tuple[np.ndarray, np.ndarray, list[Objects], Failed]:
        """:meth:`embed_with_regions` plus each readable image's object proposals: int8
        signatures [n_i, DIM] and boxes (:func:`workbench.engine.visual.objects.image_objects`)."""
        vectors, regions, found, failed = self._run(paths, True, True, reporter)
        assert regions is not None
        return vectors, regions, found, failed

    def embed_crop(self, path: PathLike, box: Box | None) -> np.ndarray:
        """Whole-image descriptor [dim] of a crop (``box=None``: the whole image)."""
        return self.embed_array(load_rgb(Path(path), self.config.area, box=box))

    def embed_crop_region(
        self, path: PathLike, box: Box | None, background: float | None = BACKGROUND_WEIGHT
    ) -> np.ndarray:
        """Region-layout descriptor [region_dim] of a crop, comparable with stored regions.

        With ``background`` (a weight below 1) an object on a plain or transparent background
        is described by the object: background pixels count that much (see
        :mod:`workbench.engine.visual.foreground`); None weighs every pixel alike."""
        return self.embed_crop_query(path, box, background, with_object=False)[0]

    def embed_crop_query(
        self,
        path: PathLike,
        box: Box | None,
        background: float | None = BACKGROUND_WEIGHT,
        with_object: bool = True,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """:meth:`embed_crop_region` and the crop's object signature (float32 [DIM], None when
        the crop shows no object on a background), from one decoding of the file."""
        rgb, alpha = load_rgba(Path(path), self.config.area, box=box)
        weight = foreground_weights(rgb, alpha, background) if background is not None else None
        feat = integral_features(rgb, self.region_config, weight)
        h, w = rgb.shape[:2]
        vector = describe_boxes(feat, np.array([[0.0, 0.0, w, h]]), self.region_config)[0]
        return vector, (objects.query_object(rgb, alpha) if with_object else None)
