"""The DuckDB store: one file, many named datasets, the runs table, schema versions and migrations.

Layout (documented for researchers in README, "The store"):

* ``main.workbench_meta``  key/value: ``app`` and ``schema_version``.
* ``main.datasets``        one row per dataset: format, sources, counts, fingerprint, attributes.
* ``main.runs`` / ``main.run_results`` / ``main.run_board_metrics``: every stored run.
* one DuckDB *schema* per dataset, named like the dataset, holding ``pins``, ``boards``,
  ``edges`` (dense int32 ids), ``test`` and ``negatives`` (the evaluation split), plus views
  ``edges_v``, ``test_v`` and ``negatives_v`` that show the original ids.

The store never keeps the file open between operations (:meth:`Store.connect` attaches it and
detaches it again), because DuckDB refuses a read-write open while any other process holds the
file. A caller that makes many calls in a row may hold it for a block (:meth:`Store.open`, or
``with store:``): every operation inside the block shares one attachment and one snapshot.
Attaching is cheap (a few ms): each store path has one in-memory DuckDB instance per process that
the file is attached to and detached from, so no operation pays for creating a database.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from workbench.engine.errors import NotFoundError, StoreError, StoreLockedError, WorkbenchError

if TYPE_CHECKING:
    import polars as pl

APP_ID = "pinboard-workbench"
SCHEMA_VERSION = 1
DEFAULT_DB = "workbench.duckdb"
LOCK_TIMEOUT_S = float(os.environ.get("WORKBENCH_LOCK_TIMEOUT", "10"))

_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
CATALOG = "workbench"  # the store file is attached under this name, whatever the file is called
_RESERVED = {"main", "temp", "system", "information_schema", "pg_catalog", "memory", CATALOG}


def validate_dataset_name(name: str) -> str:
    """Return ``name`` if it can name a dataset (it becomes a DuckDB schema), else raise."""
    if not _NAME_RE.match(name or ""):
        raise WorkbenchError(
            f"invalid dataset name {name!r}: use 1-63 lower-case letters, digits, '_' or '-', "
            "starting with a letter"
        )
    if name in _RESERVED:
        raise WorkbenchError(f"invalid dataset name {name!r}: it is reserved by DuckDB")
    return name


def ident(name: str) -> str:
    """Quote an SQL identifier (a dataset schema or a column name taken from a user's file)."""
    return '"' + name.replace('"', '""') + '"'


def table(dataset: str, name: str) -> str:
    """The quoted name of one of a dataset's tables, e.g. ``"sample"."pins"``."""
    return f"{ident(validate_dataset_name(dataset))}.{ident(name)}"


@dataclass(frozen=True)
class DatasetInfo:
    """One row of ``main.datasets``: what a dataset is and where it came from."""

    name: str
    format: str
    sources: list[str]
    loaded_at: datetime
    fingerprint: str
    pin_id_type: str
    board_id_type: str
    pins: int
    boards: int
    edges: int
    test: int
    negatives: int
    images: int
    missing_images: int
    pin_attributes: dict[str, str]
    board_attributes: dict[str, str]
    has_weights: bool
    has_timestamps: bool

    @property
    def has_split(self) -> bool:
        return self.test > 0

    @property
    def has_images(self) -> bool:
        return self.images > 0


_DATASET_COLUMNS = [
    "name", "format", "sources", "loaded_at", "fingerprint", "pin_id_type", "board_id_type",
    "pins", "boards", "edges", "test", "negatives", "images", "missing_images",
    "pin_attributes", "board_attributes", "has_weights", "has_timestamps",
]  # fmt: skip


def _migrate_to_1(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE TABLE workbench_meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
    con.execute(
        """
        CREATE TABLE datasets (
            name VARCHAR PRIMARY KEY, format VARCHAR, sources JSON, loaded_at TIMESTAMP,
            fingerprint VARCHAR, pin_id_type VARCHAR, board_id_type VARCHAR,
            pins BIGINT, boards BIGINT, edges BIGINT, test BIGINT, negatives BIGINT,
            images BIGINT, missing_images BIGINT, pin_attributes JSON, board_attributes JSON,
            has_weights BOOLEAN, has_timestamps BOOLEAN)
        """
    )
    con.execute("CREATE SEQUENCE run_id_seq START 1")
    con.execute(
        """
        CREATE TABLE runs (
            run_id BIGINT PRIMARY KEY DEFAULT nextval('run_id_seq'),
            name VARCHAR, dataset VARCHAR NOT NULL, kind VARCHAR NOT NULL,
            algorithm VARCHAR NOT NULL, params JSON, seed BIGINT, fingerprint VARCHAR,
            created_at TIMESTAMP NOT NULL, elapsed_ms DOUBLE, steps BIGINT,
            query JSON, metrics JSON, info JSON, status VARCHAR DEFAULT 'complete')
        """
    )
    con.execute(
        "CREATE TABLE run_results (run_id BIGINT, query VARCHAR, rank INTEGER, "
        "pin VARCHAR, score DOUBLE)"
    )
    con.execute(
        "CREATE TABLE run_board_metrics (run_id BIGINT, board VARCHAR, metric VARCHAR, "
        "value DOUBLE)"
    )
    con.execute("INSERT INTO workbench_meta VALUES ('app', ?)", [APP_ID])


# Migration N turns a version N-1 store into version N. Add new ones at the end, never edit old.
MIGRATIONS: dict[int, Callable[[duckdb.DuckDBPyConnection], None]] = {1: _migrate_to_1}


_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12}


def parse_size(text: str) -> int:
    """``"6GB"``, ``"512MiB"``, ``"2g"`` or bytes as a number of bytes."""
    m = _SIZE_RE.match(text or "")
    if not m:
        raise WorkbenchError(f"memory limit {text!r}: expected a size such as 6GB or 512MB")
    unit = m.group(2).lower()
    scale = _UNITS[unit[:1]] * ((1.024 ** "bkmgt".index(unit[0])) if "i" in unit else 1)
    return int(float(m.group(1)) * scale)


def memory_limit() -> int:
    """Bytes DuckDB may use per connection: ``$WORKBENCH_MEMORY_LIMIT`` (set by the CLI's
    ``--memory-limit``), else 40% of the machine's memory, leaving room for the graph arrays a
    load or a walk holds beside DuckDB."""
    text = os.environ.get("WORKBENCH_MEMORY_LIMIT")
    if text:
        return parse_size(text)
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 8 * 10**9
    return int(total * 0.4)


def spill_dir(path: Path) -> Path:
    """Where DuckDB spills what does not fit the memory limit: beside the store file."""
    return path.parent / f"{path.name}.tmp"


@dataclass(eq=False)
class _Slot:
    """The process's handle on one store file: the in-memory DuckDB instance the file is attached
    to, and the attachment in use (shared by nested operations of the thread holding ``turn``)."""

    turn: threading.RLock
    host: duckdb.DuckDBPyConnection | None = None
    host_limit: int = 0
    con: duckdb.DuckDBPyConnection | None = None
    read_only: bool = True
    depth: int = 0
    transaction: duckdb.DuckDBPyConnection | None = None
    """The connection of the transaction in progress (operations inside it share it)."""
    versions: dict[str, tuple[int, DatasetInfo]] | None = None
    """Datasets read during this attachment (no other process can change them meanwhile), with
    the catalogue-write count they were read at."""


_slots: dict[str, _Slot] = {}
_slots_lock = threading.Lock()


def _slot(path: Path) -> _Slot:
    """The slot of ``path``; its ``turn`` lock is what connections in this process take turns on
    (DuckDB attaches a file once per process: a second attachment from another thread would fail
    with "Unique file handle conflict" instead of waiting)."""
    key = str(path.resolve())
    with _slots_lock:
        slot = _slots.get(key)
        if slot is None:
            slot = _slots[key] = _Slot(turn=threading.RLock())
        return slot


def _host(slot: _Slot, path: Path) -> duckdb.DuckDBPyConnection:
    """The in-memory instance the store file is attached to, with the memory limit and spill
    directory (made again when the memory limit changed)."""
    limit = memory_limit()
    if slot.host is None or slot.host_limit != limit:
        if slot.host is not None:
            with contextlib.suppress(duckdb.Error):
                slot.host.close()
        slot.host = duckdb.connect(
            config={
                "memory_limit": f"{limit // 2**20}MiB",
                "temp_directory": str(spill_dir(path)),
            }
        )
        slot.host_limit = limit
    return slot.host


def _attach(slot: _Slot, path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    """Attach ``path`` as catalog ``workbench`` on a fresh cursor of the slot's instance.

    DuckDB names a file's catalog after the file's stem, and a two-part name such as
    ``"sample"."pins"`` is ambiguous when a store file is called ``sample.duckdb``; attaching
    under a fixed name avoids that. ATTACH takes no parameters: the path is quoted here.
    """
    con = _host(slot, path).cursor()
    try:
        literal = "'" + str(path).replace("'", "''") + "'"
        con.execute(f"ATTACH {literal} AS {CATALOG}{' (READ_ONLY)' if read_only else ''}")
        con.execute(f"USE {CATALOG}")
    except BaseException:
        con.close()
        raise
    return con


def _detach(slot: _Slot) -> None:
    """Release the file (the instance stays for the next operation); an instance that cannot
    let go of it is closed instead."""
    con, slot.con = slot.con, None
    if con is None:
        return
    try:
        with contextlib.suppress(duckdb.Error):
            con.execute("ROLLBACK")  # only does something after a failed statement
        con.execute("USE memory")
        con.execute(f"DETACH {CATALOG}")
        con.close()
    except duckdb.Error:
        with contextlib.suppress(duckdb.Error):
            con.close()
        if slot.host is not None:
            with contextlib.suppress(duckdb.Error):
                slot.host.close()
        slot.host = None


def _is_lock_error(exc: Exception) -> bool:
    text = str(exc)
    return "lock" in text.lower() and ("Could not set lock" in text or "Conflicting lock" in text)


class Store:
    """A workbench store file. Cheap to create; every operation opens its own connection."""

    def __init__(self, path: str | os.PathLike[str], lock_timeout: float = LOCK_TIMEOUT_S):
        self.path = Path(path)
        self.lock_timeout = lock_timeout
        self._checked = False
        self._held: AbstractContextManager[Store] | None = None
        self._slot: _Slot | None = None
        self._key: str | None = None

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"

    @property
    def key(self) -> str:
        """The store file's resolved path: what caches of its contents are keyed by."""
        if self._key is None:
            self._key = str(self.path.resolve())
        return self._key

    def __getstate__(self) -> dict[str, Any]:
        """A handle sent to another process carries its path and settings, not this one's
        connection state."""
        return {**self.__dict__, "_held": None, "_slot": None}

    @property
    def exists(self) -> bool:
        return self.path.exists()

    def artifacts_root(self, dataset: str) -> Path:
        """Where a dataset's derived files live: ``<store>.cache/<dataset>/``, one directory per
        fingerprint below it."""
        return self.path.parent / f"{self.path.name}.cache" / validate_dataset_name(dataset)

    def cache_dir(self, dataset: str, fingerprint: str) -> Path:
        """A directory next to the store for files derived from one version of a dataset (graph
        arrays, visual vectors and indexes, embedding spaces): keyed by its fingerprint, so a
        reloaded dataset never meets the old version's files."""
        d = self.artifacts_root(dataset) / fingerprint[:16]
        d.mkdir(parents=True, exist_ok=True)
        return d

    def purge_artifacts(self, dataset: str, keep: str | None = None) -> int:
        """Remove the derived files of every version of ``dataset`` except fingerprint ``keep``
        (all of them when ``keep`` is None, after a drop); returns how many directories went."""
        import shutil

        root = self.artifacts_root(dataset)
        if not root.is_dir():
            return 0
        removed = 0
        for child in root.iterdir():
            if keep is not None and child.name == keep[:16]:
                continue
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)
            removed += 1
        if keep is None:
            shutil.rmtree(root, ignore_errors=True)
        return removed

    # -- connections -------------------------------------------------------------------------

    def _retrying(
        self, attach: Callable[[], duckdb.DuckDBPyConnection]
    ) -> duckdb.DuckDBPyConnection:
        """``attach()``, retried with backoff while another process holds the file."""
        deadline = time.monotonic() + self.lock_timeout
        delay = 0.05
        while True:
            try:
                return attach()
            except duckdb.Error as exc:
                if _is_lock_error(exc):
                    if time.monotonic() < deadline:
                        time.sleep(delay)
                        delay = min(delay * 2, 0.5)
                        continue
                    raise StoreLockedError(
                        f"store {self.path} is in use by another process (a writer holds it); "
                        "try again when it has finished"
                    ) from None
                raise StoreError(f"cannot open store {self.path}: {_first_line(exc)}") from None

    def _upgrade(self, slot: _Slot) -> None:
        """Make a read-only attachment read-write, on the same cursor (callers keep theirs)."""
        con = slot.con
        assert con is not None
        if slot.transaction is not None:
            raise StoreError(f"internal: a write to {self.path} inside a read-only transaction")
        con.execute("USE memory")
        con.execute(f"DETACH {CATALOG}")
        literal = "'" + str(self.path).replace("'", "''") + "'"

        def attach() -> duckdb.DuckDBPyConnection:
            con.execute(f"ATTACH {literal} AS {CATALOG}")
            con.execute(f"USE {CATALOG}")
            return con

        try:
            self._retrying(attach)
        except BaseException:
            _detach(slot)
            raise
        slot.read_only = False

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection for one operation; the schema is checked (and migrated) first.

        Operations of one thread nested inside each other (or inside :meth:`open`) share one
        attachment of the file: one open, and no other writer in between. A nested operation
        gets a cursor of its own (the enclosing transaction's connection inside
        :meth:`transaction`). Other threads of this process wait for their turn, other processes
        retry while a writer holds the file.
        """
        if read_only and not self.path.exists():
            raise StoreError(f"store {self.path} does not exist")
        if not read_only and not self.path.parent.exists():
            raise StoreError(f"cannot create store {self.path}: directory does not exist")
        slot = self._slot or _slot(self.path)
        self._slot = slot
        with slot.turn:
            if slot.con is None:
                slot.con = self._retrying(lambda: _attach(slot, self.path, read_only))
                slot.read_only = read_only
                slot.versions = {}
            elif slot.read_only and not read_only:
                self._upgrade(slot)
            slot.depth += 1
            cursor = None
            try:
                if not self._checked:
                    self._check_schema(slot.con, slot.read_only)
                    self._checked = True
                if slot.transaction is not None:
                    yield slot.transaction  # inside a transaction: its connection
                    return
                if slot.depth > 1:
                    # a cursor of its own, so that an outer operation's streamed result survives
                    cursor = slot.con.cursor()
                    cursor.execute(f"USE {CATALOG}")
                yield cursor if cursor is not None else slot.con
            finally:
                if cursor is not None:
                    with contextlib.suppress(duckdb.Error):
                        cursor.close()
                slot.depth -= 1
                if slot.depth == 0:
                    _detach(slot)

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-write connection inside BEGIN/COMMIT; any exception rolls everything back.
        Inside another transaction of the same thread it joins that one."""
        with self.connect() as con:
            slot = self._slot or _slot(self.path)
            if slot.transaction is not None:
                yield con
                return
            con.execute("BEGIN TRANSACTION")
            slot.transaction = con
            try:
                yield con
            except BaseException:
                slot.transaction = None
                with contextlib.suppress(duckdb.Error):
                    con.execute("ROLLBACK")
                raise
            slot.transaction = None
            try:
                con.execute("COMMIT")
            except duckdb.Error as exc:
                raise StoreError(f"could not write to {self.path}: {_first_line(exc)}") from None

    @contextmanager
    def open(self, read_only: bool = False) -> Iterator[Store]:
        """Hold the store file for a block: every operation inside (from this thread) shares one
        attachment, so a series of calls opens the file once and sees one version of the data.
        Other processes wait while the block runs; hold it no longer than the work needs.

        ``with store.open(): ...`` (or ``with store: ...``, read-write)."""
        with self.connect(read_only=read_only):
            yield self

    def __enter__(self) -> Store:
        if self._held is not None:
            raise StoreError(f"store {self.path} is already held by this handle")
        held = self.open()
        held.__enter__()
        self._held = held
        return self

    def __exit__(self, *exc: object) -> None:
        held, self._held = self._held, None
        if held is not None:
            held.__exit__(*exc)

    def _check_schema(self, con: duckdb.DuckDBPyConnection, read_only: bool) -> None:
        tables = {
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_catalog = ? AND table_schema = 'main'",
                [CATALOG],
            ).fetchall()
        }
        if "workbench_meta" not in tables:
            if tables:
                raise StoreError(
                    f"{self.path} is a DuckDB file but not a workbench store "
                    f"(it has tables {', '.join(sorted(tables)[:5])}, no workbench_meta)"
                )
            if read_only:
                raise StoreError(f"store {self.path} is empty")
            version = 0
        else:
            meta = dict(con.execute("SELECT key, value FROM workbench_meta").fetchall())
            if meta.get("app") != APP_ID:
                raise StoreError(f"{self.path} belongs to another application ({meta.get('app')})")
            version = int(meta.get("schema_version", "0"))
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} has schema version {version}, newer than this workbench "
                f"understands ({SCHEMA_VERSION}); upgrade the workbench"
            )
        if version < SCHEMA_VERSION:
            if read_only:
                raise StoreError(
                    f"{self.path} has schema version {version}; open it once read-write to migrate"
                )
            con.execute("BEGIN TRANSACTION")
            try:
                for v in range(version + 1, SCHEMA_VERSION + 1):
                    MIGRATIONS[v](con)
                con.execute(
                    "INSERT OR REPLACE INTO workbench_meta VALUES ('schema_version', ?)",
                    [str(SCHEMA_VERSION)],
                )
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise

    # -- datasets ----------------------------------------------------------------------------

    def datasets(self) -> list[DatasetInfo]:
        if not self.path.exists():
            return []
        with self.connect(read_only=True) as con:
            rows = con.execute(
                f"SELECT {', '.join(_DATASET_COLUMNS)} FROM datasets ORDER BY name"
            ).fetchall()
        return [_dataset_from_row(r) for r in rows]

    def dataset(self, name: str) -> DatasetInfo:
        """The catalogue row of dataset ``name``; read in full only when its version (fingerprint
        and load time) is new to this process, and not even probed again while the store is held
        (no other process can change it then)."""
        validate_dataset_name(name)
        if self.path.exists():
            with self.connect(read_only=True) as con:
                slot = self._slot
                assert slot is not None
                seen = slot.versions.get(name) if slot.versions is not None else None
                if seen is not None and seen[0] == _catalogue_writes[0]:
                    return seen[1]
                info = self._read_dataset(con, name)
                if info is not None:
                    if slot.versions is not None:
                        slot.versions[name] = (_catalogue_writes[0], info)
                    return info
        known = ", ".join(d.name for d in self.datasets()) or "none loaded"
        raise NotFoundError(f"unknown dataset {name!r} (known: {known})")

    def _read_dataset(self, con: duckdb.DuckDBPyConnection, name: str) -> DatasetInfo | None:
        version = con.execute(
            "SELECT fingerprint, loaded_at FROM datasets WHERE name = ?", [name]
        ).fetchone()
        if version is None:
            return None
        key = (self.key, name, *version)
        with _infos_lock:
            info = _infos.get(key)
        if info is None:
            row = con.execute(
                f"SELECT {', '.join(_DATASET_COLUMNS)} FROM datasets WHERE name = ?", [name]
            ).fetchone()
            assert row is not None
            info = _dataset_from_row(row)
            with _infos_lock:
                _infos[key] = info
                while len(_infos) > _INFOS_SIZE:
                    del _infos[next(iter(_infos))]
        return info

    def drop(self, name: str) -> None:
        self.dataset(name)
        with self.transaction() as con:
            drop_dataset_tables(con, name)

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run one read-only query (engine code only; values always passed as parameters)."""
        with self.connect(read_only=True) as con:
            return con.execute(sql, params or []).fetchall()


_infos: dict[tuple[Any, ...], DatasetInfo] = {}
"""Catalogue rows by (store path, name, fingerprint, load time): a version never changes."""
_infos_lock = threading.Lock()
_INFOS_SIZE = 64


_catalogue_writes = [0]
"""How many times this process changed a catalogue row (versions read before are stale)."""


def drop_dataset_tables(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Remove a dataset's schema and catalogue row (inside the caller's transaction)."""
    _catalogue_writes[0] += 1
    con.execute(f"DROP SCHEMA IF EXISTS {ident(validate_dataset_name(name))} CASCADE")
    con.execute("DELETE FROM datasets WHERE name = ?", [name])


