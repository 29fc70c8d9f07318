"""Visual search on a stored dataset: index its pin images (the built-in descriptor or an ONNX
model), search by pin, image file or crop box with attribute filters, import vectors, evaluate an
embedding against a label, and fuse stored rankings. Searches, evaluations and fusions are runs.

Notebook example::

    from workbench.services import visual
    visual.index(store, visual.IndexRequest("shapes"))
    found = visual.search(store, visual.SearchRequest("shapes", pin="red0", k=5))
    found.results  # polars: rank, pin, score, title
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from workbench.engine.dataset import output_id
from workbench.engine.errors import NotFoundError, WorkbenchError
from workbench.engine.progress import SILENT, Reporter
from workbench.engine.runs import Run, get_run, list_runs, run_results, save_run
from workbench.engine.store import Store
from workbench.engine.visual.errors import CropError
from workbench.engine.visual.evaluation import LabelEval, evaluate_labels
from workbench.engine.visual.foreground import BACKGROUND_WEIGHT
from workbench.engine.visual.fusion import reciprocal_rank_fusion, weighted_score_fusion
from workbench.engine.visual.images import Box, check_box, image_size
from workbench.engine.visual.imports import import_embeddings
from workbench.engine.visual.pretrained import PRESETS, preset_model
from workbench.engine.visual.search import (
    NEAR_DUPLICATE,
    OBJECT_WEIGHT,
    SearchResult,
    VisualSpace,
    search_crop,
    search_image,
    search_pin,
    search_vector,
)
from workbench.engine.visual.service import (
    DatasetVersion,
    allowed_pins,
    dataset_images,
    dataset_version,
    open_dataset_space,
    pin_details,
    pin_ids,
    pin_image,
    pin_labels,
)
from workbench.engine.visual.service import embeddings as _spaces
from workbench.engine.visual.storage import BUILTIN, BuildReport, update_builtin, write_space
from workbench.services.parsing import ParseError

if TYPE_CHECKING:
    from workbench.engine.visual.onnx import OnnxSettings

__all__ = [
    "BUILTIN",
    "FUSION_METHODS",
    "MODEL_PRESETS",
    "RRF_K",
    "TOP_K",
    "Box",
    "CropError",
    "EvalRequest",
    "EvalResult",
    "FuseRequest",
    "ImportRequest",
    "IndexRequest",
    "IndexResult",
    "Ranking",
    "Run",
    "SearchRequest",
    "check_box",
    "embeddings",
    "evaluate",
    "fusable_runs",
    "fuse",
    "image_size",
    "import_vectors",
    "index",
    "parse_rgb",
    "query_image",
    "ranking_kind",
    "search",
    "shared_queries",
]

MODEL_PRESETS = tuple(PRESETS)
"""Names a model can be given by instead of an ONNX file (pretrained models shipped in a
package extra, built into an ONNX file once per store)."""
TOP_K = 10
"""Results of a search or a fusion, and the k of an evaluation, unless asked otherwise."""
FUSION_METHODS = ("rrf", "weighted")
RRF_K = 60
"""Reciprocal rank fusion's constant (Cormack et al., SIGIR 2009)."""
CONFUSED_PAIRS = 10
"""Most confused label pairs an evaluation reports."""


