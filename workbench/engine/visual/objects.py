"""Object proposals and object signatures: crop search that ignores the background.

A region descriptor of a scene describes a whole window, background included, so an object
cut out onto white cannot match a window where the same object sits on grass. Here both sides
describe objects only. At index time each image is scanned with square windows at a few object
scales; a window whose frame is well explained by a smooth background (a colour plane fitted
by least squares to the frame pixels, refitted on the best 60% of them so an object touching
the frame does not drag it) yields a foreground mask (distance from that plane, soft
threshold), and the mask's bounding box is an object proposal. The query's mask is its alpha
channel, or the same plane fit on its own frame. Each proposal and the query get a small
signature computed on the foreground pixels only, after resampling the proposal's box to a
fixed patch (so the object's size in the image does not matter):

* colour: a 4x4x4 RGB histogram of foreground pixels (Swain & Ballard, IJCV 1991, count only
  the object), Hellinger (square-root) mapped;
* layout: mean foreground colour and foreground share on a 4x4 grid of the box;
* gradient: foreground orientation histograms (8 unsigned bins) on a 2x2 grid, square-rooted.

Blocks are L2-normalised and concatenated, so inner product is cosine similarity; signatures
are stored as int8 (a proposal then costs :data:`DIM` bytes). Nothing here depends on the
built-in descriptor's internals: an image is RGB pixels in, signatures out.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numba
import numpy as np

from workbench.engine.visual.descriptors import normalise_in_place

__all__ = [
    "DIM",
    "VERSION",
    "best_scores",
    "image_objects",
    "query_object",
    "to_int8",
]

VERSION = 3
"""Changes whenever stored signatures would differ (stored spaces are then rebuilt)."""
PATCH = 20
"""Side of the patch a proposal's box is resampled to before its signature is computed."""
WINDOW_SIDES = (0.35, 0.5, 0.7)
"""Window sides as fractions of the image's short side (plus the whole image)."""
FRAME = 1
"""Pixels of a window's frame that define its background (1 and 2 found the same objects on
the tuning scenes; 1 costs half)."""
NEAR = 24.0
"""RGB distance from the background plane still counted as background."""
FAR = 72.0
"""RGB distance from which a pixel is wholly foreground."""
FIT_SHARE = 0.6
"""Share of the frame that must lie within NEAR of the plane (and share refitted on)."""
MIN_SHARE = 0.05
MAX_SHARE = 0.9
"""A window whose foreground covers less or more than this is no proposal."""
SAME_BOX = 0.8
"""Proposals whose boxes overlap more than this (intersection over union) are one object."""
STRIDE = 3
"""Windows of a scale step by their side over this."""
BOX_UNIT = 65535
"""Stored proposal boxes are fractions of the image's sides in units of 1 / BOX_UNIT."""
_COLOUR = 64
_LAYOUT = 4 * 4 * 4
_GRADIENT = 2 * 2 * 8
DIM = _COLOUR + _LAYOUT + _GRADIENT


