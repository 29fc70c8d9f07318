"""Readers: csv/parquet/jsonl tables, NCF and MovieLens files into staged tables.

DuckDB's own readers do all the parsing; each source is read once, straight into its staged table.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import duckdb

from workbench.engine.errors import InputError
from workbench.engine.ingest.sources import (
    BOARD_ALIASES,
    IMAGE_ALIASES,
    NAME_ALIASES,
    PIN_ALIASES,
    TIMESTAMP_ALIASES,
    TITLE_ALIASES,
    WEIGHT_ALIASES,
    find_column,
    kind_of,
    ncf_files,
)
from workbench.engine.ingest.staging import (
    EDGE_KINDS,
    Stage,
    Staged,
    create_staged,
    id_sql,
    read_error,
    sql_literal,
    text_sql,
)
from workbench.engine.store import ident

# The 19 MovieLens 100K genres, in u.item's flag order (u.genre lists the same).
ML100K_GENRES = [
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance",
    "Sci-Fi", "Thriller", "War", "Western",
]  # fmt: skip

_NULL_TEXT = "CAST(NULL AS VARCHAR)"


# -- csv, parquet, jsonl -----------------------------------------------------------------------


def _reader(path: Path, fmt: str) -> str:
    lit = sql_literal(str(path))
    return {
        "csv": f"read_csv({lit}, header=true, all_varchar=true)",
        "parquet": f"read_parquet({lit})",
        "jsonl": f"read_json({lit}, format='newline_delimited')",
    }[fmt]


def _columns(con: duckdb.DuckDBPyConnection, source: str, path: Path,
             fmt: str = "") -> dict[str, str]:  # fmt: skip
    """Column name -> type of a reader's output (reads only what the reader needs to tell)."""
    try:
        rows = con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
    except duckdb.Error as exc:
        raise InputError(read_error(path, exc, fmt)) from None
    return {r[0]: str(r[1]) for r in rows}


def stage_tabular(con: duckdb.DuckDBPyConnection, files: list[Path], fmt: str) -> Stage:
    """Stage csv/parquet/jsonl files, one staged table per kind of file."""
    stage: Stage = {}
    for path in files:
        source = _reader(path, fmt)
        cols = _columns(con, source, path, fmt)
        try:
            kind = kind_of(path, list(cols))
        except InputError:
            if con.execute(f"SELECT count(*) FROM (SELECT 1 FROM {source} LIMIT 1)").fetchone() == (
                0,
            ):
                raise InputError(f"{path}: empty file (expected a header line and rows)") from None
            raise
        if kind in stage:
            raise InputError(
                f"{path}: a second {kind} file (first was {stage[kind].src}); pass one"
            )
        staged = Staged(kind, str(path), first_line=2 if fmt == "csv" else 1)
        select, params = _select_for(kind, cols, path)
        if fmt == "parquet" and kind in EDGE_KINDS:
            # parquet is cheap to scan again and numbers its rows: no copy of the big tables
            staged.is_view = True
            source = source.replace(")", ", file_row_number=true)", 1)
            select += ", file_row_number AS _row"
        create_staged(con, staged, f"{select} FROM {source}", params, fmt)
        stage[kind] = staged
        if kind in ("pins", "boards") and fmt == "csv":
            _type_attributes(con, staged)
    return stage


def _optional(col: str | None) -> str:
    return text_sql(col) if col else _NULL_TEXT


def _select_for(kind: str, cols: dict[str, str], path: Path) -> tuple[str, list[object]]:
    """The SELECT list that turns a source's columns into the staged table of ``kind``."""
    names = list(cols)
    pin_c, board_c = find_column(names, PIN_ALIASES), find_column(names, BOARD_ALIASES)
    if kind == "pins":
        assert pin_c
        title_c, desc_c = find_column(names, TITLE_ALIASES), find_column(names, ("description",))
        image_c = find_column(names, IMAGE_ALIASES)
        attrs = [c for c in names if c not in {pin_c, title_c, desc_c, image_c}]
        image_sql, params = _NULL_TEXT, []
        if image_c:  # relative image paths are relative to the pins file
            img = text_sql(image_c)
            image_sql = (f"CASE WHEN {img} IS NULL THEN NULL WHEN starts_with({img}, '/') "
                         f"THEN {img} ELSE ? || '/' || {img} END")  # fmt: skip
            params = [str(path.parent.resolve())]
        return (
            f"SELECT {id_sql(pin_c, cols[pin_c])} AS pin, {_optional(title_c)} AS title, "
            f"{_optional(desc_c)} AS description, {image_sql} AS image"
            + "".join(f", {ident(a)}" for a in attrs),
            params,
        )
    if kind == "boards":
        assert board_c
        name_c = find_column(names, NAME_ALIASES)
        attrs = [c for c in names if c not in {board_c, name_c}]
        return (
            f"SELECT {id_sql(board_c, cols[board_c])} AS board, {_optional(name_c)} AS name"
            + "".join(f", {ident(a)}" for a in attrs),
            [],
        )
    assert pin_c and board_c
    select = (
        f"SELECT {id_sql(board_c, cols[board_c])} AS board, {id_sql(pin_c, cols[pin_c])} AS pin"
    )
    if kind == "edges":
        w_c, t_c = find_column(names, WEIGHT_ALIASES), find_column(names, TIMESTAMP_ALIASES)
        # absent columns are not staged: a column of NULLs would still cost memory per row
        if w_c:
            select += f", {_value_sql(w_c, cols)} AS weight"
        if t_c:
            select += f", {_value_sql(t_c, cols)} AS ts"
    return select, []


