"""Checks on staged tables: every format gets the same checks and the same one-line messages.

Each check finds the first offending row (by line) with one query; the common case, clean input,
costs one scan and no sort.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from workbench.engine.errors import InputError
from workbench.engine.ingest.staging import INTEGER_TYPES, Stage, Staged
from workbench.engine.store import ident

MAX_EPOCH_S = 10**11  # about the year 5000: larger epoch seconds are refused, not overflowed
ID_COLUMNS = {"pins": ("pin",), "boards": ("board",), "edges": ("board", "pin"),
              "test": ("board", "pin"), "negatives": ("board", "pin")}  # fmt: skip


def first_bad(con: duckdb.DuckDBPyConnection, staged: Staged, where: str,
              what: str = "NULL") -> tuple[int, object] | None:  # fmt: skip
    """(line, ``what``) of the first row of ``staged`` matching ``where``, or None."""
    row = con.execute(
        f"SELECT {staged.line} AS _l, {what} FROM {staged.table} WHERE {where} ORDER BY _l LIMIT 1"
    ).fetchone()
    return (int(row[0]), row[1]) if row else None


def check_no_empty_ids(con: duckdb.DuckDBPyConnection, stage: Stage) -> None:
    """Every id column of every staged table is filled."""
    for kind, staged in stage.items():
        for col in ID_COLUMNS[kind]:
            bad = first_bad(con, staged, f"{col} IS NULL")
            if bad:
                raise InputError(f"{staged.src}: line {bad[0]}: column {col}: empty {col} id")


def canonical_integer_sql(col: str, typ: str) -> str:
    """SQL true when ``col`` is a canonical integer: digits, no leading zero, sign or separator
    (``7``, not ``07``, ``+7``, ``7.0`` or ``1_000``), small enough for BIGINT."""
    if typ.upper() in INTEGER_TYPES:
        return f"({col} >= 0)"
    as_int = f"TRY_CAST({col} AS BIGINT)"
    return f"coalesce({as_int} >= 0 AND CAST({as_int} AS VARCHAR) = {col}, false)"


def id_type(con: duckdb.DuckDBPyConnection, stage: Stage, entity: str) -> str:
    """``'integer'`` when every ``entity`` id in every staged table is a canonical integer,
    else ``'string'`` (then ``007``, ``07`` and ``7`` are three ids)."""
    for kind, staged in stage.items():
        if entity not in ID_COLUMNS[kind]:
            continue
        typ = staged.types[entity]
        found = con.execute(
            f"SELECT 1 FROM {staged.table} WHERE NOT {canonical_integer_sql(entity, typ)} LIMIT 1"
        ).fetchone()
        if found:
            return "string"
    return "integer"


def key_sql(col: str, staged_type: str, id_kind: str) -> str:
    """The id as the key it is mapped by: BIGINT for integer ids, text for string ids."""
    is_int = staged_type.upper() in INTEGER_TYPES or staged_type.upper() == "BIGINT"
    if id_kind == "integer":
        return col if is_int else f"CAST({col} AS BIGINT)"
    return f"CAST({col} AS VARCHAR)" if is_int else col


def check_unique_entities(con: duckdb.DuckDBPyConnection, staged: Staged, key: str,
                          id_col: str) -> None:  # fmt: skip
    """Identical duplicate rows are merged later; the same id with different attributes is an
    error naming both lines."""
    data_cols = ", ".join(ident(c) for c in staged.types if c != id_col)
    bad = con.execute(
        f"WITH d AS (SELECT DISTINCT {key} AS _k, {data_cols} FROM {staged.table}), "
        "k AS (SELECT _k FROM d GROUP BY _k HAVING count(*) > 1 LIMIT 1) "
        f"SELECT any_value(t.{id_col}), list({staged.line} ORDER BY {staged.line})[1:2] "
        f"FROM {staged.table} t JOIN k ON k._k = {key}"
    ).fetchone()
    if bad and bad[1]:
        lines = " and ".join(str(x) for x in bad[1])
        raise InputError(
            f"{staged.src}: lines {lines}: {id_col} {str(bad[0])!r} appears twice with "
            "different attributes"
        )


def check_known(con: duckdb.DuckDBPyConnection, staged: Staged, col: str, key: str,
                id_map: str, entity_src: str) -> None:  # fmt: skip
    """Every id in an edge-like table is in the entity file (when one was given)."""
    bad = con.execute(
        f"SELECT {staged.line} AS _l, {col} FROM {staged.table} "
        f"WHERE {key} NOT IN (SELECT key FROM {id_map}) ORDER BY _l LIMIT 1"
    ).fetchone()
    if bad:
        raise InputError(
            f"{staged.src}: line {bad[0]}: {col} {str(bad[1])!r} is not in {Path(entity_src).name}"
        )


WEIGHT_SQL = "TRY_CAST(weight AS DOUBLE)"
"""The staged weight as DOUBLE (text from csv, any number type from the other formats)."""


def ts_sql(staged: Staged) -> str:
    """The staged timestamp as TIMESTAMP: epoch seconds (number or text) or a date-time text."""
    typ = staged.types.get("ts", "VARCHAR").upper()
    if typ.startswith(("TIMESTAMP", "DATE")):
        return "CAST(ts AS TIMESTAMP)"
    epoch = (
        "CASE WHEN abs(TRY_CAST(ts AS DOUBLE)) < "
        f"{MAX_EPOCH_S} THEN CAST(to_timestamp(TRY_CAST(ts AS DOUBLE)) AS TIMESTAMP) END"
    )
    if typ != "VARCHAR":
        return epoch
    return (
        f"CASE WHEN ts IS NULL THEN NULL WHEN TRY_CAST(ts AS DOUBLE) IS NOT NULL THEN {epoch} "
        "ELSE TRY_CAST(ts AS TIMESTAMP) END"
    )


def check_edge_values(con: duckdb.DuckDBPyConnection, staged: Staged) -> None:
    """Weights are finite numbers >= 0; timestamps are epoch seconds or date-times."""
    w = WEIGHT_SQL
    bad = "weight" in staged.types and first_bad(
        con, staged,
        f"weight IS NOT NULL AND ({w} IS NULL OR isnan({w}) OR isinf({w}) OR {w} < 0)",
        "CAST(weight AS VARCHAR)",
    )  # fmt: skip
    if bad:
        raise InputError(
            f"{staged.src}: line {bad[0]}: column weight: expected a finite number >= 0, "
            f"got {bad[1]!r}"
        )
    bad = "ts" in staged.types and first_bad(
        con, staged, f"ts IS NOT NULL AND ({ts_sql(staged)}) IS NULL", "CAST(ts AS VARCHAR)"
    )
    if bad:
        raise InputError(
            f"{staged.src}: line {bad[0]}: column timestamp: expected epoch seconds or "
            f"'YYYY-MM-DD HH:MM:SS', got {bad[1]!r}"
        )
