"""The built-in image descriptor: colour, gradient and tiny-image blocks pooled over grids.

Per pixel (numba, at about ``area`` pixels per image) we compute CIE Lab colour, a soft joint
Lab histogram assignment and a soft gradient-orientation assignment (HOG, Dalal & Triggs,
CVPR 2005), and sum everything into one multi-channel integral image (summed-area table,
Crow, SIGGRAPH 1984). Any box of the image is then described in O(cells x channels) by pooling
the integral image over a spatial grid inside the box, so the whole image and 34 regions per
image (for crop search) cost little more than the whole image alone.

Blocks of the descriptor for a box (the whole-image default: fine colour, gradient, tiny image;
regions and crops: Lab colour, gradient, tiny image):

* colour: Lab histograms on the whole box and a 2x2 grid, Hellinger (square-root) mapped;
* fine colour: one joint RGB histogram (8x8x8) of the whole box, Hellinger mapped,
  each pixel counted by how far it is from the image's plain background colour (the
  border-colour foreground mask of :mod:`workbench.engine.visual.foreground`), so a large white
  or black background does not dominate the colours of the object on it;
* gradient: orientation histograms on 2x2, 4x4 and 6x6 grids, square-rooted, L2-normalised and
  clipped (as in SIFT, Lowe, IJCV 2004);
* tiny image: mean lightness on an 8x8 grid and mean a/b on a 4x4 grid, zero-mean and
  contrast-normalised.

Each block is L2-normalised and weighted, the concatenation is L2-normalised again, so inner
product is cosine similarity. Regions (and crop queries) use a coarser layout with more weight
on colour (:func:`region_config_for`): a crop rarely lines up with a region, and fine grids
punish the misalignment. Optional PCA whitening fitted on a dataset lives in
:mod:`workbench.engine.visual.pca`.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numba
import numpy as np

from workbench.engine.visual import foreground

__all__ = [
    "REGION_BOXES",
    "DescriptorConfig",
    "describe_array",
    "describe_boxes",
    "integral_features",
    "region_config_for",
    "region_pixel_boxes",
    "same_features",
]

# Regions indexed per image for crop search, as fractions (x0, y0, x1, y1) of the image:
# the whole image, a 2x2 grid of 2/3-size windows, a 3x3 grid of half-size windows, four
# 2/3-wide (or -tall) full-height (or -width) strips, and a 4x4 grid of 0.4-size windows for
# objects of 10-20% of the image: 34 regions that cover crops of 25-50% of an image with good
# overlap and an object's neighbourhood with little background (measured in bench/visual.md).
REGION_BOXES: tuple[tuple[float, float, float, float], ...] = (
    (0.0, 0.0, 1.0, 1.0),
    *((x, y, x + 2 / 3, y + 2 / 3) for y in (0.0, 1 / 3) for x in (0.0, 1 / 3)),
    *((x, y, x + 0.5, y + 0.5) for y in (0.0, 0.25, 0.5) for x in (0.0, 0.25, 0.5)),
    (0.0, 0.0, 2 / 3, 1.0),
    (1 / 3, 0.0, 1.0, 1.0),
    (0.0, 0.0, 1.0, 2 / 3),
    (0.0, 1 / 3, 1.0, 1.0),
    *((x, y, x + 0.4, y + 0.4) for y in (0.0, 0.2, 0.4, 0.6) for x in (0.0, 0.2, 0.4, 0.6)),
)


@dataclass(frozen=True)
class DescriptorConfig:
    """Parameters of the built-in descriptor; any change gives a new :attr:`version`. The
    defaults were chosen on the tuning halves of the development sets only (bench/visual.md).

    ``colour_grids`` are the grids of the Lab colour block (empty: no Lab block; the Lab bins
    are still summed for the region layout), ``rgb_bins`` the bins per channel of the fine
    colour block (0: none), ``rgb_foreground`` whether it counts pixels by the foreground mask;
    ``w_*`` are the blocks' weights (shares of the squared norm)."""

    area: int = 64 * 64
    lab_bins: tuple[int, int, int] = (4, 5, 5)
    ab_range: float = 50.0
    colour_grids: tuple[int, ...] = ()
    orientations: int = 9
    signed: bool = False
    hog_grids: tuple[int, ...] = (2, 4, 6)
    hog_clip: float = 0.3
    tiny_grid: int = 8
    tiny_colour_grid: int = 4
    w_colour: float = 1.0
    w_gradient: float = 5.0
    w_tiny: float = 0.5
    rgb_bins: int = 8
    rgb_foreground: bool = True
    w_rgb: float = 1.0

    @property
    def n_colour(self) -> int:
        return self.lab_bins[0] * self.lab_bins[1] * self.lab_bins[2]

    @property
    def channels(self) -> int:
        """Channels of the feature table: colour bins, orientation bins, L, a, b (summed), then
        with ``rgb_bins`` each pixel's RGB bin and weight (not summed)."""
        return self.n_colour + self.orientations + 3 + (2 if self.rgb_bins else 0)

    @property
    def dim(self) -> int:
        colour = self.n_colour * sum(g * g for g in self.colour_grids)
        gradient = self.orientations * sum(g * g for g in self.hog_grids)
        tiny = self.tiny_grid**2 + 2 * self.tiny_colour_grid**2
        return colour + self.rgb_bins**3 + gradient + tiny

    def to_json(self) -> dict[str, object]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, object]) -> DescriptorConfig:
        kwargs: dict[str, object] = {}
        for f in dataclasses.fields(cls):
            if f.name in data:
                value = data[f.name]
                kwargs[f.name] = tuple(value) if isinstance(value, list) else value
        return cls(**kwargs)  # type: ignore[arg-type]

    @property
    def version(self) -> str:
        fields = self.to_json()
        if self.rgb_bins and self.rgb_foreground:
            # The foreground mask (its algorithm and thresholds) is part of the descriptor.
            fields["foreground"] = [
                foreground.MASK_VERSION,
                foreground.BORDER,
                foreground.UNIFORM_SHARE,
                foreground.NEAR,
                foreground.FAR,
                foreground.MIN_FOREGROUND,
                foreground.MAX_FOREGROUND,
            ]
        blob = json.dumps({"algo": 1, **fields}, sort_keys=True).encode()
        return "builtin-1-" + hashlib.sha1(blob).hexdigest()[:10]