def _value_sql(col: str, cols: dict[str, str]) -> str:
    """A weight or timestamp column as staged: numbers and timestamps as they are, else text."""
    typ = cols[col].upper()
    if typ in ("FLOAT", "DOUBLE") or typ.startswith(("DECIMAL", "TIMESTAMP")) or typ in (
        "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT",
        "HUGEINT", "DATE",
    ):  # fmt: skip
        return ident(col)
    return text_sql(col)


def _type_attributes(con: duckdb.DuckDBPyConnection, staged: Staged) -> None:
    """CSV attributes arrive as text: give each column the narrowest type all its values fit."""
    tbl = staged.table
    fixed = {"pin", "board", "title", "description", "image", "name"}
    for a in [c for c in staged.types if c not in fixed]:
        col = ident(a)
        nonnull = con.execute(
            f"SELECT count(*) FROM {tbl} WHERE NULLIF(trim({col}), '') IS NOT NULL"
        ).fetchone()[0]  # type: ignore[index]
        for typ in ("BIGINT", "DOUBLE", "BOOLEAN"):
            bad = con.execute(
                f"SELECT count(*) FROM {tbl} WHERE NULLIF(trim({col}), '') IS NOT NULL "
                f"AND TRY_CAST(trim({col}) AS {typ}) IS NULL"
            ).fetchone()[0]  # type: ignore[index]
            if bad == 0 and nonnull > 0:
                con.execute(
                    f"ALTER TABLE {tbl} ALTER {col} TYPE {typ} "
                    f"USING TRY_CAST(NULLIF(trim({col}), '') AS {typ})"
                )
                break
        else:
            con.execute(f"ALTER TABLE {tbl} ALTER {col} TYPE VARCHAR USING NULLIF(trim({col}), '')")
    staged.types = {r[0]: str(r[1]) for r in con.execute(f"DESCRIBE {tbl}").fetchall()}


# -- NCF and MovieLens: headerless, tab or '|' separated ----------------------------------------


def _headerless(con: duckdb.DuckDBPyConnection, path: Path, delim: str,
                encoding: str = "utf-8") -> tuple[str, list[str]]:  # fmt: skip
    """A reader over a headerless file and its columns c0, c1, ... (as SQL over the reader)."""
    source = (
        f"read_csv({sql_literal(str(path))}, header=false, all_varchar=true, null_padding=true, "
        f"delim={sql_literal(delim)}, quote='', escape='', encoding={sql_literal(encoding)})"
    )
    names = list(_columns(con, source, path))
    return source, [f"{ident(n)}" for n in names]


def _require_int_ids(con: duckdb.DuckDBPyConnection, staged: Staged,
                     columns: dict[str, str]) -> None:  # fmt: skip
    for col, what in columns.items():
        bad = con.execute(
            f"SELECT {staged.line}, {col} FROM {staged.table} "
            f"WHERE TRY_CAST({col} AS BIGINT) IS NULL ORDER BY 1 LIMIT 1"
        ).fetchone()
        if bad:
            raise InputError(
                f"{staged.src}: line {bad[0]}: expected a numeric {what} id, got {bad[1]!r}"
            )


def stage_ncf(con: duckdb.DuckDBPyConnection, paths: Sequence[Path]) -> tuple[Stage, list[str]]:
    """NCF's ``.train.rating`` (user, item, rating, time), ``.test.rating`` and
    ``.test.negative`` (``(user,item)`` then negative items) into staged tables."""
    train, test, neg = ncf_files(paths)
    stage: Stage = {}
    source, c = _headerless(con, train, "\t")
    if len(c) < 2:
        raise InputError(f"{train}: line 1: expected user<TAB>item[<TAB>rating<TAB>timestamp]")
    ts = f", NULLIF(NULLIF(trim({c[3]}), ''), '0') AS ts" if len(c) >= 4 else ""
    stage["edges"] = Staged("edges", str(train))
    select = f"SELECT trim({c[0]}) AS board, trim({c[1]}) AS pin{ts} FROM {source}"
    create_staged(con, stage["edges"], select)
    _require_int_ids(con, stage["edges"], {"board": "user", "pin": "item"})
    sources = [str(train)]
    if test:
        source, c = _headerless(con, test, "\t")
        if len(c) < 2:
            raise InputError(f"{test}: line 1: expected user<TAB>item")
        stage["test"] = Staged("test", str(test))
        select = f"SELECT trim({c[0]}) AS board, trim({c[1]}) AS pin FROM {source}"
        create_staged(con, stage["test"], select)
        _require_int_ids(con, stage["test"], {"board": "user", "pin": "item"})
        sources.append(str(test))
    if neg:
        stage["negatives"] = _stage_ncf_negatives(con, neg)
        sources.append(str(neg))
    return stage, sources


