"""Foreground weights for crop queries: an object cropped onto a plain background (or cut out
with transparency) should be matched by the object, not by its background.

The mask is the alpha channel where the image has one; otherwise, when the crop's border is
mostly one colour, each pixel's distance from that dominant border colour (a soft threshold
in RGB). The descriptor then counts each pixel with weight ``floor + (1 - floor) * mask``, so
the background keeps a little say (a crop of an ordinary picture whose border happens to be
uniform must still find its source). Crops with no clear figure (almost all or almost none
of it foreground, or a varied border) are described as before.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["BACKGROUND_WEIGHT", "MASK_VERSION", "foreground_mask", "foreground_weights"]

MASK_VERSION = "border-median-1"
"""Names the mask's algorithm (its thresholds are the constants below): change it whenever the
mask of some image would change, so descriptors built on it get a new version."""

BACKGROUND_WEIGHT = 0.5
"""Weight of a background pixel relative to a foreground one."""
BORDER = 2
"""Pixels of the crop's frame that define the background colour."""
UNIFORM_SHARE = 0.6
"""Share of the frame that must be near its median colour for it to count as a background."""
NEAR = 24.0
"""RGB distance from the background colour still counted as background."""
FAR = 72.0
"""RGB distance from which a pixel is wholly foreground."""
MIN_FOREGROUND = 0.03
MAX_FOREGROUND = 0.95


@numba.njit(cache=True, nogil=True)
def _border_mask(
    rgb: np.ndarray, border: int, near: float, far: float, uniform_share: float, mask: np.ndarray
) -> bool:
    """The border-colour mask of an RGB uint8 image into ``mask`` (float32 [h, w]); False
    when the frame of ``border`` pixels is not mostly one colour. Each step rounds to float32
    as numpy's float32 arithmetic does (the mask is part of stored descriptors)."""
    h, w = rgb.shape[0], rgb.shape[1]
    b = min(border, h // 4, w // 4)
    if b == 0:
        b = 1
    # The frame as numpy slices it: the first and the last b rows, then the first and the last
    # b columns of the rows between (a pixel twice when the image is narrower than 2b).
    mid = max(h - 2 * b, 0)
    n = 2 * b * w + 2 * b * mid
    frame = np.empty((n, 3), np.int64)
    counts = np.zeros((3, 256), np.int64)
    i = 0
    for part in range(4):
        for k in range(b * w if part < 2 else b * mid):
            if part < 2:
                y = k // w + (0 if part == 0 else h - b)
                x = k % w
            else:
                y = b + k // b
                x = k % b + (0 if part == 2 else w - b)
            for c in range(3):
                v = rgb[y, x, c]
                frame[i, c] = v
                counts[c, v] += 1
            i += 1
    # The median of each channel (values are 0..255: counted, not sorted).
    colour = np.empty(3, np.float32)
    for c in range(3):
        lo = -1
        hi = -1
        seen = 0
        for v in range(256):
            seen += counts[c, v]
            if lo < 0 and seen > (n - 1) // 2:
                lo = v
            if seen > n // 2:
                hi = v
                break
        colour[c] = np.float32(np.float32(lo + hi) / np.float32(2.0))
    near32 = np.float32(near)
    within = 0
    for i in range(n):
        s = np.float32(0.0)
        for c in range(3):
            d = np.float32(np.float32(frame[i, c]) - colour[c])
            s = np.float32(s + d * d)
        if np.float32(np.sqrt(s)) <= near32:
            within += 1
    if within / n < uniform_share:
        return False
    span = np.float32(far - near)
    for y in range(h):
        for x in range(w):
            s = np.float32(0.0)
            for c in range(3):
                d = np.float32(np.float32(rgb[y, x, c]) - colour[c])
                s = np.float32(s + d * d)
            m = np.float32(np.float32(np.float32(np.sqrt(s)) - near32) / span)
            mask[y, x] = min(max(m, np.float32(0.0)), np.float32(1.0))
    return True


def foreground_mask(rgb: np.ndarray, alpha: np.ndarray | None = None) -> np.ndarray | None:
    """Foreground [h, w] in 0..1 of an RGB uint8 image (alpha: its alpha channel, if any);
    None when the image has no clear figure on a background."""
    if alpha is not None and int(alpha.min()) < 250:
        mask = alpha.astype(np.float32) / 255.0
    else:
        image = np.ascontiguousarray(rgb, dtype=np.uint8)
        mask = np.empty(image.shape[:2], np.float32)
        if not _border_mask(image, BORDER, NEAR, FAR, UNIFORM_SHARE, mask):
            return None
    share = float(mask.mean())
    if not MIN_FOREGROUND <= share <= MAX_FOREGROUND:
        return None
    return mask


def foreground_weights(
    rgb: np.ndarray, alpha: np.ndarray | None = None, floor: float = BACKGROUND_WEIGHT
) -> np.ndarray | None:
    """Per-pixel weights ``floor + (1 - floor) * mask`` (None: weigh every pixel alike)."""
    mask = foreground_mask(rgb, alpha)
    if mask is None:
        return None
    return (floor + (1.0 - floor) * mask).astype(np.float32)
