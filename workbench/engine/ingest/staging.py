"""Staged tables: what every reader produces and the builder consumes.

A reader turns its files into up to five temporary tables, without copying a source twice::

    _pins(pin, title, description, image, <attributes...>)
    _boards(board, name, <attributes...>)
    _edges(board, pin[, weight][, ts])
    _test(board, pin)        _negatives(board, pin)

Ids keep their source type when it is an integer type (BIGINT) and are trimmed text otherwise;
``weight`` and ``ts`` (staged only when the source has them) keep theirs (text from csv) and are
checked and converted by the builder. A row's line in its file is not stored: tables are created
in file order, so it is ``rowid + first line`` (:attr:`Staged.line`), which costs nothing per row.
Edge-like parquet sources are not copied at all: their staged "table" is a view over the file
that numbers its rows (``file_row_number``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from workbench.engine.errors import InputError
from workbench.engine.ingest.sources import one_line
from workbench.engine.store import ident

INTEGER_TYPES = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER"}
NUMERIC_TYPES = INTEGER_TYPES | {"FLOAT", "DOUBLE", "UBIGINT", "HUGEINT"}
ENTITY_KINDS = ("pins", "boards")
EDGE_KINDS = ("edges", "test", "negatives")


@dataclass
class Staged:
    """One staged table: where its rows came from and how to name a row's line."""

    kind: str
    src: str
    first_line: int = 1  # the line of the first row in ``src`` (2 below a csv header)
    line: str = ""  # SQL for a row's line number in ``src``, set when the table is made
    types: dict[str, str] = field(default_factory=dict)  # staged column -> DuckDB type
    is_view: bool = False  # a view over the source (with a ``_row`` column) instead of a copy

    @property
    def table(self) -> str:
        return f"_{self.kind}"

    def drop(self, con: duckdb.DuckDBPyConnection) -> None:
        """Free the staged table once it has been used."""
        con.execute(f"DROP {'VIEW' if self.is_view else 'TABLE'} {self.table}")


Stage = dict[str, Staged]  # kind -> staged table


def sql_literal(text: str) -> str:
    """A SQL string literal (for table functions inside views, which take no parameters)."""
    return "'" + text.replace("'", "''") + "'"


def id_sql(col: str, typ: str) -> str:
    """An id column as staged: integers as BIGINT, anything else as trimmed text (empty: NULL)."""
    if typ.upper() in INTEGER_TYPES:
        return f"CAST({ident(col)} AS BIGINT)"
    return text_sql(col)


def text_sql(col: str) -> str:
    return f"NULLIF(trim(CAST({ident(col)} AS VARCHAR)), '')"


def create_staged(con: duckdb.DuckDBPyConnection, staged: Staged, select_sql: str,
                  params: list[object] | None = None, fmt: str = "") -> None:  # fmt: skip
    """``CREATE TEMP TABLE`` for ``staged`` from a query, in source order, so that a row's line
    is its rowid's distance from the first rowid (rows of a transaction's own tables are
    numbered from a large base)."""
    con.execute("SET preserve_insertion_order = true")
    try:
        if staged.is_view:  # views take no parameters: the caller inlines literals
            assert not params
            con.execute(f"CREATE TEMP VIEW {staged.table} AS {select_sql}")
        else:
            con.execute(f"CREATE TEMP TABLE {staged.table} AS {select_sql}", params or [])
    except duckdb.Error as exc:
        raise InputError(read_error(Path(staged.src), exc, fmt)) from None
    staged.types = {r[0]: str(r[1]) for r in con.execute(f"DESCRIBE {staged.table}").fetchall()
                    if r[0] != "_row"}  # fmt: skip
    if staged.is_view:
        n = con.execute(f"SELECT count(*) FROM {staged.table}").fetchone()[0]  # type: ignore[index]
        staged.line = f"(_row + {staged.first_line})"
    else:
        n, base = con.execute(f"SELECT count(*), min(rowid) FROM {staged.table}").fetchone()  # type: ignore[misc]
        staged.line = f"(rowid - {int(base or 0) - staged.first_line})"
    if n == 0:
        raise InputError(f"{staged.src}: empty file (expected at least one row)")


_MAX_LINE = re.compile(r"Maximum line size of (\d+) bytes exceeded")


def read_error(path: Path, exc: BaseException, fmt: str = "") -> str:
    """One line for a reader's error: the file, the line and the reason.

    DuckDB's CSV reader names line 1 for a line longer than its maximum line size wherever that
    line is; such a line is found here by scanning the file."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    head = lines[0] if lines else type(exc).__name__
    m = re.search(r"CSV Error on Line: (\d+)", head)
    if not m:
        return f"{path}: cannot read{' as ' + fmt if fmt else ''}: {one_line(exc)}"
    reason = next((ln for ln in lines[1:] if not ln.startswith("Original Line")), "")
    line = int(m.group(1))
    too_long = _MAX_LINE.search(reason)
    if too_long:
        limit = int(too_long.group(1))
        line = first_long_line(path, limit) or line
        reason = f"the line is longer than {limit:,} bytes"
    return f"{path}: line {line}: {reason.rstrip('.') or 'malformed csv'}"


def first_long_line(path: Path, limit: int, block: int = 1 << 20) -> int | None:
    """The number of the first line of ``path`` longer than ``limit`` bytes (streamed)."""
    line, length = 1, 0
    with path.open("rb") as f:
        while chunk := f.read(block):
            start = 0
            while True:
                nl = chunk.find(b"\n", start)
                if nl < 0:
                    length += len(chunk) - start
                    if length > limit:
                        return line
                    break
                if length + nl - start > limit:
                    return line
                line, length, start = line + 1, 0, nl + 1
    return None
