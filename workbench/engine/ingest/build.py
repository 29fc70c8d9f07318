"""Building a dataset's tables from the staged tables: checks, dense ids, edges, views.

Everything runs in DuckDB on the load's connection (its memory limit and spill directory apply):
ids are mapped to dense int32 indexes by joins with small id maps; edges become packed 64-bit
board-pin keys, merged and sorted one key range at a time; no Python object is made per edge.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from workbench.engine.errors import InputError
from workbench.engine.ingest import checks
from workbench.engine.ingest.images import stage_image_dir, unreadable_images
from workbench.engine.ingest.staging import EDGE_KINDS, Stage, Staged
from workbench.engine.progress import SILENT, Reporter
from workbench.engine.store import ident

ENTITIES = (("pin", "pins"), ("board", "boards"))  # (id column, table)


@dataclass
class Built:
    """What the builder wrote: counts, id types, attribute types and warnings."""

    counts: dict[str, int]
    id_types: dict[str, str]  # "pin"/"board" -> "integer" | "string"
    pin_attributes: dict[str, str]
    board_attributes: dict[str, str]
    has_weights: bool
    has_timestamps: bool
    warnings: list[str] = field(default_factory=list)


def build_dataset(con: duckdb.DuckDBPyConnection, name: str, stage: Stage,
                  images: Path | None = None, reporter: Reporter = SILENT) -> Built:  # fmt: skip
    """Check the staged tables and write schema ``name``: pins, boards, edges, test, negatives
    and their ``*_v`` views over original ids."""
    if not stage:
        raise InputError("nothing to load: no pins, boards or edges found")
    reporter.progress(0, 5, "checking ids")
    check_staged(con, stage)
    id_types = {col: checks.id_type(con, stage, col) for col, _ in ENTITIES}
    con.execute("SET preserve_insertion_order = false")  # only ORDER BY fixes row order now
    reporter.progress(1, 5, "mapping ids")
    for col, kind in ENTITIES:
        make_id_map(con, stage, col, kind, id_types[col])
    schema = ident(name)
    con.execute(f"CREATE SCHEMA {schema}")
    warnings: list[str] = []
    if images is not None:
        stage_image_dir(con, images)
    n_images, n_bad, first_bad = write_pins(con, schema, stage, id_types["pin"], images)
    if n_bad:
        warnings.append(f"{n_bad} pin images missing or unreadable (first: {', '.join(first_bad)})")
    write_boards(con, schema, stage, id_types["board"])
    reporter.progress(2, 5, "writing edges")
    n_dupes = write_edges(con, schema, stage.get("edges"), id_types, reporter.scaled(2, 1, 5))
    if n_dupes:
        warnings.append(f"{n_dupes} duplicate board-pin edges merged (max weight, first time)")
    reporter.progress(3, 5, "writing test pairs")
    for kind in ("test", "negatives"):
        write_pairs(con, schema, kind, stage.get(kind), id_types)
    write_views(con, schema)
    reporter.progress(4, 5, "written")
    extra = {"images": n_images, "missing_images": n_bad, "duplicate_edges": n_dupes}
    return summarize(con, schema, id_types, warnings, extra)


def summarize(con: duckdb.DuckDBPyConnection, schema: str, id_types: dict[str, str],
              warnings: list[str], extra_counts: dict[str, int]) -> Built:  # fmt: skip
    """What the written tables hold: counts, attribute types, whether there are weights/times."""
    counts = {
        k: con.execute(f"SELECT count(*) FROM {schema}.{k}").fetchone()[0]  # type: ignore[index]
        for k in ("pins", "boards", "edges", "test", "negatives")
    }
    has_w, has_t = con.execute(
        f"SELECT count(weight) > 0, count(ts) > 0 FROM {schema}.edges"
    ).fetchone()  # type: ignore[misc]
    return Built(
        counts=counts | extra_counts,
        id_types=id_types,
        pin_attributes=attribute_types(con, f"{schema}.pins",
                                       {"idx", "pin", "title", "description", "image"}),
        board_attributes=attribute_types(con, f"{schema}.boards", {"idx", "board", "name"}),
        has_weights=bool(has_w),
        has_timestamps=bool(has_t),
        warnings=warnings,
    )  # fmt: skip


def check_staged(con: duckdb.DuckDBPyConnection, stage: Stage) -> None:
    """Ids filled, weights and timestamps valid (entity files are checked with their id maps)."""
    checks.check_no_empty_ids(con, stage)
    if "edges" in stage:
        checks.check_edge_values(con, stage["edges"])


def _key(staged: Staged, col: str, id_kind: str, alias: str = "") -> str:
    return checks.key_sql(f"{alias}{col}", staged.types[col], id_kind)


def make_id_map(con: duckdb.DuckDBPyConnection, stage: Stage, col: str, kind: str,
                id_kind: str) -> None:  # fmt: skip
    """Temp table ``_{col}map(key, idx)``: each distinct id's dense index, in id order (numeric
    for integer ids). The ids come from the entity file when there is one (and every edge-like
    table must then name only those), else from the edge-like tables."""
    id_map = f"_{col}map"
    sources = [stage[kind]] if kind in stage else [s for k, s in stage.items() if k in EDGE_KINDS]
    # one distinct pass: DISTINCT over one table, UNION (which removes repeats) over several
    keys = " UNION ".join(f"SELECT {_key(s, col, id_kind)} AS key FROM {s.table}" for s in sources)
    if len(sources) == 1:
        keys = keys.replace("SELECT ", "SELECT DISTINCT ", 1)
    if not sources:
        keys = f"SELECT CAST(NULL AS {'BIGINT' if id_kind == 'integer' else 'VARCHAR'}) AS key"
        keys += " WHERE false"
    con.execute(
        f"CREATE TEMP TABLE {id_map} AS SELECT key, "
        f"CAST(row_number() OVER (ORDER BY key) - 1 AS INTEGER) AS idx FROM ({keys})"
    )
    if kind in stage:
        entity = stage[kind]
        checks.check_unique_entities(con, entity, _key(entity, col, id_kind), col)
        for k in EDGE_KINDS:
            if k in stage:
                checks.check_known(con, stage[k], col, _key(stage[k], col, id_kind), id_map,
                                   entity.src)  # fmt: skip


def _entity_rows(stage: Stage, col: str, kind: str, id_kind: str, defaults: str) -> str:
    """SQL for one row per id: (idx, id text, entity columns...), deduplicated."""
    id_text = "CAST(m.key AS VARCHAR)"
    if kind not in stage:
        return f"SELECT m.idx, {id_text} AS {col}, {defaults} FROM _{col}map m"
    entity = stage[kind]
    data = ", ".join(f"d.{ident(c)}" for c in entity.types if c != col)
    return (
        f"SELECT m.idx, {id_text} AS {col}, {data} FROM (SELECT DISTINCT "
        f"{_key(entity, col, id_kind)} AS _k, * EXCLUDE ({col}) FROM {entity.table}) d "
        f"JOIN _{col}map m ON m.key = d._k"
    )


def write_pins(con: duckdb.DuckDBPyConnection, schema: str, stage: Stage, id_kind: str,
               images: Path | None) -> tuple[int, int, list[str]]:  # fmt: skip
    """``pins(idx, pin, title, description, image, <attributes>)``; images from the pins file or
    the image directory (matched by pin id), kept only when they open. Returns (images kept,
    unreadable, first unreadable pins)."""
    rows = _entity_rows(stage, "pin", "pins", id_kind,
                        "CAST(NULL AS VARCHAR) AS title, CAST(NULL AS VARCHAR) AS description, "
                        "CAST(NULL AS VARCHAR) AS image")  # fmt: skip
    if images is not None:
        rows = (f"SELECT r.* REPLACE (coalesce(r.image, i.path) AS image) FROM ({rows}) r "
                "LEFT JOIN (SELECT stem, min(path) AS path FROM _imgs GROUP BY stem) i "
                "ON i.stem = r.pin")  # fmt: skip
    con.execute(f"CREATE TEMP TABLE _pinrows AS {rows}")
    with_image = con.execute(
        "SELECT idx, image FROM _pinrows WHERE image IS NOT NULL ORDER BY idx"
    ).fetchall()
    bad = unreadable_images(with_image)
    if not bad:
        con.execute(f"CREATE TABLE {schema}.pins AS SELECT * FROM _pinrows ORDER BY idx")
        con.execute("DROP TABLE _pinrows")
        return len(with_image), 0, []
    con.execute("CREATE TEMP TABLE _badimg (idx INTEGER)")
    con.executemany("INSERT INTO _badimg VALUES (?)", [(i,) for i in bad])
    con.execute(
        f"CREATE TABLE {schema}.pins AS SELECT r.* REPLACE (CASE WHEN b.idx IS NULL THEN r.image "
        "END AS image) FROM _pinrows r LEFT JOIN _badimg b ON b.idx = r.idx ORDER BY r.idx"
    )
    first = [r[0] for r in con.execute(
        f"SELECT pin FROM {schema}.pins WHERE idx IN (SELECT idx FROM _badimg) ORDER BY idx LIMIT 5"
    ).fetchall()]  # fmt: skip
    con.execute("DROP TABLE _pinrows")
    return len(with_image) - len(bad), len(bad), first


def write_boards(con: duckdb.DuckDBPyConnection, schema: str, stage: Stage,
                 id_kind: str) -> None:  # fmt: skip
    """``boards(idx, board, name, <attributes>)``."""
    rows = _entity_rows(stage, "board", "boards", id_kind, "CAST(NULL AS VARCHAR) AS name")
    con.execute(f"CREATE TABLE {schema}.boards AS {rows} ORDER BY idx")


def _mapped(staged: Staged, id_types: dict[str, str]) -> str:
    """FROM clause joining an edge-like staged table ``e`` to both id maps (``b``, ``p``)."""
    return (
        f"FROM {staged.table} e "
        f"JOIN _boardmap b ON b.key = {_key(staged, 'board', id_types['board'], 'e.')} "
        f"JOIN _pinmap p ON p.key = {_key(staged, 'pin', id_types['pin'], 'e.')}"
    )


PART_ROWS = 8_000_000
"""Edge rows merged per step: each step's hash table and sort stay small, whatever the size."""


