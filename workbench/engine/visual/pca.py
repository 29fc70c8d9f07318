"""PCA projection with optional (partial) whitening, fitted on a dataset's own descriptors.

Centring, projecting on the leading principal components and dividing each component by a
power of its standard deviation evens out the bursty, correlated dimensions of hand-made
descriptors and lets rare co-occurrences count; the result is L2-normalised again
(Jégou & Chum, "Negative evidences and co-occurrences in image retrieval: the benefit of PCA
and whitening", ECCV 2012). ``power=1`` is full whitening, ``0`` plain PCA; eigenvalues are
regularised by ``eps`` times the largest one so near-empty components do not blow up.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.linalg

from workbench.engine.atomic import atomic_write

__all__ = ["Whitening", "fit_whitening", "l2_normalise"]


def l2_normalise(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (zero rows stay zero), as float32."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


@dataclass(frozen=True)
class Whitening:
    """x -> l2_normalise((x - mean) @ projection)."""

    mean: np.ndarray
    projection: np.ndarray
    power: float
    eps: float

    @property
    def in_dim(self) -> int:
        return int(self.projection.shape[0])

    @property
    def out_dim(self) -> int:
        return int(self.projection.shape[1])

    def apply(self, x: np.ndarray, block: int = 65536) -> np.ndarray:
        """Project and renormalise rows of ``x`` ([n, in_dim] or [in_dim])."""
        arr = np.asarray(x, dtype=np.float32)
        single = arr.ndim == 1
        arr2 = arr.reshape(1, -1) if single else arr
        if arr2.shape[1] != self.in_dim:
            raise ValueError(f"expected vectors of dimension {self.in_dim}, got {arr2.shape[1]}")
        out = np.empty((arr2.shape[0], self.out_dim), dtype=np.float32)
        for s in range(0, arr2.shape[0], block):
            out[s : s + block] = l2_normalise((arr2[s : s + block] - self.mean) @ self.projection)
        return out[0] if single else out

    def save(self, path: Path) -> None:
        """Write to ``path`` (.npz) through the atomic writer."""

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as f:
                np.savez(
                    f,
                    mean=self.mean,
                    projection=self.projection,
                    power=np.float64(self.power),
                    eps=np.float64(self.eps),
                )

        atomic_write(path, write, overwrite=True)

    @classmethod
    def load(cls, path: Path) -> Whitening:
        with np.load(path) as z:
            return cls(
                mean=z["mean"].astype(np.float32),
                projection=z["projection"].astype(np.float32),
                power=float(z["power"]),
                eps=float(z["eps"]),
            )


def fit_whitening(
    x: np.ndarray,
    dim: int = 256,
    power: float = 0.5,
    eps: float = 1e-3,
    sample: int = 30_000,
    seed: int = 0,
) -> Whitening:
    """Fit on the rows of ``x`` (a seeded sample of at most ``sample`` rows)."""
    arr = np.asarray(x)
    if arr.ndim != 2 or arr.shape[0] < 2:
        raise ValueError("need at least two vectors to fit PCA")
    if arr.shape[0] > sample:
        rows = np.random.default_rng(seed).choice(arr.shape[0], size=sample, replace=False)
        arr = arr[np.sort(rows)]
    arr = arr.astype(np.float64)
    mean = arr.mean(axis=0)
    centred = (arr - mean).astype(np.float32)
    cov = (centred.T @ centred).astype(np.float64) / arr.shape[0]
    n_dim = cov.shape[0]
    want = max(1, min(dim, n_dim))
    # Only the leading eigenpairs are needed; ask LAPACK for just those.
    lam, vecs = scipy.linalg.eigh(cov, subset_by_index=[n_dim - want, n_dim - 1], driver="evr")
    order = np.argsort(lam)[::-1]
    lam = np.maximum(lam[order], 0.0)
    vecs = vecs[:, order]
    rank = int((lam > lam[0] * 1e-9).sum()) if lam[0] > 0 else 1
    d = max(1, min(want, rank))
    # Fix the sign of each component so the same data always gives the same projection.
    signs = np.sign(vecs[np.abs(vecs).argmax(axis=0), np.arange(vecs.shape[1])])
    vecs = vecs * np.where(signs == 0, 1.0, signs)
    scale = (lam[:d] + eps * lam[0]) ** (-power / 2.0)
    projection = vecs[:, :d] * scale
    return Whitening(
        mean=mean.astype(np.float32),
        projection=projection.astype(np.float32),
        power=float(power),
        eps=float(eps),
    )
