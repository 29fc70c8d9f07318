"""Errors raised by visual search: all are user-fixable input errors (and ``ValueError``s)."""

from __future__ import annotations

from workbench.engine.errors import Cancelled, InputError, NotFoundError

__all__ = [
    "Cancelled",
    "CropError",
    "EmbeddingImportError",
    "ImageDecodeError",
    "NotFoundError",
    "VisualInputError",
]


class VisualInputError(InputError, ValueError):
    """Bad input to visual search; the message is one line meant for the user."""


class ImageDecodeError(VisualInputError):
    """An image file that cannot be opened or decoded (missing, truncated, not an image, empty)."""


class CropError(VisualInputError):
    """A crop box that is empty or reaches outside the image."""


class EmbeddingImportError(VisualInputError):
    """A precomputed-embedding file that cannot be imported (shape, NaN, ids, columns)."""
