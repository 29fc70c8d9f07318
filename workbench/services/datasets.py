"""Datasets in a store: open the store, load, list, summarise and drop datasets.

Only the default store may come into being implicitly (and it is filled with the shipped sample);
a store named explicitly must exist, except for a load, which creates it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.engine.errors import StoreError
from workbench.engine.progress import SILENT, Reporter
from workbench.engine.store import (
    DatasetInfo,
    Store,
    default_db_path,
    validate_dataset_name,
)

if TYPE_CHECKING:
    import polars as pl

    from workbench.engine.dataset import DatasetSummary, DegreeStats
    from workbench.engine.ingest import LoadReport

__all__ = [
    "SAMPLE_NAME",
    "DatasetInfo",
    "DatasetSummary",
    "DegreeStats",
    "Dropped",
    "LoadReport",
    "LoadRequest",
    "OpenedStore",
    "Store",
    "badges",
    "dataset_info",
    "datasets_json",
    "drop",
    "formats",
    "info",
    "list_datasets",
    "load",
    "open_store",
    "sample_dir",
    "table",
    "validate_dataset_name",
]

SAMPLE_NAME = "sample"


def __getattr__(name: str) -> Any:
    """Engine types re-exported here, imported when first used."""
    if name in ("DatasetSummary", "DegreeStats"):
        from workbench.engine import dataset

        return getattr(dataset, name)
    if name == "LoadReport":
        from workbench.engine.ingest import LoadReport

        return LoadReport
    raise AttributeError(name)


# -- the store ------------------------------------------------------------------------------------


def sample_dir() -> Path | None:
    """The shipped sample dataset: next to the package in a checkout, inside it in a wheel."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here.parent / "sample_data", here / "sample_data"):
        if (candidate / "pins.csv").exists():
            return candidate
    return None


@dataclass(frozen=True)
class OpenedStore:
    """A store handle, and whether it was just created with the sample dataset in it."""

    store: Store
    created_with_sample: bool = False


def open_store(path: str | os.PathLike[str] | None, *, create: bool = False,
               sample: bool = True) -> OpenedStore:  # fmt: skip
    """The store at ``path`` (None: the default, ``$WORKBENCH_DB`` or ``./workbench.duckdb``).

    A store named by ``path`` or ``$WORKBENCH_DB`` that does not exist is an error unless
    ``create`` (a load creates its store). The default store is created when missing and filled
    with the shipped sample, unless ``sample`` is false or ``$WORKBENCH_NO_SAMPLE`` is set."""
    explicit = path is not None or bool(os.environ.get("WORKBENCH_DB"))
    target = Path(path) if path is not None else default_db_path()
    store = Store(target)
    if target.exists():
        return OpenedStore(store)
    if explicit and not create:
        raise StoreError(f"no store at {target}")
    if explicit or not sample or os.environ.get("WORKBENCH_NO_SAMPLE"):
        return OpenedStore(store)
    found = sample_dir()
    if found is None:
        return OpenedStore(store)
    from workbench.engine.ingest import load_dataset

    load_dataset(store, [found], SAMPLE_NAME)
    return OpenedStore(store, created_with_sample=True)


# -- datasets -------------------------------------------------------------------------------------


def formats() -> tuple[str, ...]:
    """The formats a load understands (``auto`` first)."""
    from workbench.engine.ingest import FORMATS

    return tuple(FORMATS)


@dataclass(frozen=True)
class LoadRequest:
    """Load ``paths`` (files or directories) as dataset ``name``."""

    paths: tuple[str, ...]
    name: str
    format: str = "auto"
    images: str | None = None
    replace: bool = False


def load(store: Store, request: LoadRequest, reporter: Reporter = SILENT) -> LoadReport:
    """Load a dataset in one transaction (all or nothing); derived files (graph caches, visual
    indexes) of the version it replaces are removed."""
    from workbench.engine.ingest import load_dataset

    report = load_dataset(
        store,
        [Path(p).expanduser() for p in request.paths],
        validate_dataset_name(request.name),
        fmt=request.format,
        images=Path(request.images).expanduser() if request.images else None,
        replace=request.replace,
        reporter=reporter,
    )
    store.purge_artifacts(report.dataset, keep=report.fingerprint)
    return report


def list_datasets(store: Store) -> list[DatasetInfo]:
    """Every dataset in the store, by name."""
    return store.datasets()


def dataset_info(store: Store, name: str) -> DatasetInfo:
    """The catalogue row of dataset ``name`` (an unknown name is a one-line error)."""
    return store.dataset(name)


def badges(info: DatasetInfo) -> list[str]:
    """What a dataset offers beyond its graph: ``split``, ``images``."""
    return [b for b, on in (("split", info.has_split), ("images", info.has_images)) if on]


def info(store: Store, name: str) -> DatasetSummary:
    """Counts, degree distributions, attributes and split of dataset ``name``
    (``.to_json()`` is what ``workbench info --json`` prints)."""
    from workbench.engine.dataset import summarise

    return summarise(store, name)


@dataclass(frozen=True)
class Dropped:
    """A dropped dataset and how many directories of derived files went with it."""

    name: str
    artifacts_removed: int = 0
    notes: list[str] = field(default_factory=list)


def drop(store: Store, name: str) -> Dropped:
    """Remove dataset ``name`` and its derived files; its runs stay (with the old fingerprint)."""
    store.drop(name)
    return Dropped(name, store.purge_artifacts(name, keep=None))


def table(store: Store, dataset: str, which: str) -> pl.DataFrame:
    """All of dataset's ``pins``, ``boards`` or ``edges`` with original ids (polars)."""
    from workbench.engine.dataset import table_frame

    return table_frame(store, dataset, which)


def datasets_json(rows: Sequence[DatasetInfo]) -> list[dict[str, Any]]:
    """What ``workbench datasets --json`` prints."""
    return [
        {"name": d.name, "pins": d.pins, "boards": d.boards, "edges": d.edges,
         "has_split": d.has_split, "has_images": d.has_images, "format": d.format,
         "fingerprint": d.fingerprint}
        for d in rows
    ]  # fmt: skip
