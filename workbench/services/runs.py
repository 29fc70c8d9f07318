"""The history of runs: list and filter, show, rename, delete, and read results a page at a time
(an evaluation can hold 750,000 ranked rows; no face ever loads them all).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench.engine.errors import NotFoundError
from workbench.engine.progress import SILENT, Reporter
from workbench.engine.runs import RUN_KINDS, Run, get_run, list_runs
from workbench.engine.runs import delete_run as _delete_run
from workbench.engine.runs import rename_run as _rename_run
from workbench.engine.runs import results_page as _results_page
from workbench.services.recommend import format_steps

if TYPE_CHECKING:
    import polars as pl

    from workbench.engine.store import Store

__all__ = [
    "DEFAULT_LIMIT",
    "PAGE_SIZE",
    "RUN_KINDS",
    "ResultsPage",
    "Run",
    "RunFilter",
    "delete_runs",
    "describe_run",
    "find_runs",
    "format_steps",
    "rename_run",
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
