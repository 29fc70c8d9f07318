"""Issue 15, the parts in recommend, batch and export: one snapshot per recommendation, one
writer per batch output, exports written all or nothing, settings checked at the boundary,
seeds checked up front, images that would block or blow up, and no store made by a typo."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from PIL import Image

from tests.conftest import write
from workbench.cli import main
from workbench.engine import recommend as engine_recommend
from workbench.engine.errors import OutputExistsError, WorkbenchError
from workbench.engine.ingest import load_dataset
from workbench.engine.runs import get_run, list_runs, save_run
from workbench.engine.store import Store
from workbench.services import batch as batch_svc
from workbench.services import export as export_svc
from workbench.services.recommend import RecommendRequest, recommend

WORKBENCH = str(Path(sys.executable).parent / "workbench")


def cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def tiny(store: Store, tiny_dir: Path) -> Store:
    load_dataset(store, [tiny_dir], "tiny")
    return store


# -- 3: a recommendation reads one version of the dataset ---------------------------------------


def test_a_reload_cannot_commit_in_the_middle_of_a_recommendation(
    tiny: Store, tiny_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process replaces the dataset (new labels for the same dense ids) while the walk
    runs. Before: the reload committed and the ranking was mapped back through the new pins
    while stored under the old fingerprint. Now the recommendation holds the store for the whole
    call: the reload waits (here: gives up), and the run is one version throughout."""
    other = tmp_path / "other"
    write(other / "edges.csv", "board,pin\nB1,x\nB1,y\nB2,z\nB2,x\nB3,w\nB3,v\nB3,y\n")
    original = engine_recommend.pin_rows
    reload: list[subprocess.CompletedProcess[str]] = []

    def reload_then_map(store: Store, dataset: str, *rest: object) -> object:
        env = {**os.environ, "WORKBENCH_LOCK_TIMEOUT": "0.5"}
        reload.append(subprocess.run(
            [WORKBENCH, "--db", str(store.path), "load", str(other), "--dataset", "tiny",
             "--replace"], env=env, capture_output=True, text=True, timeout=120,
        ))  # fmt: skip
        return original(store, dataset, *rest)  # type: ignore[arg-type]

    monkeypatch.setattr(engine_recommend, "pin_rows", reload_then_map)
    before = tiny.dataset("tiny").fingerprint
    result = recommend(tiny, RecommendRequest("tiny", ("a",), params={"steps": "2000"}))
    assert reload and reload[0].returncode == 2 and "in use" in reload[0].stderr
    run = get_run(tiny, result.run_id)
    assert run.fingerprint == before == tiny.dataset("tiny").fingerprint
    assert set(result.results["pin"]) <= {"b", "c", "d", "e"}  # the old labels, not x..w


# -- 6: one writer per batch output --------------------------------------------------------------


def test_a_second_batch_writing_the_same_output_is_refused(
    sample_store: Store, tmp_path: Path
) -> None:
    where = tmp_path / "out"
    out = where / "same.parquet"
    seen: list[str] = []
    refused: list[BaseException] = []

    def meanwhile(done: float, total: float | None, stage: str) -> None:
        if seen:
            return
        seen.extend(p.name for p in where.iterdir())
        try:  # a second batch of the same output while the first one writes
            batch_svc.batch(sample_store, batch_svc.BatchRequest("sample", str(out), "popular"))
        except WorkbenchError as exc:
            refused.append(exc)

    request = batch_svc.BatchRequest("sample", str(out), "popular", chunk=100)
    report = batch_svc.batch(sample_store, request, batch_svc.Reporter(on_progress=meanwhile))
    assert report.complete and pl.read_parquet(out).height == report.rows
    assert refused and "another batch" in str(refused[0]) and "is writing" in str(refused[0])
    temps = [n for n in seen if n.endswith(".tmp")]
    assert len(temps) == 1 and str(os.getpid()) in temps[0]  # a unique name, not ".writing"
    assert sorted(p.name for p in where.iterdir()) == [
        "same.parquet",
        "same.parquet.provenance.json",
    ]


