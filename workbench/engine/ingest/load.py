"""``load_dataset``: files into the store as one dataset, in one transaction, all or nothing."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb

from workbench.engine.errors import InputError, WorkbenchError
from workbench.engine.ingest.build import Built, build_dataset
from workbench.engine.ingest.fingerprint import fingerprint
from workbench.engine.ingest.formats import stage_movielens, stage_ncf, stage_tabular
from workbench.engine.ingest.sources import (
    FORMATS,
    detect_format,
    expand,
    one_line,
    tabular_files,
)
from workbench.engine.ingest.staging import Stage
from workbench.engine.progress import SILENT, Reporter
from workbench.engine.store import (
    DatasetInfo,
    Store,
    drop_dataset_tables,
    insert_dataset_row,
    memory_limit,
    validate_dataset_name,
)

STEPS = 8  # reading, 5 build steps, fingerprint, commit


@dataclass
class LoadReport:
    """What a load did: counts, fingerprint, and anything the user should know."""

    dataset: str
    format: str
    sources: list[str]
    pins: int
    boards: int
    edges: int
    test: int
    negatives: int
    images: int
    missing_images: int
    duplicate_edges: int
    fingerprint: str
    elapsed_s: float
    warnings: list[str] = field(default_factory=list)


def stage_files(con: duckdb.DuckDBPyConnection, given: list[Path],
                fmt: str) -> tuple[Stage, list[str]]:  # fmt: skip
    """Read the given files with the reader of ``fmt``: the staged tables and the source files."""
    if fmt == "ncf":
        return stage_ncf(con, given)
    if fmt == "movielens":
        return stage_movielens(con, given)
    files = tabular_files(given, fmt)
    return stage_tabular(con, files, fmt), [str(f) for f in files]


def load_dataset(
    store: Store,
    paths: Sequence[str | os.PathLike[str]],
    name: str,
    fmt: str = "auto",
    images: str | os.PathLike[str] | None = None,
    replace: bool = False,
    reporter: Reporter = SILENT,
) -> LoadReport:
    """Load files into ``store`` as dataset ``name``, all or nothing.

    The whole load is one transaction on one connection: an error, a cancel, Ctrl-C or a killed
    process leaves the store as it was. DuckDB's memory limit bounds the work; what does not fit
    spills to the store's temp directory."""
    started = time.perf_counter()
    validate_dataset_name(name)
    if fmt not in FORMATS:
        raise WorkbenchError(f"unknown format {fmt!r} (expected one of {', '.join(FORMATS)})")
    given = expand(paths)
    if fmt == "auto":
        fmt = detect_format(given)
    image_dir = Path(images) if images is not None else None
    if image_dir is not None and not image_dir.is_dir():
        raise InputError(f"{image_dir}: not a directory (expected a directory of image files)")

    try:
        return _load(store, given, name, fmt, image_dir, replace, reporter, started)
    except duckdb.OutOfMemoryException as exc:
        raise WorkbenchError(
            f"loading {name!r} needs more memory than the memory limit "
            f"({memory_limit() / 1e9:.1f} GB) allows even with spilling to disk; raise the "
            f"memory limit ({one_line(exc)})"
        ) from None


def _load(store: Store, given: list[Path], name: str, fmt: str, image_dir: Path | None,
          replace: bool, reporter: Reporter, started: float) -> LoadReport:  # fmt: skip
    with store.transaction() as con:
        exists = con.execute("SELECT count(*) FROM datasets WHERE name = ?", [name]).fetchone()
        if exists and exists[0]:
            if not replace:
                raise WorkbenchError(f"dataset {name!r} already exists", hint="replace")
            drop_dataset_tables(con, name)
        reporter.progress(0, STEPS, "reading files")
        stage, sources = stage_files(con, given, fmt)
        built = build_dataset(con, name, stage, image_dir, reporter.scaled(1, 5, STEPS))
        reporter.progress(6, STEPS, "fingerprinting")
        info = _dataset_info(name, fmt, sources, built, fingerprint(con, name))
        insert_dataset_row(con, info)
        reporter.progress(7, STEPS, "committing")
    if replace:
        store.purge_artifacts(name, keep=info.fingerprint)
    reporter.progress(STEPS, STEPS, "done")
    return LoadReport(
        dataset=name, format=fmt, sources=info.sources, pins=info.pins, boards=info.boards,
        edges=info.edges, test=info.test, negatives=info.negatives, images=info.images,
        missing_images=info.missing_images, duplicate_edges=built.counts["duplicate_edges"],
        fingerprint=info.fingerprint, elapsed_s=time.perf_counter() - started,
        warnings=built.warnings,
    )  # fmt: skip


def _dataset_info(name: str, fmt: str, sources: list[str], built: Built, fp: str) -> DatasetInfo:
    c = built.counts
    return DatasetInfo(
        name=name, format=fmt, sources=[str(Path(s).resolve()) for s in sources],
        loaded_at=datetime.now().replace(microsecond=0), fingerprint=fp,
        pin_id_type=built.id_types["pin"], board_id_type=built.id_types["board"],
        pins=c["pins"], boards=c["boards"], edges=c["edges"], test=c["test"],
        negatives=c["negatives"], images=c["images"], missing_images=c["missing_images"],
        pin_attributes=built.pin_attributes, board_attributes=built.board_attributes,
        has_weights=built.has_weights, has_timestamps=built.has_timestamps,
    )  # fmt: skip
