"""Issue 15 regressions in visual search: stale spaces after a reload or a drop, fusion weights
that are not finite or negative, k far beyond the candidates, images that are FIFOs, and a
dataset without images (issue 12's "run visual index" that then says there are no images)."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from workbench.cli import main
from workbench.engine.errors import WorkbenchError
from workbench.engine.ingest import load_dataset
from workbench.engine.runs import list_runs
from workbench.engine.store import Store
from workbench.engine.visual.storage import update_builtin
from workbench.services import visual
from workbench.services.parsing import ParseError

COLOURS = [(220, 30, 30), (30, 180, 60), (30, 60, 220), (230, 200, 20)]


def _dataset(root: Path, tag: str, colours: list[tuple[int, int, int]]) -> list[Path]:
    """pins.csv + edges.csv with one flat-colour 32x32 image per pin ``{tag}{i}``."""
    root.mkdir(parents=True, exist_ok=True)
    rows = ["pin,image,colour"]
    for i, rgb in enumerate(colours):
        path = root / f"{tag}{i}.png"
        im = Image.new("RGB", (32, 32), rgb)
        im.paste((255, 255, 255), (4 + i, 4, 14 + i, 14))
        im.save(path)
        rows.append(f"{tag}{i},{path.name},c{i % 2}")
    (root / "pins.csv").write_text("\n".join(rows) + "\n")
    edges = ["board,pin", *(f"b{i % 2},{tag}{i}" for i in range(len(colours)))]
    (root / "edges.csv").write_text("\n".join(edges) + "\n")
    return [root / "pins.csv", root / "edges.csv"]


def _search(store: Store, pin: str, k: int = 3) -> visual.Ranking:
    return visual.search(store, visual.SearchRequest("d", pin=pin, k=k))


def test_a_reload_never_answers_from_the_old_vectors(tmp_path: Path) -> None:
    store = Store(tmp_path / "wb.duckdb")
    load_dataset(store, _dataset(tmp_path / "v1", "a", COLOURS), "d")
    visual.index(store, visual.IndexRequest("d"))
    assert set(_search(store, "a0").results["pin"]) == {"a1", "a2", "a3"}
    # Reload with other pins and images: the old space is not used, one line says why.
    load_dataset(store, _dataset(tmp_path / "v2", "b", COLOURS[::-1]), "d", replace=True)
    with pytest.raises(WorkbenchError, match="has no 'builtin' embedding yet") as info:
        _search(store, "b0")
    assert info.value.hint == "index"
    assert visual.embeddings(store, "d") == []
    visual.index(store, visual.IndexRequest("d"))
    assert set(_search(store, "b0").results["pin"]) == {"b1", "b2", "b3"}
    # Drop and a new dataset of the same name: no pin of the dropped one ever comes back.
    store.drop("d")
    load_dataset(store, _dataset(tmp_path / "v3", "c", COLOURS), "d")
    with pytest.raises(WorkbenchError, match="embedding yet"):
        _search(store, "c0")
    visual.index(store, visual.IndexRequest("d"))
    assert set(_search(store, "c0").results["pin"]) == {"c1", "c2", "c3"}


def test_a_space_recorded_for_another_version_is_refused(tmp_path: Path) -> None:
    store = Store(tmp_path / "wb.duckdb")
    load_dataset(store, _dataset(tmp_path / "v1", "a", COLOURS), "d")
    visual.index(store, visual.IndexRequest("d"))
    fp = store.dataset("d").fingerprint
    meta_path = store.cache_dir("d", fp) / "visual" / "builtin" / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["fingerprint"] = "0" * 64
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(WorkbenchError, match="built for another version of the data"):
        _search(store, "a0")


@pytest.mark.parametrize("weights", ["nan,1", "inf,1", "1,-0.5", "0,0"])
def test_fusion_weights_must_be_finite_and_not_negative(tmp_path: Path, weights: str) -> None:
    store = Store(tmp_path / "wb.duckdb")
    load_dataset(store, _dataset(tmp_path / "v1", "a", COLOURS), "d")
    visual.index(store, visual.IndexRequest("d"))
    a, b = _search(store, "a0").run_id, _search(store, "a1").run_id
    r = CliRunner().invoke(
        main, ["visual", "fuse", str(a), str(b), "--weights", weights, "--db", str(store.path)]
    )
    assert r.exit_code == 2 and "--weights" in r.stderr and len(r.stderr.splitlines()) == 1
    with pytest.raises(ParseError):
        visual.parse_rgb("1,2")
    # The service refuses them too (the notebook builds requests without the parser).
    bad = tuple(float(w) for w in weights.split(","))
    with pytest.raises(WorkbenchError, match="weight"):
        visual.fuse(store, visual.FuseRequest((a, b), "weighted", bad))
    assert {r.kind for r in list_runs(store)} == {"visual"}  # no fusion was stored


def test_eval_k_is_capped_at_the_candidates(tmp_path: Path) -> None:
    store = Store(tmp_path / "wb.duckdb")
    load_dataset(store, _dataset(tmp_path / "v1", "a", COLOURS), "d")
    visual.index(store, visual.IndexRequest("d"))
    r = CliRunner().invoke(
        main,
        ["visual", "eval", "--dataset", "d", "--label", "colour", "--k", "2000000000", "--json",
         "--db", str(store.path)],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["k"] == 3 and "precision@3" in out["metrics"]
    assert "capped at 3" in out["notes"][0]
    found = _search(store, "a0", k=2_000_000_000)
    assert found.results.height == 3 and "capped at 4" in found.notes[0]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_image_is_a_failed_image_not_a_hang(tmp_path: Path) -> None:
    images = []
    for i, rgb in enumerate(COLOURS):
        p = tmp_path / f"{i}.png"
        Image.new("RGB", (24, 24), rgb).save(p)
        images.append((f"p{i}", p))
    fifo = tmp_path / "fifo.png"
    os.mkfifo(fifo)
    outcome: list[object] = []
    worker = threading.Thread(
        target=lambda: outcome.append(update_builtin(tmp_path / "c", [*images, ("f", fifo)])),
        daemon=True,
    )
    worker.start()
    worker.join(60)
    assert not worker.is_alive(), "indexing blocked on a FIFO"
    (report,) = outcome
    assert report.count == 4 and report.failed == [("f", "not a regular file")]  # type: ignore[attr-defined]
    from workbench.engine.visual import open_space, search_image

    with pytest.raises(WorkbenchError, match="not a regular file"):
        search_image(open_space(tmp_path / "c"), fifo)


def test_a_dataset_without_images_says_so_once(tmp_path: Path) -> None:
    (tmp_path / "edges.csv").write_text("board,pin\nb1,p1\nb1,p2\nb2,p2\n")
    store = Store(tmp_path / "wb.duckdb")
    load_dataset(store, [tmp_path / "edges.csv"], "d")
    db = ["--db", str(store.path)]
    for args in (["search", "--dataset", "d", "--pin", "p1"], ["index", "--dataset", "d"]):
        r = CliRunner().invoke(main, ["visual", *args, *db])
        assert r.exit_code == 2
        assert r.stderr.strip() == "error: dataset 'd' has no images", r.stderr
