"""Loading: every format, the id mapping, and every bad-input case named in the issue."""

from __future__ import annotations

import string
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import write
from workbench.engine.dataset import id_map, resolve_pins
from workbench.engine.errors import InputError, WorkbenchError
from workbench.engine.ingest import detect_format, load_dataset
from workbench.engine.store import Store


def test_csv_dataset_round_trip(store: Store, tiny_dir: Path) -> None:
    report = load_dataset(store, [tiny_dir], "tiny")
    assert (report.pins, report.boards, report.edges) == (5, 3, 7)
    info = store.dataset("tiny")
    assert info.pin_id_type == "string" and info.has_weights and info.has_timestamps
    assert info.pin_attributes == {"topic": "VARCHAR", "score": "BIGINT"}
    assert info.board_attributes == {"topic": "VARCHAR"}
    # dense ids follow the sorted original ids and never leak into the views
    ids = id_map(store, "tiny")
    assert list(ids.pins) == ["a", "b", "c", "d", "e"]
    assert list(resolve_pins(store, "tiny", ["c", "a"])) == [2, 0]
    rows = store.query('SELECT board, pin, weight FROM "tiny".edges_v ORDER BY board, pin')
    assert rows[0] == ("B1", "a", 1.0) and rows[1] == ("B1", "b", 2.0)


def test_same_data_in_every_tabular_format_has_one_fingerprint(
    store: Store, tiny_dir: Path, tmp_path: Path
) -> None:
    fp_csv = load_dataset(store, [tiny_dir], "c").fingerprint
    for fmt in ("parquet", "jsonl"):
        out = tmp_path / fmt
        out.mkdir()
        for name in ("pins", "boards", "edges"):
            df = pl.read_csv(tiny_dir / f"{name}.csv", try_parse_dates=True)
            if fmt == "parquet":
                df.write_parquet(out / f"{name}.parquet")
            else:
                df.write_ndjson(out / f"{name}.jsonl")
        assert load_dataset(store, [out], fmt[0] + "x").fingerprint == fp_csv, fmt


def test_reload_gives_same_fingerprint_and_replace_is_required(
    store: Store, tiny_dir: Path
) -> None:
    first = load_dataset(store, [tiny_dir], "tiny").fingerprint
    with pytest.raises(WorkbenchError, match="dataset 'tiny' already exists") as err:
        load_dataset(store, [tiny_dir], "tiny")
    assert err.value.hint == "replace"
    assert load_dataset(store, [tiny_dir], "tiny", replace=True).fingerprint == first


def test_edges_alone_imply_pins_and_boards_with_aliases(store: Store, tmp_path: Path) -> None:
    f = write(tmp_path / "e.csv", "user_id,item_id,rating\n1,10,5\n1,11,3\n2,10,4\n2,10,4\n")
    report = load_dataset(store, [f], "e")
    assert (report.pins, report.boards, report.edges, report.duplicate_edges) == (2, 2, 3, 1)
    assert store.dataset("e").pin_id_type == "integer"


def test_pins_alone_with_images_is_a_visual_dataset(store: Store, tmp_path: Path) -> None:
    from PIL import Image

    (tmp_path / "img").mkdir()
    Image.new("RGB", (8, 8), "red").save(tmp_path / "img" / "x.png")
    (tmp_path / "img" / "broken.png").write_bytes(b"not a png")
    write(tmp_path / "pins.csv", "pin,image,label\nx,img/x.png,1\ny,img/missing.png,2\n"
          "broken,img/broken.png,3\n")  # fmt: skip
    report = load_dataset(store, [tmp_path / "pins.csv"], "vis")
    assert (report.pins, report.edges, report.images, report.missing_images) == (3, 0, 1, 2)
    assert any("missing or unreadable" in w for w in report.warnings)


def test_images_directory_matches_files_by_pin_id(store: Store, tiny_dir: Path,
                                                  tmp_path: Path) -> None:  # fmt: skip
    from PIL import Image

    imgs = tmp_path / "imgs"
    imgs.mkdir()
    for pin in ("a", "c"):
        Image.new("RGB", (4, 4)).save(imgs / f"{pin}.jpg")
    report = load_dataset(store, [tiny_dir], "tiny", images=imgs)
    assert report.images == 2


def ncf_dir(tmp_path: Path, negatives: str | None = None) -> Path:
    d = tmp_path / "ncf"
    write(d / "toy.train.rating", "0\t0\t1\t0\n0\t1\t1\t0\n1\t1\t1\t0\n1\t2\t1\t0\n2\t0\t1\t0\n")
    write(d / "toy.test.rating", "0\t2\t1\t0\n1\t0\t1\t0\n2\t7\t1\t0\n")
    if negatives is not None:
        write(d / "toy.test.negative", negatives)
    return d