def test_the_lock_of_a_killed_batch_is_taken_over(sample_store: Store, tmp_path: Path) -> None:
    out = tmp_path / "o.parquet"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    (tmp_path / ".o.parquet.lock").write_text(dead)
    report = batch_svc.batch(sample_store, batch_svc.BatchRequest("sample", str(out), "popular"))
    assert report.complete and not (tmp_path / ".o.parquet.lock").exists()


# -- 7: an export writes its files all or nothing ------------------------------------------------


@pytest.fixture
def eval_run(tiny: Store) -> tuple[Store, int]:
    results = pl.DataFrame({"query": ["B1"], "rank": [1], "pin": ["c"], "score": [1.0]})
    run_id = save_run(tiny, dataset="tiny", kind="eval", algorithm="popular", params={},
                      seed=0, fingerprint=tiny.dataset("tiny").fingerprint,
                      results=results)  # fmt: skip
    return tiny, run_id


def test_trec_export_refuses_a_name_where_run_and_qrels_collide(
    eval_run: tuple[Store, int], tmp_path: Path
) -> None:
    store, run_id = eval_run
    out = tmp_path / "out"
    out.mkdir()
    for overwrite in (False, True):
        request = export_svc.ExportRequest(run_id, "trec", str(out / "x.qrels"), overwrite)
        with pytest.raises(OutputExistsError, match="two of its files under one name"):
            export_svc.export(store, request)
    assert list(out.iterdir()) == []


def test_a_name_too_long_for_the_sidecar_is_refused_before_writing(
    eval_run: tuple[Store, int], tmp_path: Path
) -> None:
    store, run_id = eval_run
    out = tmp_path / "out"
    out.mkdir()
    name = "r" * 240 + ".csv"  # fits the file system, not with ".provenance.json" after it
    with pytest.raises(WorkbenchError, match="too long"):
        export_svc.export(store, export_svc.ExportRequest(run_id, "csv", str(out / name)))
    assert list(out.iterdir()) == []


def test_a_failed_sidecar_leaves_no_main_file(
    eval_run: tuple[Store, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, run_id = eval_run
    from workbench.engine import export as engine_export

    def broken(*_a: object, **_k: object) -> dict[str, object]:
        raise OSError("disk full")

    monkeypatch.setattr(engine_export, "provenance", broken)
    out = tmp_path / "exp"
    with pytest.raises(OSError, match="disk full"):
        export_svc.export(store, export_svc.ExportRequest(run_id, "csv", str(out) + "/"))
    assert not out.exists() or list(out.iterdir()) == []


# -- 8 and 13: settings and seeds checked at the boundary ---------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--chunk", "-1"], "error: the chunk size must be at least 1 board, got -1"),
        (["--chunk", "0"], "error: the chunk size must be at least 1 board, got 0"),
        (["--workers", "0"], "error: the number of workers must be at least 1, got 0"),
        (["--workers", "-3"], "error: the number of workers must be at least 1, got -3"),
        (["--seed", str(2**63)], "error: seed 9223372036854775808: expected a whole number"),
    ],
)
def test_batch_settings_are_refused_in_one_line(
    tiny: Store, tmp_path: Path, args: list[str], message: str
) -> None:
    out = tmp_path / "b.parquet"
    code, stdout, err = cli("batch", "--dataset", "tiny", "--out", str(out), "--db",
                            str(tiny.path), *args)  # fmt: skip
    assert code == 2 and stdout == ""
    assert err.startswith(message) and err.count("\n") == 1
    assert not out.exists() and list_runs(tiny) == []