def parse_rgb(text: str, what: str = "colour") -> tuple[float, float, float]:
    """Three numbers ``R,G,B`` (a model's per-channel mean or std)."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != 3 or not all(math.isfinite(v) for v in values):
        raise ParseError(f"{what} {text!r}: expected three numbers R,G,B, e.g. 0.485,0.456,0.406")
    return values[0], values[1], values[2]


def _positive(value: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise WorkbenchError(f"{what} must be a whole number >= 1, got {value!r}")
    return value


# -- index ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class IndexRequest:
    """Index a dataset's images: the built-in descriptor, or with ``model`` an ONNX image model
    stored as the embedding space ``embedding`` (see :mod:`workbench.engine.visual.onnx`).
    ``model`` may name a preset (:data:`MODEL_PRESETS`, e.g. ``efficientnet-lite0``): its input
    size, mean, std and output are the defaults, and the space is named after it unless
    ``embedding`` names it."""

    dataset: str
    embedding: str = BUILTIN
    model: str | None = None
    input_size: int | None = None
    mean: tuple[float, float, float] | None = None
    std: tuple[float, float, float] | None = None
    output: str | None = None


@dataclass(frozen=True)
class IndexResult:
    """What an index or import did."""

    dataset: str
    embedding: str
    kind: str
    vectors: int
    dim: int
    extracted: int
    reused: int
    failed: list[tuple[str, str]]
    index: str | None
    recall_at_10: float | None
    missing: int
    seconds: float
    summary: str

    @classmethod
    def of(cls, dataset: str, report: BuildReport) -> IndexResult:
        return cls(
            dataset=dataset,
            embedding=report.name,
            kind=report.kind,
            vectors=report.count,
            dim=report.dim,
            extracted=report.extracted,
            reused=report.reused,
            failed=list(report.failed),
            index=report.index.kind if report.index else None,
            recall_at_10=report.index.recall_at_10 if report.index else None,
            missing=report.missing,
            seconds=report.seconds,
            summary=report.summary(),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "embedding": self.embedding,
            "kind": self.kind,
            "vectors": self.vectors,
            "dim": self.dim,
            "extracted": self.extracted,
            "reused": self.reused,
            "failed": [{"pin": p, "reason": r} for p, r in self.failed],
            "index": self.index,
            "recall@10": self.recall_at_10,
            "missing": self.missing,
            "seconds": self.seconds,
        }


def _images_or_refuse(store: Store, dataset: str) -> list[tuple[str, str]]:
    images = dataset_images(store, dataset)
    if not images:
        raise WorkbenchError(f"dataset {dataset!r} has no images")
    return images


def index(store: Store, request: IndexRequest, reporter: Reporter = SILENT) -> IndexResult:
    """Extract (new or changed images only), whiten and index the built-in descriptor; or run
    an ONNX model over every image. The model file is checked before any image is read."""
    version = dataset_version(store, request.dataset)
    if request.model is None:
        if request.embedding != BUILTIN:
            raise WorkbenchError(
                f"the {request.embedding!r} embedding needs a model file to compute it (or "
                "import its vectors); only the built-in descriptor needs none"
            )
        if any(
            v is not None for v in (request.input_size, request.mean, request.std, request.output)
        ):
            raise WorkbenchError("input size, mean, std and output apply to a model only")
        report = update_builtin(
            version.cache_dir,
            _images_or_refuse(store, request.dataset),
            reporter=reporter,
            fingerprint=version.fingerprint,
        )
        return IndexResult.of(request.dataset, report)
    return IndexResult.of(request.dataset, _index_onnx(store, version, request, reporter))


def _models_dir(store: Store) -> Path:
    """Where preset models are built, once per store: ``<store>.cache/_models/`` (no dataset
    can be called ``_models``)."""
    return store.path.parent / f"{store.path.name}.cache" / "_models"


def _model_settings(
    store: Store,
    model: str,
    input_size: int | None,
    mean: tuple[float, float, float] | None,
    std: tuple[float, float, float] | None,
    output: str | None,
) -> tuple[OnnxSettings, str | None]:
    """The model file's settings (a preset resolved to its built file and defaults; the given
    values win), and the preset's name if it is one."""
    from workbench.engine.visual.onnx import OnnxSettings

    preset = PRESETS.get(model)
    if preset is None:
        if not Path(model).expanduser().exists() and not model.lower().endswith(".onnx"):
            raise WorkbenchError(
                f"{model}: no such model file, nor a model preset ({', '.join(PRESETS)})"
            )
        return OnnxSettings(model, input_size, mean, std, output), None
    path = preset_model(preset.name, _models_dir(store))
    return (
        OnnxSettings(
            str(path),
            input_size if input_size is not None else preset.input_size,
            mean if mean is not None else preset.mean,
            std if std is not None else preset.std,
            output if output is not None else preset.output,
        ),
        preset.name,
    )