def test_ncf_with_negatives_and_unseen_test_items(store: Store, tmp_path: Path) -> None:
    d = ncf_dir(tmp_path, "(0,2)\t5\t6\n(1,0)\t5\n(2,7)\t6\t5\t2\n")
    assert detect_format([d]) == "ncf"
    report = load_dataset(store, [d], "toy")
    # items 5, 6, 7 never occur in train: they are still pins, with no edges
    assert (report.pins, report.boards, report.edges) == (6, 3, 5)
    assert (report.test, report.negatives) == (3, 6)
    rows = store.query('SELECT board, pin FROM "toy".negatives_v ORDER BY board, pin')
    assert rows[:2] == [("0", "5"), ("0", "6")]


def test_ncf_directory_prefix_or_any_one_file_load_the_same(store: Store, tmp_path: Path) -> None:
    d = ncf_dir(tmp_path, "(0,2)\t5\t6\n(1,0)\t5\n(2,7)\t6\t5\t2\n")
    prefix = d / "toy"  # names no file: the common prefix of toy.train.rating and the rest
    assert detect_format([prefix]) == "ncf"
    fps = {
        load_dataset(store, [given], f"n{i}").fingerprint
        for i, given in enumerate([d, prefix, d / "toy.test.negative", d / "toy.train.rating"])
    }
    assert len(fps) == 1
    assert store.dataset("n1").negatives == 6


def test_movielens_100k_layout(store: Store, tmp_path: Path) -> None:
    d = tmp_path / "ml"
    write(d / "u.data", "1\t1\t5\t874965758\n1\t2\t3\t876893171\n2\t1\t4\t888550871\n")
    flags = "|".join(["0"] * 19)
    (d / "u.item").write_bytes(
        f"1|Toy Story (1995)|01-Jan-1995||http://x|{flags[:-1]}1\n".encode("latin-1")
        + "2|Café (1996)|01-Jan-1996||http://y|0|1|".encode("latin-1")
        + ("|".join(["0"] * 17)).encode()
        + b"\n"
    )
    report = load_dataset(store, [d], "ml")
    assert (report.pins, report.boards, report.edges) == (2, 2, 3)
    rows = store.query('SELECT pin, title, topic FROM "ml".pins ORDER BY idx')
    assert rows == [("1", "Toy Story (1995)", "Western"), ("2", "Café (1996)", "Action")]
    assert store.dataset("ml").has_weights


# -- bad input: one line naming the file, the line or column, and what was expected -----------

BAD_CASES = [
    ("missing id column", {"e.csv": "who,what\n1,2\n"}, r"e\.csv: no id column: expected 'pin'"),
    ("empty file", {"e.csv": ""}, r"e\.csv: empty file"),
    ("header only", {"e.csv": "board,pin\n"}, r"e\.csv: empty file"),
    ("unknown pin", {"pins.csv": "pin\na\nb\n", "edges.csv": "board,pin\nx,a\nx,zz\n"},
     r"edges\.csv: line 3: pin 'zz' is not in pins\.csv"),
    ("unknown board", {"boards.csv": "board\nx\n", "edges.csv": "board,pin\nx,a\ny,a\n"},
     r"edges\.csv: line 3: board 'y' is not in boards\.csv"),
    ("conflicting duplicate pins", {"pins.csv": "pin,title\na,one\nb,two\na,three\n"},
     r"pins\.csv: lines 2 and 4: pin 'a' appears twice with different attributes"),
    ("nan weight", {"e.csv": "board,pin,weight\n1,2,0.5\n1,3,nan\n"},
     r"e\.csv: line 3: column weight: expected a finite number >= 0"),
    ("text weight", {"e.csv": "board,pin,weight\n1,2,heavy\n"}, r"line 2: column weight"),
    ("negative weight", {"e.csv": "board,pin,weight\n1,2,-1\n"}, r"line 2: column weight"),
    ("bad timestamp", {"e.csv": "board,pin,timestamp\n1,2,yesterday\n"},
     r"line 2: column timestamp: expected epoch seconds"),
    ("empty id", {"e.csv": "board,pin\n1,2\n,3\n"}, r"e\.csv: line 3: column board: empty"),
    ("two edge files", {"a.csv": "board,pin\n1,2\n", "b.csv": "board,pin\n1,2\n"},
     r"a second edges file"),
]  # fmt: skip


@pytest.mark.parametrize(("files", "message"), [c[1:] for c in BAD_CASES],
                         ids=[c[0] for c in BAD_CASES])  # fmt: skip
