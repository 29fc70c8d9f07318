"""Image decoding for visual search: any file pillow reads, in any mode, to an RGB uint8 array."""

from __future__ import annotations

import math
import os
import stat
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from workbench.engine.visual.errors import CropError, ImageDecodeError

__all__ = [
    "Box",
    "check_box",
    "image_size",
    "load_rgb",
    "load_rgb_square",
    "load_rgba",
    "to_rgb",
    "working_size",
]

# (x, y, w, h) in pixels of the image as stored on disk, after EXIF orientation.
Box = tuple[float, float, float, float]

_WHITE = (255, 255, 255)


def working_size(width: int, height: int, area: int, min_side: int = 8) -> tuple[int, int]:
    """Size with about ``area`` pixels and the image's aspect ratio (each side >= ``min_side``)."""
    if width <= 0 or height <= 0:
        raise ValueError("image has zero size")
    scale = math.sqrt(area / (width * height))
    w = max(min_side, round(width * scale))
    h = max(min_side, round(height * scale))
    return w, h


def _scale_to_uint8(arr: np.ndarray) -> np.ndarray:
    """Map a 16/32-bit or float single-channel image to 0..255."""
    arr = arr.astype(np.float64, copy=False)
    finite = np.isfinite(arr)
    if not finite.all():
        arr = np.where(finite, arr, 0.0)
    lo = float(arr.min()) if arr.size else 0.0
    hi = float(arr.max()) if arr.size else 0.0
    if lo >= 0.0 and hi <= 1.0 and arr.dtype.kind == "f":
        out = arr * 255.0
    elif lo >= 0.0 and hi <= 255.0:
        out = arr
    elif lo >= 0.0 and hi <= 65535.0:
        out = arr / 257.0
    else:
        out = (arr - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(arr)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def to_rgb(im: Image.Image) -> Image.Image:
    """Convert any pillow mode to RGB: alpha is composited on white, high bit depths are scaled."""
    mode = im.mode
    if mode == "RGB":
        return im
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        gray = _scale_to_uint8(np.asarray(im))
        return Image.fromarray(gray).convert("RGB")
    if mode == "P":
        im = im.convert("RGBA") if "transparency" in im.info else im.convert("RGB")
        mode = im.mode
    elif mode == "PA":
        im = im.convert("RGBA")
        mode = im.mode
    if mode in ("RGBA", "LA", "La", "RGBa"):
        rgba = im.convert("RGBA")
        background = Image.new("RGB", rgba.size, _WHITE)
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return im.convert("RGB")


def _open(path: Path) -> Image.Image:
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            # a FIFO or a device would block the reader or never end
            raise ImageDecodeError(f"{path}: not a regular file")
        if st.st_size == 0:
            raise ImageDecodeError(f"{path}: empty file")
        im = Image.open(path)
    except ImageDecodeError:
        raise
    except FileNotFoundError as exc:
        raise ImageDecodeError(f"{path}: no such file") from exc
    except UnidentifiedImageError as exc:
        raise ImageDecodeError(f"{path}: not an image pillow can read") from exc
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageDecodeError(f"{path}: cannot open ({exc})") from exc
    if im.width <= 0 or im.height <= 0:
        raise ImageDecodeError(f"{path}: image has zero size")
    return im


def image_size(path: str | os.PathLike[str]) -> tuple[int, int]:
    """(width, height) of an image file after EXIF orientation, reading only the header."""
    p = Path(path)
    with _open(p) as im:
        w, h = im.size
        try:
            orientation = im.getexif().get(0x0112, 1)
        except Exception:
            orientation = 1
    return (h, w) if orientation in (5, 6, 7, 8) else (w, h)


def load_rgb(
    path: str | os.PathLike[str],
    area: int,
    box: Box | None = None,
) -> np.ndarray:
    """Decode ``path`` to an RGB uint8 array of about ``area`` pixels, aspect ratio kept.

    With ``box`` only that region (pixel coordinates of the full-size image) is returned,
    resized to about ``area`` pixels. JPEGs are decoded at a reduced scale (``Image.draft``)
    when the result is smaller anyway. Raises :class:`ImageDecodeError` for unreadable files
    and :class:`CropError` for a box that is empty or outside the image.
    """
    return load_rgba(path, area, box)[0]


def _alpha(im: Image.Image) -> Image.Image | None:
    """The image's alpha channel as an "L" image, or None if it has no transparency."""
    if im.mode in ("RGBA", "LA", "La", "RGBa", "PA") or (
        im.mode == "P" and "transparency" in im.info
    ):
        return im.convert("RGBA").getchannel("A")
    return None


def load_rgba(
    path: str | os.PathLike[str],
    area: int,
    box: Box | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`load_rgb` (alpha composited on white) and the alpha channel [h, w] (uint8) of
    the same pixels, None when the image has no transparency."""
    p = Path(path)
    im = _open(p)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            full_w, full_h = im.size
            try:
                orientation = im.getexif().get(0x0112, 1)
            except Exception:
                orientation = 1
            swapped = orientation in (5, 6, 7, 8)
            disp_w, disp_h = (full_h, full_w) if swapped else (full_w, full_h)
            if box is not None:
                bx, by, bw, bh = check_box(box, disp_w, disp_h)
            else:
                bx, by, bw, bh = 0.0, 0.0, float(disp_w), float(disp_h)
            if im.format == "JPEG":
                # Keep at least twice the target resolution inside the box after reduction.
                tw, th = working_size(max(1, round(bw)), max(1, round(bh)), area)
                fx = 2.0 * tw / bw
                fy = 2.0 * th / bh
                req_w = min(full_w, math.ceil(full_w * (fy if swapped else fx)))
                req_h = min(full_h, math.ceil(full_h * (fx if swapped else fy)))
                im.draft("RGB", (max(1, req_w), max(1, req_h)))
            im.load()
            if orientation != 1:
                im = ImageOps.exif_transpose(im)
            rgb = to_rgb(im)
            alpha = _alpha(im)
        sx = rgb.width / disp_w
        sy = rgb.height / disp_h
        if box is not None:
            left, top = bx * sx, by * sy
            right, bottom = (bx + bw) * sx, (by + bh) * sy
            crop_box = (
                math.floor(left),
                math.floor(top),
                max(math.floor(left) + 1, math.ceil(right)),
                max(math.floor(top) + 1, math.ceil(bottom)),
            )
            rgb = rgb.crop(crop_box)
            alpha = alpha.crop(crop_box) if alpha is not None else None
        size = working_size(rgb.width, rgb.height, area)
        if size != rgb.size:
            rgb = rgb.resize(size, Image.Resampling.BILINEAR, reducing_gap=3.0)
            if alpha is not None:
                alpha = alpha.resize(size, Image.Resampling.BILINEAR, reducing_gap=3.0)
        mask = np.asarray(alpha, dtype=np.uint8) if alpha is not None else None
        return np.asarray(rgb, dtype=np.uint8), mask
    except (ImageDecodeError, CropError):
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, EOFError) as exc:
        raise ImageDecodeError(f"{p}: cannot decode ({exc})") from exc
    finally:
        im.close()


def check_box(box: Box, width: int, height: int) -> tuple[float, float, float, float]:
    """Validate a crop box ``(x, y, w, h)`` against an image of ``width`` x ``height`` pixels."""
    try:
        x, y, w, h = (float(v) for v in box)
    except (TypeError, ValueError) as exc:
        raise CropError(f"crop box must be four numbers (x, y, w, h), got {box!r}") from exc
    if not all(math.isfinite(v) for v in (x, y, w, h)):
        raise CropError(f"crop box {box!r} has a non-finite value")
    if w <= 0 or h <= 0:
        raise CropError(f"crop box {box!r} has zero size (w and h must be > 0)")
    if x < 0 or y < 0 or x + w > width + 1e-6 or y + h > height + 1e-6:
        raise CropError(
            f"crop box (x={x:g}, y={y:g}, w={w:g}, h={h:g}) is outside the image "
            f"({width}x{height} pixels)"
        )
    if w < 2 or h < 2:
        raise CropError(f"crop box {box!r} is smaller than 2x2 pixels")
    return x, y, w, h


def load_rgb_square(path: str | os.PathLike[str], size: int) -> np.ndarray:
    """Decode ``path`` to an RGB uint8 array [size, size, 3] (stretched, as image models take
    it); raises :class:`ImageDecodeError` for unreadable files."""
    p = Path(path)
    im = _open(p)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if im.format == "JPEG":
                im.draft("RGB", (size * 2, size * 2))
            im.load()
            im = ImageOps.exif_transpose(im)
            rgb = to_rgb(im).resize((size, size), Image.Resampling.BILINEAR, reducing_gap=3.0)
        return np.asarray(rgb, dtype=np.uint8)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, EOFError) as exc:
        raise ImageDecodeError(f"{p}: cannot decode ({exc})") from exc
    finally:
        im.close()
