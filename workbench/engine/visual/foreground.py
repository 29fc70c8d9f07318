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

import numpy as np

__all__ = ["BACKGROUND_WEIGHT", "foreground_mask", "foreground_weights"]

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


def _border(rgb: np.ndarray) -> np.ndarray:
    b = min(BORDER, rgb.shape[0] // 4, rgb.shape[1] // 4) or 1
    parts = [rgb[:b].reshape(-1, 3), rgb[-b:].reshape(-1, 3)]
    parts += [rgb[b:-b, :b].reshape(-1, 3), rgb[b:-b, -b:].reshape(-1, 3)]
    return np.concatenate(parts).astype(np.float32)


def foreground_mask(rgb: np.ndarray, alpha: np.ndarray | None = None) -> np.ndarray | None:
    """Foreground [h, w] in 0..1 of an RGB uint8 image (alpha: its alpha channel, if any);
    None when the image has no clear figure on a background."""
    if alpha is not None and int(alpha.min()) < 250:
        mask = alpha.astype(np.float32) / 255.0
    else:
        border = _border(rgb)
        colour = np.median(border, axis=0)
        if np.mean(np.linalg.norm(border - colour, axis=1) <= NEAR) < UNIFORM_SHARE:
            return None
        dist = np.linalg.norm(rgb.astype(np.float32) - colour, axis=2)
        mask = np.clip((dist - NEAR) / (FAR - NEAR), 0.0, 1.0)
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
