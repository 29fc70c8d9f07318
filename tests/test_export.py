"""Export: every format round-trips, the provenance sidecar, no overwrite without --force, and
atomic writes (a failure mid-write never leaves a file under the final name)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from PIL import Image

from tests.conftest import write
from workbench.cli import main
from workbench.engine import export as E
from workbench.engine.atomic import atomic_write
from workbench.engine.errors import WorkbenchError
from workbench.engine.ingest import load_dataset
from workbench.engine.runs import save_run
from workbench.engine.store import Store


@pytest.fixture
def run_store(store: Store, tiny_dir: Path) -> tuple[Store, int]:
    Image.new("RGB", (40, 30), "red").save(tiny_dir / "a.png")
    write(
        tiny_dir / "pins.csv",
        "pin,title,topic,image\n"
        f"a,Apple,fruit,{tiny_dir / 'a.png'}\nb,Banana,fruit,\nc,Car,vehicle,\n"
        "d,Dog,animal,\ne,Eel,animal,\n",
    )
    load_dataset(store, [tiny_dir], "tiny")
    info = store.dataset("tiny")
    results = pl.DataFrame(
        {
            "query": ["a"] * 3 + ["c"] * 2,
            "rank": [1, 2, 3, 1, 2],
            "pin": ["b", "d", "e", "a", "b"],
            "score": [0.5, 0.25, 0.25, 0.9, 0.1],
        }
    )
    run_id = save_run(
        store,
        dataset="tiny",
        kind="recommend",
        algorithm="pixie",
        params={"steps": 100},
        seed=7,
        fingerprint=info.fingerprint,
        results=results,
    )
    return store, run_id


def test_formats_round_trip(run_store: tuple[Store, int], tmp_path: Path) -> None:
    store, run_id = run_store
    readers: dict[str, Callable[[Path], pl.DataFrame]] = {
        "csv": pl.read_csv,
        "parquet": pl.read_parquet,
        "jsonl": pl.read_ndjson,
    }
    for fmt, read in readers.items():
        path = E.export_run(store, run_id, fmt, out=tmp_path)
        assert path.name == f"run-{run_id}-pixie.{fmt}"
        df = read(path)
        assert df.columns[:5] == ["query", "rank", "pin", "score", "title"]
        assert "topic" in df.columns and "image" not in df.columns
        assert df["pin"].cast(pl.String).to_list() == ["b", "d", "e", "a", "b"]
        assert df["title"].to_list()[:2] == ["Banana", "Dog"]
        assert df["score"].to_list() == pytest.approx([0.5, 0.25, 0.25, 0.9, 0.1])


def test_trec_run_file_breaks_ties_in_rank_order(
    run_store: tuple[Store, int], tmp_path: Path
) -> None:
    store, run_id = run_store
    path = E.export_run(store, run_id, "trec", out=tmp_path / "r.trec")
    lines = [ln.split() for ln in path.read_text().splitlines()]
    assert [ln[:4] for ln in lines[:3]] == [
        ["a", "Q0", "b", "1"],
        ["a", "Q0", "d", "2"],
        ["a", "Q0", "e", "3"],
    ]
    scores = [float(ln[4]) for ln in lines[:3]]
    assert scores[0] > scores[1] > scores[2] and scores[1] == 0.25
    assert scores[2] == pytest.approx(0.25, abs=1e-15)
    assert not (tmp_path / "r.qrels").exists()  # not an evaluation run


def test_sidecar_provenance(run_store: tuple[Store, int], tmp_path: Path) -> None:
    store, run_id = run_store
    path = E.export_run(store, run_id, "csv", out=tmp_path)
    meta = json.loads(Path(str(path) + ".provenance.json").read_text())
    assert meta["algorithm"] == "pixie" and meta["params"] == {"steps": 100}
    assert meta["seed"] == 7
    assert meta["dataset"]["name"] == "tiny"
    assert meta["dataset"]["fingerprint"] == store.dataset("tiny").fingerprint
    assert meta["dataset"]["fingerprint_now"] == meta["dataset"]["fingerprint"]
    assert meta["workbench_version"] and meta["exported_at"]
    assert meta["run"]["run_id"] == run_id and meta["rows"] == 5


def test_no_overwrite_without_force(run_store: tuple[Store, int], tmp_path: Path) -> None:
    store, run_id = run_store
    path = E.export_run(store, run_id, "csv", out=tmp_path)
    path.write_text("mine")
    with pytest.raises(WorkbenchError, match="exists") as refused:
        E.export_run(store, run_id, "csv", out=tmp_path)
    assert refused.value.hint == "overwrite"  # the face words it: "pass --force", "tick ..."
    assert path.read_text() == "mine"
    E.export_run(store, run_id, "csv", out=tmp_path, force=True)
    assert path.read_text().startswith("query,rank")


def test_failure_mid_write_leaves_no_final_file(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"

    def half(tmp: Path) -> None:
        tmp.write_text("query,rank\nhalf")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, half)
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []  # the temporary file is gone too


def test_exported_files_get_the_usual_permissions(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        path = atomic_write(tmp_path / "x.csv", lambda t: t.write_text("a\n"))
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644


def test_failure_mid_export_keeps_old_file(
    run_store: tuple[Store, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, run_id = run_store
    out = tmp_path / "out"
    path = E.export_run(store, run_id, "csv", out=out / "r.csv")
    before = path.read_text()

    def boom(self: pl.DataFrame, file: object) -> None:
        Path(str(file)).write_text("trunc")
        raise OSError("interrupted")

    monkeypatch.setattr(pl.DataFrame, "write_csv", boom)
    with pytest.raises(OSError):
        E.export_run(store, run_id, "csv", out=path, force=True)
    assert path.read_text() == before
    assert sorted(p.name for p in out.iterdir()) == ["r.csv", "r.csv.provenance.json"]


def test_contact_sheet(run_store: tuple[Store, int], tmp_path: Path) -> None:
    store, run_id = run_store
    path = E.export_run(store, run_id, "sheet", out=tmp_path, query="c")
    with Image.open(path) as im:
        assert im.format == "PNG" and im.width > 300
        # The first tile holds pin a's red image; the second (pin b, no image) is a grey box.
        assert im.getpixel((8 + 80, 24 + 80)) == (255, 0, 0)
        assert im.getpixel((8 + 168 + 5, 24 + 5)) == (215, 215, 215)


def test_cli_export_default_location(
    run_store: tuple[Store, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, run_id = run_store
    runner = CliRunner()
    monkeypatch.chdir(tmp_path)
    args = ["export", str(run_id), "--format", "jsonl", "--db", str(store.path)]
    res = runner.invoke(main, args)
    assert res.exit_code == 0, res.output
    assert Path(f"exports/run-{run_id}-pixie.jsonl").exists()
    res = runner.invoke(main, args)
    assert res.exit_code == 2 and "--force" in res.output
    res = runner.invoke(main, [*args, "--force", "--json"])
    assert res.exit_code == 0
    assert json.loads(res.output)["files"] == [f"exports/run-{run_id}-pixie.jsonl"]


def test_a_cancelled_export_leaves_no_file(run_store: tuple[Store, int], tmp_path: Path) -> None:
    from workbench.engine.errors import Cancelled
    from workbench.engine.progress import Reporter
    from workbench.services import export as svc

    store, run_id = run_store
    asked: list[int] = []

    def stop_when_writing() -> bool:
        asked.append(1)
        return len(asked) > 2  # let the run be read, then stop while the files are written

    out = tmp_path / "cancelled"
    request = svc.ExportRequest(run_id, "sheet", str(out) + "/")
    with pytest.raises(Cancelled):
        svc.export(store, request, Reporter(is_cancelled=stop_when_writing))
    assert not out.exists() or list(out.iterdir()) == []
    done = svc.export(store, request)  # and nothing is in the way of the next one
    assert [p.name for p in done.files] == [f"run-{run_id}-pixie.png"]
    assert done.provenance.exists() and done.rows == 3