def insert_dataset_row(con: duckdb.DuckDBPyConnection, info: DatasetInfo) -> None:
    _catalogue_writes[0] += 1
    values = [getattr(info, c) for c in _DATASET_COLUMNS]
    for i, c in enumerate(_DATASET_COLUMNS):
        if c in ("sources", "pin_attributes", "board_attributes"):
            values[i] = json.dumps(values[i])
    placeholders = ", ".join("?" for _ in _DATASET_COLUMNS)
    con.execute(f"INSERT INTO datasets ({', '.join(_DATASET_COLUMNS)}) VALUES ({placeholders})",
                values)  # fmt: skip


def _dataset_from_row(row: tuple[Any, ...]) -> DatasetInfo:
    d = dict(zip(_DATASET_COLUMNS, row, strict=True))
    for c in ("sources", "pin_attributes", "board_attributes"):
        d[c] = json.loads(d[c]) if d[c] else ({} if c != "sources" else [])
    return DatasetInfo(**d)


def frame(
    con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None
) -> pl.DataFrame:
    """Run a query and return a polars DataFrame (zero-copy through Arrow)."""
    return con.sql(sql, params=params or None).pl()


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def default_db_path() -> Path:
    return Path(os.environ.get("WORKBENCH_DB", DEFAULT_DB))
