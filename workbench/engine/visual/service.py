"""Visual search's access to the store: a dataset's images, pins, labels and filters, and its
embedding spaces kept under the cache directory of the dataset's current version.

Spaces live in ``Store.cache_dir(dataset, fingerprint) / "visual"``: a reloaded or re-created
dataset has another fingerprint and so never meets the old version's vectors (a reload removes
them, so its images are described again); each space's ``meta.json`` also records the
fingerprint it was built for, checked when it is opened. The use
cases (index, search, import, eval, fuse) are in :mod:`workbench.services.visual`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from workbench.engine.dataset import pins_frame
from workbench.engine.errors import NotFoundError, WorkbenchError
from workbench.engine.store import DatasetInfo, Store, ident, table
from workbench.engine.visual.search import VisualSpace, open_space
from workbench.engine.visual.storage import BUILTIN, list_spaces, read_meta, space_dir

__all__ = [
    "DatasetVersion",
    "allowed_pins",
    "dataset_images",
    "dataset_version",
    "embeddings",
    "open_dataset_space",
    "pin_details",
    "pin_ids",
    "pin_image",
    "pin_labels",
]


@dataclass(frozen=True)
class DatasetVersion:
    """One version of a dataset as visual search sees it: its catalogue row and the cache
    directory of its derived files."""

    info: DatasetInfo
    cache_dir: Path

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def fingerprint(self) -> str:
        return self.info.fingerprint


def dataset_version(store: Store, dataset: str) -> DatasetVersion:
    """The dataset's current version (NotFoundError for an unknown dataset)."""
    info = store.dataset(dataset)
    return DatasetVersion(info, store.cache_dir(dataset, info.fingerprint))


def dataset_images(store: Store, dataset: str) -> list[tuple[str, str]]:
    """``(pin, image path)`` of every pin that has an image, in pin order."""
    rows = store.query(
        f"SELECT pin, image FROM {table(dataset, 'pins')} WHERE image IS NOT NULL ORDER BY idx"
    )
    return [(str(p), str(i)) for p, i in rows]


def pin_ids(store: Store, dataset: str) -> list[str]:
    return [str(r[0]) for r in store.query(f"SELECT pin FROM {table(dataset, 'pins')}")]


def pin_image(store: Store, dataset: str, pin: str) -> str | None:
    """The image path of ``pin`` (None if it has none); NotFoundError for an unknown pin."""
    rows = store.query(f"SELECT image FROM {table(dataset, 'pins')} WHERE pin = ?", [str(pin)])
    if not rows:
        raise NotFoundError(f"no pin {pin!r} in dataset {dataset!r}")
    return None if rows[0][0] is None else str(rows[0][0])


def pin_details(store: Store, dataset: str, pins: list[str]) -> pl.DataFrame:
    """Titles, images and attributes of ``pins``, in the order given."""
    frame = pins_frame(store, dataset, pins)
    order = pl.DataFrame({"pin": [str(p) for p in pins]}, schema={"pin": pl.String})
    return order.join(frame, on="pin", how="left", maintain_order="left")


def allowed_pins(store: Store, dataset: str, where: Mapping[str, str]) -> set[str] | None:
    """Pins whose attributes equal the given values (``{"topic": "food"}``); None: no filter."""
    if not where:
        return None
    attrs = store.dataset(dataset).pin_attributes
    conditions, params = [], []
    for column, value in where.items():
        if column not in attrs:
            raise WorkbenchError(
                f"unknown pin attribute {column!r} (attributes: {', '.join(attrs) or 'none'})"
            )
        conditions.append(f"CAST({ident(column)} AS VARCHAR) = ?")
        params.append(str(value))
    rows = store.query(
        f"SELECT pin FROM {table(dataset, 'pins')} WHERE {' AND '.join(conditions)}", params
    )
    return {str(r[0]) for r in rows}


def pin_labels(store: Store, dataset: str, label: str) -> dict[str, str]:
    """Each pin's value of the attribute ``label`` (pins without one are left out)."""
    attrs = store.dataset(dataset).pin_attributes
    if label not in attrs:
        raise WorkbenchError(
            f"unknown pin attribute {label!r} to evaluate by "
            f"(attributes: {', '.join(attrs) or 'none'})"
        )
    rows = store.query(
        f"SELECT pin, CAST({ident(label)} AS VARCHAR) FROM {table(dataset, 'pins')} "
        f"WHERE {ident(label)} IS NOT NULL"
    )
    return {str(p): str(v) for p, v in rows}


def embeddings(version: DatasetVersion) -> list[dict[str, Any]]:
    """The embedding spaces built for this version of the dataset."""
    return [
        s for s in list_spaces(version.cache_dir) if s.get("fingerprint") == version.fingerprint
    ]


def open_dataset_space(store: Store, version: DatasetVersion, embedding: str) -> VisualSpace:
    """Open a space of this dataset version; one line saying what to do when there is none."""
    directory = space_dir(version.cache_dir, embedding)
    meta = read_meta(directory)
    if meta is not None and meta.get("fingerprint") != version.fingerprint:
        # Written for another version of the data (should not happen: the directory is keyed
        # by fingerprint); never answer from it.
        raise WorkbenchError(
            f"the {embedding!r} embedding of dataset {version.name!r} was built for another "
            "version of the data and must be built again",
            hint="index",
        )
    if meta is None:
        if embedding == BUILTIN and not dataset_images(store, version.name):
            raise WorkbenchError(f"dataset {version.name!r} has no images")
        raise NotFoundError(
            f"dataset {version.name!r} has no {embedding!r} embedding yet", hint="index"
        )
    return open_space(version.cache_dir, embedding)
