"""Export a run's ranked lists (csv, parquet, jsonl, TREC run + qrels, PNG contact sheet) with a
provenance sidecar; the files appear together or not at all, and nothing is overwritten unless
asked.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.engine.export import FORMATS, PROVENANCE_SUFFIX, write_export
from workbench.engine.progress import SILENT, Reporter

if TYPE_CHECKING:
    from workbench.engine.store import Store

__all__ = [
    "FORMATS",
    "FORMAT_HELP",
    "PROVENANCE_SUFFIX",
    "ExportRequest",
    "ExportResult",
    "export",
]

FORMAT_HELP = {
    "csv": "ranked lists, one row per (query, rank) with pin attributes",
    "parquet": "the same table as parquet",
    "jsonl": "the same table as JSON lines",
    "trec": "TREC run file (+ qrels for evaluation runs)",
    "sheet": "PNG contact sheet of the top pins of the first query",
}


@dataclass(frozen=True)
class ExportRequest:
    """Export run ``run_id`` as ``format`` to ``out`` (a file, a directory for the default name
    ``run-<id>-<algorithm>.<ext>``, or None for ``exports/``); ``query`` and ``k`` narrow it."""

    run_id: int
    format: str = "csv"
    out: str | None = None
    overwrite: bool = False
    query: str | None = None
    k: int | None = None


@dataclass(frozen=True)
class ExportResult:
    """The files an export wrote (main first, then qrels), its sidecar, rows and notes."""

    run_id: int
    format: str
    files: list[Path]
    provenance: Path
    rows: int
    notes: list[str]

    @property
    def path(self) -> Path:
        return self.files[0]

    def to_json(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "format": self.format,
                "files": [str(f) for f in self.files], "provenance": str(self.provenance),
                "rows": self.rows, "notes": self.notes}  # fmt: skip


def export(store: Store, request: ExportRequest, reporter: Reporter = SILENT) -> ExportResult:
    """Write the export; cancelling through ``reporter`` leaves no file behind."""
    out = os.path.expanduser(request.out) if request.out else None  # keeps a trailing "/"
    done = write_export(store, request.run_id, request.format, out, overwrite=request.overwrite,
                        query=request.query, k=request.k, reporter=reporter)  # fmt: skip
    return ExportResult(request.run_id, request.format, done.files, done.sidecar, done.rows,
                        done.notes)  # fmt: skip