def _srgb_to_linear_lut() -> np.ndarray:
    c = np.arange(256, dtype=np.float64) / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


_LINEAR_LUT = _srgb_to_linear_lut()


@numba.njit(cache=True, nogil=True)
def _lab_f(t: float) -> float:
    if t > 0.008856451679035631:
        return np.cbrt(t)
    return t / 0.12841854934601665 + 4.0 / 29.0


@numba.njit(cache=True, nogil=True)
def _soft_bin(v: float, lo: float, step: float, n: int) -> tuple[int, float]:
    """Lower bin index and the weight of the upper neighbour for linear interpolation."""
    pos = (v - lo) / step
    if pos <= 0.0:
        return 0, 0.0
    if pos >= n - 1:
        return n - 1, 0.0
    i = int(pos)
    return i, pos - i


@numba.njit(cache=True, nogil=True)
def _integral_kernel(
    rgb: np.ndarray,
    lut: np.ndarray,
    n_l: int,
    n_a: int,
    n_b: int,
    ab_range: float,
    n_orient: int,
    signed: bool,
    weight: np.ndarray,
    rgb_bins: int,
    rgb_weight: np.ndarray,
    feat: np.ndarray,
) -> None:
    """The summed-area table of ``rgb`` into ``feat`` [h+1, w+1, channels] (every value is
    written; see :func:`integral_features`)."""
    h, w = rgb.shape[0], rgb.shape[1]
    n_col = n_l * n_a * n_b
    n_ch = n_col + n_orient + 3
    lab = np.empty((h, w, 3), dtype=np.float64)
    for y in range(h):
        for x in range(w):
            if x > 0 and (
                rgb[y, x, 0] == rgb[y, x - 1, 0]
                and rgb[y, x, 1] == rgb[y, x - 1, 1]
                and rgb[y, x, 2] == rgb[y, x - 1, 2]
            ):
                # A run of one colour (plain backgrounds and fills): the same Lab values.
                lab[y, x, 0] = lab[y, x - 1, 0]
                lab[y, x, 1] = lab[y, x - 1, 1]
                lab[y, x, 2] = lab[y, x - 1, 2]
                continue
            r = lut[rgb[y, x, 0]]
            g = lut[rgb[y, x, 1]]
            b = lut[rgb[y, x, 2]]
            # sRGB (D65) -> XYZ -> Lab.
            xx = (0.4124564 * r + 0.3575761 * g + 0.1804375 * b) / 0.95047
            yy = 0.2126729 * r + 0.7151522 * g + 0.0721750 * b
            zz = (0.0193339 * r + 0.1191920 * g + 0.9503041 * b) / 1.08883
            fx = _lab_f(xx)
            fy = _lab_f(yy)
            fz = _lab_f(zz)
            lab[y, x, 0] = 116.0 * fy - 16.0
            lab[y, x, 1] = 500.0 * (fx - fy)
            lab[y, x, 2] = 200.0 * (fy - fz)
    feat[0, :, :] = 0.0
    feat[:, 0, :] = 0.0
    px = np.zeros(n_ch, dtype=np.float32)
    run = np.empty(n_ch, dtype=np.float32)
    touched = np.empty(10, dtype=np.int64)
    l_step = 100.0 / max(n_l - 1, 1)
    ab_step = 2.0 * ab_range / max(n_a - 1, 1)
    b_step = 2.0 * ab_range / max(n_b - 1, 1)
    period = 2.0 * np.pi if signed else np.pi
    o_step = period / n_orient
    for y in range(h):
        ym = max(y - 1, 0)
        yp = min(y + 1, h - 1)
        run[:] = 0.0
        for x in range(w):
            n_touched = 0
            lv = lab[y, x, 0]
            av = lab[y, x, 1]
            bv = lab[y, x, 2]
            il, wl = _soft_bin(lv, 0.0, l_step, n_l)
            ia, wa = _soft_bin(av, -ab_range, ab_step, n_a)
            ib, wb = _soft_bin(bv, -ab_range, b_step, n_b)
            for dl in range(2):
                fl = wl if dl == 1 else 1.0 - wl
                for da in range(2):
                    fa = wa if da == 1 else 1.0 - wa
                    for db in range(2):
                        fb = wb if db == 1 else 1.0 - wb
                        idx = (min(il + dl, n_l - 1) * n_a + min(ia + da, n_a - 1)) * n_b + min(
                            ib + db, n_b - 1
                        )
                        px[idx] += fl * fa * fb
                        touched[n_touched] = idx
                        n_touched += 1
            xm = max(x - 1, 0)
            xp = min(x + 1, w - 1)
            gx = lab[y, xp, 0] - lab[y, xm, 0]
            gy = lab[yp, x, 0] - lab[ym, x, 0]
            mag = np.sqrt(gx * gx + gy * gy)
            if mag > 0.0:
                ang = np.arctan2(gy, gx)
                if ang < 0.0:
                    ang += 2.0 * np.pi
                if not signed and ang >= np.pi:
                    ang -= np.pi
                pos = ang / o_step - 0.5
                if pos < 0.0:
                    pos += n_orient
                i0 = int(pos)
                frac = pos - i0
                i0 = i0 % n_orient
                i1 = (i0 + 1) % n_orient
                px[n_col + i0] += mag * (1.0 - frac)
                px[n_col + i1] += mag * frac
                touched[n_touched] = n_col + i0
                touched[n_touched + 1] = n_col + i1
                n_touched += 2
            px[n_col + n_orient] = lv
            px[n_col + n_orient + 1] = av
            px[n_col + n_orient + 2] = bv
            # Summed-area table: running row sum plus the table's row above (each pixel
            # weighted: 1 everywhere, except for a crop query's background, see foreground_weights)
            above = feat[y, x + 1]
            out = feat[y + 1, x + 1]
            wt = weight[y, x]
            # Only the touched channels of px are non-zero: adding 0 * wt to the others would
            # leave their running sums as they are.
            for t in range(n_touched):
                c = touched[t]
                run[c] += px[c] * wt
                px[c] = 0.0
            for c in range(n_col + n_orient, n_ch):
                run[c] += px[c] * wt
                px[c] = 0.0
            for c in range(n_ch):
                out[c] = run[c] + above[c]
            if rgb_bins > 0:
                # Per-pixel (not summed): the joint RGB bin and the pixel's weight in it.
                q0 = (int(rgb[y, x, 0]) * rgb_bins) // 256
                q1 = (int(rgb[y, x, 1]) * rgb_bins) // 256
                q2 = (int(rgb[y, x, 2]) * rgb_bins) // 256
                out[n_ch] = (q0 * rgb_bins + q1) * rgb_bins + q2
                out[n_ch + 1] = wt * rgb_weight[y, x]