def _index_onnx(
    store: Store, version: DatasetVersion, request: IndexRequest, reporter: Reporter
) -> BuildReport:
    from workbench.engine.visual.onnx import OnnxEmbedder

    model = request.model or ""
    settings, preset = _model_settings(
        store, model, request.input_size, request.mean, request.std, request.output
    )
    embedding = preset if preset is not None and request.embedding == BUILTIN else request.embedding
    if embedding == BUILTIN:
        raise WorkbenchError(
            f"the name {BUILTIN!r} is the built-in descriptor's; name the model's embedding"
        )
    embedder = OnnxEmbedder(settings)
    images = _images_or_refuse(store, version.name)
    started = time.perf_counter()
    vectors, failed = embedder.embed_images([p for _, p in images], reporter)
    bad = {i for i, _ in failed}
    ids = [pin for i, (pin, _) in enumerate(images) if i not in bad]
    if not ids:
        raise WorkbenchError(f"none of the {len(images)} images of {version.name!r} could be read")
    reporter.check("the visual index update")
    onnx_settings = embedder.settings_json()
    if preset is not None:
        onnx_settings["preset"] = preset
    report = write_space(
        version.cache_dir,
        embedding,
        ids,
        vectors,
        source=preset or str(embedder.path),
        fingerprint=version.fingerprint,
        kind="onnx",
        extra={"onnx": onnx_settings},
    )
    report.extracted = len(ids)
    report.failed = [(images[i][0], why) for i, why in failed]
    report.seconds = time.perf_counter() - started
    return report


# -- import ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportRequest:
    """Precomputed vectors (.npy + ids file, or parquet with id and vector columns) stored as the
    embedding space ``embedding``; with ``skip_unknown`` vectors of unknown ids are dropped."""

    dataset: str
    embedding: str
    path: str
    ids_path: str | None = None
    skip_unknown: bool = False


def import_vectors(
    store: Store, request: ImportRequest, reporter: Reporter = SILENT
) -> IndexResult:
    version = dataset_version(store, request.dataset)
    reporter.check("the import")
    report = import_embeddings(
        version.cache_dir,
        request.embedding,
        request.path,
        request.ids_path,
        known_ids=pin_ids(store, request.dataset),
        on_unknown="skip" if request.skip_unknown else "error",
        fingerprint=version.fingerprint,
    )
    return IndexResult.of(request.dataset, report)


def embeddings(store: Store, dataset: str) -> list[str]:
    """Names of the embedding spaces built for the dataset's current version."""
    return [str(s["name"]) for s in _spaces(dataset_version(store, dataset))]


# -- rankings (search and fusion) -----------------------------------------------------------


@dataclass(frozen=True)
class Ranking:
    """A stored ranking (a visual search or a fusion): the run and its ranked pins."""

    run_id: int
    dataset: str
    kind: str
    algorithm: str
    params: dict[str, Any]
    query: dict[str, Any]
    elapsed_ms: float
    results: pl.DataFrame
    """rank, pin, score, title"""
    pins: pl.DataFrame
    """The ranked pins' titles, images and attributes, in rank order."""
    pin_id_type: str
    info: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "dataset": self.dataset,
            "algorithm": self.algorithm,
            "params": self.params,
            "query": self.query,
            "elapsed_ms": self.elapsed_ms,
            "info": self.info,
            "notes": self.notes,
            "results": [
                {"rank": r, "pin": output_id(p, self.pin_id_type), "score": s, "title": t}
                for r, p, s, t in self.results.select("rank", "pin", "score", "title").iter_rows()
            ],
        }


def _unchanged(store: Store, version: DatasetVersion, what: str) -> None:
    """Refuse to store a result computed while the dataset was reloaded under it."""
    if store.dataset(version.name).fingerprint != version.fingerprint:
        raise WorkbenchError(
            f"dataset {version.name!r} was reloaded during the {what}; nothing was stored"
        )


