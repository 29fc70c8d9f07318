"""Issue 15, the load's share: schema-aware fingerprints, ids that are integers only when every id
is a canonical integer, images that cannot hang or abort a load, the right line for an overlong
csv line, and a killed or interrupted load that leaves the store as it was."""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import pytest

from tests.conftest import write
from workbench.engine.errors import InputError
from workbench.engine.ingest import load_dataset
from workbench.engine.store import Store

ROOT = Path(__file__).resolve().parents[2]


def _datasets(store: Store) -> list[tuple[str, str]]:
    return [(d.name, d.fingerprint) for d in store.datasets()]


# -- item 2: the fingerprint covers column names and types ------------------------------------


def test_swapping_two_attribute_names_changes_the_fingerprint(store: Store, tmp_path: Path) -> None:
    edges = write(tmp_path / "edges.csv", "board,pin\nB,a\nB,b\n")
    one = write(tmp_path / "one" / "pins.csv", "pin,topic,style\na,x,y\nb,z,w\n")
    two = write(tmp_path / "two" / "pins.csv", "pin,style,topic\na,x,y\nb,z,w\n")
    fp1 = load_dataset(store, [one, edges], "one").fingerprint
    fp2 = load_dataset(store, [two, edges], "two").fingerprint
    assert fp1 != fp2


def test_changing_a_column_type_changes_the_fingerprint(store: Store, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    # the same values (all missing) under two types: a hash of the values alone cannot tell
    fps = []
    for typ in (pa.float64(), pa.string()):
        d = tmp_path / str(typ)
        d.mkdir()
        pins = pa.table({"pin": ["a", "b"], "note": pa.array([None, None], type=typ)})
        pq.write_table(pins, d / "pins.parquet")
        pq.write_table(pa.table({"board": ["B", "B"], "pin": ["a", "b"]}), d / "edges.parquet")
        fps.append(load_dataset(store, [d], f"t{len(fps)}").fingerprint)
    assert store.dataset("t0").pin_attributes != store.dataset("t1").pin_attributes
    assert fps[0] != fps[1]


# -- item 5: ids are integers only when every id is a canonical integer ------------------------


def test_leading_zeros_keep_ids_apart(store: Store, tmp_path: Path) -> None:
    f = write(tmp_path / "e.csv", "board,pin\nB,007\nB,7\nB,07\n")
    report = load_dataset(store, [f], "z")
    assert (report.pins, report.edges, report.duplicate_edges) == (3, 3, 0)
    info = store.dataset("z")
    assert info.pin_id_type == "string"
    pins = [r[0] for r in store.query('SELECT pin FROM "z".pins ORDER BY idx')]
    assert pins == ["007", "07", "7"]


@pytest.mark.parametrize("odd", ["1_000", "+1000", "1000.0", "-1000", " 01000"])
def test_non_canonical_integers_are_text(store: Store, tmp_path: Path, odd: str) -> None:
    f = write(tmp_path / "e.csv", f"board,pin\nB,1000\nB,{odd}\n")
    report = load_dataset(store, [f], "n")
    assert report.pins == 2 and report.duplicate_edges == 0
    assert store.dataset("n").pin_id_type == "string"


def test_canonical_integers_are_integers_in_numeric_order(store: Store, tmp_path: Path) -> None:
    f = write(tmp_path / "e.csv", "board,pin\n10,9\n10,10\n2,0\n")
    load_dataset(store, [f], "c")
    info = store.dataset("c")
    assert (info.pin_id_type, info.board_id_type) == ("integer", "integer")
    assert [r[0] for r in store.query('SELECT pin FROM "c".pins ORDER BY idx')] == ["0", "9", "10"]
    assert [r[0] for r in store.query('SELECT board FROM "c".boards ORDER BY idx')] == ["2", "10"]


def test_images_named_with_leading_zeros_match_their_pins(store: Store, tmp_path: Path) -> None:
    from PIL import Image

    img = tmp_path / "img"
    img.mkdir()
    Image.new("RGB", (4, 4), "red").save(img / "0001.png")
    f = write(tmp_path / "e.csv", "board,pin\nB,0001\nB,2\n")
    report = load_dataset(store, [f], "im", images=img)
    assert report.images == 1
    rows = store.query('SELECT pin FROM "im".pins WHERE image IS NOT NULL')
    assert rows == [("0001",)]


# -- items 10 and 11: images that are not regular files, too large, or loops -------------------


def _run_load(args: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """A load in a child process, so that a hang fails the test instead of blocking it."""
    return subprocess.run(
        [sys.executable, "-c", "from workbench.cli import main; main()", *args],
        capture_output=True, text=True, timeout=timeout, cwd=ROOT,
        env={**os.environ, "WORKBENCH_NO_SAMPLE": "1"},
    )  # fmt: skip


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_in_the_image_column_does_not_block(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "x.png")
    write(tmp_path / "pins.csv", "pin,image\nx,x.png\ny,\n")
    done = _run_load(["--db", str(tmp_path / "wb.duckdb"), "load", str(tmp_path / "pins.csv"),
                      "--dataset", "f", "--json"])  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert '"missing_images": 1' in done.stdout


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_in_the_images_directory_does_not_block(tmp_path: Path) -> None:
    (tmp_path / "img").mkdir()
    os.mkfifo(tmp_path / "img" / "a.png")
    write(tmp_path / "e.csv", "board,pin\nB,a\n")
    done = _run_load(["--db", str(tmp_path / "wb.duckdb"), "load", str(tmp_path / "e.csv"),
                      "--dataset", "f", "--images", str(tmp_path / "img"), "--json"])  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert '"missing_images": 1' in done.stdout


def _png_header(path: Path, width: int, height: int) -> None:
    """A PNG whose header claims ``width`` x ``height`` pixels (no pixel data to speak of)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * 64)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat)
                     + chunk(b"IEND", b""))  # fmt: skip


def test_a_huge_png_counts_as_unreadable(store: Store, tmp_path: Path) -> None:
    from PIL import Image

    _png_header(tmp_path / "huge.png", 40000, 40000)
    Image.new("RGB", (4, 4)).save(tmp_path / "ok.png")
    f = write(tmp_path / "pins.csv", "pin,image\nhuge,huge.png\nok,ok.png\n")
    report = load_dataset(store, [f], "h")
    assert (report.pins, report.images, report.missing_images) == (2, 1, 1)
    assert any("huge" in w for w in report.warnings)


def test_a_symlink_loop_in_the_images_directory_is_unreadable(store: Store, tmp_path: Path) -> None:
    from PIL import Image

    img = tmp_path / "img"
    img.mkdir()
    os.symlink(img / "loop.png", img / "loop.png")
    os.symlink(img / "b2.png", img / "b1.png")
    os.symlink(img / "b1.png", img / "b2.png")
    Image.new("RGB", (4, 4)).save(img / "ok.png")
    f = write(tmp_path / "e.csv", "board,pin\nB,loop\nB,ok\nB,b1\n")
    report = load_dataset(store, [f], "l", images=img)
    assert (report.images, report.missing_images) == (1, 2)


# -- item 13: an overlong csv line is reported at its own line, with the reason ----------------


def test_a_10mb_line_is_reported_at_its_line(store: Store, tmp_path: Path) -> None:
    f = tmp_path / "e.csv"
    f.write_text("board,pin\n" + "B,a\n" * 5 + "B," + "x" * 10_000_000 + "\nB,c\n")
    with pytest.raises(InputError) as err:
        load_dataset(store, [f], "big")
    text = str(err.value)
    assert "\n" not in text
    assert "e.csv: line 7: " in text and "longer than" in text, text


# -- kills and interrupts: the load is one transaction ----------------------------------------

_CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from workbench.engine.ingest import load_dataset
    from workbench.engine.progress import Reporter
    from workbench.engine.store import Store

    how = sys.argv[3]

    def on_progress(done, total, stage):
        if stage == "writing edges":
            if how == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            raise KeyboardInterrupt

    load_dataset(Store(sys.argv[1]), [sys.argv[2]], "keep", replace=True,
                 reporter=Reporter(on_progress=on_progress))
    """
)


@pytest.mark.parametrize("how", ["kill", "interrupt"])
def test_a_killed_or_interrupted_replace_leaves_the_store_as_it_was(
    tmp_path: Path, how: str
) -> None:
    from workbench.engine.generate import GraphSpec, generate_edges

    store = Store(tmp_path / "wb.duckdb")
    old = write(tmp_path / "old.csv", "board,pin\nB,a\nB,b\nC,a\n")
    load_dataset(store, [old], "keep")
    before = _datasets(store)
    rows_before = store.query('SELECT * FROM "keep".edges_v ORDER BY ALL')
    spec = GraphSpec(edges=50_000, boards=500, pins=2_000, pin_skew=0.8, board_skew=0.5,
                     topics=5, topic_focus=0.9, seed=0)  # fmt: skip
    new = generate_edges(spec, tmp_path / "new.parquet")
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, str(store.path), str(new), how],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    if how == "kill":
        assert child.returncode == -signal.SIGKILL, child.stderr
    else:
        assert child.returncode != 0 and "KeyboardInterrupt" in child.stderr
    assert _datasets(store) == before
    assert store.query('SELECT * FROM "keep".edges_v ORDER BY ALL') == rows_before
    # and the store still takes a load
    assert load_dataset(store, [new], "after").edges > 0


