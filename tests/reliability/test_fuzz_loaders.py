"""Hostile input for every loader format: the load succeeds consistently or fails in one line,
and a failure never changes the store."""

from __future__ import annotations

import json
import string
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.engine.errors import InputError
from workbench.engine.ingest import load_dataset
from workbench.engine.store import Store

FUZZ = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

ids = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.text(alphabet=string.printable + "é中\u200b", max_size=6),
)
junk_line = st.one_of(
    st.lists(ids, min_size=0, max_size=5).map("\t".join),
    st.text(alphabet=string.printable, max_size=20),
)


def _check(store: Store, before: list[tuple[str, str]], path: Path, name: str, fmt: str) -> None:
    try:
        load_dataset(store, [path], name, fmt=fmt, replace=True)
    except InputError as exc:
        text = str(exc)
        assert "\n" not in text and text.strip(), text
        assert [(d.name, d.fingerprint) for d in store.datasets()] == before
        return
    info = store.dataset(name)
    (n_pins,) = store.query(f'SELECT count(*) FROM "{name}".pins')[0]
    assert info.pins == n_pins
    (orphans,) = store.query(
        f'SELECT count(*) FROM "{name}".edges e ANTI JOIN "{name}".pins p ON p.idx = e.pin_idx'
    )[0]
    assert orphans == 0


@FUZZ
@given(lines=st.lists(junk_line, max_size=10))
def test_fuzzed_ncf_train_files(tmp_path: Path, lines: list[str]) -> None:
    store = Store(tmp_path / "f.duckdb")
    before = [(d.name, d.fingerprint) for d in store.datasets()]
    d = tmp_path / "ncf"
    d.mkdir(exist_ok=True)
    (d / "x.train.rating").write_text("\n".join(lines) + ("\n" if lines else ""))
    _check(store, before, d, "ncf", "ncf")


record = st.dictionaries(
    st.sampled_from(["pin", "board", "weight", "title", "topic", "timestamp", "x"]),
    st.one_of(
        ids, st.integers(-(2**40), 2**40), st.floats(allow_nan=True), st.none(), st.booleans()
    ),
    max_size=5,
)


@FUZZ
@given(records=st.lists(record, max_size=8), kind=st.sampled_from(["edges", "pins"]))
def test_fuzzed_jsonl_files(tmp_path: Path, records: list[dict[str, object]], kind: str) -> None:
    store = Store(tmp_path / "f.duckdb")
    before = [(d.name, d.fingerprint) for d in store.datasets()]
    path = tmp_path / f"{kind}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    _check(store, before, path, "js", "jsonl")


@FUZZ
@given(data=st.binary(max_size=200))
def test_random_bytes_as_csv_and_parquet(tmp_path: Path, data: bytes) -> None:
    store = Store(tmp_path / "f.duckdb")
    before = [(d.name, d.fingerprint) for d in store.datasets()]
    for suffix, fmt in ((".csv", "csv"), (".parquet", "parquet")):
        path = tmp_path / f"edges{suffix}"
        path.write_bytes(data)
        _check(store, before, path, "bytes", fmt)