def _store_ranking(
    store: Store,
    version: DatasetVersion,
    kind: str,
    algorithm: str,
    params: dict[str, Any],
    query: dict[str, Any],
    label: str,
    ranked: tuple[Sequence[str], Sequence[float]],
    elapsed_ms: float,
    info: dict[str, Any],
    notes: list[str],
    reporter: Reporter,
) -> Ranking:
    ids, scores = [str(i) for i in ranked[0]], list(ranked[1])
    results = pl.DataFrame(
        {
            "rank": np.arange(1, len(ids) + 1, dtype=np.int32),
            "pin": ids,
            "score": np.asarray(scores, dtype=np.float64),
        },
        schema={"rank": pl.Int32, "pin": pl.String, "score": pl.Float64},
    )
    reporter.check(f"the {kind}")
    _unchanged(store, version, kind)
    run_id = save_run(
        store,
        dataset=version.name,
        kind=kind,
        algorithm=algorithm,
        params=params,
        seed=None,
        fingerprint=version.fingerprint,
        results=results.select(pl.lit(label).alias("query"), "*"),
        elapsed_ms=elapsed_ms,
        query=query,
        info={**info, "notes": notes} if notes else info,
    )
    details = pin_details(store, version.name, ids)
    titles = details["title"] if "title" in details.columns else [None] * len(ids)
    results = results.with_columns(pl.Series("title", titles, dtype=pl.String))
    return Ranking(
        run_id,
        version.name,
        kind,
        algorithm,
        params,
        query,
        elapsed_ms,
        results,
        details,
        version.info.pin_id_type,
        info,
        notes,
    )


@dataclass(frozen=True)
class SearchRequest:
    """Pins that look like a pin's image or an image file (exactly one of them), or like the
    crop box ``(x, y, w, h)`` (pixels) inside it; only pins whose attributes match ``where``."""

    dataset: str
    pin: str | None = None
    image: str | None = None
    crop: Box | None = None
    k: int = TOP_K
    embedding: str = BUILTIN
    where: Mapping[str, str] = field(default_factory=dict)
    exclude_duplicates: bool = False


def _cap(k: int, available: int, what: str, notes: list[str]) -> int:
    if k > available:
        notes.append(f"k {k:,} capped at {available:,}, the number of {what}")
        return max(1, available)
    return k


def _model_embedder(store: Store, space: VisualSpace) -> Any:
    """The model that made ``space``, with its settings (a preset's file is rebuilt if its
    cache was removed)."""
    from workbench.engine.visual.onnx import OnnxEmbedder

    s = space.meta.get("onnx") or {}
    settings, _ = _model_settings(
        store,
        str(s.get("preset") or s.get("model", "")),
        s.get("input_size"),
        tuple(s.get("mean") or ()) or None,  # type: ignore[arg-type]
        tuple(s.get("std") or ()) or None,  # type: ignore[arg-type]
        s.get("output"),
    )
    embedder = OnnxEmbedder(settings)
    if s.get("sha256") and embedder.sha256 != s["sha256"]:
        raise WorkbenchError(
            f"the model of the {space.name!r} embedding changed since its images were indexed; "
            "index them again"
        )
    return embedder


def _find(
    store: Store,
    space: VisualSpace,
    req: SearchRequest,
    k: int,
    allowed: set[str] | None,
    source: str | None,
) -> SearchResult:
    """Run the query; ``source`` is the query pin's image file (for a model's crop query)."""
    dup = NEAR_DUPLICATE if req.exclude_duplicates else None
    if req.crop is not None and space.kind == "onnx":
        # A model embeds the crop itself; it is compared with whole images (no regions).
        path = req.image if req.image is not None else source
        if path is None:
            raise WorkbenchError(f"pin {req.pin!r} has no image to crop")
        query = _model_embedder(store, space).embed_crop(path, req.crop)
        exclude = [req.pin] if req.pin is not None else []
        return search_vector(space, query, k=k, allowed=allowed, exclude=exclude)
    if req.crop is not None:
        return search_crop(
            space,
            req.crop,
            pin_id=req.pin,
            path=req.image,
            k=k,
            allowed=allowed,
            exclude_self=False,
            near_duplicate=dup,
            background=BACKGROUND_WEIGHT,
            objects=OBJECT_WEIGHT,
        )
    if req.pin is not None:
        if req.pin not in space.positions:
            space.position(req.pin)  # NotFoundError naming why (e.g. its image failed)
        return search_pin(space, req.pin, k=k, allowed=allowed, near_duplicate=dup)
    assert req.image is not None
    if space.kind == "onnx":
        query = _model_embedder(store, space).embed_image(req.image)
        return search_vector(space, query, k=k, allowed=allowed, near_duplicate=dup)
    return search_image(space, req.image, k=k, allowed=allowed, near_duplicate=dup)