def _stage_ncf_negatives(con: duckdb.DuckDBPyConnection, neg: Path) -> Staged:
    source, c = _headerless(con, neg, "\t")
    raw = Staged("negraw", str(neg))
    create_staged(con, raw, f"SELECT * FROM {source}")
    bad = con.execute(
        f"SELECT {raw.line}, {c[0]} FROM _negraw WHERE NOT regexp_full_match(trim({c[0]}), "
        "'\\(\\s*-?\\d+\\s*,\\s*-?\\d+\\s*\\)') ORDER BY 1 LIMIT 1"
    ).fetchone()
    if bad:
        raise InputError(f"{neg}: line {bad[0]}: expected '(user,item)' first, got {bad[1]!r}")
    if len(c) < 2:
        raise InputError(f"{neg}: line 1: expected '(user,item)' then negative item ids")
    staged = Staged("negatives", str(neg), line="_line")
    con.execute(
        "CREATE TEMP TABLE _negatives AS SELECT board, trim(pin) AS pin, _line FROM (UNPIVOT "
        f"(SELECT trim(regexp_extract({c[0]}, '\\(\\s*(-?\\d+)', 1)) AS board, {raw.line} AS "
        f"_line, * EXCLUDE ({c[0]}) FROM _negraw) ON COLUMNS(* EXCLUDE (board, _line)) "
        "INTO NAME _col VALUE pin) WHERE NULLIF(trim(pin), '') IS NOT NULL"
    )
    con.execute("DROP TABLE _negraw")
    staged.types = {r[0]: str(r[1]) for r in con.execute("DESCRIBE _negatives").fetchall()}
    _require_int_ids(con, staged, {"pin": "negative item"})
    return staged


def stage_movielens(con: duckdb.DuckDBPyConnection,
                    paths: Sequence[Path]) -> tuple[Stage, list[str]]:  # fmt: skip
    """MovieLens 100K: ``u.data`` ratings and, when present, ``u.item`` titles and genres."""
    names: dict[str, Path] = {}
    for p in paths:
        for child in p.iterdir() if p.is_dir() else [p]:
            names[child.name] = child
    if "u.data" not in names:
        raise InputError(
            f"{paths[0]}: MovieLens needs u.data (ratings.csv + movies.csv load with --format csv)"
        )
    data = names["u.data"]
    source, c = _headerless(con, data, "\t")
    if len(c) < 3:
        raise InputError(f"{data}: line 1: expected user<TAB>item<TAB>rating<TAB>timestamp")
    ts = f", trim({c[3]}) AS ts" if len(c) >= 4 else ""
    stage: Stage = {"edges": Staged("edges", str(data))}
    create_staged(
        con, stage["edges"],
        f"SELECT trim({c[0]}) AS board, trim({c[1]}) AS pin, trim({c[2]}) AS weight{ts} "
        f"FROM {source}",
    )  # fmt: skip
    _require_int_ids(con, stage["edges"], {"board": "user", "pin": "item"})
    sources = [str(data)]
    item = names.get("u.item")
    if item:
        stage["pins"] = _stage_movielens_items(con, item)
        sources.append(str(item))
    return stage, sources


def _stage_movielens_items(con: duckdb.DuckDBPyConnection, item: Path) -> Staged:
    source, c = _headerless(con, item, "|", encoding="latin-1")
    if len(c) < 2:
        raise InputError(f"{item}: line 1: expected item|title|... fields separated by '|'")
    flag_cols = (
        list(zip(ML100K_GENRES, c[5 : 5 + len(ML100K_GENRES)], strict=False)) if len(c) > 10 else []
    )
    genre_list = (
        "list_filter(["
        + ", ".join(
            f"CASE WHEN trim({col}) = '1' THEN {sql_literal(g)} END" for g, col in flag_cols
        )
        + "], lambda x: x IS NOT NULL)"
        if flag_cols
        else "CAST([] AS VARCHAR[])"
    )
    release = f"NULLIF(trim({c[2]}), '')" if len(c) > 2 else "NULL"
    staged = Staged("pins", str(item))
    create_staged(
        con, staged,
        f"SELECT trim({c[0]}) AS pin, NULLIF(trim({c[1]}), '') AS title, "
        "CAST(NULL AS VARCHAR) AS description, CAST(NULL AS VARCHAR) AS image, "
        f"{genre_list}[1] AS topic, array_to_string({genre_list}, '|') AS genres, "
        f"TRY_CAST(strptime({release}, '%d-%b-%Y') AS DATE) AS release_date FROM {source}",
    )  # fmt: skip
    _require_int_ids(con, staged, {"pin": "item"})
    return staged
