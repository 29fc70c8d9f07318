"""The store file: schema versions, foreign and corrupt files, locks, the engine/TUI boundary."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.conftest import hold_store
from workbench.engine.errors import StoreError, StoreLockedError
from workbench.engine.ingest import load_dataset
from workbench.engine.store import SCHEMA_VERSION, Store


def test_new_store_gets_current_schema(store: Store) -> None:
    assert store.datasets() == []
    with store.connect() as con:
        pass
    rows = dict(store.query("SELECT key, value FROM workbench_meta"))
    assert rows == {"app": "pinboard-workbench", "schema_version": str(SCHEMA_VERSION)}
    del con


def test_newer_schema_is_refused(store: Store) -> None:
    with store.connect():
        pass
    con = duckdb.connect(str(store.path))
    con.execute("UPDATE workbench_meta SET value = '99' WHERE key = 'schema_version'")
    con.close()
    with pytest.raises(StoreError, match="schema version 99, newer than this workbench"):
        Store(store.path).datasets()


def test_foreign_duckdb_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE customers (id INTEGER)")
    con.close()
    with pytest.raises(StoreError, match="is a DuckDB file but not a workbench store"):
        Store(path).datasets()


def test_corrupt_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "junk.duckdb"
    path.write_bytes(b"\x00garbage" * 1000)
    with pytest.raises(StoreError, match="cannot open store"):
        Store(path).datasets()


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="directory does not exist"):
        with Store(tmp_path / "no" / "such" / "wb.duckdb").connect():
            pass


def test_locked_store_gives_a_clear_message(store: Store, tiny_dir: Path) -> None:
    load_dataset(store, [tiny_dir], "tiny")
    holder = hold_store(store.path, 30)
    try:
        with pytest.raises(StoreLockedError, match="in use by another process"):
            Store(store.path, lock_timeout=0.3).datasets()
    finally:
        holder.kill()
        holder.wait()
    assert [d.name for d in Store(store.path).datasets()] == ["tiny"]


def test_engine_never_imports_textual() -> None:
    code = (
        "import sys, pkgutil, importlib, workbench.engine as e\n"
        "for m in pkgutil.walk_packages(e.__path__, 'workbench.engine.'):\n"
        "    importlib.import_module(m.name)\n"
        "import workbench.cli\n"
        "bad = [m for m in sys.modules if m == 'textual' or m.startswith('textual.')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_threads_of_one_process_take_turns_on_the_file(store: Store, tiny_dir: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    load_dataset(store, [tiny_dir], "tiny")

    def work(i: int) -> int:
        if i % 3 == 0:  # a writer among the readers
            with store.transaction() as con:
                con.execute("UPDATE datasets SET format = format WHERE name = 'tiny'")
        return len(Store(store.path).datasets())

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(work, range(24))) == [1] * 24


def test_a_held_store_is_opened_once_and_released_after(
    store: Store, tiny_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workbench.engine import store as store_module

    load_dataset(store, [tiny_dir], "tiny")
    attached: list[bool] = []
    real = store_module._attach

    def counting(*args: object) -> object:
        attached.append(True)
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(store_module, "_attach", counting)
    with store.open() as held:
        assert held is store
        for _ in range(3):
            assert store.dataset("tiny").name == "tiny"
            with store.transaction() as con:  # a write joins the same attachment
                con.execute("UPDATE datasets SET format = format WHERE name = 'tiny'")
            with store.connect(read_only=True) as outer:  # nested reads: a cursor each
                rows = outer.execute("SELECT pin FROM tiny.pins ORDER BY idx")
                assert store.query("SELECT count(*) FROM tiny.pins") == [(5,)]
                assert [r[0] for r in rows.fetchall()] == ["a", "b", "c", "d", "e"]
    assert len(attached) == 1
    # released: another process can now open the file read-write
    holder = hold_store(store.path, 0.1)
    holder.wait()
    with store:  # the same, as a context manager
        assert store.datasets()[0].name == "tiny"
    assert len(attached) == 2


def test_a_held_read_only_store_turns_read_write_for_a_write(store: Store, tiny_dir: Path) -> None:
    load_dataset(store, [tiny_dir], "tiny")
    with store.open(read_only=True):
        assert store.dataset("tiny").pins == 5
        with store.transaction() as con:
            con.execute("UPDATE datasets SET format = 'x' WHERE name = 'tiny'")
        assert store.query("SELECT format FROM datasets") == [("x",)]


def test_operations_inside_a_transaction_are_part_of_it(store: Store, tiny_dir: Path) -> None:
    """A nested operation inside a transaction (held store or not) writes through the
    transaction's connection: a failure rolls all of it back."""
    load_dataset(store, [tiny_dir], "tiny")
    for hold in (False, True):
        with store.open() if hold else contextlib.nullcontext():
            with pytest.raises(RuntimeError), store.transaction():
                with store.transaction() as inner:
                    inner.execute("UPDATE datasets SET format = 'changed'")
                with store.connect() as other:
                    assert other.execute("SELECT format FROM datasets").fetchone() == ("changed",)
                raise RuntimeError("stop")
        assert store.query("SELECT format FROM datasets") == [("csv",)]