def test_a_load_that_cannot_fit_the_memory_limit_fails_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workbench.engine.errors import WorkbenchError
    from workbench.engine.generate import GraphSpec, generate_edges

    spec = GraphSpec(edges=200_000, boards=5_000, pins=20_000, pin_skew=0.8, board_skew=0.5,
                     topics=10, topic_focus=0.9, seed=0)  # fmt: skip
    src = generate_edges(spec, tmp_path / "e.parquet")
    store = Store(tmp_path / "wb.duckdb")
    load_dataset(store, [write(tmp_path / "k.csv", "board,pin\nB,a\n")], "keep")
    before = _datasets(store)
    monkeypatch.setenv("WORKBENCH_MEMORY_LIMIT", "2MB")
    with pytest.raises(WorkbenchError, match="memory limit") as err:
        load_dataset(store, [src], "big")
    assert "\n" not in str(err.value)
    monkeypatch.delenv("WORKBENCH_MEMORY_LIMIT")
    assert _datasets(store) == before


def test_a_load_over_the_memory_limit_spills_and_gives_the_same_dataset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workbench.engine.generate import GraphSpec, generate_edges

    spec = GraphSpec(edges=400_000, boards=10_000, pins=40_000, pin_skew=0.8, board_skew=0.5,
                     topics=10, topic_focus=0.9, seed=1)  # fmt: skip
    src = generate_edges(spec, tmp_path / "e.parquet")
    free = load_dataset(Store(tmp_path / "free.duckdb"), [src], "d")
    monkeypatch.setenv("WORKBENCH_MEMORY_LIMIT", "24MB")
    tight = load_dataset(Store(tmp_path / "tight.duckdb"), [src], "d")
    assert tight.fingerprint == free.fingerprint and tight.edges == free.edges
