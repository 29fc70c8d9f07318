"""The history of runs: list and filter, show, rename, delete, and read results a page at a time
(an evaluation can hold 750,000 ranked rows; no face ever loads them all).
"""

from __future__ import annotations

import json
import math
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench.engine.errors import NotFoundError, WorkbenchError
from workbench.engine.progress import SILENT, Reporter
from workbench.engine.runs import RUN_KINDS, Run, get_run, list_runs
from workbench.engine.runs import delete_run as _delete_run
from workbench.engine.runs import rename_run as _rename_run
from workbench.engine.runs import results_page as _results_page
from workbench.services.recommend import format_steps

if TYPE_CHECKING:
    import polars as pl

    from workbench.engine.store import Store
    from workbench.services.evaluate import EvalRequest
    from workbench.services.recommend import RecommendRequest

__all__ = [
    "DEFAULT_LIMIT",
    "PAGE_SIZE",
    "RUN_KINDS",
    "ResultsPage",
    "Run",
    "RunFilter",
    "cli_command",
    "delete_runs",
    "describe_run",
    "find_runs",
    "format_steps",
    "key_params",
    "main_metric",
    "query_summary",
    "rename_run",
    "rerun_request",
    "run_results",
    "show_run",
]

DEFAULT_LIMIT = 50
"""Runs listed when the caller does not say."""
PAGE_SIZE = 100
"""Ranked rows per page of results."""


@dataclass(frozen=True)
class RunFilter:
    """Which runs to list: by dataset and kind, and ``text``: words that must all appear in the
    run's name, algorithm or parameters, or ``key=value`` pairs its parameters must have
    (``alpha=0.5 pixie``)."""

    dataset: str | None = None
    kind: str | None = None
    text: str = ""
    limit: int | None = DEFAULT_LIMIT


def _param_matches(params: dict[str, Any], key: str, value: str) -> bool:
    if key not in params:
        return False
    have = params[key]
    if isinstance(have, bool) or not isinstance(have, int | float):
        return str(have).lower() == value.lower()
    try:
        return math.isclose(float(have), float(value), rel_tol=1e-9, abs_tol=1e-12)
    except ValueError:
        return False


def _matches(run: Run, words: Sequence[str]) -> bool:
    text = f"{run.name or ''} {run.algorithm} {json.dumps(run.params)}".lower()
    for word in words:
        key, sep, value = word.partition("=")
        if sep and key:
            if not _param_matches(run.params, key, value):
                return False
        elif word.lower() not in text:
            return False
    return True


def find_runs(store: Store, query: RunFilter = RunFilter()) -> list[Run]:
    """Runs matching ``query``, newest first (the text filter looks at up to ``limit`` runs
    after the dataset and kind filters)."""
    runs = list_runs(store, dataset=query.dataset, kind=query.kind, limit=query.limit)
    words = query.text.split()
    return [r for r in runs if _matches(r, words)] if words else runs


def show_run(store: Store, run_id: int) -> Run:
    """One run's provenance, metrics and notes (not its results: see :func:`run_results`)."""
    return get_run(store, run_id)


def rename_run(store: Store, run_id: int, name: str | None) -> Run:
    """Give a run a name (empty or None clears it); returns the renamed run."""
    _rename_run(store, run_id, name or None)
    return get_run(store, run_id)


def delete_runs(store: Store, run_ids: Sequence[int], reporter: Reporter = SILENT) -> list[int]:
    """Delete runs and their results; all are checked to exist before any is deleted."""
    with store.transaction():
        for run_id in run_ids:
            get_run(store, run_id)
        for i, run_id in enumerate(run_ids):
            reporter.progress(i, len(run_ids), f"run {run_id}")
            _delete_run(store, run_id)
    return list(run_ids)


@dataclass(frozen=True)
class ResultsPage:
    """Rows ``offset .. offset + rows.height`` of a run's ranked lists (query, rank, pin, score,
    title) and how many there are in all."""

    run_id: int
    offset: int
    total: int
    rows: pl.DataFrame

    @property
    def more(self) -> bool:
        return self.offset + self.rows.height < self.total


def run_results(store: Store, run_id: int, offset: int = 0, limit: int = PAGE_SIZE) -> ResultsPage:
    """One page of run ``run_id``'s ranked rows, with titles while its dataset is in the store."""
    run = get_run(store, run_id)
    try:
        store.dataset(run.dataset)
        dataset: str | None = run.dataset
    except NotFoundError:
        dataset = None
    rows, total = _results_page(store, run_id, max(0, offset), max(0, limit), dataset)
    return ResultsPage(run_id, max(0, offset), total, rows)


# -- how a run reads ------------------------------------------------------------------------------


LINE_WIDTH = 88
"""Where a run's parameters and metrics wrap onto the next line."""


