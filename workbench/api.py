"""The notebook API: every use case with keyword arguments, results as polars frames or typed
results, original pin and board ids only. It calls the same services as the CLI and the TUI::

    import workbench as wb
    with wb.open_store("workbench.duckdb") as store:     # hold the store for a cell or a script
        r = wb.recommend(store, "sample", pins=["p00042"], k=5)
        r.results                                          # polars: rank, pin, score, title
        wb.explain(store, r.run_id, r.results["pin"][0]).by_query_pin

Defaults are the services' (``k`` 10, pixie, seed 0, 99 negatives, ...), defined there once.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.services import compare as _compare
from workbench.services import datasets as _datasets
from workbench.services import evaluate as _evaluate
from workbench.services import explain as _explain
from workbench.services import explore as _explore
from workbench.services import export as _export
from workbench.services import recommend as _recommend
from workbench.services import runs as _runs
from workbench.services import sweep as _sweep
from workbench.services import visual as _visual
from workbench.services.parsing import parse_crop, parse_pin_specs

if TYPE_CHECKING:
    import polars as pl

    from workbench.engine.store import Store

__all__ = [
    "batch",
    "boards",
    "compare",
    "datasets",
    "edges",
    "evaluate",
    "explain",
    "export",
    "info",
    "load",
    "open_store",
    "pins",
    "recommend",
    "run",
    "run_results",
    "runs",
    "search",
    "sweep",
    "visual_index",
    "visual_search",
]

_EVAL = _evaluate.EvalRequest("", "")
_SEARCH = _visual.SearchRequest("")
_EXPORT = _export.ExportRequest(0)
_COMPARE = _compare.CompareRequest(())
_EXPLAIN = _explain.ExplainRequest(0, "")


def open_store(path: str | os.PathLike[str] = "workbench.duckdb", *, create: bool = True) -> Store:
    """A store file; use it as ``with wb.open_store(p) as store:`` to hold it open for a block
    (each call then costs no open of the file), or plainly (each call opens and closes it, so the
    CLI can write beside you). A missing file is created empty (``create=False``: refused).

    >>> store = wb.open_store("workbench.duckdb")
    """
    return _datasets.open_store(path, create=create, sample=False).store


def load(store: Store, paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
         name: str, *, format: str = "auto", images: str | None = None,
         replace: bool = False) -> Any:  # fmt: skip
    """Load files or directories as dataset ``name`` in one transaction (README: formats).

    >>> wb.load(store, "../shared/data/pinterest-20", "pinterest-20", format="ncf")
    """
    given = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    request = _datasets.LoadRequest(tuple(str(p) for p in given), name, format=format,
                                    images=images, replace=replace)  # fmt: skip
    return _datasets.load(store, request)


def datasets(store: Store) -> pl.DataFrame:
    """The stored datasets, one row each: counts, badges and fingerprint.

    >>> wb.datasets(store).select("name", "pins", "edges")
    """
    import polars as pl

    return pl.DataFrame(_datasets.datasets_json(_datasets.list_datasets(store)))


def info(store: Store, dataset: str) -> Any:
    """Counts, degree distributions, attributes and split of a dataset (``.to_json()`` for a
    dict).

    >>> wb.info(store, "sample").pins
    """
    return _datasets.info(store, dataset)


def pins(store: Store, dataset: str) -> pl.DataFrame:
    """All pins: id, title, description, image path and attribute columns.

    >>> wb.pins(store, "sample").head()
    """
    return _datasets.table(store, dataset, "pins")


def boards(store: Store, dataset: str) -> pl.DataFrame:
    """All boards: id, name and attribute columns.

    >>> wb.boards(store, "sample").head()
    """
    return _datasets.table(store, dataset, "boards")


def edges(store: Store, dataset: str) -> pl.DataFrame:
    """The board-pin edges with original ids, weight and timestamp.

    >>> wb.edges(store, "sample").group_by("board").len()
    """
    return _datasets.table(store, dataset, "edges")


def search(store: Store, dataset: str, text: str) -> pl.DataFrame:
    """Pins and boards whose id or title contains ``text`` (bounded).

    >>> wb.search(store, "sample", "p0004")
    """
    import polars as pl

    hits = _explore.search(store, dataset, text)
    schema = {"kind": pl.String, "id": pl.String, "title": pl.String}
    return pl.DataFrame([h._asdict() for h in hits], schema=schema)


def _query_pins(pins: Sequence[str | int] | Mapping[str | int, float] | str | None
                ) -> tuple[tuple[str, ...], tuple[float, ...] | None]:  # fmt: skip
    if pins is None:
        return (), None
    if isinstance(pins, Mapping):
        return tuple(str(p) for p in pins), tuple(float(w) for w in pins.values())
    specs = pins if isinstance(pins, str) else [str(p) for p in pins]
    ids, weights = parse_pin_specs(specs)
    return tuple(ids), tuple(weights)


def recommend(store: Store, dataset: str, *,
              pins: Sequence[str | int] | Mapping[str | int, float] | str | None = None,
              board: str | int | None = None, algo: str = _recommend.DEFAULT_ALGORITHM,
              params: Mapping[str, Any] | None = None, k: int = _recommend.DEFAULT_K,
              seed: int = 0, board_weighting: str = "equal") -> Any:  # fmt: skip
    """Rank pins for query ``pins`` (ids, ``"ID:WEIGHT"`` strings, or ``{id: weight}``) or for
    the pins of ``board``, and store the run. The result has ``run_id``, ``algorithm``,
    ``params``, ``steps``, ``elapsed_ms`` (the algorithm's own time) and ``results`` (polars:
    ``rank``, ``pin``, ``score``, ``title``).

    >>> wb.recommend(store, "sample", pins=["p00042"], algo="rp3beta", k=5).results
    """
    ids, weights = _query_pins(pins)
    request = _recommend.RecommendRequest(
        dataset, pins=ids, weights=weights, board=None if board is None else str(board),
        board_weighting=board_weighting, algo=algo, params=dict(params or {}), k=k, seed=seed,
    )  # fmt: skip
    return _recommend.recommend(store, request)


def evaluate(store: Store, dataset: str, algo: str, params: Mapping[str, Any] | None = None, *,
             protocol: str = _EVAL.protocol, split: str = _EVAL.split,
             k: Sequence[int] = _EVAL.ks, seed: int = _EVAL.seed,
             split_seed: int = _EVAL.split_seed, repeats: int = _EVAL.repeats,
             negatives: int = _EVAL.negatives,
             boards: int | None = _EVAL.boards) -> Any:  # fmt: skip
    """Evaluate ``algo`` on held-out pins and store the run. The result has ``run_id``,
    ``metrics`` (keyed like the CLI's JSON: ``"hr@10"``, ``"ndcg@10"``; means over
    ``repeats`` seeds), ``ci95`` and ``per_board`` (polars). Catalogue metrics (coverage, Gini,
    ...) only under ``protocol="full"``.

    >>> wb.evaluate(store, "sample", "rp3beta", k=(10,)).metrics["hr@10"]
    """
    request = _evaluate.EvalRequest(
        dataset, algo, {key: str(v) for key, v in (params or {}).items()}, protocol=protocol,
        split=split, ks=tuple(k), seed=seed, split_seed=split_seed, repeats=repeats,
        negatives=negatives, boards=boards,
    )  # fmt: skip
    return _evaluate.run(store, request)


def compare(store: Store, run_ids: Sequence[int], *, k: int = _COMPARE.k) -> Any:
    """Compare runs with the first: rankings by overlap, RBO, Kendall tau and rank shifts;
    evaluations by metric deltas with paired tests and 95% intervals (refused when they differ
    in dataset, split, split seed, protocol or negatives). ``.to_json()`` gives a dict.

    >>> wb.compare(store, [12, 14]).to_json()
    """
    return _compare.run(store, _compare.CompareRequest(tuple(int(r) for r in run_ids), k=k))


def explain(store: Store, run_id: int, pin: str | int, *, top: int = _EXPLAIN.top,
            board: str | int | None = None) -> Any:  # fmt: skip
    """Why ``pin`` is in run ``run_id``: the visits (or exact contributions) per query pin and
    per board, with shares that sum to 1, the pin's degree and popularity rank (``board``: the
    board whose list holds the pin, for a batch run).

    >>> e = wb.explain(store, 12, "p00042"); e.by_query_pin, e.via_boards
    """
    request = _explain.ExplainRequest(
        int(run_id), str(pin), top=top, board=None if board is None else str(board)
    )
    return _explain.explain(store, request)


def visual_search(store: Store, dataset: str, *, pin: str | int | None = None,
                  image: str | os.PathLike[str] | None = None,
                  crop: tuple[int, int, int, int] | str | None = None, k: int = _SEARCH.k,
                  embedding: str = _SEARCH.embedding,
                  where: Mapping[str, str] | None = None) -> Any:  # fmt: skip
    """Pins that look like ``pin``'s image or an ``image`` file, or like the ``crop`` box
    ``(x, y, w, h)`` (or ``"x,y,w,h"``) inside it; stored as a run. ``results`` is polars.

    >>> wb.visual_search(store, "sample", pin="p00042", crop=(10, 10, 40, 40)).results
    """
    box = parse_crop(crop) if isinstance(crop, str) else crop
    request = _visual.SearchRequest(
        dataset, pin=None if pin is None else str(pin), image=None if image is None else str(image),
        crop=box, k=k, embedding=embedding, where=dict(where or {}),
    )  # fmt: skip
    return _visual.search(store, request)


def visual_index(store: Store, dataset: str, **options: Any) -> Any:
    """Extract image descriptors (or run an ONNX model: ``embedding=``, ``model=``) and build
    the search indexes; keyword options as ``workbench visual index`` takes them.

    >>> wb.visual_index(store, "sample")
    """
    return _visual.index(store, _visual.IndexRequest(dataset, **options))


def export(store: Store, run_id: int, *, format: str = _EXPORT.format,
           out: str | os.PathLike[str] | None = None, force: bool = False) -> Path:  # fmt: skip
    """Write run ``run_id``'s ranked pins (csv, parquet, jsonl, trec or a PNG sheet) with a
    provenance sidecar, atomically; returns the written path.

    >>> wb.export(store, 12, format="parquet", out="exports/")
    """
    target = None if out is None else str(out)
    request = _export.ExportRequest(int(run_id), format=format, out=target, overwrite=force)
    return _export.export(store, request).path


def sweep(store: Store, dataset: str, algo: str, grid: Mapping[str, Sequence[Any]], *,
          params: Mapping[str, Any] | None = None, metric: str | None = None,
          best_to_test: bool = False, **how: Any) -> Any:  # fmt: skip
    """Evaluate every setting of ``grid`` (``{"alpha": [0.5, 0.9]}``) on the validation split,
    storing each trial; ``best_to_test`` evaluates the best setting once on test. ``how`` takes
    evaluate's keywords (``protocol``, ``k``, ``negatives``, ...).

    >>> wb.sweep(store, "sample", "rp3beta", {"beta": [0.3, 0.6]}).best
    """
    if "k" in how:
        how["ks"] = tuple(how.pop("k"))
    evaluation = _evaluate.EvalRequest(
        dataset, algo, {key: str(v) for key, v in (params or {}).items()}, **how
    )
    request = _sweep.SweepRequest(
        evaluation, {key: [str(v) for v in values] for key, values in grid.items()},
        best_to_test=best_to_test, plot=False,
        **({"metric": metric} if metric is not None else {}),
    )  # fmt: skip
    return _sweep.run(store, request)


def batch(store: Store, dataset: str, out: str | os.PathLike[str], **options: Any) -> Any:
    """Top-k pins for every board (or ``boards=FILE``) streamed to the parquet file ``out`` with
    a provenance sidecar; options as ``workbench batch`` takes them (``algo``, ``params``, ``k``,
    ``executor="ray"``, ...).

    >>> wb.batch(store, "sample", "exports/sample-top10.parquet", algo="rp3beta")
    """
    from workbench.services import batch as _batch

    return _batch.batch(store, _batch.BatchRequest(dataset, str(out), **options))


def runs(store: Store, dataset: str | None = None, kind: str | None = None,
         text: str = "") -> pl.DataFrame:  # fmt: skip
    """Stored runs, newest first, one row each (params and metrics as JSON text); ``text``
    filters like the TUI (``"alpha=0.5 pixie"``).

    >>> wb.runs(store, "sample", kind="eval")
    """
    import json

    import polars as pl

    found = _runs.find_runs(store, _runs.RunFilter(dataset, kind, text, limit=None))
    rows = [
        {**{k: v for k, v in r.to_json().items() if k not in ("params", "metrics", "query",
                                                            "info")},
         "params": json.dumps(r.params), "metrics": json.dumps(r.metrics)}
        for r in found
    ]  # fmt: skip
    return pl.DataFrame(rows)


def run(store: Store, run_id: int) -> Any:
    """One stored run: params, seed, fingerprint, metrics, query and provenance.

    >>> wb.run(store, 12).params
    """
    return _runs.show_run(store, int(run_id))


def run_results(store: Store, run_id: int, *, offset: int = 0,
                limit: int | None = None) -> pl.DataFrame:  # fmt: skip
    """A run's ranked rows (query, rank, pin, score); all of them unless ``limit``.

    >>> wb.run_results(store, 12, limit=100)
    """
    import polars as pl

    pages: list[pl.DataFrame] = []
    step = _runs.PAGE_SIZE * 100 if limit is None else limit
    while True:
        page = _runs.run_results(store, int(run_id), offset=offset, limit=step)
        pages.append(page.rows)
        offset += page.rows.height
        if limit is not None or page.rows.height < step:
            break
    return pl.concat(pages) if pages else pl.DataFrame()