def test_a_seed_too_big_for_the_store_is_refused_before_the_walk(tiny: Store) -> None:
    code, _, err = cli("recommend", "--dataset", "tiny", "--pin", "a", "--seed", str(2**63),
                       "--db", str(tiny.path))  # fmt: skip
    assert code == 2 and err.startswith("error: seed 9223372036854775808") and err[-1:] == "\n"
    assert list_runs(tiny) == []


# -- 10/11: images that block or blow up in a contact sheet ---------------------------------------


def test_contact_sheet_skips_fifos_and_huge_images(
    store: Store, tiny_dir: Path, tmp_path: Path
) -> None:
    images = tmp_path / "img"
    images.mkdir()
    for pin in "abcde":
        Image.new("RGB", (8, 8), "red").save(images / f"{pin}.png")
    load_dataset(store, [tiny_dir], "tiny", images=images)
    (images / "b.png").unlink()
    os.mkfifo(images / "b.png")  # opening it for reading would block forever
    huge = Image.new("1", (40000, 40000))  # a 200 KB PNG that decodes to 1.6 G pixels
    huge.save(images / "d.png", optimize=True)
    results = pl.DataFrame({"query": ["a"] * 4, "rank": [1, 2, 3, 4], "pin": list("bcde"),
                            "score": [4.0, 3.0, 2.0, 1.0]})  # fmt: skip
    run_id = save_run(store, dataset="tiny", kind="recommend", algorithm="pixie", params={},
                      seed=0, fingerprint=store.dataset("tiny").fingerprint,
                      results=results)  # fmt: skip
    outcome: list[object] = []

    def export() -> None:
        try:
            outcome.append(
                export_svc.export(
                    store, export_svc.ExportRequest(run_id, "sheet", str(tmp_path / "s.png"))
                )
            )
        except BaseException as exc:  # reported by the assertion below
            outcome.append(exc)

    worker = threading.Thread(target=export, daemon=True)
    worker.start()
    worker.join(60)
    assert not worker.is_alive(), "the export blocked on the FIFO"
    result = outcome[0]
    assert isinstance(result, export_svc.ExportResult), result
    assert any("2 image(s) could not be read" in n for n in result.notes)
    with Image.open(result.path) as im:
        assert im.format == "PNG"


# -- small: a typo in --db makes no store ---------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["datasets"],
        ["info", "--dataset", "x"],
        ["runs"],
        ["recommend", "--dataset", "x", "--pin", "a"],
        ["export", "1"],
    ],
)
def test_a_read_command_on_a_missing_store_creates_nothing(tmp_path: Path, args: list[str]) -> None:
    missing = tmp_path / "typo.duckdb"
    code, out, err = cli(*args, "--db", str(missing))
    assert code == 2 and out == ""
    assert err == f"error: no store at {missing}\n"
    assert not missing.exists()


def test_load_creates_the_store_it_is_given(tmp_path: Path, tiny_dir: Path) -> None:
    db = tmp_path / "new.duckdb"
    code, _, err = cli("load", str(tiny_dir), "--dataset", "tiny", "--db", str(db))
    assert code == 0, err
    assert [d.name for d in Store(db).datasets()] == ["tiny"]


def test_a_query_id_is_matched_exactly_not_by_numeric_value(tmp_path: Path) -> None:
    """Issue 15 item 5, query side: in a dataset of integer ids, '007' and '+7' are not pin 7."""
    from workbench.engine.errors import NotFoundError

    write(tmp_path / "edges.csv", "board,pin\n1,7\n1,8\n2,7\n2,9\n")
    store = Store(tmp_path / "wb.duckdb")
    load_dataset(store, [tmp_path / "edges.csv"], "ints")
    assert store.dataset("ints").pin_id_type == "integer"
    found = recommend(store, RecommendRequest("ints", pins=("7",), algo="rp3beta", k=2))
    assert found.results.height > 0
    for typed in ("007", "+7", "7.0"):
        with pytest.raises(NotFoundError, match="unknown pin"):
            recommend(store, RecommendRequest("ints", pins=(typed,), algo="rp3beta", k=2))
