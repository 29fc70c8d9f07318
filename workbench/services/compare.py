"""Compare stored runs, and measure how a Monte-Carlo ranking changes between seeds: the use
cases behind ``workbench compare``, the TUI's Compare screen and ``wb.compare``.

Evaluations are compared only when they share the dataset's version, split, split seed,
protocol and negatives (otherwise one line says which differs); rankings only within a dataset.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from workbench.engine import plots
from workbench.engine.compare import (
    Comparison,
    EvaluationsComparison,
    MetricRow,
    PairedTest,
    RankingComparison,
    RankingPair,
    RankingsComparison,
    RankShift,
    RunLabel,
    compare_runs,
)
from workbench.engine.dataset import pins_frame
from workbench.engine.errors import NotFoundError
from workbench.engine.evaluation.stability import StabilityResult, ranking_stability
from workbench.engine.export import DEFAULT_DIR
from workbench.engine.progress import SILENT, Reporter
from workbench.engine.runs import get_run, run_board_metrics, run_results
from workbench.engine.store import Store

__all__ = [
    "BoardDifferences",
    "CompareRequest",
    "Comparison",
    "EvaluationsComparison",
    "MetricRow",
    "PairedTest",
    "RankShift",
    "RankingComparison",
    "RankingPair",
    "RankingsComparison",
    "RunLabel",
    "StabilityRequest",
    "StabilityResult",
    "board_differences",
    "main_metric",
    "run",
    "stability",
    "titles",
]


@dataclass(frozen=True)
class CompareRequest:
    """Runs to compare with the first (``run_ids``, two or more); ``k`` the cutoff of overlap,
    shifts and the tested metrics; ``p`` RBO's persistence; ``permutations`` the sign flips of
    the randomisation test; ``query`` one query only (rankings); ``plot`` writes PNGs into
    ``plot_dir`` (default: the exports directory)."""

    run_ids: tuple[int, ...]
    k: int = 10
    p: float = 0.9
    permutations: int = 10_000
    seed: int = 0
    query: str | None = None
    plot: bool = False
    plot_dir: Path | None = None


def run(store: Store, request: CompareRequest, reporter: Reporter = SILENT) -> Comparison:
    """Compare as ``request`` says (cancellable through ``reporter``); with ``plot``, the
    result's ``plots`` list the PNGs written."""
    result = compare_runs(
        store,
        list(request.run_ids),
        k=request.k,
        p=request.p,
        permutations=request.permutations,
        seed=request.seed,
        query=request.query,
        reporter=reporter,
    )
    if request.plot:
        result.plots = _plots(store, result, request.plot_dir or DEFAULT_DIR)
    return result


def _plots(store: Store, result: Comparison, directory: Path) -> list[Path]:
    ids = [r.run_id for r in result.runs]
    if isinstance(result, EvaluationsComparison):
        curves = [
            (
                r.label,
                {
                    m: v
                    for m, v in get_run(store, r.run_id).metrics.items()
                    if isinstance(v, int | float)
                },
            )
            for r in result.runs
        ]
        stem = f"compare-{'-'.join(map(str, ids))}"
        files = [plots.metric_curves(curves, directory / f"{stem}.png")]
        paired = board_differences(store, result)  # the boards the paired tests use
        if paired:
            files.append(
                plots.board_differences(
                    [(d.run.label, list(d.differences)) for d in paired],
                    paired[0].metric,
                    directory / f"{stem}-boards.png",
                    title=f"against {result.runs[0].label}",
                )
            )
        return files
    files = []
    for comp in result.comparisons:
        first = comp.per_query[0]
        a = run_results(store, comp.run_a).filter(query=first.query)
        b = run_results(store, comp.run_b).filter(query=first.query)
        rank_b = dict(zip(b["pin"].to_list(), b["rank"].to_list(), strict=True))
        shared = [
            (pin, r, rank_b[pin])
            for pin, r in zip(a["pin"].to_list(), a["rank"].to_list(), strict=True)
            if pin in rank_b
        ]
        path = directory / f"compare-{comp.run_a}-{comp.run_b}-ranks.png"
        files.append(plots.rank_scatter(f"run {comp.run_a}", f"run {comp.run_b}", shared, path))
    return files


@dataclass(frozen=True)
class BoardDifferences:
    """Paired per-board differences of ``metric`` of one run against the baseline run: the
    boards both runs scored (as the paired tests pair them), ordered by ``differences``
    (``b`` minus baseline), smallest first."""

    metric: str
    baseline: RunLabel
    run: RunLabel
    boards: tuple[str, ...]
    differences: tuple[float, ...]


def main_metric(result: EvaluationsComparison) -> str | None:
    """The metric an evaluation comparison leads with: the tested nDCG, else the first tested
    metric (None when no metric has per-board values)."""
    return next((m for m in result.tests if m.startswith("ndcg@")), next(iter(result.tests), None))


def board_differences(
    store: Store, result: EvaluationsComparison, metric: str | None = None
) -> list[BoardDifferences]:
    """For every run after the first, its paired per-board differences of ``metric`` (default:
    ``main_metric``) against the first run, sorted; empty when the runs have no per-board
    values of it."""
    metric = metric or main_metric(result)
    if metric is None:
        return []
    frames = [run_board_metrics(store, r.run_id) for r in result.runs]
    if not all(metric in f.columns for f in frames):
        return []
    base = frames[0].select("board", metric)
    out = []
    for label, other in zip(result.runs[1:], frames[1:], strict=True):
        joined = (
            base.join(other.select("board", metric), on="board", suffix="_b")
            .drop_nulls()
            .drop_nans()
            .with_columns(diff=pl.col(f"{metric}_b") - pl.col(metric))
            .sort("diff", "board")
        )
        out.append(
            BoardDifferences(
                metric=metric,
                baseline=result.runs[0],
                run=label,
                boards=tuple(joined["board"].cast(pl.String).to_list()),
                differences=tuple(float(d) for d in joined["diff"].to_list()),
            )
        )
    return out


def titles(store: Store, result: RankingsComparison) -> dict[str, str]:
    """Titles of the pins a ranking comparison shows (empty if the dataset was dropped)."""
    pins = {s.pin for c in result.comparisons for q in c.per_query for s in q.shifts}
    try:
        frame = pins_frame(store, result.runs[0].dataset, sorted(pins))
    except NotFoundError:
        return {}
    return {str(p): str(t or "") for p, t in frame.select("pin", "title").iter_rows()}


@dataclass(frozen=True)
class StabilityRequest:
    """Seed-to-seed stability of ``algorithm``'s ranking of ``pins`` on ``dataset``: seeds
    0..``seeds``-1 at each step budget of ``steps``; agreement by RBO (``p``) and top-``k``
    overlap over rankings ``depth`` deep. Stored as a run."""

    dataset: str
    pins: tuple[str, ...]
    algorithm: str = "pixie"
    params: Mapping[str, str] = field(default_factory=dict)
    steps: tuple[int, ...] = (1_000, 10_000, 100_000)
    seeds: int = 5
    k: int = 10
    p: float = 0.9
    depth: int = 100


def stability(
    store: Store, request: StabilityRequest, reporter: Reporter = SILENT
) -> StabilityResult:
    """Run the seed-to-seed stability study ``request`` describes (cancellable)."""
    return ranking_stability(
        store,
        request.dataset,
        list(request.pins),
        request.algorithm,
        dict(request.params),
        list(request.steps),
        request.seeds,
        request.k,
        request.p,
        request.depth,
        reporter,
    )
