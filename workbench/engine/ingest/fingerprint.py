"""A dataset's fingerprint: a hash of its tables' columns (names and types) and contents."""

from __future__ import annotations

import hashlib

import duckdb

from workbench.engine.store import ident

FINGERPRINTED = ("pins", "boards", "edges", "test", "negatives")


def fingerprint(con: duckdb.DuckDBPyConnection, name: str) -> str:
    """Hash each table's schema (column names and types, in order) and an order-independent sum
    of its row hashes. Image paths are left out, so copies of a dataset in other places agree;
    a renamed or retyped attribute column changes the fingerprint."""
    schema = ident(name)
    h = hashlib.sha256()
    for table in FINGERPRINTED:
        select = (
            f"SELECT * EXCLUDE (image) FROM {schema}.{table}"
            if table == "pins"
            else (f"SELECT * FROM {schema}.{table}")
        )
        columns = con.execute(f"DESCRIBE {select}").fetchall()
        h.update(repr([(c[0], str(c[1])) for c in columns]).encode())
        row = con.execute(
            f"SELECT count(*), coalesce(sum(hash(t)), 0) FROM ({select}) t"
        ).fetchone()
        h.update(repr(row).encode())
    return h.hexdigest()
