"""Visual search on a stored dataset, through the CLI: index, search, crop, filter, eval, fuse."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image, ImageDraw

from workbench.cli import main
from workbench.engine.errors import NotFoundError, WorkbenchError
from workbench.engine.ingest import load_dataset
from workbench.engine.runs import get_run
from workbench.engine.store import Store
from workbench.engine.visual.foreground import BACKGROUND_WEIGHT
from workbench.engine.visual.search import OBJECT_WEIGHT
from workbench.services import visual
from workbench.services.visual import (
    EvalRequest,
    FuseRequest,
    ImportRequest,
    IndexRequest,
    SearchRequest,
)

COLOURS = {"red": (220, 30, 30), "green": (30, 180, 60), "blue": (30, 60, 220)}


@pytest.fixture
def shapes(tmp_path: Path) -> Store:
    """Twelve pins: four per colour, each a disc or a square on white, with a colour label."""
    img = tmp_path / "img"
    img.mkdir()
    rows = ["pin,image,colour,shape"]
    rng = np.random.default_rng(0)
    for c, rgb in COLOURS.items():
        for i in range(4):
            im = Image.new("RGB", (64, 64), "white")
            d = ImageDraw.Draw(im)
            x, y = rng.integers(4, 24, 2)
            shape = "disc" if i % 2 else "square"
            (d.ellipse if shape == "disc" else d.rectangle)([x, y, x + 34, y + 34], fill=rgb)
            im.save(img / f"{c}{i}.png")
            rows.append(f"{c}{i},img/{c}{i}.png,{c},{shape}")
    (tmp_path / "pins.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "edges.csv").write_text("board,pin\nb1,red0\nb1,red1\nb2,blue0\nb2,red0\n")
    store = Store(tmp_path / "wb.duckdb")
    load_dataset(store, [tmp_path / "pins.csv", tmp_path / "edges.csv"], "shapes")
    return store


def index_images(store: Store, dataset: str) -> visual.IndexResult:
    return visual.index(store, IndexRequest(dataset))


def visual_search(store: Store, dataset: str, **kw: object) -> visual.Ranking:
    return visual.search(store, SearchRequest(dataset, **kw))  # type: ignore[arg-type]


def fuse_runs(store: Store, runs: list[int], method: str = "rrf", k: int = 10) -> visual.Ranking:
    return visual.fuse(store, FuseRequest(tuple(runs), method, k=k))


def test_index_search_filter_and_store_runs(shapes: Store) -> None:
    report = index_images(shapes, "shapes")
    assert report.vectors == 12 and report.extracted == 12 and not report.failed
    assert index_images(shapes, "shapes").reused == 12  # unchanged images are not re-extracted
    run = visual_search(shapes, "shapes", pin="red0", k=3)
    assert "red0" not in run.results["pin"].to_list() and run.results.height == 3
    assert run.results["title"].to_list() == run.pins["title"].to_list()
    stored = get_run(shapes, run.run_id)
    assert stored.kind == "visual" and stored.query == {"pin": "red0"}
    only_blue = visual_search(shapes, "shapes", pin="red0", k=20, where={"colour": "blue"})
    assert set(only_blue.results["pin"]) == {f"blue{i}" for i in range(4)}
    assert only_blue.params["k"] == 20 and only_blue.results.height == 4
    # more results than indexed images: capped, with a note
    assert "capped at 12" in only_blue.notes[0]
    assert SearchRequest("shapes").k == 10  # the one default, for every face


def test_crop_finds_the_source_pin(shapes: Store, tmp_path: Path) -> None:
    index_images(shapes, "shapes")
    run = visual_search(shapes, "shapes", pin="green2", crop=(0, 0, 48, 48), k=5)
    assert "green2" in run.results["pin"].to_list()[:3]
    # The run records how its scores were made; a whole-image search has no such parameters.
    weights = {"background": BACKGROUND_WEIGHT, "objects": OBJECT_WEIGHT}
    assert get_run(shapes, run.run_id).params.items() >= weights.items()
    whole = visual_search(shapes, "shapes", pin="green2", k=5)
    assert not set(get_run(shapes, whole.run_id).params) & set(weights)
    with pytest.raises(WorkbenchError, match="outside the image"):
        visual_search(shapes, "shapes", pin="green2", crop=(60, 60, 30, 30))


def test_eval_import_and_fuse(shapes: Store, tmp_path: Path) -> None:
    index_images(shapes, "shapes")
    ev = visual.evaluate(shapes, EvalRequest("shapes", "colour", k=3))
    # 3 of the 11 other pins share a query's colour: chance precision@3 is 0.27
    assert ev.queries == 12 and ev.metrics["precision@3"] > 0.45
    assert get_run(shapes, ev.run_id).kind == "eval"
    assert get_run(shapes, ev.run_id).metrics["precision@3"] == ev.metrics["precision@3"]
    assert sorted(ev.per_label["label"]) == ["blue", "green", "red"]
    assert ev.per_label["queries"].sum() == 12
    ids = [f"{c}{i}" for c in COLOURS for i in range(4)]
    vectors = np.eye(12, dtype=np.float32)[:, :8] + 0.01
    np.save(tmp_path / "v.npy", vectors)
    (tmp_path / "ids.txt").write_text("\n".join(ids) + "\n")
    imported = visual.import_vectors(
        shapes, ImportRequest("shapes", "mine", str(tmp_path / "v.npy"), str(tmp_path / "ids.txt"))
    )
    assert imported.vectors == 12 and imported.dim == 8
    a = visual_search(shapes, "shapes", pin="red0", k=5)
    b = visual_search(shapes, "shapes", pin="red0", k=5, embedding="mine")
    fused = fuse_runs(shapes, [a.run_id, b.run_id], "rrf", k=4)
    assert get_run(shapes, fused.run_id).kind == "fusion" and fused.results.height == 4
    with pytest.raises(WorkbenchError, match="at least two runs"):
        fuse_runs(shapes, [a.run_id])


def test_cli_visual_json_and_errors(shapes: Store) -> None:
    db = ["--db", str(shapes.path)]
    r = CliRunner().invoke(main, ["visual", "search", "--dataset", "shapes", "--pin", "red0", *db])
    assert r.exit_code == 2 and "has no 'builtin' embedding yet" in r.stderr
    assert "run 'workbench visual index' first" in r.stderr
    r = CliRunner().invoke(main, ["visual", "index", "--dataset", "shapes", "--json", *db])
    assert r.exit_code == 0 and json.loads(r.stdout)["vectors"] == 12
    r = CliRunner().invoke(
        main,
        ["visual", "search", "--dataset", "shapes", "--pin", "blue1", "--top", "2", "--json", *db],
    )
    out = json.loads(r.stdout)
    assert [x["rank"] for x in out["results"]] == [1, 2] and "run_id" in out
    r = CliRunner().invoke(
        main,
        ["visual", "eval", "--dataset", "shapes", "--label", "shape", "--k", "10", "--json", *db],
    )
    out = json.loads(r.stdout)
    assert set(out["metrics"]) == {"precision@10", "map@10"}
    assert {row["label"] for row in out["per_label"]} == {"disc", "square"}
    r = CliRunner().invoke(main, ["visual", "search", "--dataset", "shapes", "--pin", "red0", *db])
    assert r.exit_code == 0 and r.stdout.splitlines()[0].split() == [
        "rank",
        "pin",
        "score",
        "title",
    ]
    r = CliRunner().invoke(
        main, ["visual", "search", "--dataset", "shapes", "--pin", "red0", "--crop", "1,2,3", *db]
    )
    assert r.exit_code == 2 and "--crop '1,2,3': expected four whole numbers X,Y,W,H" in r.stderr
    with pytest.raises(NotFoundError):
        visual_search(shapes, "shapes", pin="nope")


def test_a_visual_run_compares_with_a_fusion_of_it(shapes: Store) -> None:
    from workbench.engine.compare import compare_runs

    index_images(shapes, "shapes")
    a = visual_search(shapes, "shapes", pin="red0", k=5)
    b = visual_search(shapes, "shapes", pin="red0", crop=(0, 0, 40, 40), k=5)
    fused = fuse_runs(shapes, [a.run_id, b.run_id], "rrf", k=5)
    result = compare_runs(shapes, [a.run_id, fused.run_id], k=5).to_json()
    (comparison,) = result["comparisons"]
    assert comparison["queries"] == 1 and 0 < comparison["mean"]["overlap"] <= 5
