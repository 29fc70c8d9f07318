"""Loading datasets into the store (csv/parquet/jsonl tables, NCF, MovieLens) in one transaction.

Every reader turns its files into up to five *staged* temporary tables with the same shape::

    _pins(pin, title, description, image, <attributes...>, _src, _line)
    _boards(board, name, <attributes...>, _src, _line)
    _edges(board, pin, weight, ts, _src, _line)
    _test(board, pin, _src, _line)        _negatives(board, pin, _src, _line)

(ids are VARCHAR, ``_src`` names the file and ``_line`` the line or row for error messages). One
builder then checks them, assigns dense int32 ids and writes the dataset's tables, so every format
gets the same checks and the same error messages. DuckDB's own readers do all the parsing.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb

from workbench.engine.errors import InputError, WorkbenchError
from workbench.engine.progress import SILENT, Reporter
from workbench.engine.store import (
    DatasetInfo,
    Store,
    drop_dataset_tables,
    ident,
    insert_dataset_row,
    validate_dataset_name,
)

FORMATS = ("auto", "csv", "parquet", "jsonl", "ncf", "movielens")

PIN_ALIASES = ("pin", "pin_id", "pinid", "item", "item_id", "itemid", "movie_id", "movieid")
BOARD_ALIASES = ("board", "board_id", "boardid", "user", "user_id", "userid")
WEIGHT_ALIASES = ("weight", "rating", "count")
TIMESTAMP_ALIASES = ("timestamp", "ts", "time")
TITLE_ALIASES = ("title",)
NAME_ALIASES = ("name", "title")
IMAGE_ALIASES = ("image", "image_path", "img", "path")

TABULAR_EXTENSIONS = {
    ".csv": "csv", ".tsv": "csv", ".txt": "csv",
    ".parquet": "parquet", ".pq": "parquet",
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
}  # fmt: skip
IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff"}

# The 19 MovieLens 100K genres, in u.item's flag order (u.genre lists the same).
ML100K_GENRES = [
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance",
    "Sci-Fi", "Thriller", "War", "Western",
]  # fmt: skip

MAX_EPOCH_S = 10**11  # about the year 5000: larger epoch seconds are refused, not overflowed


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


# -- detecting what was given ------------------------------------------------------------------


def _expand(paths: Sequence[str | os.PathLike[str]]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        if not p.exists():
            raise InputError(f"{p}: no such file or directory")
        out.append(p)
    if not out:
        raise InputError("no input files given")
    return out


def detect_format(paths: Sequence[Path]) -> str:
    """Guess the format of the given files or directories (``--format auto``)."""
    names: list[str] = []
    for p in paths:
        names += [c.name for c in p.iterdir()] if p.is_dir() else [p.name]
    if any(n.endswith(".train.rating") for n in names):
        return "ncf"
    if "u.data" in names:
        return "movielens"
    kinds = {TABULAR_EXTENSIONS[Path(n).suffix.lower()] for n in names
             if Path(n).suffix.lower() in TABULAR_EXTENSIONS}  # fmt: skip
    if len(kinds) == 1:
        return kinds.pop()
    if not kinds:
        raise InputError(
            f"{paths[0]}: cannot tell the format (expected .csv, .parquet, .jsonl files, "
            "NCF *.train.rating or MovieLens u.data); pass --format"
        )
    raise InputError(f"{paths[0]}: mixed file types {sorted(kinds)}; load one format at a time")


def _tabular_files(paths: Sequence[Path], fmt: str) -> list[Path]:
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files += sorted(c for c in p.iterdir()
                            if TABULAR_EXTENSIONS.get(c.suffix.lower()) == fmt)  # fmt: skip
        else:
            files.append(p)
    if not files:
        raise InputError(f"{paths[0]}: no {fmt} files found")
    return files


# -- reading one tabular file into a temp table ----------------------------------------------


def _read_source(con: duckdb.DuckDBPyConnection, path: Path, fmt: str, tmp: str) -> list[str]:
    """Read ``path`` into temp table ``tmp`` (with ``_line``); return its column names."""
    reader = {
        "csv": "read_csv(?, header=true, all_varchar=true)",
        "parquet": "read_parquet(?)",
        "jsonl": "read_json(?, format='newline_delimited')",
    }[fmt]
    first_line = 2 if fmt == "csv" else 1
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {tmp} AS SELECT * FROM {reader}", [str(path)])
    except duckdb.Error as exc:
        raise InputError(f"{path}: cannot read as {fmt}: {_one_line(exc)}") from None
    cols = [d[0] for d in con.execute(f"SELECT * FROM {tmp} LIMIT 0").description]
    n = con.execute(f"SELECT count(*) FROM {tmp}").fetchone()[0]  # type: ignore[index]
    if n == 0:
        raise InputError(f"{path}: empty file (expected a header line and at least one row)")
    con.execute(f"ALTER TABLE {tmp} ADD COLUMN _line BIGINT")
    con.execute(f"UPDATE {tmp} SET _line = rowid - (SELECT min(rowid) FROM {tmp}) + {first_line}")
    return cols


def _find(cols: Sequence[str], aliases: Sequence[str]) -> str | None:
    lower = {c.lower().strip(): c for c in cols}
    for a in aliases:
        if a in lower:
            return lower[a]
    return None


def _kind_of(path: Path, cols: Sequence[str]) -> str:
    has_pin = _find(cols, PIN_ALIASES) is not None
    has_board = _find(cols, BOARD_ALIASES) is not None
    if has_pin and has_board:
        name = path.name.lower()
        if "negative" in name:
            return "negatives"
        if "test" in name:
            return "test"
        return "edges"
    if has_pin:
        return "pins"
    if has_board:
        return "boards"
    raise InputError(
        f"{path}: no id column: expected 'pin' (or {', '.join(PIN_ALIASES[1:])}) and/or 'board' "
        f"(or {', '.join(BOARD_ALIASES[1:])}); found {', '.join(cols)}"
    )


def _sql_str(col: str) -> str:
    return f"NULLIF(trim(CAST({ident(col)} AS VARCHAR)), '')"


def _stage_tabular(con: duckdb.DuckDBPyConnection, files: list[Path], fmt: str) -> dict[str, str]:
    """Stage csv/parquet/jsonl files; returns {kind: source file} for messages."""
    seen: dict[str, str] = {}
    for i, path in enumerate(files):
        tmp = f"_src{i}"
        cols = _read_source(con, path, fmt, tmp)
        kind = _kind_of(path, cols)
        if kind in seen:
            raise InputError(f"{path}: a second {kind} file (first was {seen[kind]}); pass one")
        seen[kind] = str(path)
        src = str(path)
        pin_c, board_c = _find(cols, PIN_ALIASES), _find(cols, BOARD_ALIASES)
        if kind == "pins":
            assert pin_c
            title_c, desc_c = _find(cols, TITLE_ALIASES), _find(cols, ("description",))
            image_c = _find(cols, IMAGE_ALIASES)
            used = {pin_c, title_c, desc_c, image_c}
            attrs = [c for c in cols if c not in used]
            base = str(path.parent.resolve())
            image_sql = (
                f"CASE WHEN {_sql_str(image_c)} IS NULL THEN NULL "
                f"WHEN starts_with({_sql_str(image_c)}, '/') THEN {_sql_str(image_c)} "
                f"ELSE ? || '/' || {_sql_str(image_c)} END"
                if image_c
                else "CAST(NULL AS VARCHAR)"
            )
            params = [base] if image_c else []
            con.execute(
                f"CREATE TEMP TABLE _pins AS SELECT {_sql_str(pin_c)} AS pin, "
                f"{_sql_str(title_c) if title_c else 'CAST(NULL AS VARCHAR)'} AS title, "
                f"{_sql_str(desc_c) if desc_c else 'CAST(NULL AS VARCHAR)'} AS description, "
                f"{image_sql} AS image"
                + "".join(f", {ident(a)}" for a in attrs)
                + f", ? AS _src, _line FROM {tmp}",
                [*params, src],
            )
            _type_attributes(con, "_pins", attrs, fmt)
        elif kind == "boards":
            assert board_c
            name_c = _find(cols, NAME_ALIASES)
            attrs = [c for c in cols if c not in {board_c, name_c}]
            con.execute(
                f"CREATE TEMP TABLE _boards AS SELECT {_sql_str(board_c)} AS board, "
                f"{_sql_str(name_c) if name_c else 'CAST(NULL AS VARCHAR)'} AS name"
                + "".join(f", {ident(a)}" for a in attrs)
                + f", ? AS _src, _line FROM {tmp}",
                [src],
            )
            _type_attributes(con, "_boards", attrs, fmt)
        elif kind == "edges":
            assert pin_c and board_c
            w_c, t_c = _find(cols, WEIGHT_ALIASES), _find(cols, TIMESTAMP_ALIASES)
            con.execute(
                f"CREATE TEMP TABLE _edges_raw AS SELECT {_sql_str(board_c)} AS board, "
                f"{_sql_str(pin_c)} AS pin, "
                f"{_sql_str(w_c) if w_c else 'CAST(NULL AS VARCHAR)'} AS weight, "
                f"{_sql_str(t_c) if t_c else 'CAST(NULL AS VARCHAR)'} AS ts, "
                f"? AS _src, _line FROM {tmp}",
                [src],
            )
            _stage_edges(con, "_edges_raw")
        else:
            assert pin_c and board_c
            con.execute(
                f"CREATE TEMP TABLE _{kind} AS SELECT {_sql_str(board_c)} AS board, "
                f"{_sql_str(pin_c)} AS pin, ? AS _src, _line FROM {tmp}",
                [src],
            )
        con.execute(f"DROP TABLE {tmp}")
    return seen


def _type_attributes(con: duckdb.DuckDBPyConnection, tbl: str, attrs: list[str], fmt: str) -> None:
    """CSV attributes arrive as text: give each column the narrowest type all its values fit."""
    if fmt != "csv":
        return
    for a in attrs:
        col = ident(a)
        for typ in ("BIGINT", "DOUBLE", "BOOLEAN"):
            bad = con.execute(
                f"SELECT count(*) FROM {tbl} WHERE NULLIF(trim({col}), '') IS NOT NULL "
                f"AND TRY_CAST(trim({col}) AS {typ}) IS NULL"
            ).fetchone()[0]  # type: ignore[index]
            nonnull = con.execute(
                f"SELECT count(*) FROM {tbl} WHERE NULLIF(trim({col}), '') IS NOT NULL"
            ).fetchone()[0]  # type: ignore[index]
            if bad == 0 and nonnull > 0:
                con.execute(
                    f"ALTER TABLE {tbl} ALTER {col} TYPE {typ} "
                    f"USING TRY_CAST(NULLIF(trim({col}), '') AS {typ})"
                )
                break
        else:
            con.execute(f"UPDATE {tbl} SET {col} = NULLIF(trim({col}), '')")


def _stage_edges(con: duckdb.DuckDBPyConnection, raw: str) -> None:
    """Turn text weight/timestamp columns into DOUBLE/TIMESTAMP; fail on the first bad value."""
    bad = con.execute(
        f"SELECT _src, _line, weight FROM {raw} WHERE weight IS NOT NULL AND "
        "(TRY_CAST(weight AS DOUBLE) IS NULL OR isnan(TRY_CAST(weight AS DOUBLE)) "
        " OR TRY_CAST(weight AS DOUBLE) < 0 OR isinf(TRY_CAST(weight AS DOUBLE))) "
        "ORDER BY _line LIMIT 1"
    ).fetchone()
    if bad:
        raise InputError(
            f"{bad[0]}: line {bad[1]}: column weight: expected a finite number >= 0, got {bad[2]!r}"
        )
    ts_sql = (
        "CASE WHEN ts IS NULL THEN NULL "
        "WHEN TRY_CAST(ts AS DOUBLE) IS NOT NULL THEN CASE WHEN abs(TRY_CAST(ts AS DOUBLE)) "
        f"< {MAX_EPOCH_S} THEN to_timestamp(TRY_CAST(ts AS DOUBLE)) END "
        "ELSE TRY_CAST(ts AS TIMESTAMP) END"
    )
    bad = con.execute(
        f"SELECT _src, _line, ts FROM {raw} WHERE ts IS NOT NULL AND ({ts_sql}) IS NULL "
        "ORDER BY _line LIMIT 1"
    ).fetchone()
    if bad:
        raise InputError(
            f"{bad[0]}: line {bad[1]}: column timestamp: expected epoch seconds or "
            f"'YYYY-MM-DD HH:MM:SS', got {bad[2]!r}"
        )
    con.execute(
        f"CREATE TEMP TABLE _edges AS SELECT board, pin, CAST(weight AS DOUBLE) AS weight, "
        f"CAST({ts_sql} AS TIMESTAMP) AS ts, _src, _line FROM {raw}"
    )
    con.execute(f"DROP TABLE {raw}")


# -- NCF and MovieLens -------------------------------------------------------------------------


def _ncf_files(paths: Sequence[Path]) -> tuple[Path, Path | None, Path | None]:
    prefix: str | None = None
    for p in paths:
        if p.is_dir():
            trains = sorted(p.glob("*.train.rating"))
            if len(trains) != 1:
                raise InputError(
                    f"{p}: expected exactly one *.train.rating file, found {len(trains)}"
                )
            prefix = str(trains[0])[: -len(".train.rating")]
        else:
            for suffix in (".train.rating", ".test.rating", ".test.negative"):
                if p.name.endswith(suffix):
                    prefix = str(p)[: -len(suffix)]
            if prefix is None:
                prefix = str(p)
    assert prefix is not None
    train = Path(prefix + ".train.rating")
    if not train.exists():
        raise InputError(f"{train}: NCF train file not found (give a directory, prefix or file)")
    test, neg = Path(prefix + ".test.rating"), Path(prefix + ".test.negative")
    return train, (test if test.exists() else None), (neg if neg.exists() else None)


def _read_headerless(con: duckdb.DuckDBPyConnection, path: Path, tmp: str, delim: str,
                     encoding: str = "utf-8") -> int:  # fmt: skip
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {tmp} AS SELECT * FROM read_csv(?, header=false, "
            "all_varchar=true, null_padding=true, delim=?, quote='', escape='', encoding=?)",
            [str(path), delim, encoding],
        )
    except duckdb.Error as exc:
        raise InputError(f"{path}: cannot read: {_one_line(exc)}") from None
    n = con.execute(f"SELECT count(*) FROM {tmp}").fetchone()[0]  # type: ignore[index]
    if n == 0:
        raise InputError(f"{path}: empty file")
    # DuckDB names headerless columns column0.. or column00..; rename them c0, c1, ... in order.
    names = [d[0] for d in con.execute(f"SELECT * FROM {tmp} LIMIT 0").description]
    for i, col in enumerate(names):
        con.execute(f"ALTER TABLE {tmp} RENAME {ident(col)} TO c{i}")
    ncols = len(names)
    con.execute(f"ALTER TABLE {tmp} ADD COLUMN _line BIGINT")
    con.execute(f"UPDATE {tmp} SET _line = rowid - (SELECT min(rowid) FROM {tmp}) + 1")
    return ncols


def _require_int_ids(con: duckdb.DuckDBPyConnection, tmp: str, path: Path,
                     columns: dict[str, str]) -> None:  # fmt: skip
    for col, what in columns.items():
        bad = con.execute(
            f"SELECT _line, {col} FROM {tmp} WHERE TRY_CAST(trim({col}) AS BIGINT) IS NULL "
            "ORDER BY _line LIMIT 1"
        ).fetchone()
        if bad:
            raise InputError(f"{path}: line {bad[0]}: expected a numeric {what} id, got {bad[1]!r}")


def _stage_ncf(con: duckdb.DuckDBPyConnection, paths: Sequence[Path]) -> list[str]:
    train, test, neg = _ncf_files(paths)
    ncols = _read_headerless(con, train, "_t", "\t")
    if ncols < 2:
        raise InputError(f"{train}: line 1: expected user<TAB>item[<TAB>rating<TAB>timestamp]")
    _require_int_ids(con, "_t", train, {"c0": "user", "c1": "item"})
    ts = "CAST(NULL AS VARCHAR)"
    if ncols >= 4:
        ts = "NULLIF(NULLIF(trim(c3), ''), '0')"
    con.execute(
        "CREATE TEMP TABLE _edges_raw AS SELECT trim(c0) AS board, trim(c1) AS pin, "
        f"CAST(NULL AS VARCHAR) AS weight, {ts} AS ts, ? AS _src, _line FROM _t",
        [str(train)],
    )
    _stage_edges(con, "_edges_raw")
    sources = [str(train)]
    if test:
        _read_headerless(con, test, "_t", "\t")
        _require_int_ids(con, "_t", test, {"c0": "user", "c1": "item"})
        con.execute(
            "CREATE TEMP TABLE _test AS SELECT trim(c0) AS board, trim(c1) AS pin, "
            "? AS _src, _line FROM _t",
            [str(test)],
        )
        sources.append(str(test))
    if neg:
        ncols = _read_headerless(con, neg, "_t", "\t")
        bad = con.execute(
            "SELECT _line, c0 FROM _t WHERE NOT regexp_full_match(trim(c0), "
            "'\\(\\s*-?\\d+\\s*,\\s*-?\\d+\\s*\\)') ORDER BY _line LIMIT 1"
        ).fetchone()
        if bad:
            raise InputError(f"{neg}: line {bad[0]}: expected '(user,item)' first, got {bad[1]!r}")
        if ncols < 2:
            raise InputError(f"{neg}: line 1: expected '(user,item)' then negative item ids")
        con.execute(
            "CREATE TEMP TABLE _negu AS UNPIVOT (SELECT trim(regexp_extract(c0, "
            "'\\(\\s*(-?\\d+)', 1)) AS board, * EXCLUDE (c0) FROM _t) "
            "ON COLUMNS(* EXCLUDE (board, _line)) INTO NAME _col VALUE pin"
        )
        con.execute("DELETE FROM _negu WHERE NULLIF(trim(pin), '') IS NULL")
        _require_int_ids(con, "_negu", neg, {"pin": "negative item"})
        con.execute(
            "CREATE TEMP TABLE _negatives AS SELECT board, trim(pin) AS pin, ? AS _src, _line "
            "FROM _negu",
            [str(neg)],
        )
        sources.append(str(neg))
    return sources


def _stage_movielens(con: duckdb.DuckDBPyConnection, paths: Sequence[Path]) -> list[str]:
    names: dict[str, Path] = {}
    for p in paths:
        for c in p.iterdir() if p.is_dir() else [p]:
            names[c.name] = c
    if "u.data" not in names:
        raise InputError(
            f"{paths[0]}: MovieLens needs u.data (ratings.csv + movies.csv load with --format csv)"
        )
    data = names["u.data"]
    ncols = _read_headerless(con, data, "_t", "\t")
    if ncols < 3:
        raise InputError(f"{data}: line 1: expected user<TAB>item<TAB>rating<TAB>timestamp")
    _require_int_ids(con, "_t", data, {"c0": "user", "c1": "item"})
    ts = "trim(c3)" if ncols >= 4 else "CAST(NULL AS VARCHAR)"
    con.execute(
        "CREATE TEMP TABLE _edges_raw AS SELECT trim(c0) AS board, trim(c1) AS pin, "
        f"trim(c2) AS weight, {ts} AS ts, ? AS _src, _line FROM _t",
        [str(data)],
    )
    _stage_edges(con, "_edges_raw")
    sources = [str(data)]
    item = names.get("u.item")
    if item:
        ncols = _read_headerless(con, item, "_t", "|", encoding="latin-1")
        if ncols < 2:
            raise InputError(f"{item}: line 1: expected item|title|... fields separated by '|'")
        _require_int_ids(con, "_t", item, {"c0": "item"})
        flags = [f"c{5 + i}" if ncols > 10 else None for i in range(len(ML100K_GENRES))]
        cols_present = {d[0] for d in con.execute("SELECT * FROM _t LIMIT 0").description}
        flag_cols = [(g, c) for g, c in zip(ML100K_GENRES, flags, strict=True)
                     if c and c in cols_present]  # fmt: skip
        genre_list = (
            "list_filter(["
            + ", ".join(
                f"CASE WHEN trim({c}) = '1' THEN '{g.replace(chr(39), chr(39) * 2)}' END"
                for g, c in flag_cols
            )
            + "], lambda x: x IS NOT NULL)"
            if flag_cols
            else "CAST([] AS VARCHAR[])"
        )
        release = "NULLIF(trim(c2), '')" if "c2" in cols_present else "NULL"
        con.execute(
            "CREATE TEMP TABLE _pins AS SELECT trim(c0) AS pin, NULLIF(trim(c1), '') "
            "AS title, CAST(NULL AS VARCHAR) AS description, CAST(NULL AS VARCHAR) AS image, "
            f"{genre_list}[1] AS topic, array_to_string({genre_list}, '|') AS genres, "
            f"TRY_CAST(strptime({release}, '%d-%b-%Y') AS DATE) AS release_date, "
            "? AS _src, _line FROM _t",
            [str(item)],
        )
        sources.append(str(item))
    return sources


# -- building the dataset from staged tables -------------------------------------------------


def _exists(con: duckdb.DuckDBPyConnection, tmp: str) -> bool:
    return bool(
        con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name = ?", [tmp]
        ).fetchone()[0]  # type: ignore[index]
    )


def _first_null_id(con: duckdb.DuckDBPyConnection, tmp: str, cols: Sequence[str]) -> None:
    for c in cols:
        bad = con.execute(
            f"SELECT _src, _line FROM {tmp} WHERE {c} IS NULL ORDER BY _line LIMIT 1"
        ).fetchone()
        if bad:
            raise InputError(f"{bad[0]}: line {bad[1]}: column {c}: empty {c} id")


def _dedupe_entities(con: duckdb.DuckDBPyConnection, tmp: str, key: str) -> None:
    """Identical duplicate rows are merged; the same id with different attributes is an error."""
    cols = [d[0] for d in con.execute(f"SELECT * FROM {tmp} LIMIT 0").description]
    data_cols = ", ".join(ident(c) for c in cols if c not in ("_src", "_line"))
    bad = con.execute(
        f"WITH d AS (SELECT DISTINCT {data_cols} FROM {tmp}), "
        f"k AS (SELECT {key} FROM d GROUP BY {key} HAVING count(*) > 1 LIMIT 1) "
        f"SELECT t._src, t.{key}, list(t._line ORDER BY t._line)[1:2] FROM {tmp} t "
        f"JOIN k USING ({key}) GROUP BY t._src, t.{key}"
    ).fetchone()
    if bad:
        lines = " and ".join(str(x) for x in bad[2])
        raise InputError(
            f"{bad[0]}: lines {lines}: {key} {bad[1]!r} appears twice with different attributes"
        )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {tmp} AS SELECT {data_cols}, min(_src) AS _src, "
        f"min(_line) AS _line FROM {tmp} GROUP BY ALL"
    )


def _id_type(con: duckdb.DuckDBPyConnection, refs: list[tuple[str, str]]) -> str:
    """'integer' when every id in every referencing table parses as an integer, else 'string'."""
    for tmp, col in refs:
        bad = con.execute(
            f"SELECT count(*) FROM {tmp} WHERE TRY_CAST({col} AS BIGINT) IS NULL"
        ).fetchone()[0]  # type: ignore[index]
        if bad:
            return "string"
    return "integer"


def _canonicalise(con: duckdb.DuckDBPyConnection, refs: list[tuple[str, str]]) -> None:
    for tmp, col in refs:
        con.execute(f"UPDATE {tmp} SET {col} = CAST(CAST({col} AS BIGINT) AS VARCHAR)")


def _check_known(con: duckdb.DuckDBPyConnection, tmp: str, col: str, entity_tmp: str,
                 entity_src: str) -> None:  # fmt: skip
    bad = con.execute(
        f"SELECT t._src, t._line, t.{col} FROM {tmp} t ANTI JOIN {entity_tmp} e "
        f"ON t.{col} = e.{col} ORDER BY t._line LIMIT 1"
    ).fetchone()
    if bad:
        raise InputError(
            f"{bad[0]}: line {bad[1]}: {col} {bad[2]!r} is not in {Path(entity_src).name}"
        )


def _attribute_types(con: duckdb.DuckDBPyConnection, tbl: str, skip: set[str]) -> dict[str, str]:
    return {
        name: str(typ)
        for name, typ, *_ in con.execute(f"DESCRIBE {tbl}").fetchall()
        if name not in skip
    }


def _check_images(con: duckdb.DuckDBPyConnection, tbl: str) -> tuple[int, int, list[str]]:
    """Count pins whose image exists and decodes (header only); report missing ones."""
    from PIL import Image, UnidentifiedImageError

    rows = con.execute(f"SELECT pin, image FROM {tbl} WHERE image IS NOT NULL").fetchall()
    missing: list[str] = []
    for pin, image in rows:
        try:
            with Image.open(image) as im:
                im.size  # noqa: B018 - touching size reads and validates the header
        except (OSError, UnidentifiedImageError, ValueError):
            missing.append(pin)
    if missing:
        placeholders = ", ".join("?" for _ in missing)
        con.execute(f"UPDATE {tbl} SET image = NULL WHERE pin IN ({placeholders})", missing)
    return len(rows) - len(missing), len(missing), missing[:5]


def _attach_image_dir(con: duckdb.DuckDBPyConnection, images: Path) -> int:
    if not images.is_dir():
        raise InputError(f"{images}: --images must be a directory of image files")
    found = [(p.stem, str(p.resolve())) for p in images.iterdir()
             if p.suffix.lower() in IMAGE_EXTENSIONS]  # fmt: skip
    if not found:
        raise InputError(f"{images}: no image files (.png, .jpg, ...) found")
    con.execute("CREATE TEMP TABLE _imgs (stem VARCHAR, path VARCHAR)")
    con.executemany("INSERT INTO _imgs VALUES (?, ?)", found)
    con.execute(
        "UPDATE _allpins SET image = _imgs.path FROM _imgs "
        "WHERE _imgs.stem = _allpins.pin AND _allpins.image IS NULL"
    )
    return len(found)


def _union_of(have: dict[str, bool], col: str) -> str:
    """SQL for the distinct ids named in the edge-like tables (none: an empty VARCHAR column)."""
    parts = [f"SELECT {col} FROM _{k}" for k in ("edges", "test", "negatives") if have[k]]
    return " UNION ".join(parts) or f"SELECT CAST(NULL AS VARCHAR) AS {col} WHERE false"


def _build(con: duckdb.DuckDBPyConnection, name: str, images: Path | None,
           staged_from: dict[str, str]) -> tuple[dict[str, int], dict[str, str], dict[str, str],
                                                  str, str, list[str]]:  # fmt: skip
    """Check the staged tables and write the dataset schema; returns counts and facts."""
    have = {k: _exists(con, f"_{k}") for k in ("pins", "boards", "edges", "test", "negatives")}
    if not any(have.values()):
        raise InputError("nothing to load: no pins, boards or edges found")
    warnings: list[str] = []
    if have["pins"]:
        _first_null_id(con, "_pins", ["pin"])
    if have["boards"]:
        _first_null_id(con, "_boards", ["board"])
    for k in ("edges", "test", "negatives"):
        if have[k]:
            _first_null_id(con, f"_{k}", ["board", "pin"])

    pin_refs = [(f"_{k}", "pin") for k in ("pins", "edges", "test", "negatives") if have[k]]
    board_refs = [(f"_{k}", "board") for k in ("boards", "edges", "test", "negatives") if have[k]]
    pin_type, board_type = _id_type(con, pin_refs), _id_type(con, board_refs)
    if pin_type == "integer":
        _canonicalise(con, pin_refs)
    if board_type == "integer":
        _canonicalise(con, board_refs)

    if have["pins"]:
        _dedupe_entities(con, "_pins", "pin")
        for k in ("edges", "test", "negatives"):
            if have[k]:
                _check_known(con, f"_{k}", "pin", "_pins", staged_from.get("pins", "pins file"))
        con.execute("CREATE TEMP TABLE _allpins AS SELECT * EXCLUDE (_src, _line) FROM _pins")
    else:
        union = _union_of(have, "pin")
        con.execute(
            "CREATE TEMP TABLE _allpins AS SELECT pin, CAST(NULL AS VARCHAR) AS title, "
            "CAST(NULL AS VARCHAR) AS description, CAST(NULL AS VARCHAR) AS image "
            f"FROM (SELECT DISTINCT * FROM ({union}))"
        )
    if have["boards"]:
        _dedupe_entities(con, "_boards", "board")
        for k in ("edges", "test", "negatives"):
            if have[k]:
                _check_known(con, f"_{k}", "board", "_boards",
                             staged_from.get("boards", "boards file"))  # fmt: skip
        con.execute("CREATE TEMP TABLE _allboards AS SELECT * EXCLUDE (_src, _line) FROM _boards")
    else:
        union = _union_of(have, "board")
        con.execute(
            "CREATE TEMP TABLE _allboards AS SELECT board, CAST(NULL AS VARCHAR) AS name "
            f"FROM (SELECT DISTINCT * FROM ({union}))"
        )
    if images is not None:
        _attach_image_dir(con, images)

    schema = ident(name)
    order_pin = "CAST(pin AS BIGINT)" if pin_type == "integer" else "pin"
    order_board = "CAST(board AS BIGINT)" if board_type == "integer" else "board"
    con.execute(f"CREATE SCHEMA {schema}")
    con.execute(
        f"CREATE TABLE {schema}.pins AS SELECT CAST(row_number() OVER (ORDER BY {order_pin}) - 1 "
        f"AS INTEGER) AS idx, * FROM _allpins ORDER BY idx"
    )
    con.execute(
        f"CREATE TABLE {schema}.boards AS SELECT CAST(row_number() OVER (ORDER BY {order_board}) "
        f"- 1 AS INTEGER) AS idx, * FROM _allboards ORDER BY idx"
    )
    n_dupes = 0
    if have["edges"]:
        n_raw = con.execute("SELECT count(*) FROM _edges").fetchone()[0]  # type: ignore[index]
        con.execute(
            f"CREATE TABLE {schema}.edges AS SELECT b.idx AS board_idx, p.idx AS pin_idx, "
            "max(e.weight) AS weight, min(e.ts) AS ts FROM _edges e "
            f"JOIN {schema}.boards b ON b.board = e.board JOIN {schema}.pins p ON p.pin = e.pin "
            "GROUP BY ALL ORDER BY board_idx, pin_idx"
        )
        n_edges = con.execute(f"SELECT count(*) FROM {schema}.edges").fetchone()[0]  # type: ignore[index]
        n_dupes = n_raw - n_edges
        if n_dupes:
            warnings.append(f"{n_dupes} duplicate board-pin edges merged (max weight, first time)")
    else:
        con.execute(
            f"CREATE TABLE {schema}.edges (board_idx INTEGER, pin_idx INTEGER, weight DOUBLE, "
            "ts TIMESTAMP)"
        )
    for k in ("test", "negatives"):
        if have[k]:
            con.execute(
                f"CREATE TABLE {schema}.{k} AS SELECT DISTINCT b.idx AS board_idx, "
                f"p.idx AS pin_idx FROM _{k} e JOIN {schema}.boards b ON b.board = e.board "
                f"JOIN {schema}.pins p ON p.pin = e.pin ORDER BY board_idx, pin_idx"
            )
        else:
            con.execute(f"CREATE TABLE {schema}.{k} (board_idx INTEGER, pin_idx INTEGER)")
    for k in ("edges", "test", "negatives"):
        extra = ", e.weight, e.ts AS timestamp" if k == "edges" else ""
        con.execute(
            f"CREATE VIEW {schema}.{k}_v AS SELECT b.board, p.pin{extra} FROM {schema}.{k} e "
            f"JOIN {schema}.pins p ON p.idx = e.pin_idx "
            f"JOIN {schema}.boards b ON b.idx = e.board_idx"
        )
    n_images, n_missing, missing = _check_images(con, f"{schema}.pins")
    if n_missing:
        warnings.append(
            f"{n_missing} pin images missing or unreadable (first: {', '.join(missing)})"
        )
    counts = {
        k: con.execute(f"SELECT count(*) FROM {schema}.{k}").fetchone()[0]  # type: ignore[index]
        for k in ("pins", "boards", "edges", "test", "negatives")
    }
    counts |= {"images": n_images, "missing_images": n_missing, "duplicate_edges": n_dupes}
    pin_attrs = _attribute_types(con, f"{schema}.pins",
                                 {"idx", "pin", "title", "description", "image"})  # fmt: skip
    board_attrs = _attribute_types(con, f"{schema}.boards", {"idx", "board", "name"})
    return counts, pin_attrs, board_attrs, pin_type, board_type, warnings


def fingerprint(con: duckdb.DuckDBPyConnection, name: str) -> str:
    """A content hash of a dataset's tables (image paths excluded, so clones agree)."""
    schema = ident(name)
    h = hashlib.sha256()
    for sql in (
        f"SELECT * EXCLUDE (image) FROM {schema}.pins",
        f"SELECT * FROM {schema}.boards",
        f"SELECT * FROM {schema}.edges",
        f"SELECT * FROM {schema}.test",
        f"SELECT * FROM {schema}.negatives",
    ):
        row = con.execute(f"SELECT count(*), coalesce(sum(hash(t)), 0) FROM ({sql}) t").fetchone()
        h.update(repr(row).encode())
    return h.hexdigest()


