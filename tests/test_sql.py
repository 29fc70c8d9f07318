"""Read-only SQL over the store: reading statements run, anything that could change the store or
the session is refused before it runs, the row limit holds, export writes every row, a cancel
interrupts a running query."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import write
from workbench.engine.errors import Cancelled, InputError, OutputExistsError
from workbench.engine.ingest import load_dataset
from workbench.engine.progress import Reporter
from workbench.engine.store import Store
from workbench.services import sql


@pytest.fixture
def tiny_store(store: Store, tiny_dir: Path) -> Store:
    load_dataset(store, [tiny_dir], "tiny")
    return store


def pins_count(store: Store) -> int:
    return sql.run(store, sql.SqlRequest("SELECT count(*) FROM tiny.pins")).rows[0][0]


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT pin, title FROM tiny.pins ORDER BY pin",
        "WITH p AS (SELECT * FROM tiny.pins) SELECT pin, title FROM p ORDER BY pin",
        "FROM tiny.pins SELECT pin, title ORDER BY pin;",
        "-- a comment first\n/* and another */ (SELECT pin, title FROM tiny.pins ORDER BY pin)",
    ],
)
def test_reading_statements_run(tiny_store: Store, statement: str) -> None:
    result = sql.run(tiny_store, sql.SqlRequest(statement))
    assert result.columns == ["pin", "title"]
    assert result.rows[0] == ("a", "Apple")
    assert len(result.rows) == 5 and not result.truncated


@pytest.mark.parametrize(
    "statement", ["DESCRIBE tiny.pins", "SHOW ALL TABLES", "SUMMARIZE tiny.edges",
                  "EXPLAIN SELECT * FROM tiny.pins", "VALUES (1, 'x')"],
)  # fmt: skip
def test_describe_show_summarize_explain(tiny_store: Store, statement: str) -> None:
    result = sql.run(tiny_store, sql.SqlRequest(statement))
    assert result.columns and result.rows


@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM tiny.pins",
        "INSERT INTO tiny.pins (pin) VALUES ('z')",
        "UPDATE tiny.pins SET title = 'x'",
        "DROP TABLE tiny.pins",
        "CREATE TABLE memory.main.x AS SELECT 1",
        "COPY tiny.pins TO 'out.csv'",
        "ATTACH ':memory:' AS other",
        "SET threads = 1",
        "INSTALL httpfs",
        "CHECKPOINT",
        "PRAGMA show_tables",
        "SELECT 1; DROP TABLE tiny.pins",
        "EXPLAIN ANALYZE DELETE FROM tiny.pins",
        "-- SELECT\nDELETE FROM tiny.pins",
    ],
)
def test_writing_statements_are_refused(tiny_store: Store, statement: str) -> None:
    with pytest.raises(sql.SqlRefused):
        sql.run(tiny_store, sql.SqlRequest(statement))
    assert pins_count(tiny_store) == 5


def test_refusal_names_the_statement(tiny_store: Store) -> None:
    with pytest.raises(sql.SqlRefused, match="read-only: DELETE statements are refused"):
        sql.run(tiny_store, sql.SqlRequest("delete from tiny.pins"))
    with pytest.raises(sql.SqlRefused, match="one statement at a time: 2"):
        sql.run(tiny_store, sql.SqlRequest("select 1; select 2"))
    with pytest.raises(InputError, match="no SQL statement"):
        sql.run(tiny_store, sql.SqlRequest("   "))


def test_store_is_attached_read_only(tiny_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """The second wall: a write that got past the statement check still cannot change the
    store, because the store is attached read-only for the query."""
    from workbench.engine import sql as engine_sql

    monkeypatch.setattr(engine_sql, "check_statement", lambda _con, text: text)
    with pytest.raises(Exception, match=r"(?i)read.only"):
        engine_sql.run_query(tiny_store, "DELETE FROM tiny.pins")
    assert pins_count(tiny_store) == 5


def test_row_limit(tiny_store: Store) -> None:
    result = sql.run(tiny_store, sql.SqlRequest("SELECT * FROM range(100)", limit=10))
    assert len(result.rows) == 10 and result.truncated
    with pytest.raises(InputError):
        sql.run(tiny_store, sql.SqlRequest("SELECT 1", limit=0))


@pytest.mark.parametrize("fmt", ["csv", "parquet", "json"])
def test_export_writes_every_row(tiny_store: Store, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"pins.{fmt}"
    request = sql.SqlExportRequest("SELECT * FROM range(70000) t(n)", str(out), fmt)
    done = sql.export(tiny_store, request)
    assert done.rows == 70000 and done.path == out
    if fmt == "csv":
        frame = pl.read_csv(out)
    elif fmt == "parquet":
        frame = pl.read_parquet(out)
    else:
        lines = out.read_text().splitlines()
        frame = pl.DataFrame([json.loads(line) for line in lines])
    assert frame.height == 70000 and frame["n"].sum() == sum(range(70000))
    assert not list(tmp_path.glob(".*.tmp"))


def test_export_refuses_existing_file_and_writing_sql(tiny_store: Store, tmp_path: Path) -> None:
    out = write(tmp_path / "x.csv", "keep\n")
    with pytest.raises(OutputExistsError):
        sql.export(tiny_store, sql.SqlExportRequest("SELECT 1", str(out)))
    with pytest.raises(sql.SqlRefused):
        sql.export(tiny_store, sql.SqlExportRequest("DROP TABLE tiny.pins", str(tmp_path / "y")))
    assert out.read_text() == "keep\n" and not (tmp_path / "y").exists()
    sql.export(tiny_store, sql.SqlExportRequest("SELECT 1 AS one", str(out), overwrite=True))
    assert out.read_text().splitlines() == ['"one"', "1"]


def test_cancel_interrupts_a_running_query(tiny_store: Store) -> None:
    cancel = threading.Event()
    timer = threading.Timer(0.3, cancel.set)
    timer.start()
    started = time.monotonic()
    heavy = "SELECT count(*) FROM range(1000000000000) a WHERE a.range % 7 = 3"
    with pytest.raises(Cancelled):
        sql.run(tiny_store, sql.SqlRequest(heavy), Reporter(is_cancelled=cancel.is_set))
    assert time.monotonic() - started < 10
    assert pins_count(tiny_store) == 5  # the store is usable afterwards


def test_tables_lists_the_store(tiny_store: Store) -> None:
    listed = sql.tables(tiny_store)
    names = {(r[0], r[1]) for r in listed.rows}
    assert ("tiny", "pins") in names and ("tiny", "edges") in names


def test_engine_sql_imports_no_face() -> None:
    import subprocess
    import sys

    code = "import sys, workbench.services.sql; print('textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_bad_sql_is_one_line(tiny_store: Store) -> None:
    from workbench.engine.sql import SqlError

    with pytest.raises(SqlError, match=r"^Parser Error: syntax error") as caught:
        sql.run(tiny_store, sql.SqlRequest("SELECT FROM WHERE"))
    assert "\n" not in str(caught.value)
    with pytest.raises(SqlError, match="nope"):
        sql.run(tiny_store, sql.SqlRequest("SELECT * FROM tiny.nope"))