def write_edges(con: duckdb.DuckDBPyConnection, schema: str, staged: Staged | None,
                id_types: dict[str, str], reporter: Reporter = SILENT) -> int:  # fmt: skip
    """``edges(board_idx, pin_idx, weight, ts)`` ordered by board then pin, each pair once
    (max weight, first time); returns how many duplicate rows were merged.

    Each row becomes one BIGINT key, board in the high 32 bits, so key order is (board, pin)
    order. The keys are cut into ranges of about :data:`PART_ROWS` rows; each range is merged and
    sorted on its own and appended, so the table comes out sorted in bounded memory."""
    con.execute(f"CREATE TABLE {schema}.edges (board_idx INTEGER, pin_idx INTEGER, "
                "weight DOUBLE, ts TIMESTAMP)")  # fmt: skip
    if staged is None:
        return 0
    has_w, has_t = _any(con, staged, "weight"), _any(con, staged, "ts")
    values = (f", {checks.WEIGHT_SQL} AS w" if has_w else "") + (
        f", {checks.ts_sql(staged)} AS t" if has_t else ""
    )
    con.execute(
        f"CREATE TEMP TABLE _pairs AS SELECT (CAST(b.idx AS BIGINT) << 32) | p.idx AS k{values} "
        f"{_mapped(staged, id_types)}"
    )
    staged.drop(con)
    n_raw = con.execute("SELECT count(*) FROM _pairs").fetchone()[0]  # type: ignore[index]
    w = "max(w)" if has_w else "CAST(NULL AS DOUBLE)"
    t = "min(t)" if has_t else "CAST(NULL AS TIMESTAMP)"
    ranges = key_ranges(con, "_pairs", n_raw)
    for i, where in enumerate(ranges):
        reporter.progress(i, len(ranges), "merging duplicate edges")
        # merged in SQL: rows appended from Arrow (a numpy sort was 35% cheaper in CPU) stay in
        # memory until commit at about 2.5x the size, 21 GB at 500M edges
        con.execute(
            f"INSERT INTO {schema}.edges SELECT CAST(k >> 32 AS INTEGER), "
            f"CAST(k & 4294967295 AS INTEGER), weight, ts FROM (SELECT k, {w} AS weight, "
            f"{t} AS ts FROM _pairs WHERE {where} GROUP BY k) ORDER BY k"
        )
    con.execute("DROP TABLE _pairs")
    n_edges = con.execute(f"SELECT count(*) FROM {schema}.edges").fetchone()[0]  # type: ignore[index]
    return int(n_raw - n_edges)