@numba.njit(cache=True, nogil=True)
def _fit(
    rgb: np.ndarray,
    ys: np.ndarray,
    xs: np.ndarray,
    use: np.ndarray,
    n: int,
    us: np.ndarray,
    vs: np.ndarray,
    x0: int,
    y0: int,
    a: np.ndarray,
    b: np.ndarray,
    inv: np.ndarray,
    p: np.ndarray,
) -> None:
    """Least-squares colour plane c(u, v) = p0 + p1 u + p2 v over the first ``n`` frame
    pixels in ``use`` (u, v: position in the window in 0..1, ``us``/``vs`` by column/row of
    the window); the 3x3 coefficients (rows p0, p1, p2) into ``p``, zeros when the frame is
    degenerate. ``a``, ``b``, ``inv``: 3x3 work arrays."""
    # Sums in locals (not in the arrays): the same additions in the same order, in registers.
    a00 = a01 = a02 = a11 = a12 = a22 = 0.0
    b00 = b01 = b02 = b10 = b11 = b12 = b20 = b21 = b22 = 0.0
    for i in range(n):
        if not use[i]:
            continue
        u = us[xs[i] - x0]
        v = vs[ys[i] - y0]
        a00 += 1.0
        a01 += u
        a02 += v
        a11 += u * u
        a12 += u * v
        a22 += v * v
        r = rgb[ys[i], xs[i], 0]
        g = rgb[ys[i], xs[i], 1]
        bl = rgb[ys[i], xs[i], 2]
        b00 += r
        b10 += u * r
        b20 += v * r
        b01 += g
        b11 += u * g
        b21 += v * g
        b02 += bl
        b12 += u * bl
        b22 += v * bl
    a[0, 0], a[0, 1], a[0, 2], a[1, 1], a[1, 2], a[2, 2] = a00, a01, a02, a11, a12, a22
    b[0, 0], b[0, 1], b[0, 2] = b00, b01, b02
    b[1, 0], b[1, 1], b[1, 2] = b10, b11, b12
    b[2, 0], b[2, 1], b[2, 2] = b20, b21, b22
    a[1, 0], a[2, 0], a[2, 1] = a[0, 1], a[0, 2], a[1, 2]
    # Inverse of the symmetric 3x3 normal matrix by its adjugate.
    c00 = a[1, 1] * a[2, 2] - a[1, 2] * a[2, 1]
    c01 = a[1, 2] * a[2, 0] - a[1, 0] * a[2, 2]
    c02 = a[1, 0] * a[2, 1] - a[1, 1] * a[2, 0]
    det = a[0, 0] * c00 + a[0, 1] * c01 + a[0, 2] * c02
    p[:] = 0.0
    if abs(det) < 1e-9:
        return
    inv[0, 0] = c00
    inv[0, 1] = a[0, 2] * a[2, 1] - a[0, 1] * a[2, 2]
    inv[0, 2] = a[0, 1] * a[1, 2] - a[0, 2] * a[1, 1]
    inv[1, 0] = c01
    inv[1, 1] = a[0, 0] * a[2, 2] - a[0, 2] * a[2, 0]
    inv[1, 2] = a[0, 2] * a[1, 0] - a[0, 0] * a[1, 2]
    inv[2, 0] = c02
    inv[2, 1] = a[0, 1] * a[2, 0] - a[0, 0] * a[2, 1]
    inv[2, 2] = a[0, 0] * a[1, 1] - a[0, 1] * a[1, 0]
    for r in range(3):
        for c in range(3):
            p[r, c] = (inv[r, 0] * b[0, c] + inv[r, 1] * b[1, c] + inv[r, 2] * b[2, c]) / det


@numba.njit(cache=True, nogil=True)
def _residual2(rgb: np.ndarray, y: int, x: int, p: np.ndarray, u: float, v: float) -> float:
    """Squared RGB distance of pixel (y, x), at (u, v) in its window, from the window's
    background plane ``p``."""
    s = 0.0
    for c in range(3):
        d = rgb[y, x, c] - (p[0, c] + p[1, c] * u + p[2, c] * v)
        s += d * d
    return s