def integral_features(
    rgb: np.ndarray,
    cfg: DescriptorConfig,
    weight: np.ndarray | None = None,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Summed-area table [h+1, w+1, channels] of the per-pixel features of an RGB uint8 image,
    each pixel counted with ``weight`` [h, w] (default 1). With ``cfg.rgb_bins`` two more
    channels hold each pixel's joint RGB bin and its weight for the fine colour block (the
    pixel's ``weight`` times its foreground mask value when ``cfg.rgb_foreground``).

    ``out``: a float32 buffer of that shape to write the table into (an extraction loop reuses
    one: the first touches of a fresh 2 MB table cost more than computing it); ignored when
    its shape differs."""
    n_l, n_a, n_b = cfg.lab_bins
    h, w = rgb.shape[0], rgb.shape[1]
    if weight is None:
        weight = np.ones((h, w), dtype=np.float32)
    rgb_weight = None
    if cfg.rgb_bins and cfg.rgb_foreground:
        rgb_weight = foreground.foreground_mask(np.asarray(rgb, dtype=np.uint8))
    if rgb_weight is None:
        rgb_weight = np.ones((h, w), dtype=np.float32)
    shape = (h + 1, w + 1, cfg.channels)
    if out is None or out.shape != shape or out.dtype != np.float32:
        # float32 halves the memory traffic; sums stay far inside float32's exact range here.
        out = np.empty(shape, dtype=np.float32)
    _integral_kernel(
        np.ascontiguousarray(rgb, dtype=np.uint8),
        _LINEAR_LUT,
        n_l,
        n_a,
        n_b,
        float(cfg.ab_range),
        cfg.orientations,
        cfg.signed,
        np.ascontiguousarray(weight, dtype=np.float32),
        cfg.rgb_bins,
        np.ascontiguousarray(rgb_weight, dtype=np.float32),
        out,
    )
    return out


@numba.njit(cache=True, nogil=True)
def _interp(feat: np.ndarray, y: float, x: float, c0: int, c1: int, out: np.ndarray) -> None:
    """Bilinear read of the summed-area table: exact area-weighted sums at fractional corners."""
    h1 = feat.shape[0] - 1
    w1 = feat.shape[1] - 1
    y = min(max(y, 0.0), float(h1))
    x = min(max(x, 0.0), float(w1))
    y0 = min(int(y), h1 - 1) if h1 > 0 else 0
    x0 = min(int(x), w1 - 1) if w1 > 0 else 0
    fy = y - y0
    fx = x - x0
    for c in range(c0, c1):
        top = feat[y0, x0, c] * (1.0 - fx) + feat[y0, x0 + 1, c] * fx
        bot = feat[y0 + 1, x0, c] * (1.0 - fx) + feat[y0 + 1, x0 + 1, c] * fx
        out[c - c0] = top * (1.0 - fy) + bot * fy


@numba.njit(cache=True, nogil=True)
def _pool(
    feat: np.ndarray,
    x0: float,
    y0: float,
    x1: float,
    y1: float,
    c0: int,
    c1: int,
    out: np.ndarray,
    tmp: np.ndarray,
) -> None:
    n = c1 - c0
    _interp(feat, y1, x1, c0, c1, out)
    _interp(feat, y0, x1, c0, c1, tmp)
    for i in range(n):
        out[i] -= tmp[i]
    _interp(feat, y1, x0, c0, c1, tmp)
    for i in range(n):
        out[i] -= tmp[i]
    _interp(feat, y0, x0, c0, c1, tmp)
    for i in range(n):
        out[i] += tmp[i]


@numba.njit(cache=True, nogil=True)
def normalise_in_place(v: np.ndarray) -> None:
    """Scale ``v`` to unit L2 norm in place (a zero vector stays zero); numba-callable."""
    s = 0.0
    for i in range(v.shape[0]):
        s += v[i] * v[i]
    if s > 0.0:
        s = 1.0 / np.sqrt(s)
        for i in range(v.shape[0]):
            v[i] *= s


@numba.njit(cache=True, nogil=True)
def _cell(feat: np.ndarray, box: np.ndarray, g: int, gx: int, gy: int, c0: int, c1: int,
          cell: np.ndarray, tmp: np.ndarray) -> None:  # fmt: skip
    """Sum of channels c0..c1 over cell (gx, gy) of a g x g grid on ``box`` (x0, y0, x1, y1)."""
    bw = box[2] - box[0]
    bh = box[3] - box[1]
    _pool(feat, box[0] + bw * gx / g, box[1] + bh * gy / g, box[0] + bw * (gx + 1) / g,
          box[1] + bh * (gy + 1) / g, c0, c1, cell, tmp)  # fmt: skip


@numba.njit(cache=True, nogil=True)
def _colour_block(feat: np.ndarray, box: np.ndarray, n_col: int, grids: np.ndarray,
                  vec: np.ndarray, cell: np.ndarray, tmp: np.ndarray) -> int:  # fmt: skip
    """Hellinger-mapped Lab histograms per cell into ``vec``; returns the length written."""
    pos = 0
    for g in grids:
        for gy in range(g):
            for gx in range(g):
                _cell(feat, box, g, gx, gy, 0, n_col, cell, tmp)
                total = 0.0
                for i in range(n_col):
                    v = max(cell[i], 0.0)
                    cell[i] = v
                    total += v
                for i in range(n_col):
                    vec[pos + i] = np.sqrt(cell[i] / total) if total > 0.0 else 0.0
                pos += n_col
    normalise_in_place(vec[0:pos])
    return pos


@numba.njit(cache=True, nogil=True)
def _fine_colour_block(feat: np.ndarray, box: np.ndarray, c0: int, n_bins: int,
                       vec: np.ndarray) -> int:  # fmt: skip
    """Hellinger-mapped joint RGB histogram of the pixels whose centres lie in ``box``, each
    counted with its weight (channel c0 + 1) in its bin (channel c0); returns the length."""
    h = feat.shape[0] - 1
    w = feat.shape[1] - 1
    xa = min(max(int(np.ceil(box[0] - 0.5)), 0), w - 1)
    ya = min(max(int(np.ceil(box[1] - 0.5)), 0), h - 1)
    xb = min(max(int(np.ceil(box[2] - 0.5)), xa + 1), w)
    yb = min(max(int(np.ceil(box[3] - 0.5)), ya + 1), h)
    for i in range(n_bins):
        vec[i] = 0.0
    total = 0.0
    for y in range(ya, yb):
        for x in range(xa, xb):
            wt = feat[y + 1, x + 1, c0 + 1]
            vec[int(feat[y + 1, x + 1, c0])] += wt
            total += wt
    if total > 0.0:
        for i in range(n_bins):
            vec[i] = np.sqrt(vec[i] / total)
    normalise_in_place(vec[0:n_bins])
    return n_bins


@numba.njit(cache=True, nogil=True)
def _gradient_block(feat: np.ndarray, box: np.ndarray, c0: int, n_orient: int,
                    grids: np.ndarray, clip: float, vec: np.ndarray, cell: np.ndarray,
                    tmp: np.ndarray) -> int:  # fmt: skip
    """Orientation histograms per cell: sqrt, L2, clip, L2 (as SIFT); returns the length."""
    pos = 0
    for g in grids:
        for gy in range(g):
            for gx in range(g):
                _cell(feat, box, g, gx, gy, c0, c0 + n_orient, cell, tmp)
                for i in range(n_orient):
                    vec[pos + i] = np.sqrt(max(cell[i], 0.0))
                pos += n_orient
    grad = vec[0:pos]
    normalise_in_place(grad)
    if clip > 0.0:
        for i in range(pos):
            grad[i] = min(grad[i], clip)
        normalise_in_place(grad)
    return pos


@numba.njit(cache=True, nogil=True)
def _tiny_block(feat: np.ndarray, box: np.ndarray, lc: int, grid: int, colour_grid: int,
                vec: np.ndarray, cell: np.ndarray, tmp: np.ndarray) -> int:  # fmt: skip
    """Mean lightness on a fine grid (zero mean) and mean a/b on a coarse grid (grey is 0
    already), L2-normalised together; returns the length written."""
    n_l = grid * grid
    n_ab = colour_grid * colour_grid
    area = ((box[2] - box[0]) / grid) * ((box[3] - box[1]) / grid)
    for gy in range(grid):
        for gx in range(grid):
            _cell(feat, box, grid, gx, gy, lc, lc + 1, cell, tmp)
            vec[gy * grid + gx] = cell[0] / area
    area = ((box[2] - box[0]) / colour_grid) * ((box[3] - box[1]) / colour_grid)
    for gy in range(colour_grid):
        for gx in range(colour_grid):
            _cell(feat, box, colour_grid, gx, gy, lc + 1, lc + 3, cell, tmp)
            vec[n_l + gy * colour_grid + gx] = cell[0] / area
            vec[n_l + n_ab + gy * colour_grid + gx] = cell[1] / area
    mean = 0.0
    for i in range(n_l):
        mean += vec[i]
    mean /= n_l
    for i in range(n_l):
        vec[i] -= mean
    normalise_in_place(vec[0 : n_l + 2 * n_ab])
    return n_l + 2 * n_ab


@numba.njit(cache=True, nogil=True)
def _describe_kernel(
    feat: np.ndarray,
    boxes: np.ndarray,
    n_col: int,
    n_orient: int,
    colour_grids: np.ndarray,
    hog_grids: np.ndarray,
    hog_clip: float,
    tiny_grid: int,
    tiny_colour_grid: int,
    w_colour: float,
    w_grad: float,
    w_tiny: float,
    rgb_bins: int,
    w_rgb: float,
    out: np.ndarray,
) -> None:
    """Each box's descriptor into ``out``: the blocks, weighted, unit norm overall."""
    tmp = np.empty(feat.shape[2], dtype=np.float64)
    cell = np.empty(feat.shape[2], dtype=np.float64)
    n_fine = rgb_bins * rgb_bins * rgb_bins
    for bi in range(boxes.shape[0]):
        box = boxes[bi]
        vec = out[bi]
        a0 = _colour_block(feat, box, n_col, colour_grids, vec, cell, tmp)
        a = a0
        if n_fine > 0:
            a += _fine_colour_block(feat, box, n_col + n_orient + 3, n_fine, vec[a0:])
        b = a + _gradient_block(feat, box, n_col, n_orient, hog_grids, hog_clip, vec[a:], cell,
                                tmp)  # fmt: skip
        c = b + _tiny_block(feat, box, n_col + n_orient, tiny_grid, tiny_colour_grid, vec[b:],
                            cell, tmp)  # fmt: skip
        for i in range(a0):
            vec[i] *= w_colour
        for i in range(a0, a):
            vec[i] *= w_rgb
        for i in range(a, b):
            vec[i] *= w_grad
        for i in range(b, c):
            vec[i] *= w_tiny
        normalise_in_place(vec[0:c])


@functools.lru_cache(maxsize=64)
def _weights(cfg: DescriptorConfig) -> tuple[float, float, float, float]:
    """Square roots of the block weights' shares (colour, gradient, tiny, fine colour); a block
    that is absent from the layout takes no share."""
    raw = np.array(
        [
            cfg.w_colour if cfg.colour_grids else 0.0,
            cfg.w_gradient if cfg.hog_grids else 0.0,
            cfg.w_tiny,
            cfg.w_rgb if cfg.rgb_bins else 0.0,
        ],
        dtype=np.float64,
    )
    raw = np.sqrt(np.maximum(raw, 0.0) / max(raw.sum(), 1e-12))
    return float(raw[0]), float(raw[1]), float(raw[2]), float(raw[3])


@functools.lru_cache(maxsize=64)
def _grids(cfg: DescriptorConfig) -> tuple[np.ndarray, np.ndarray]:
    """The colour and gradient grids of a layout as the kernel takes them (read-only)."""
    colour = np.asarray(cfg.colour_grids, dtype=np.int64)
    hog = np.asarray(cfg.hog_grids, dtype=np.int64)
    colour.flags.writeable = hog.flags.writeable = False
    return colour, hog


_scratch = threading.local()  # each thread's float64 work rows of describe_boxes
_KEEP_ROWS = 1 << 18
"""Values of work rows kept per thread (2 MB); a larger call gets rows of its own."""


def describe_boxes(feat: np.ndarray, boxes: np.ndarray, cfg: DescriptorConfig) -> np.ndarray:
    """Descriptors [len(boxes), dim] (float32, unit norm) of pixel boxes (x0, y0, x1, y1)."""
    boxes = np.ascontiguousarray(boxes, dtype=np.float64).reshape(-1, 4)
    if feat.shape[2] < cfg.channels:
        raise ValueError(f"the feature table has {feat.shape[2]} channels, the layout needs "
                         f"{cfg.channels}")  # fmt: skip
    # The kernel works in float64 in rows kept per thread (fresh pages cost more than the
    # work here); every value of the rows it is given is written.
    size = boxes.shape[0] * cfg.dim
    work = getattr(_scratch, "rows", None)
    if work is None or work.size < size:
        work = np.empty(size, dtype=np.float64)
        if size <= _KEEP_ROWS:
            _scratch.rows = work
    out = work[:size].reshape(boxes.shape[0], cfg.dim)
    out[:] = 0.0
    wc, wg, wt, wr = _weights(cfg)
    colour_grids, hog_grids = _grids(cfg)
    _describe_kernel(
        feat,
        boxes,
        cfg.n_colour,
        cfg.orientations,
        colour_grids,
        hog_grids,
        float(cfg.hog_clip),
        cfg.tiny_grid,
        cfg.tiny_colour_grid,
        wc,
        wg,
        wt,
        cfg.rgb_bins,
        wr,
        out,
    )
    return out.astype(np.float32)


def region_pixel_boxes(
    width: int, height: int, fractions: Sequence[tuple[float, float, float, float]] = REGION_BOXES
) -> np.ndarray:
    """Pixel boxes (x0, y0, x1, y1) for fractional region boxes of a width x height image."""
    f = np.asarray(fractions, dtype=np.float64).reshape(-1, 4)
    scale = np.array([width, height, width, height], dtype=np.float64)
    return f * scale


def describe_array(rgb: np.ndarray, cfg: DescriptorConfig) -> np.ndarray:
    """Descriptor [dim] of a whole RGB uint8 image."""
    feat = integral_features(rgb, cfg)
    h, w = rgb.shape[0], rgb.shape[1]
    return describe_boxes(feat, np.array([[0.0, 0.0, w, h]]), cfg)[0]


def region_config_for(cfg: DescriptorConfig) -> DescriptorConfig:
    """The coarser layout used for regions and crops, on the same per-pixel features (without
    the fine colour block: regions are compared with crops whose background is weighted
    separately, see :mod:`workbench.engine.visual.foreground`)."""
    return dataclasses.replace(
        cfg,
        rgb_bins=0,
        colour_grids=(1, 2),
        hog_grids=(1, 2),
        tiny_grid=4,
        tiny_colour_grid=2,
        w_colour=1.5,
        w_gradient=2.0,
        w_tiny=0.5,
    )


def same_features(a: DescriptorConfig, b: DescriptorConfig) -> bool:
    """Whether two configs pool the same summed per-pixel features (so one extraction serves
    both; the table of the config with ``rgb_bins`` also serves one without)."""
    keys = ("area", "lab_bins", "ab_range", "orientations", "signed")
    return all(getattr(a, k) == getattr(b, k) for k in keys)