def load_dataset(
    store: Store,
    paths: Sequence[str | os.PathLike[str]],
    name: str,
    fmt: str = "auto",
    images: str | os.PathLike[str] | None = None,
    replace: bool = False,
    reporter: Reporter = SILENT,
) -> LoadReport:
    """Load files into ``store`` as dataset ``name``, all or nothing."""
    started = time.perf_counter()
    validate_dataset_name(name)
    if fmt not in FORMATS:
        raise WorkbenchError(f"unknown format {fmt!r} (expected one of {', '.join(FORMATS)})")
    given = _expand(paths)
    if fmt == "auto":
        fmt = detect_format(given)
    image_dir = Path(images) if images is not None else None
    if image_dir is not None and not image_dir.is_dir():
        raise InputError(f"{image_dir}: --images must be a directory of image files")

    def step(stage: str, done: int) -> None:
        reporter.progress(done, 4, stage)

    with store.transaction() as con:
        exists = con.execute("SELECT count(*) FROM datasets WHERE name = ?", [name]).fetchone()
        if exists and exists[0]:
            if not replace:
                raise WorkbenchError(f"dataset {name!r} already exists", hint="replace")
            drop_dataset_tables(con, name)
        step("reading files", 0)
        if fmt == "ncf":
            sources = _stage_ncf(con, given)
            staged: dict[str, str] = {}
        elif fmt == "movielens":
            sources = _stage_movielens(con, given)
            staged = {}
        else:
            files = _tabular_files(given, fmt)
            staged = _stage_tabular(con, files, fmt)
            sources = [str(f) for f in files]
        step("checking and indexing", 1)
        counts, pin_attrs, board_attrs, pin_type, board_type, warnings = _build(
            con, name, image_dir, staged
        )
        step("fingerprinting", 2)
        fp = fingerprint(con, name)
        schema = ident(name)
        has_w, has_t = con.execute(
            f"SELECT count(weight) > 0, count(ts) > 0 FROM {schema}.edges"
        ).fetchone()  # type: ignore[misc]
        info = DatasetInfo(
            name=name, format=fmt, sources=[str(Path(s).resolve()) for s in sources],
            loaded_at=datetime.now().replace(microsecond=0), fingerprint=fp,
            pin_id_type=pin_type, board_id_type=board_type,
            pins=counts["pins"], boards=counts["boards"], edges=counts["edges"],
            test=counts["test"], negatives=counts["negatives"], images=counts["images"],
            missing_images=counts["missing_images"], pin_attributes=pin_attrs,
            board_attributes=board_attrs, has_weights=bool(has_w), has_timestamps=bool(has_t),
        )  # fmt: skip
        insert_dataset_row(con, info)
        step("committing", 3)
    step("done", 4)
    return LoadReport(
        dataset=name, format=fmt, sources=info.sources, pins=info.pins, boards=info.boards,
        edges=info.edges, test=info.test, negatives=info.negatives, images=info.images,
        missing_images=info.missing_images, duplicate_edges=counts["duplicate_edges"],
        fingerprint=fp, elapsed_s=time.perf_counter() - started, warnings=warnings,
    )  # fmt: skip


def _one_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
    return lines[0] if lines else type(exc).__name__