def _value(value: Any, measured: bool = False) -> str:
    """A value as a run's lines show it: measured floats to 4 decimals, settings as given."""
    if isinstance(value, bool) or value is None:
        return str(value).lower()
    if isinstance(value, float):
        if abs(value) >= 1e5:
            return f"{value:,.0f}"
        return f"{value:.4f}" if measured else f"{value:g}"
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    if isinstance(value, list):
        if len(value) <= 6 and all(not isinstance(v, dict | list) for v in value):
            return ", ".join(_value(v) for v in value)
        return f"{len(value)} values"
    if isinstance(value, dict):
        if len(value) <= 4 and all(not isinstance(v, dict | list) for v in value.values()):
            return " ".join(f"{k}={_value(v)}" for k, v in value.items())
        return f"{len(value)} entries"
    return str(value)


def _wrapped(label: str, parts: list[str]) -> list[tuple[str, str]]:
    """``parts`` joined by two spaces onto lines of at most :data:`LINE_WIDTH` characters."""
    lines: list[tuple[str, str]] = []
    current = ""
    for part in parts:
        if current and len(current) + 2 + len(part) > LINE_WIDTH:
            lines.append(("" if lines else label, current))
            current = part
        else:
            current = f"{current}  {part}" if current else part
    if current:
        lines.append(("" if lines else label, current))
    return lines


def describe_run(run: Run) -> list[tuple[str, str]]:
    """A run as ``(label, text)`` lines that every face shows the same way: what ran, on what,
    with which parameters, what it measured. Long or nested values are summarised (the JSON
    form has them in full)."""
    elapsed = f"{run.elapsed_ms:,.1f} ms" if run.elapsed_ms is not None else "–"
    lines = [
        ("run", f"{run.run_id}" + (f"  {run.name!r}" if run.name else "")),
        ("what", f"{run.kind} · {run.algorithm} on {run.dataset} · {run.status}"),
        ("created", f"{run.created_at:%Y-%m-%d %H:%M:%S}"),
        ("timing", f"{elapsed} · steps {format_steps(run.steps)} · seed {_value(run.seed)}"),
    ]
    lines += _wrapped("params", [f"{k}={_value(v)}" for k, v in run.params.items()])
    for key, value in run.query.items():
        lines.append((f"query {key}", _value(value)))
    scalars = [(k, v) for k, v in run.metrics.items() if not isinstance(v, dict | list)]
    lines += _wrapped("metrics", [f"{k} {_value(v, measured=True)}" for k, v in scalars])
    for key, value in run.metrics.items():
        if isinstance(value, dict | list):
            lines.append((key, _value(value, measured=True)))
    for key, value in run.info.items():
        lines.append((f"info {key}", _value(value, measured=True)))
    lines.append(("data", f"fingerprint {run.fingerprint[:12]}"))
    return lines


# -- a run as a row of a list, as a command, and again --------------------------------------------

MAIN_METRICS = ("ndcg", "hr", "precision", "recall", "map", "mrr")
"""The metric a list of runs shows: the first of these a run measured, at 10 or its smallest k."""

_AT_K = re.compile(r"^([a-z0-9_]+)@(\d+)$")
_HOLDOUT = re.compile(r"^(\w+) holdout, (?:(\d+) per board|([0-9.e-]+) of each board), seed \d+$")


def main_metric(run: Run) -> str:
    """``name@k value`` of the run's headline metric (NDCG@10 where measured), else ""."""
    at: dict[str, dict[int, float]] = {}
    for key, value in run.metrics.items():
        m = _AT_K.match(key)
        if m and isinstance(value, int | float) and not isinstance(value, bool):
            at.setdefault(m.group(1), {})[int(m.group(2))] = float(value)
    for name in MAIN_METRICS:
        if name in at:
            k = 10 if 10 in at[name] else min(at[name])
            return f"{name}@{k} {at[name][k]:.4f}"
    return ""


def query_summary(run: Run) -> str:
    """What a run asked, in one short line: its pins (``id`` or ``id:weight``), its board, the
    image or crop of a visual query, or an evaluation's protocol and split."""
    query = run.query
    if "pins" in query:
        weights = query.get("weights") or [1.0] * len(query["pins"])
        return " ".join(
            str(p) if float(w) == 1.0 else f"{p}:{float(w):g}"
            for p, w in zip(query["pins"], weights, strict=False)
        )
    if "board" in query:
        weighting = query.get("weighting", "equal")
        return f"board {query['board']}" + ("" if weighting == "equal" else f" ({weighting})")
    if run.kind == "eval" and "protocol" in run.info:
        return f"{run.info['protocol']} · {run.info.get('split', '')}".strip(" ·")
    parts = [f"{k} {_value(v)}" for k, v in query.items() if not isinstance(v, dict | list)]
    return " · ".join(parts)


def _defaults(algorithm: str) -> dict[str, Any]:
    from workbench.engine.recommenders import ALGORITHMS, param_fields

    if algorithm not in ALGORITHMS:
        return {}
    return {f.name: f.default for f in param_fields(algorithm)}


def key_params(run: Run) -> str:
    """The run's parameters that differ from its algorithm's defaults, ``key=value`` each (all
    of them for algorithms outside the registry, e.g. visual runs)."""
    defaults = _defaults(run.algorithm)
    return " ".join(
        f"{k}={_value(v)}"
        for k, v in run.params.items()
        if not isinstance(v, dict | list) and (k not in defaults or defaults[k] != v)
    )


