"""Ad-hoc read-only SQL over the store: one reading statement at a time, a row limit, export of a
result, and cancellation that interrupts DuckDB mid-query.

Reading is enforced twice: the statement must be a single SELECT-like statement (SELECT, WITH,
DESCRIBE, SHOW, SUMMARIZE, EXPLAIN, FROM, VALUES; checked by DuckDB's own parser, not by
patterns), and the store is attached read-only for it, so a statement that slipped through could
still not change the store.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter
from typing import Any

import duckdb

from workbench.engine.atomic import atomic_path
from workbench.engine.errors import Cancelled, InputError, WorkbenchError
from workbench.engine.progress import SILENT, Reporter
from workbench.engine.store import Store

READ_KEYWORDS = ("select", "with", "describe", "show", "summarize", "explain", "from", "values")
"""First words of the statements the SQL screen runs (reading only)."""
DEFAULT_ROW_LIMIT = 10_000
EXPORT_FORMATS = ("csv", "parquet", "json")
CANCEL_POLL_S = 0.05
BATCH_ROWS = 65_536


class SqlRefused(WorkbenchError):
    """A statement that is not a single reading statement."""


class SqlError(InputError):
    """DuckDB could not run the statement (syntax, unknown table or column, types)."""


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [""])[0]


@contextlib.contextmanager
def _user_errors(reporter: Reporter) -> Iterator[None]:
    """DuckDB's errors in the user's SQL as one line for the user (a cancel stays a cancel)."""
    try:
        yield
    except duckdb.Error as exc:
        if reporter.cancelled:
            raise Cancelled("the query was cancelled") from None
        raise SqlError(_first_line(exc)) from None


@dataclass(frozen=True)
class QueryResult:
    """The first ``limit`` rows of a query, its columns and their DuckDB types."""

    sql: str
    columns: list[str]
    types: list[str]
    rows: list[tuple[Any, ...]]
    truncated: bool
    """More rows than ``limit`` exist (only the first ``limit`` are here)."""
    elapsed_ms: float


LEADING_NOISE = re.compile(r"^(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/|\()*", re.DOTALL)
"""Blanks, comments and opening parentheses before a statement's first word."""


def _first_word(sql: str) -> str:
    text = LEADING_NOISE.sub("", sql, count=1)
    found = re.match(r"[A-Za-z_]+", text)
    return found.group(0).lower() if found else text[:12]


def check_statement(con: duckdb.DuckDBPyConnection, sql: str) -> str:
    """The one reading statement in ``sql`` (a trailing ``;`` allowed); refuses anything else."""
    if not sql.strip():
        raise InputError("no SQL statement given")
    with _user_errors(SILENT):
        statements = con.extract_statements(sql)
    if len(statements) != 1:
        raise SqlRefused(f"one statement at a time: {len(statements)} were given")
    statement = statements[0]
    word = _first_word(statement.query)
    kind = statement.type
    if word not in READ_KEYWORDS or kind not in (
        duckdb.StatementType.SELECT,
        duckdb.StatementType.EXPLAIN,
    ):
        raise SqlRefused(
            f"read-only: {word.upper() or 'this'} statements are refused "
            f"(allowed: {', '.join(k.upper() for k in READ_KEYWORDS)})"
        )
    if kind == duckdb.StatementType.EXPLAIN:
        # EXPLAIN ANALYZE runs its statement: that one must read only, too.
        inner = statement.query.lstrip()[len("explain") :].lstrip()
        if inner.lower().startswith("analyze"):
            inner = inner[len("analyze") :]
        check_statement(con, inner)
    return statement.query.strip().rstrip(";")


@contextlib.contextmanager
def _interrupt_on_cancel(con: duckdb.DuckDBPyConnection, reporter: Reporter) -> Iterator[None]:
    """While the block runs, a cancel request interrupts DuckDB (raised as ``Cancelled``)."""
    if reporter.is_cancelled is None:
        yield
        return
    done = threading.Event()
    interrupted = threading.Event()

    def watch() -> None:
        while not done.wait(CANCEL_POLL_S):
            if reporter.cancelled:
                interrupted.set()
                con.interrupt()
                return

    watcher = threading.Thread(target=watch, name="sql-cancel", daemon=True)
    watcher.start()
    try:
        yield
    except duckdb.Error:
        if interrupted.is_set() or reporter.cancelled:
            raise Cancelled("the query was cancelled") from None
        raise
    finally:
        done.set()
        watcher.join()
    reporter.check("the query")


def run_query(
    store: Store, sql: str, limit: int = DEFAULT_ROW_LIMIT, reporter: Reporter = SILENT
) -> QueryResult:
    """Run one reading statement on the store (attached read-only); the first ``limit`` rows."""
    if limit < 1:
        raise InputError(f"row limit must be at least 1, got {limit}")
    reporter.progress(0, None, "running the query")
    started = perf_counter()
    with store.connect(read_only=True) as con:
        statement = check_statement(con, sql)
        with _interrupt_on_cancel(con, reporter), _user_errors(reporter):
            cur = con.execute(statement)
            columns = [d[0] for d in cur.description or []]
            types = [str(d[1]) for d in cur.description or []]
            rows = cur.fetchmany(limit + 1) if columns else []
    return QueryResult(
        sql=statement,
        columns=columns,
        types=types,
        rows=rows[:limit],
        truncated=len(rows) > limit,
        elapsed_ms=(perf_counter() - started) * 1000,
    )


def export_query(
    store: Store,
    sql: str,
    path: str | Path,
    fmt: str = "csv",
    overwrite: bool = False,
    reporter: Reporter = SILENT,
) -> tuple[Path, int]:
    """Write every row of one reading statement to ``path`` (csv, parquet or json lines),
    atomically; returns the path and the number of rows written."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    if fmt not in EXPORT_FORMATS:
        raise InputError(f"unknown export format {fmt!r}: expected {', '.join(EXPORT_FORMATS)}")
    target = Path(path)
    written = 0
    with store.connect(read_only=True) as con:
        statement = check_statement(con, sql)
        with (
            _interrupt_on_cancel(con, reporter),
            _user_errors(reporter),
            atomic_path(target, overwrite=overwrite) as tmp,
        ):
            reader = con.sql(statement).to_arrow_reader(BATCH_ROWS)
            writer: Any = None
            try:
                if fmt == "csv":
                    writer = pa_csv.CSVWriter(str(tmp), reader.schema)
                elif fmt == "parquet":
                    writer = pq.ParquetWriter(str(tmp), reader.schema)
                out = open(tmp, "w") if fmt == "json" else None  # noqa: SIM115
                try:
                    for batch in reader:
                        if out is not None:
                            _write_json_lines(out, pa.Table.from_batches([batch]))
                        else:
                            writer.write_batch(batch)
                        written += batch.num_rows
                        reporter.progress(written, None, "exporting rows")
                finally:
                    if out is not None:
                        out.close()
            finally:
                if writer is not None:
                    writer.close()
    return target, written


def _write_json_lines(out: Any, table: Any) -> None:
    import json

    for row in table.to_pylist():
        out.write(json.dumps(row, default=str) + "\n")