def search(store: Store, request: SearchRequest, reporter: Reporter = SILENT) -> Ranking:
    """Run a visual search and store it as a ``visual`` run."""
    req = request
    if (req.pin is None) == (req.image is None):
        raise WorkbenchError("give either a pin or an image file to search with")
    _positive(req.k, "the number of results")
    version = dataset_version(store, req.dataset)
    source = None if req.pin is None else pin_image(store, req.dataset, req.pin)
    space = open_dataset_space(store, version, req.embedding)
    allowed = allowed_pins(store, req.dataset, req.where)
    notes: list[str] = []
    k = _cap(req.k, space.count, "indexed images", notes)
    reporter.check("the visual search")
    started = time.perf_counter()
    found = _find(store, space, req, k, allowed, source)
    elapsed = (time.perf_counter() - started) * 1000
    query: dict[str, Any] = {"pin": req.pin} if req.pin is not None else {"image": str(req.image)}
    if req.crop is not None:
        query["crop"] = list(req.crop)
    params = {
        "embedding": req.embedding,
        "k": req.k,
        "where": dict(req.where),
        "exclude_duplicates": req.exclude_duplicates,
    }
    if req.crop is not None and space.kind == BUILTIN:
        # How the crop's scores were made: its background's weight, and the weight of the
        # object term (best region cosine + objects x best object cosine when it shows one;
        # None: a space indexed without object proposals, scored by regions only).
        params["background"] = BACKGROUND_WEIGHT
        params["objects"] = OBJECT_WEIGHT if space.has_objects else None
    label = req.pin if req.pin is not None else Path(str(req.image)).name
    info = {"excluded_self": found.excluded_self, "excluded_duplicates": found.excluded_duplicates}
    return _store_ranking(
        store,
        version,
        "visual",
        f"visual:{req.embedding}",
        params,
        query,
        label + (" crop" if req.crop else ""),
        found.as_ranking(),
        elapsed,
        info,
        notes,
        reporter,
    )


@dataclass(frozen=True)
class FuseRequest:
    """A hybrid ranking of stored single-query rankings of one dataset (e.g. a walk and a visual
    search): reciprocal rank fusion or weighted min-max score fusion, one weight per run."""

    run_ids: tuple[int, ...]
    method: str = "rrf"
    weights: tuple[float, ...] | None = None
    k: int = TOP_K
    rrf_k: int = RRF_K


def _check_weights(weights: Sequence[float] | None, runs: int) -> list[float] | None:
    if weights is None:
        return None
    w = [float(v) for v in weights]
    if len(w) != runs:
        raise WorkbenchError(f"{len(w)} fusion weights for {runs} runs: give one per run")
    if not all(math.isfinite(v) and v >= 0 for v in w):
        raise WorkbenchError("fusion weights must be finite numbers >= 0")
    if not any(w):
        raise WorkbenchError("at least one fusion weight must be > 0")
    return w