def test_bad_tabular_input_is_one_clear_line_and_changes_nothing(
    store: Store, tiny_dir: Path, tmp_path: Path, files: dict[str, str], message: str
) -> None:
    load_dataset(store, [tiny_dir], "keep")
    before = store.query("SELECT name, fingerprint FROM datasets")
    d = tmp_path / "bad"
    for name, text in files.items():
        write(d / name, text)
    with pytest.raises(InputError, match=message) as err:
        load_dataset(store, [d], "bad", fmt="csv")
    assert "\n" not in str(err.value)
    assert store.query("SELECT name, fingerprint FROM datasets") == before
    schemas = store.query("SELECT schema_name FROM information_schema.schemata")
    assert ("bad",) not in schemas


def test_ncf_non_numeric_id(store: Store, tmp_path: Path) -> None:
    d = tmp_path / "n"
    write(d / "x.train.rating", "0\t1\t1\t0\n0\tpin7\t1\t0\n")
    with pytest.raises(InputError, match=r"x\.train\.rating: line 2: expected a numeric item id"):
        load_dataset(store, [d], "n")


def test_ncf_malformed_negatives(store: Store, tmp_path: Path) -> None:
    d = ncf_dir(tmp_path, "(0,2)\t5\n0,1\t5\n")
    with pytest.raises(InputError, match=r"toy\.test\.negative: line 2: expected '\(user,item\)'"):
        load_dataset(store, [d], "n")


def test_unreadable_parquet(store: Store, tmp_path: Path) -> None:
    f = tmp_path / "edges.parquet"
    f.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(InputError, match=r"edges\.parquet: cannot read as parquet"):
        load_dataset(store, [f], "p")


def test_missing_path_and_bad_names(store: Store, tiny_dir: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        load_dataset(store, [tiny_dir / "nope.csv"], "x")
    for name in ("Main", "main", "'; DROP TABLE runs; --", "../../etc/passwd", ""):
        with pytest.raises(WorkbenchError, match="invalid dataset name"):
            load_dataset(store, [tiny_dir], name)


def test_ids_that_look_like_sql_or_paths_are_data(store: Store, tmp_path: Path) -> None:
    f = write(tmp_path / "e.csv", 'board,pin\n"\'; DROP TABLE runs; --",../../etc/passwd\n')
    load_dataset(store, [f], "hostile")
    assert store.query('SELECT board, pin FROM "hostile".edges_v') == [
        ("'; DROP TABLE runs; --", "../../etc/passwd")
    ]
    assert store.query("SELECT count(*) FROM runs") == [(0,)]


# -- property-based: any file either loads consistently or fails with a one-line InputError ----

cell = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1).map(str),
    st.text(alphabet=string.ascii_letters + string.digits + " ,;'\"\\é中-_./", max_size=8),
    st.sampled_from(["", "nan", "inf", "-1", "1e400", "NULL", "0x10"]),
)


def _csv_escape(v: str) -> str:
    return '"' + v.replace('"', '""') + '"'


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=st.lists(st.tuples(cell, cell, cell), min_size=0, max_size=12))
def test_fuzzed_edges_files(tmp_path: Path, rows: list[tuple[str, str, str]]) -> None:
    store = Store(tmp_path / "fuzz.duckdb")
    text = "board,pin,weight\n" + "".join(",".join(map(_csv_escape, r)) + "\n" for r in rows)
    path = write(tmp_path / "edges.csv", text)
    before = [(d.name, d.fingerprint) for d in store.datasets()]
    try:
        report = load_dataset(store, [path], "fz", replace=True)
    except InputError as exc:
        assert "\n" not in str(exc) and "edges.csv" in str(exc)
        # a failed --replace keeps the previous dataset exactly as it was
        assert [(d.name, d.fingerprint) for d in store.datasets()] == before
        return
    distinct = {(b.strip(), p.strip()) for b, p, _ in rows}
    assert report.edges == len(distinct)
    assert report.boards == len({b for b, _ in distinct})


def test_edges_merged_in_key_ranges_equal_one_merge(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import workbench.engine.ingest.build as build

    rows = "".join(f"b{i % 7},p{(i * 5) % 13},{i % 4},{1_700_000_000 + i}\n" for i in range(300))
    f = write(tmp_path / "e.csv", "board,pin,weight,ts\n" + rows)
    whole = load_dataset(store, [f], "whole")
    monkeypatch.setattr(build, "PART_ROWS", 7)
    parts = load_dataset(store, [f], "parts")
    assert parts.fingerprint == whole.fingerprint
    assert (parts.edges, parts.duplicate_edges) == (whole.edges, whole.duplicate_edges)
    assert whole.duplicate_edges > 0
    edges = store.query('SELECT board_idx, pin_idx, weight, ts FROM "parts".edges')
    assert edges == sorted(edges)  # stored in (board, pin) order
    assert edges == store.query('SELECT board_idx, pin_idx, weight, ts FROM "whole".edges')