@numba.njit(cache=True, nogil=True)
def _select(v: np.ndarray, k: int) -> float:
    """The k-th smallest value of ``v`` (as ``np.sort(v)[k]``; ``v`` is reordered): Hoare's
    selection, linear on average."""
    lo, hi = 0, v.shape[0] - 1
    while lo < hi:
        pivot = v[(lo + hi) // 2]
        i, j = lo, hi
        while i <= j:
            while v[i] < pivot:
                i += 1
            while v[j] > pivot:
                j -= 1
            if i <= j:
                v[i], v[j] = v[j], v[i]
                i += 1
                j -= 1
        if k <= j:
            hi = j
        elif k >= i:
            lo = i
        else:
            break
    return v[k]


class _Work(NamedTuple):
    """Work arrays of the window scan, allocated once per image (sized for its largest
    window): frame pixels, their residuals, window positions, the 3x3 fit."""

    ys: np.ndarray
    xs: np.ndarray
    use: np.ndarray
    d: np.ndarray
    cut: np.ndarray
    us: np.ndarray
    vs: np.ndarray
    cols: np.ndarray
    a: np.ndarray
    b: np.ndarray
    inv: np.ndarray
    p: np.ndarray


@numba.njit(cache=True, nogil=True)
def _work(h: int, w: int) -> _Work:
    n = 2 * h + 2 * w
    return _Work(
        np.empty(n, np.int64),
        np.empty(n, np.int64),
        np.empty(n, np.bool_),
        np.empty(n),
        np.empty(n),
        np.empty(w),
        np.empty(h),
        np.empty((w, 3)),
        np.empty((3, 3)),
        np.empty((3, 3)),
        np.empty((3, 3)),
        np.empty((3, 3)),
    )


@numba.njit(cache=True, nogil=True)
def _window_mask(
    rgb: np.ndarray,
    x0: int,
    y0: int,
    w: int,
    h: int,
    frame: int,
    near: float,
    far: float,
    fit_share: float,
    mask: np.ndarray,
    box: np.ndarray,
    work: _Work,
) -> float:
    """Foreground of the window (x0, y0, w, h) into ``mask[:h, :w]`` and the bounding box of
    mask > 0.5 into ``box`` (x0, y0, x1, y1, window coordinates); returns the mean mask, or
    -1 when the window's frame is not a smooth background. ``work``: :func:`_work` arrays of
    at least this window's size."""
    b = max(1, min(frame, w // 4, h // 4))
    n = 2 * b * w + 2 * b * (h - 2 * b)
    ys, xs, use, d, p = work.ys, work.xs, work.use, work.d, work.p
    us, vs = work.us, work.vs
    for x in range(w):
        us[x] = (x + 0.5) / w
    for y in range(h):
        vs[y] = (y + 0.5) / h
    # The frame, row by row: whole rows at the top and bottom, b pixels each side between.
    i = 0
    for y in range(y0, y0 + h):
        if b <= y - y0 < h - b:
            for x in range(x0, x0 + b):
                ys[i], xs[i] = y, x
                i += 1
            for x in range(x0 + w - b, x0 + w):
                ys[i], xs[i] = y, x
                i += 1
        else:
            for x in range(x0, x0 + w):
                ys[i], xs[i] = y, x
                i += 1
    use[:n] = True
    _fit(rgb, ys, xs, use, n, us, vs, x0, y0, work.a, work.b, work.inv, p)
    for i in range(n):
        d[i] = _residual2(rgb, ys[i], xs[i], p, us[xs[i] - x0], vs[ys[i] - y0])
    srt = work.cut[:n]
    srt[:] = d[:n]
    cut = _select(srt, min(n - 1, int(fit_share * n)))
    for i in range(n):
        use[i] = d[i] <= cut
    _fit(rgb, ys, xs, use, n, us, vs, x0, y0, work.a, work.b, work.inv, p)
    near2 = near * near
    near_count = 0
    for i in range(n):
        if _residual2(rgb, ys[i], xs[i], p, us[xs[i] - x0], vs[ys[i] - y0]) <= near2:
            near_count += 1
    if near_count < fit_share * n:
        return -1.0
    # The plane p0 + p1 u + p2 v as (p0 + p1 u) by column plus p2 v by row: the same sums.
    cols = work.cols
    for x in range(w):
        for c in range(3):
            cols[x, c] = p[0, c] + p[1, c] * us[x]
    p20, p21, p22 = p[2, 0], p[2, 1], p[2, 2]
    bx0, by0, bx1, by1 = w, h, -1, -1
    total = 0.0
    for y in range(h):
        v = vs[y]
        t0, t1, t2 = p20 * v, p21 * v, p22 * v
        for x in range(w):
            d0 = rgb[y0 + y, x0 + x, 0] - (cols[x, 0] + t0)
            d1 = rgb[y0 + y, x0 + x, 1] - (cols[x, 1] + t1)
            d2 = rgb[y0 + y, x0 + x, 2] - (cols[x, 2] + t2)
            r2 = d0 * d0 + d1 * d1 + d2 * d2
            if r2 <= near2:
                mask[y, x] = 0.0
                continue
            m = min(1.0, (np.sqrt(r2) - near) / (far - near))
            mask[y, x] = m
            total += m
            if m > 0.5:
                bx0 = min(bx0, x)
                by0 = min(by0, y)
                bx1 = max(bx1, x)
                by1 = max(by1, y)
    box[0], box[1], box[2], box[3] = bx0, by0, bx1 + 1, by1 + 1
    return total / (w * h)


_BOUNDS = np.array([(np.cos(k * np.pi / 8), np.sin(k * np.pi / 8)) for k in range(1, 8)])
"""The inner boundaries k pi / 8 of the 8 unsigned orientation bins, as (cos, sin)."""
_MARGIN = 1e-9
"""Relative distance from a bin boundary under which the bin is taken from arctan2."""


@numba.njit(cache=True, nogil=True)
def _orientation_bin(gx: float, gy: float) -> int:
    """``min(7, int(a / pi * 8))`` for the unsigned angle a of (gx, gy) in [0, pi] (arctan2,
    plus pi when negative), from the side of each bin boundary the vector lies on: arctan2
    costs most of a signature. Within :data:`_MARGIN` of a boundary, or on the x axis, where
    the rounding of arctan2 decides, the bin is computed as written above."""
    x, y = gx, gy
    if y < 0.0:
        x, y = -x, -y
    margin = _MARGIN * (abs(x) + abs(y))
    ob = 0
    if y != 0.0:
        for k in range(7):
            side = y * _BOUNDS[k, 0] - x * _BOUNDS[k, 1]
            if abs(side) <= margin:
                ob = -1
                break
            if side > 0.0:
                ob += 1
    if y == 0.0 or ob < 0:
        ang = np.arctan2(gy, gx)
        if ang < 0.0:
            ang += np.pi
        ob = min(7, int(ang / np.pi * 8.0))
    return ob


@numba.njit(cache=True, nogil=True)
def _signature(
    rgb: np.ndarray,
    mask: np.ndarray,
    x0: int,
    y0: int,
    bx0: int,
    by0: int,
    bx1: int,
    by1: int,
    patch: int,
    out: np.ndarray,
) -> None:
    """Signature of the box (bx0, by0)..(bx1, by1) of ``mask`` (window coordinates; the
    window's origin in ``rgb`` is x0, y0) into ``out``."""
    bw = bx1 - bx0
    bh = by1 - by0
    # Area resampling of the box to patch x patch, rows then columns: p holds colour and
    # foreground; each output pixel averages the source pixels it covers (fractionally).
    rows = np.zeros((patch, bw, 4))
    step = bh / patch
    for o in range(patch):
        lo = o * step
        hi = lo + step
        for j in range(int(lo), min(bh, int(np.ceil(hi)))):
            f = (min(hi, j + 1.0) - max(lo, float(j))) / step
            if f <= 0.0:
                continue
            for x in range(bw):
                rows[o, x, 0] += f * rgb[y0 + by0 + j, x0 + bx0 + x, 0]
                rows[o, x, 1] += f * rgb[y0 + by0 + j, x0 + bx0 + x, 1]
                rows[o, x, 2] += f * rgb[y0 + by0 + j, x0 + bx0 + x, 2]
                rows[o, x, 3] += f * mask[by0 + j, bx0 + x]
    p = np.zeros((patch, patch, 4))
    step = bw / patch
    for q in range(patch):
        lo = q * step
        hi = lo + step
        for x in range(int(lo), min(bw, int(np.ceil(hi)))):
            f = (min(hi, x + 1.0) - max(lo, float(x))) / step
            if f <= 0.0:
                continue
            for o in range(patch):
                for c in range(4):
                    p[o, q, c] += f * rows[o, x, c]
    out[:] = 0.0
    colour = out[0:_COLOUR]
    layout = out[_COLOUR : _COLOUR + _LAYOUT]
    gradient = out[_COLOUR + _LAYOUT :]
    cell = patch / 4.0
    share = np.zeros(16)
    lum = np.empty((patch, patch))
    for y in range(patch):
        for x in range(patch):
            lum[y, x] = 0.299 * p[y, x, 0] + 0.587 * p[y, x, 1] + 0.114 * p[y, x, 2]
    # Layout cell (4x4) and gradient cell (2x2) of each patch row or column.
    cells = np.empty(patch, np.int64)
    halves = np.empty(patch, np.int64)
    for i in range(patch):
        cells[i] = min(3, int(i / cell))
        halves[i] = min(1, int(2 * i / patch))
    for y in range(patch):
        for x in range(patch):
            m = p[y, x, 3]
            if m == 0.0:
                continue  # background: it would add zero to every sum
            code = 0
            for c in range(3):
                code = code * 4 + min(3, max(0, int(p[y, x, c]) // 64))
            colour[code] += m
            k = cells[y] * 4 + cells[x]
            share[k] += m
            for c in range(3):
                layout[k * 3 + c] += m * p[y, x, c]
            # Luminance gradient (central differences, one-sided at the edges).
            ym, yp = max(y - 1, 0), min(y + 1, patch - 1)
            xm, xp = max(x - 1, 0), min(x + 1, patch - 1)
            gx = (lum[y, xp] - lum[y, xm]) / max(1, xp - xm)
            gy = (lum[yp, x] - lum[ym, x]) / max(1, yp - ym)
            mag = np.sqrt(gx * gx + gy * gy) * m
            if mag > 0.0:
                g = (halves[y] * 2 + halves[x]) * 8 + _orientation_bin(gx, gy)
                gradient[g] += mag
    for k in range(16):
        for c in range(3):
            mean = layout[k * 3 + c] / share[k] if share[k] > 1e-6 else 0.0
            layout[k * 3 + c] = mean / 255.0 - 0.5
        layout[48 + k] = share[k] / (cell * cell)
    for i in range(_COLOUR):
        colour[i] = np.sqrt(colour[i])
    for i in range(_GRADIENT):
        gradient[i] = np.sqrt(gradient[i])
    normalise_in_place(colour)
    normalise_in_place(layout)
    normalise_in_place(gradient)
    normalise_in_place(out)


@numba.njit(cache=True, nogil=True)
def _proposals(
    rgb: np.ndarray,
    windows: np.ndarray,
    patch: int,
    frame: int,
    near: float,
    far: float,
    fit_share: float,
    min_share: float,
    max_share: float,
    same: float,
) -> np.ndarray:
    """Signatures [n, DIM] of the distinct object proposals found in ``windows`` (x, y, w, h)."""
    h_img, w_img = rgb.shape[0], rgb.shape[1]
    out = np.zeros((windows.shape[0], _COLOUR + _LAYOUT + _GRADIENT), np.float32)
    boxes = np.zeros((windows.shape[0], 4), np.int64)
    mask = np.zeros((h_img, w_img))
    box = np.zeros(4, np.int64)
    work = _work(h_img, w_img)
    n = 0
    for i in range(windows.shape[0]):
        x0, y0, w, h = windows[i, 0], windows[i, 1], windows[i, 2], windows[i, 3]
        share = _window_mask(rgb, x0, y0, w, h, frame, near, far, fit_share, mask, box, work)
        bx0, by0, bx1, by1 = box[0], box[1], box[2], box[3]
        if share < min_share or share > max_share or bx1 - bx0 < 2 or by1 - by0 < 2:
            continue
        # The same object seen from overlapping windows: keep the first of boxes that
        # overlap by more than ``same`` (intersection over union).
        ax0, ay0, ax1, ay1 = x0 + bx0, y0 + by0, x0 + bx1, y0 + by1
        seen = False
        for j in range(n):
            iw = min(ax1, boxes[j, 2]) - max(ax0, boxes[j, 0])
            ih = min(ay1, boxes[j, 3]) - max(ay0, boxes[j, 1])
            if iw > 0 and ih > 0:
                inter = iw * ih
                union = (
                    (ax1 - ax0) * (ay1 - ay0)
                    + (boxes[j, 2] - boxes[j, 0]) * (boxes[j, 3] - boxes[j, 1])
                    - inter
                )
                if inter > same * union:
                    seen = True
                    break
        if seen:
            continue
        boxes[n, 0] = ax0
        boxes[n, 1] = ay0
        boxes[n, 2] = ax1
        boxes[n, 3] = ay1
        _signature(rgb, mask, x0, y0, bx0, by0, bx1, by1, patch, out[n])
        n += 1
    return out[:n], boxes[:n]


@functools.lru_cache(maxsize=64)
def windows_for(width: int, height: int) -> np.ndarray:
    """Windows (x, y, w, h) scanned for proposals: the whole image, then square windows with
    sides :data:`WINDOW_SIDES` of the short side, stride the side over :data:`STRIDE`."""
    out = [(0, 0, width, height)]
    short = min(width, height)
    for frac in WINDOW_SIDES:
        side = max(8, round(frac * short))
        if side > short:
            continue
        stride = max(2, side // STRIDE)
        for y in range(0, height - side + 1, stride):
            for x in range(0, width - side + 1, stride):
                out.append((x, y, side, side))
    windows = np.array(out, dtype=np.int64).reshape(-1, 4)
    windows.flags.writeable = False  # shared by every image of this size
    return windows


def image_objects(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Signatures [n, DIM] (float32, unit rows) of the object proposals of an RGB uint8 image
    (n may be 0: no window of the image has a smooth background) and their boxes [n, 4]
    (x0, y0, x1, y1 as uint16 fractions of the image's width and height, x 65535)."""
    h, w = rgb.shape[:2]
    found, boxes = _proposals(
        np.ascontiguousarray(rgb, dtype=np.float32),
        windows_for(w, h),
        PATCH,
        FRAME,
        NEAR,
        FAR,
        FIT_SHARE,
        MIN_SHARE,
        MAX_SHARE,
        SAME_BOX,
    )
    scale = np.array([w, h, w, h], dtype=np.float64)
    return found, np.rint(boxes / scale * BOX_UNIT).astype(np.uint16)


def query_object(rgb: np.ndarray, alpha: np.ndarray | None = None) -> np.ndarray | None:
    """Signature [DIM] of the object in a query image (alpha: its alpha channel, if any): the
    alpha channel is its mask when the image is partly transparent, else the plane fitted to
    its frame; None when neither shows an object on a background."""
    h, w = rgb.shape[:2]
    data = np.ascontiguousarray(rgb, dtype=np.float32)
    if alpha is not None and int(alpha.min()) < 250:
        mask = alpha.astype(np.float64) / 255.0
        share = float(mask.mean())
        ys, xs = np.nonzero(mask > 0.5)
        if ys.size == 0:
            return None
        bx0, by0, bx1, by1 = int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1
    else:
        mask = np.zeros((h, w))
        box = np.zeros(4, np.int64)
        share = _window_mask(data, 0, 0, w, h, FRAME, NEAR, FAR, FIT_SHARE, mask, box, _work(h, w))
        bx0, by0, bx1, by1 = (int(v) for v in box)
    if share < MIN_SHARE or share > MAX_SHARE or bx1 - bx0 < 2 or by1 - by0 < 2:
        return None
    out = np.zeros(DIM, np.float32)
    _signature(data, mask, 0, 0, bx0, by0, bx1, by1, PATCH, out)
    return out


def to_int8(signatures: np.ndarray) -> np.ndarray:
    """Stored form of unit signatures: int8, value x 127 (cosine error below 1%)."""
    return np.clip(np.rint(np.asarray(signatures) * 127.0), -127, 127).astype(np.int8)


@numba.njit(cache=True, nogil=True)
def _best(stored: np.ndarray, offsets: np.ndarray, rows: np.ndarray, q: np.ndarray) -> np.ndarray:
    out = np.zeros(rows.shape[0], np.float32)
    d = q.shape[0]
    for i in range(rows.shape[0]):
        best = -1 << 30
        for j in range(offsets[rows[i]], offsets[rows[i] + 1]):
            s = 0
            for c in range(d):
                s += np.int32(stored[j, c]) * q[c]
            best = max(best, s)
        if best > -1 << 30:
            out[i] = best / (127.0 * 127.0)
    return out


def best_scores(
    stored: np.ndarray, offsets: np.ndarray, rows: np.ndarray, query: np.ndarray
) -> np.ndarray:
    """Best cosine of each image ``rows`` (its proposals: ``stored[offsets[r]:offsets[r+1]]``,
    int8) to the signature ``query``; 0 for an image without proposals."""
    q = to_int8(query).astype(np.int32)
    return _best(np.asarray(stored), np.asarray(offsets, np.int64), np.asarray(rows, np.int64), q)