def key_ranges(con: duckdb.DuckDBPyConnection, table: str, n_rows: int) -> list[str]:
    """WHERE clauses cutting ``table.k`` into consecutive ranges of about :data:`PART_ROWS`
    rows each (cut at sampled quantiles, so ranges are only roughly equal)."""
    parts = -(-n_rows // PART_ROWS)
    if parts <= 1:
        return ["true"]
    qs = ", ".join(f"{i / parts:.6f}" for i in range(1, parts))
    # big tables: quantiles of a 1% sample of row vectors, a cheap pass instead of a full sort
    sample = " USING SAMPLE 1 PERCENT (system)" if n_rows >= 2_000_000 else ""
    cuts = con.execute(f"SELECT quantile_disc(k, [{qs}]) FROM {table}{sample}").fetchone()[0]  # type: ignore[index]
    bounds = [None, *sorted({int(c) for c in cuts or []}), None]
    return [
        " AND ".join(
            ([f"k >= {lo}"] if lo is not None else []) + ([f"k < {hi}"] if hi is not None else [])
        )
        or "true"
        for lo, hi in itertools.pairwise(bounds)
    ]


def _any(con: duckdb.DuckDBPyConnection, staged: Staged, col: str) -> bool:
    if col not in staged.types:
        return False
    found = con.execute(f"SELECT 1 FROM {staged.table} WHERE {col} IS NOT NULL LIMIT 1").fetchone()
    return found is not None


def write_pairs(con: duckdb.DuckDBPyConnection, schema: str, kind: str, staged: Staged | None,
                id_types: dict[str, str]) -> None:  # fmt: skip
    """``test`` or ``negatives``: distinct (board_idx, pin_idx) pairs."""
    if staged is None:
        con.execute(f"CREATE TABLE {schema}.{kind} (board_idx INTEGER, pin_idx INTEGER)")
        return
    con.execute(
        f"CREATE TABLE {schema}.{kind} AS SELECT DISTINCT b.idx AS board_idx, p.idx AS pin_idx "
        f"{_mapped(staged, id_types)} ORDER BY board_idx, pin_idx"
    )


def write_views(con: duckdb.DuckDBPyConnection, schema: str) -> None:
    """``edges_v``, ``test_v``, ``negatives_v``: the pairs with original ids."""
    for k in EDGE_KINDS:
        extra = ", e.weight, e.ts AS timestamp" if k == "edges" else ""
        con.execute(
            f"CREATE VIEW {schema}.{k}_v AS SELECT b.board, p.pin{extra} FROM {schema}.{k} e "
            f"JOIN {schema}.pins p ON p.idx = e.pin_idx "
            f"JOIN {schema}.boards b ON b.idx = e.board_idx"
        )


def attribute_types(con: duckdb.DuckDBPyConnection, tbl: str, skip: set[str]) -> dict[str, str]:
    """Column -> type of a table's attribute columns."""
    return {
        name: str(typ)
        for name, typ, *_ in con.execute(f"DESCRIBE {tbl}").fetchall()
        if name not in skip
    }