def _param_text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def rerun_request(run: Run) -> RecommendRequest | EvalRequest:
    """The request that repeats ``run`` with its settings (same parameters, seeds, query or
    protocol). Recommendations and evaluations can be repeated; other kinds are refused in one
    line, as is an evaluation whose hold-out the stored run does not fully describe."""
    from workbench.services.evaluate import EvalRequest
    from workbench.services.recommend import DEFAULT_K, RecommendRequest

    params = {k: _param_text(v) for k, v in run.params.items() if k in _defaults(run.algorithm)}
    if run.kind == "recommend":
        query = run.query
        weights = query.get("weights")
        return RecommendRequest(
            dataset=run.dataset,
            pins=tuple(str(p) for p in query.get("pins", ())),
            weights=(
                tuple(float(w) for w in weights)
                if weights and any(float(w) != 1.0 for w in weights)
                else None
            ),
            board=None if query.get("board") is None else str(query["board"]),
            board_weighting=str(query.get("weighting", "equal")),
            algo=run.algorithm,
            params=params,
            k=int(run.info.get("k", DEFAULT_K)),
            seed=int(run.seed or 0),
        )
    if run.kind == "eval" and "protocol" in run.info and run.algorithm in _algorithms():
        info = run.info
        holdout = _HOLDOUT.match(str(info.get("holdout", "")))
        if holdout is None:
            raise WorkbenchError(
                f"run {run.run_id} does not say how its pins were held out: it cannot be repeated"
            )
        ks = sorted({int(m.group(2)) for k in run.metrics if (m := _AT_K.match(k))})
        negatives = info.get("negatives_count") or info.get("negatives")
        return EvalRequest(
            dataset=run.dataset,
            algorithm=run.algorithm,
            params=params,
            protocol=str(info["protocol"]),
            split=str(info.get("split", "test")),
            **({"negatives": int(negatives)} if isinstance(negatives, int) else {}),
            **({"ks": tuple(ks)} if ks else {}),
            seed=int(run.seed or 0),
            split_seed=int(info.get("split_seed", 0)),
            boards=info.get("boards_sample"),
            keep_short=bool(info.get("short_boards_kept", False)),
            holdout_method=holdout.group(1),
            **({"holdout": int(holdout.group(2))} if holdout.group(2) else {}),
            **({"holdout_fraction": float(holdout.group(3))} if holdout.group(3) else {}),
        )
    raise WorkbenchError(
        f"run {run.run_id} is a {run.kind} run of {run.algorithm}: only recommendations and "
        "evaluations of the recommenders can be repeated from a stored run"
    )


def _algorithms() -> tuple[str, ...]:
    from workbench.engine.recommenders import ALGORITHMS

    return tuple(ALGORITHMS)


def cli_command(run: Run) -> str:
    """The ``workbench`` command line that repeats ``run`` (see :func:`rerun_request`): every
    algorithm parameter is written (defaults change between versions), other options only
    where they differ from the command's defaults."""
    from workbench.services.evaluate import EvalRequest
    from workbench.services.recommend import DEFAULT_K, RecommendRequest

    request = rerun_request(run)
    words = ["workbench"]

    def opt(flag: str, value: Any, default: Any = object()) -> None:
        if value is not None and value != default:
            words.extend([flag, shlex.quote(str(value))])

    params = [f"{k}={v}" for k, v in request.params.items()]  # all: defaults change
    if isinstance(request, RecommendRequest):
        words += ["recommend", "--dataset", shlex.quote(request.dataset)]
        words += ["--algo", shlex.quote(request.algo)]
        weights = request.weights or (1.0,) * len(request.pins)
        for pin, weight in zip(request.pins, weights, strict=True):
            words += ["--pin", shlex.quote(pin if weight == 1.0 else f"{pin}:{weight:g}")]
        opt("--board", request.board)
        if request.board is not None:
            opt("--board-weights", request.board_weighting, "equal")
        for p in params:
            words += ["--param", shlex.quote(p)]
        opt("--top", request.k, DEFAULT_K)
        opt("--seed", request.seed, 0)
        return " ".join(words)
    assert isinstance(request, EvalRequest)
    base = EvalRequest(request.dataset, request.algorithm)
    words += ["eval", "--dataset", shlex.quote(request.dataset)]
    words += ["--algo", shlex.quote(request.algorithm)]
    for p in params:
        words += ["--param", shlex.quote(p)]
    opt("--protocol", request.protocol, base.protocol)
    opt("--split", request.split, base.split)
    if request.protocol == "sampled":
        opt("--negatives", request.negatives, base.negatives)
    if tuple(request.ks) != tuple(base.ks):
        opt("--k", ",".join(map(str, request.ks)))
    opt("--seed", request.seed, base.seed)
    opt("--split-seed", request.split_seed, base.split_seed)
    opt("--boards", request.boards, base.boards)
    if request.keep_short:
        words.append("--keep-short")
    opt("--holdout", request.holdout, base.holdout)
    opt("--holdout-fraction", request.holdout_fraction, base.holdout_fraction)
    opt("--holdout-method", request.holdout_method, base.holdout_method)
    return " ".join(words)