def fuse(store: Store, request: FuseRequest, reporter: Reporter = SILENT) -> Ranking:
    """Fuse stored rankings (reciprocal rank fusion, Cormack et al., SIGIR 2009, or weighted
    min-max scores) into a ``fusion`` run."""
    req = request
    if req.method not in FUSION_METHODS:
        raise WorkbenchError(
            f"unknown fusion {req.method!r} (expected {', '.join(FUSION_METHODS)})"
        )
    if len(req.run_ids) < 2:
        raise WorkbenchError("fusion needs at least two runs")
    _positive(req.k, "the number of results")
    _positive(req.rrf_k, "the reciprocal rank constant")
    weights = _check_weights(req.weights, len(req.run_ids))
    runs = [get_run(store, r) for r in req.run_ids]
    datasets = {r.dataset for r in runs}
    if len(datasets) > 1:
        raise WorkbenchError(f"runs come from different datasets: {', '.join(sorted(datasets))}")
    version = dataset_version(store, runs[0].dataset)
    rankings = []
    for r in runs:
        reporter.check("the fusion")
        res = run_results(store, r.run_id)
        if res["query"].n_unique() > 1:
            raise WorkbenchError(f"run {r.run_id} holds several queries; fuse single rankings")
        rankings.append((res["pin"].to_list(), res["score"].to_list()))
    started = time.perf_counter()
    if req.method == "rrf":
        ids, scores = reciprocal_rank_fusion(rankings, k=req.rrf_k, weights=weights)
    else:
        ids, scores = weighted_score_fusion(rankings, weights or [1.0] * len(rankings))
    elapsed = (time.perf_counter() - started) * 1000
    params: dict[str, Any] = {
        "method": req.method,
        "runs": list(req.run_ids),
        "k": req.k,
        "weights": weights,
    }
    if req.method == "rrf":
        params["rrf_k"] = req.rrf_k
    stale = [r.run_id for r in runs if r.fingerprint != version.fingerprint]
    notes = [f"run {r} was made on an older version of the dataset" for r in stale]
    return _store_ranking(
        store,
        version,
        "fusion",
        f"fusion:{req.method}",
        params,
        {"runs": list(req.run_ids)},
        "fusion",
        ([str(i) for i in ids][: req.k], list(scores)[: req.k]),
        elapsed,
        {"sources": [r.algorithm for r in runs]},
        notes,
        reporter,
    )


# -- evaluation -----------------------------------------------------------------------------


@dataclass(frozen=True)
class EvalRequest:
    """Precision@k and mAP@k of same-label neighbours (the query excluded) over the pins that
    have a vector and a value of the attribute ``label``; ``sample`` queries drawn with
    ``seed`` (all pins are still ranked)."""

    dataset: str
    label: str
    k: int = TOP_K
    sample: int | None = None
    seed: int = 0
    embedding: str = BUILTIN


@dataclass(frozen=True)
class EvalResult:
    """A stored visual evaluation: overall metrics, per-label precision, the most confused
    label pairs (query label, neighbour label, wrong neighbours, share of the query label's
    top-k slots)."""

    run_id: int
    dataset: str
    embedding: str
    label: str
    k: int
    metrics: dict[str, float]
    queries: int
    per_label: pl.DataFrame
    """label, queries, precision@k, map@k; worst first"""
    confused: pl.DataFrame
    """label, confused_with, count, share"""
    notes: list[str]

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "dataset": self.dataset,
            "embedding": self.embedding,
            "label": self.label,
            "k": self.k,
            "metrics": self.metrics,
            "queries": self.queries,
            "per_label": self.per_label.to_dicts(),
            "confused": self.confused.to_dicts(),
            "notes": self.notes,
        }


