"""Ad-hoc read-only SQL over the store (the TUI's SQL screen): run one reading statement and get
its first rows, or export all its rows to a file.

The engine (``workbench.engine.sql``) refuses anything but one SELECT-like statement and attaches
the store read-only for it; a cancel interrupts DuckDB mid-query.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.engine.progress import SILENT, Reporter
from workbench.engine.sql import (
    DEFAULT_ROW_LIMIT,
    EXPORT_FORMATS,
    READ_KEYWORDS,
    QueryResult,
    SqlError,
    SqlRefused,
    export_query,
    run_query,
)
from workbench.engine.store import Store

__all__ = [
    "DEFAULT_ROW_LIMIT",
    "EXPORT_FORMATS",
    "READ_KEYWORDS",
    "QueryResult",
    "SqlError",
    "SqlExport",
    "SqlExportRequest",
    "SqlRefused",
    "SqlRequest",
    "export",
    "run",
    "tables",
]

TABLES_SQL = (
    "SELECT table_schema AS schema, table_name AS name, "
    "list(column_name ORDER BY ordinal_position) AS columns "
    "FROM information_schema.columns WHERE table_catalog = current_database() "
    "GROUP BY table_schema, table_name ORDER BY table_schema = 'main', table_schema, table_name"
)
"""The store's tables and their columns (what the SQL screen lists beside the editor)."""


@dataclass(frozen=True)
class SqlRequest:
    """One reading statement and how many of its rows to bring back."""

    sql: str
    limit: int = DEFAULT_ROW_LIMIT


@dataclass(frozen=True)
class SqlExportRequest:
    """Every row of one reading statement, written to ``path`` as csv, parquet or json lines."""

    sql: str
    path: str
    format: str = "csv"
    overwrite: bool = False


@dataclass(frozen=True)
class SqlExport:
    path: Path
    rows: int

    def to_json(self) -> dict[str, Any]:
        return {"path": str(self.path), "rows": self.rows}


def run(store: Store, request: SqlRequest, reporter: Reporter = SILENT) -> QueryResult:
    """The first ``request.limit`` rows of ``request.sql`` (refused unless it only reads)."""
    return run_query(store, request.sql, request.limit, reporter)


def export(store: Store, request: SqlExportRequest, reporter: Reporter = SILENT) -> SqlExport:
    """Write all rows of ``request.sql`` to ``request.path``, atomically."""
    path, rows = export_query(
        store, request.sql, request.path, request.format, request.overwrite, reporter
    )
    return SqlExport(path, rows)


def tables(store: Store, reporter: Reporter = SILENT) -> QueryResult:
    """The store's tables with their columns."""
    return run_query(store, TABLES_SQL, DEFAULT_ROW_LIMIT, reporter)
