"""Pretrained image embeddings from any ONNX image model, offline, with onnxruntime on CPU.

The model takes one float image batch ``[N, 3, H, W]`` (or ``[N, H, W, 3]``) and returns a float
tensor whose rows (flattened per image, e.g. ``[N, 512]`` or ``[N, 1280, 1, 1]``) are the
embedding: an ImageNet CNN with its classifier removed, or a CLIP image tower. Pixels are scaled
to 0..1, resized to ``input_size`` squared (aspect ratio not kept, as most exports expect) and
normalised by ``mean`` and ``std`` per channel (ImageNet's by default).

Everything about the model file is checked when it is opened, before any image is read: a
missing, truncated or non-ONNX file, an input that is not a 4-D image batch, no float output.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from workbench.engine.progress import SILENT, Reporter
from workbench.engine.visual.embedders import Failed, default_workers, run_chunks
from workbench.engine.visual.errors import VisualInputError
from workbench.engine.visual.images import Box, load_rgb, load_rgb_square

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "OnnxEmbedder", "OnnxSettings"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
DEFAULT_INPUT_SIZE = 224
BATCH = 32
_FLOAT_TYPES = ("tensor(float)", "tensor(float16)", "tensor(double)")


class ModelError(VisualInputError):
    """An ONNX model file that cannot serve as an image embedder."""


@dataclass(frozen=True)
class OnnxSettings:
    """How to run an image model: its file and, optionally, the input size, the per-channel
    normalisation and the output to use (None: from the model, ImageNet's, its first float
    output)."""

    model: str
    input_size: int | None = None
    mean: tuple[float, float, float] | None = None
    std: tuple[float, float, float] | None = None
    output: str | None = None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _session(path: Path) -> Any:
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise ModelError(
            "ONNX models need onnxruntime, which is not installed (the 'onnx' extra)"
        ) from exc
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = default_workers()
    opts.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ModelError(f"{path}: not a usable ONNX model ({first[:160]})") from None


class OnnxEmbedder:
    """An opened, checked ONNX image model that embeds image files in batches."""

    def __init__(self, settings: OnnxSettings) -> None:
        path = Path(os.path.expanduser(settings.model))
        try:
            st = path.stat()
        except OSError:
            raise ModelError(f"{path}: no such model file") from None
        if not stat.S_ISREG(st.st_mode):
            raise ModelError(f"{path}: not a regular file")
        if st.st_size == 0:
            raise ModelError(f"{path}: empty model file")
        self.path = path.resolve()
        self.session = _session(self.path)
        inputs = self.session.get_inputs()
        if len(inputs) != 1:
            raise ModelError(f"{path}: expected one image input, the model has {len(inputs)}")
        shape = list(inputs[0].shape)
        if len(shape) != 4:
            raise ModelError(
                f"{path}: input {inputs[0].name!r} has rank {len(shape)} ({_shape(shape)}); "
                "expected a 4-D image batch [N, 3, H, W] or [N, H, W, 3]"
            )
        if inputs[0].type not in _FLOAT_TYPES:
            raise ModelError(f"{path}: input {inputs[0].name!r} is {inputs[0].type}, not float")
        self.input_name = inputs[0].name
        self.input_dtype = np.float16 if inputs[0].type == "tensor(float16)" else np.float32
        if shape[1] == 3:
            self.channels_first = True
        elif shape[3] == 3:
            self.channels_first = False
        elif not isinstance(shape[1], int) and not isinstance(shape[3], int):
            self.channels_first = True  # both dynamic: the common NCHW export
        else:
            raise ModelError(f"{path}: input {_shape(shape)} has no 3-channel axis")
        fixed = shape[2:4] if self.channels_first else shape[1:3]
        static = [d for d in fixed if isinstance(d, int) and d > 0]
        size = settings.input_size
        if size is None:
            size = static[0] if static else DEFAULT_INPUT_SIZE
        if size < 8 or size > 4096:
            raise ModelError(f"input size {size}: expected 8 to 4096 pixels")
        if static and any(d != size for d in static):
            raise ModelError(f"{path}: the model takes {_shape(shape)} images, not {size}x{size}")
        self.input_size = int(size)
        self.mean = np.asarray(settings.mean or IMAGENET_MEAN, dtype=np.float32)
        self.std = np.asarray(settings.std or IMAGENET_STD, dtype=np.float32)
        if self.mean.shape != (3,) or self.std.shape != (3,):
            raise ModelError("mean and std need three values each (R,G,B)")
        if not (np.isfinite(self.mean).all() and np.isfinite(self.std).all()):
            raise ModelError("mean and std must be finite numbers")
        if (self.std <= 0).any():
            raise ModelError("std values must be > 0")
        outputs = self.session.get_outputs()
        floats = [o for o in outputs if o.type in _FLOAT_TYPES]
        if settings.output is not None:
            named = [o for o in outputs if o.name == settings.output]
            if not named:
                names = ", ".join(o.name for o in outputs)
                raise ModelError(f"{path}: no output {settings.output!r} (outputs: {names})")
            if named[0].type not in _FLOAT_TYPES:
                raise ModelError(f"{path}: output {settings.output!r} is not a float tensor")
            self.output_name = named[0].name
        elif floats:
            self.output_name = floats[0].name
        else:
            raise ModelError(f"{path}: the model has no float output to use as an embedding")
        self.sha256 = _sha256(self.path)
        self.name = "onnx"
        self.version = f"onnx-{self.sha256[:12]}-{self.input_size}"
        self.workers = default_workers()
        # One dry run on a blank image: the output's size per image, and a model that does not
        # run at all is refused before the images are read.
        blank = np.zeros((1, self.input_size, self.input_size, 3), np.uint8)
        self.dim = int(self._run(blank).shape[1])

    def settings_json(self) -> dict[str, Any]:
        return {
            "model": str(self.path),
            "sha256": self.sha256,
            "input_size": self.input_size,
            "mean": [float(v) for v in self.mean],
            "std": [float(v) for v in self.std],
            "output": self.output_name,
            "layout": "NCHW" if self.channels_first else "NHWC",
        }

    def _run(self, images: np.ndarray) -> np.ndarray:
        """Embeddings [n, dim] (float32) of RGB uint8 images [n, size, size, 3]."""
        x = (images.astype(np.float32) / 255.0 - self.mean) / self.std
        if self.channels_first:
            x = x.transpose(0, 3, 1, 2)
        x = np.ascontiguousarray(x, dtype=self.input_dtype)
        try:
            (out,) = self.session.run([self.output_name], {self.input_name: x})
        except Exception as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ModelError(f"{self.path}: the model failed to run ({first[:160]})") from None
        out = np.asarray(out, dtype=np.float32).reshape(images.shape[0], -1)
        if out.shape[1] == 0:
            raise ModelError(f"{self.path}: output {self.output_name!r} is empty")
        return out

    def embed_images(
        self, paths: Sequence[str | os.PathLike[str]], reporter: Reporter = SILENT
    ) -> tuple[np.ndarray, Failed]:
        """Vectors [n_ok, dim] of the readable images (decoded on threads, run in batches of
        :data:`BATCH`), and ``(position, reason)`` of the others."""
        n = len(paths)
        out = np.zeros((n, self.dim), dtype=np.float32)
        ok_all = np.zeros(n, dtype=bool)
        failed: Failed = []
        reporter.progress(0, n, "embedding")
        for start in range(0, n, BATCH):
            stop = min(n, start + BATCH)
            pixels = np.zeros((stop - start, self.input_size, self.input_size, 3), np.uint8)

            def decode(i: int, base: int = start, pixels: np.ndarray = pixels) -> None:
                pixels[i] = load_rgb_square(paths[base + i], self.input_size)

            ok, bad = run_chunks(stop - start, decode, self.workers, 8, SILENT)
            failed.extend((start + i, why) for i, why in bad)
            if ok.any():
                rows = np.flatnonzero(ok)
                out[start + rows] = self._run(pixels[rows])
                ok_all[start + rows] = True
            reporter.progress(stop, n, "embedding")
        bad_rows = ~np.isfinite(out).all(axis=1) & ok_all
        for i in np.flatnonzero(bad_rows):
            failed.append((int(i), "the model gave NaN or infinite values"))
        ok_all &= ~bad_rows
        failed.sort()
        return out[ok_all], failed

    def embed_crop(self, path: str | os.PathLike[str], box: Box) -> np.ndarray:
        """Vector [dim] of the box ``(x, y, w, h)`` (pixels) of an image file (CropError or
        ImageDecodeError on bad input): the crop, stretched to the model's input."""
        rgb = load_rgb(path, self.input_size * self.input_size, box=box)
        square = Image.fromarray(rgb).resize((self.input_size, self.input_size))
        return self._run(np.asarray(square, dtype=np.uint8)[None])[0]

    def embed_image(self, path: str | os.PathLike[str]) -> np.ndarray:
        """Vector [dim] of one image file (ImageDecodeError if it cannot be read)."""
        from workbench.engine.visual.errors import ImageDecodeError

        vectors, failed = self.embed_images([path])
        if failed:
            raise ImageDecodeError(f"{path}: {failed[0][1]}")
        return vectors[0]


def _shape(shape: Sequence[Any]) -> str:
    return "[" + ", ".join(str(d) if d not in (None, "") else "?" for d in shape) + "]"
