"""ONNX image embeddings, end to end on models built here with onnx's helper API: index through
the CLI, search (by pin and by image file) and evaluate the named space; bad model files are
refused in one line before any image is read; progress and cancel."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image, ImageDraw

pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402

from workbench.cli import main  # noqa: E402
from workbench.engine.errors import Cancelled, WorkbenchError  # noqa: E402
from workbench.engine.ingest import load_dataset  # noqa: E402
from workbench.engine.progress import Reporter  # noqa: E402
from workbench.engine.store import Store  # noqa: E402
from workbench.services import visual  # noqa: E402

COLOURS = {"red": (220, 30, 30), "green": (30, 180, 60), "blue": (30, 60, 220)}


def mean_colour_model(path: Path, size: int | str = 16, nhwc: bool = False) -> Path:
    """[N, 3, H, W] -> GlobalAveragePool -> Flatten -> [N, 3] (the mean colour, normalised)."""
    dims = ["N", size, size, 3] if nhwc else ["N", 3, size, size]
    x = helper.make_tensor_value_info("pixels", TensorProto.FLOAT, dims)
    y = helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", 3])
    nodes = []
    src = "pixels"
    if nhwc:
        nodes.append(helper.make_node("Transpose", ["pixels"], ["nchw"], perm=[0, 3, 1, 2]))
        src = "nchw"
    nodes += [
        helper.make_node("GlobalAveragePool", [src], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["flat"]),
        # +3 keeps the normalised channel means positive, so cosine compares hues
        helper.make_node("Add", ["flat", "three"], ["embedding"]),
    ]
    three = helper.make_tensor("three", TensorProto.FLOAT, [1], [3.0])
    graph = helper.make_graph(nodes, "mean_colour", [x], [y], initializer=[three])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


@pytest.fixture
def shapes(tmp_path: Path) -> Store:
    img = tmp_path / "img"
    img.mkdir()
    rows = ["pin,image,colour"]
    rng = np.random.default_rng(0)
    for c, rgb in COLOURS.items():
        for i in range(4):
            im = Image.new("RGB", (40, 30), "white")
            x, y = rng.integers(0, 8, 2)
            ImageDraw.Draw(im).rectangle([x, y, x + 30, y + 24], fill=rgb)
            im.save(img / f"{c}{i}.png")
            rows.append(f"{c}{i},img/{c}{i}.png,{c}")
    (tmp_path / "pins.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "edges.csv").write_text("board,pin\nb1,red0\nb1,red1\nb2,blue0\n")
    store = Store(tmp_path / "wb.duckdb")
    load_dataset(store, [tmp_path / "pins.csv", tmp_path / "edges.csv"], "shapes")
    return store


def test_index_search_eval_through_the_cli(shapes: Store, tmp_path: Path) -> None:
    model = mean_colour_model(tmp_path / "m.onnx")
    db = ["--db", str(shapes.path)]
    r = CliRunner().invoke(
        main,
        ["visual", "index", "--dataset", "shapes", "--embedding", "colour", "--model", str(model),
         "--mean", "0.5,0.5,0.5", "--std", "0.25,0.25,0.25", "--json", *db],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert (out["kind"], out["vectors"], out["dim"]) == ("onnx", 12, 3)
    assert visual.embeddings(shapes, "shapes") == ["colour"]
    r = CliRunner().invoke(
        main,
        ["visual", "search", "--dataset", "shapes", "--pin", "red0", "--embedding", "colour",
         "--top", "3", "--json", *db],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert {x["pin"] for x in json.loads(r.stdout)["results"]} == {"red1", "red2", "red3"}
    # An image file is embedded by the same model.
    probe = tmp_path / "probe.png"
    Image.new("RGB", (20, 20), (40, 190, 70)).save(probe)
    found = visual.search(
        shapes, visual.SearchRequest("shapes", image=str(probe), k=4, embedding="colour")
    )
    assert set(found.results["pin"]) == {f"green{i}" for i in range(4)}
    # A crop is embedded by the model too and compared with whole images: a crop of a red
    # pin's rectangle finds the red pins (the source pin itself left out).
    crop = visual.search(
        shapes,
        visual.SearchRequest("shapes", pin="red0", crop=(8, 8, 20, 16), k=3, embedding="colour"),
    )
    assert set(crop.results["pin"]) == {"red1", "red2", "red3"}
    ev = visual.evaluate(shapes, visual.EvalRequest("shapes", "colour", k=3, embedding="colour"))
    assert ev.metrics["precision@3"] == 1.0 and ev.queries == 12


def test_nhwc_models_and_the_input_size(shapes: Store, tmp_path: Path) -> None:
    model = mean_colour_model(tmp_path / "hwc.onnx", size="S", nhwc=True)
    result = visual.index(shapes, visual.IndexRequest("shapes", "hwc", str(model), input_size=24))
    assert result.vectors == 12 and result.dim == 3
    fixed = mean_colour_model(tmp_path / "fixed.onnx", size=16)
    with pytest.raises(WorkbenchError, match=r"takes \[N, 3, 16, 16\] images, not 32x32"):
        visual.index(shapes, visual.IndexRequest("shapes", "x", str(fixed), input_size=32))


def _wrong_rank(path: Path) -> Path:
    x = helper.make_tensor_value_info("v", TensorProto.FLOAT, ["N", 3])
    y = helper.make_tensor_value_info("out", TensorProto.FLOAT, ["N", 3])
    graph = helper.make_graph([helper.make_node("Identity", ["v"], ["out"])], "g", [x], [y])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    return path


def _integer_output(path: Path) -> Path:
    x = helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["N", 3, 8, 8])
    y = helper.make_tensor_value_info("cls", TensorProto.INT64, ["N", 1, 8, 8])
    node = helper.make_node("ArgMax", ["pixels"], ["cls"], axis=1)
    graph = helper.make_graph([node], "g", [x], [y])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    return path


def test_bad_models_are_refused_in_one_line_before_any_work(shapes: Store, tmp_path: Path) -> None:
    good = mean_colour_model(tmp_path / "good.onnx")
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    text = tmp_path / "notes.onnx"
    text.write_text("not a model\n")
    cases = {
        str(tmp_path / "missing.onnx"): "no such model file",
        str(truncated): "not a usable ONNX model",
        str(text): "not a usable ONNX model",
        str(_wrong_rank(tmp_path / "rank.onnx")): "has rank 2",
        str(_integer_output(tmp_path / "int.onnx")): "no float output",
        str(tmp_path): "not a regular file",
    }
    db = ["--db", str(shapes.path)]
    for model, message in cases.items():
        r = CliRunner().invoke(
            main,
            ["visual", "index", "--dataset", "shapes", "--embedding", "e", "--model", model, *db],
        )
        assert r.exit_code == 2, (model, r.output)
        assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert visual.embeddings(shapes, "shapes") == []
    r = CliRunner().invoke(
        main,
        ["visual", "index", "--dataset", "shapes", "--embedding", "e", "--model", str(good),
         "--mean", "1,2", *db],
    )  # fmt: skip
    assert r.exit_code == 2 and "--mean '1,2': expected three numbers" in r.stderr


def test_progress_and_cancel(shapes: Store, tmp_path: Path) -> None:
    model = str(mean_colour_model(tmp_path / "m.onnx"))
    seen: list[tuple[float, float | None]] = []
    visual.index(
        shapes,
        visual.IndexRequest("shapes", "c", model),
        Reporter(on_progress=lambda d, t, _s: seen.append((d, t))),
    )
    assert seen[0] == (0, 12) and seen[-1] == (12, 12)
    with pytest.raises(Cancelled):
        visual.index(
            shapes,
            visual.IndexRequest("shapes", "other", model),
            Reporter(is_cancelled=lambda: True),
        )
    assert visual.embeddings(shapes, "shapes") == ["c"]


def test_a_model_changed_since_indexing_is_refused_for_new_queries(
    shapes: Store, tmp_path: Path
) -> None:
    model = mean_colour_model(tmp_path / "m.onnx")
    visual.index(shapes, visual.IndexRequest("shapes", "colour", str(model)))
    probe = tmp_path / "probe.png"
    Image.new("RGB", (20, 20), (40, 190, 70)).save(probe)
    query = visual.SearchRequest("shapes", image=str(probe), k=2, embedding="colour")
    assert len(visual.search(shapes, query).results) == 2
    changed = onnx.load(model)
    changed.doc_string = "another model at the same path"
    onnx.save(changed, model)
    with pytest.raises(WorkbenchError, match="changed since its images were indexed"):
        visual.search(shapes, query)
    # a pin query needs no model: the stored vectors still answer it
    by_pin = visual.SearchRequest("shapes", pin="red0", k=2, embedding="colour")
    assert len(visual.search(shapes, by_pin).results) == 2