def _tables(ev: LabelEval, k: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    per_label = pl.DataFrame(
        {
            "label": [str(v) for v in ev.labels],
            "queries": ev.label_queries.astype(np.int64),
            f"precision@{k}": ev.label_precision,
            f"map@{k}": ev.label_map,
        }
    ).filter(pl.col("queries") > 0)
    per_label = per_label.sort([f"precision@{k}", "label"])
    pairs = sorted(ev.confusions.items(), key=lambda kv: (-kv[1], kv[0]))[:CONFUSED_PAIRS]
    confused = pl.DataFrame(
        {
            "label": [str(ev.labels[a]) for (a, _), _ in pairs],
            "confused_with": [str(ev.labels[b]) for (_, b), _ in pairs],
            "count": [int(c) for _, c in pairs],
            "share": [c / (ev.label_queries[a] * k) for (a, _), c in pairs],
        },
        schema={
            "label": pl.String,
            "confused_with": pl.String,
            "count": pl.Int64,
            "share": pl.Float64,
        },
    )
    return per_label, confused


def evaluate(store: Store, request: EvalRequest, reporter: Reporter = SILENT) -> EvalResult:
    """Evaluate an embedding space against a pin attribute; stored as an ``eval`` run
    (algorithm ``visual:<embedding>``, protocol ``visual-label``, per-label precision as its
    per-board metrics)."""
    req = request
    _positive(req.k, "k")
    if req.sample is not None:
        _positive(req.sample, "the number of sampled queries")
    version = dataset_version(store, req.dataset)
    labels = pin_labels(store, req.dataset, req.label)
    space = open_dataset_space(store, version, req.embedding)
    rows = [i for i, p in enumerate(space.ids) if str(p) in labels]
    if len(rows) < 2:
        raise WorkbenchError(f"fewer than two pins have both a vector and a {req.label!r} value")
    notes: list[str] = []
    k = _cap(req.k, len(rows) - 1, "candidates (pins with a vector and a label, less one)", notes)
    vectors = np.asarray(space.vectors[rows], dtype=np.float32)
    values = [labels[str(space.ids[i])] for i in rows]
    started = time.perf_counter()
    ev = evaluate_labels(vectors, values, k=k, sample=req.sample, seed=req.seed, reporter=reporter)
    elapsed = (time.perf_counter() - started) * 1000
    metrics = {f"precision@{k}": ev.precision, f"map@{k}": ev.map}
    per_label, confused = _tables(ev, k)
    reporter.check("the visual evaluation")
    _unchanged(store, version, "visual evaluation")
    board_metrics = pl.DataFrame(
        {
            "board": per_label["label"].to_list() * 2,
            "metric": [f"precision@{k}"] * per_label.height + [f"map@{k}"] * per_label.height,
            "value": per_label[f"precision@{k}"].to_list() + per_label[f"map@{k}"].to_list(),
        },
        schema={"board": pl.String, "metric": pl.String, "value": pl.Float64},
    )
    run_id = save_run(
        store,
        dataset=req.dataset,
        kind="eval",
        algorithm=f"visual:{req.embedding}",
        params={
            "protocol": "visual-label",
            "label": req.label,
            "k": k,
            "sample": req.sample,
            "embedding": req.embedding,
        },
        seed=req.seed,
        fingerprint=version.fingerprint,
        board_metrics=board_metrics,
        elapsed_ms=elapsed,
        metrics={**metrics, "queries": ev.queries},
        info={"confused": confused.to_dicts(), "notes": notes},
    )
    return EvalResult(
        run_id,
        req.dataset,
        req.embedding,
        req.label,
        k,
        metrics,
        ev.queries,
        per_label,
        confused,
        notes,
    )


# -- what the faces show around a search ----------------------------------------------------


def query_image(store: Store, dataset: str, pin: str) -> str:
    """The image file of ``pin`` (to show the query and draw a crop box on it)."""
    path = pin_image(store, dataset, pin)
    if path is None:
        raise WorkbenchError(f"pin {pin!r} has no image")
    return path


def fusable_runs(store: Store, dataset: str, limit: int = 200) -> list[Run]:
    """The newest recommend runs of the dataset (the walk rankings a visual one fuses with)."""
    return list_runs(store, dataset=dataset, kind="recommend", limit=limit)


def shared_queries(store: Store, run_ids: Sequence[int]) -> list[list[str]]:
    """The queries each run ranks (Compare pairs two rankings by query)."""
    return [run_results(store, r)["query"].unique().sort().to_list() for r in run_ids]


def ranking_kind(store: Store, run_id: int) -> str:
    """``visual``, ``fusion``, ``recommend``...: what made the run."""
    try:
        return get_run(store, run_id).kind
    except NotFoundError:
        return ""
