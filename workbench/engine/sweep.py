"""Parameter sweeps: every setting of a grid (or a seeded random subset) evaluated on the
validation split, each trial stored as an ``eval`` run tagged with the sweep id; resumable,
cancellable, and optionally re-evaluating the best setting once on the test split.

A trial is :class:`Trial`, a picklable callable ``(index, params) -> EvalResult`` over prepared
:class:`~workbench.engine.evaluate.EvalData`; the driver hands trials to an executor of
:mod:`workbench.engine.executors` (``map(fn, items)`` yielding results in order): local, one
after another, by default, or Ray, which ships the trial without its local-only reporter.
A new sweep is started by :func:`start_sweep`; :func:`resume_sweep` reads a stored one back and
refuses when its dataset has been replaced since.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from workbench.engine import plots
from workbench.engine.errors import Cancelled, WorkbenchError
from workbench.engine.evaluate import (
    EvalData,
    EvalResult,
    EvalSettings,
    prepare,
    run_repeats,
    save_evaluation,
)
from workbench.engine.executors import Executor, LocalExecutor
from workbench.engine.progress import SILENT, Reporter
from workbench.engine.recommenders import params_dict, parse_params
from workbench.engine.runs import Run, list_runs
from workbench.engine.store import Store

MAX_SETTINGS = 100_000
"""A grid with more settings than this must be sampled (``random``)."""


@dataclass(frozen=True, eq=False)
class Trial:
    """One setting's evaluation as a pure function of ``(index, params)`` (picklable without the
    reporter, which only a local executor uses)."""

    data: EvalData
    algo: str
    reporter: Reporter = SILENT
    index_of: Mapping[int, int] = field(default_factory=dict)
    """Position of each setting among the trials to run (for progress)."""

    def __call__(self, item: tuple[int, dict[str, str]]) -> EvalResult:
        index, params = item
        n = max(len(self.index_of), 1)
        pos = self.index_of.get(index, 0)
        part = self.reporter.scaled(pos, 1, n, f"trial {pos + 1} of {n}")
        return run_repeats(self.data, self.algo, params, part)

    def without_hooks(self) -> Trial:
        """The same trial without the reporter (for another process)."""
        return Trial(self.data, self.algo)


def check_grid(algo: str, grid: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """Every value of ``grid`` checked against ``algo``'s parameters, one at a time, before any
    setting is counted or built; returns the grid as lists."""
    if not grid:
        raise WorkbenchError("a sweep needs at least one parameter with values to try", hint="grid")
    out: dict[str, list[str]] = {}
    for key, values in grid.items():
        if not values:
            raise WorkbenchError(f"grid parameter {key} has no values", hint="grid")
        for value in values:
            parse_params(algo, {key: str(value)})
        out[key] = [str(v) for v in values]
    return out


def count_settings(grid: Mapping[str, Sequence[str]], random: int | None = None) -> int:
    """How many settings a sweep of ``grid`` tries (``random`` of them, if fewer)."""
    count = math.prod(len(v) for v in grid.values()) if grid else 0
    return min(count, random) if random is not None else count


def settings_of(
    grid: Mapping[str, Sequence[str]], random: int | None = None, seed: int = 0
) -> list[dict[str, str]]:
    """Every combination of the grid (keys in the given order, the last varying fastest), or
    ``random`` of them drawn without replacement (seeded), without building the whole product."""
    keys = list(grid)
    total = count_settings(grid)
    if random is not None and random < 1:
        raise WorkbenchError(f"the random subset must hold at least one setting, got {random}")
    if random is not None and random < total:
        picks = sorted(
            int(i) for i in np.random.default_rng(seed).choice(total, size=random, replace=False)
        )
    elif total > MAX_SETTINGS:
        raise WorkbenchError(
            f"the grid holds {total:,} settings (more than {MAX_SETTINGS:,}): sweep a random "
            "subset of them"
        )
    else:
        picks = list(range(total))
    combos = []
    for index in picks:
        combo: dict[str, str] = {}
        for key in reversed(keys):
            index, digit = divmod(index, len(grid[key]))
            combo[key] = grid[key][digit]
        combos.append({k: combo[k] for k in keys})
    return combos


@dataclass
class TrialRecord:
    """A stored trial: its run, parameters (all of them, as stored) and metrics."""

    run_id: int
    params: dict[str, Any]
    metrics: dict[str, float]
    ci95: dict[str, float | None] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "params": self.params,
            "metrics": self.metrics,
            "ci95": self.ci95,
        }

    @classmethod
    def of(cls, run: Run) -> TrialRecord:
        return cls(run.run_id, run.params, run.metrics, run.info.get("ci95") or {})


@dataclass
class SweepResult:
    """What a sweep did: trials sorted by the metric (best first), the best setting, its test
    evaluation, how many trials were skipped as already stored, and whether it was cancelled."""

    sweep_id: str
    dataset: str
    algorithm: str
    metric: str
    swept: list[str]
    trials: list[TrialRecord]
    skipped: int = 0
    cancelled: bool = False
    test: TrialRecord | None = None
    plot: Path | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    fingerprint: str = ""

    @property
    def best(self) -> TrialRecord | None:
        return self.trials[0] if self.trials else None

    def to_json(self) -> dict[str, Any]:
        return {
            "sweep_id": self.sweep_id,
            "dataset": self.dataset,
            "algorithm": self.algorithm,
            "metric": self.metric,
            "swept": self.swept,
            "trials": [t.to_json() for t in self.trials],
            "best": self.best.params if self.best else None,
            "best_run_id": self.best.run_id if self.best else None,
            "test": self.test.metrics if self.test else None,
            "test_ci95": self.test.ci95 if self.test else None,
            "test_run_id": self.test.run_id if self.test else None,
            "skipped": self.skipped,
            "cancelled": self.cancelled,
            "plot": str(self.plot) if self.plot else None,
            "settings": self.settings,
            "fingerprint": self.fingerprint,
        }


OnTrial = Callable[[TrialRecord], None]
"""Called with each trial as soon as it is stored."""


@dataclass(frozen=True)
class SweepPlan:
    """What a sweep evaluates: ``algo`` on ``dataset`` at every setting of ``grid`` (or a
    seeded ``random`` subset), ranked by ``metric``, with ``settings`` (on validation)."""

    sweep_id: str
    dataset: str
    algo: str
    grid: Mapping[str, Sequence[str]]
    settings: EvalSettings
    metric: str = "ndcg@10"
    random: int | None = None

    def tag(self) -> dict[str, Any]:
        return {
            "id": self.sweep_id,
            "metric": self.metric,
            "grid": {k: list(v) for k, v in self.grid.items()},
            "random": self.random,
            "seed": self.settings.seed,
            "split_seed": self.settings.split_seed,
        }


def new_sweep_id() -> str:
    """A fresh sweep id (8 hex digits)."""
    return secrets.token_hex(4)


def sweep_runs(store: Store, sweep_id: str) -> list[Run]:
    """The stored runs of a sweep (trials and its test evaluation), oldest first."""
    return [
        r
        for r in reversed(list_runs(store, kind="eval"))
        if r.info.get("sweep", {}).get("id") == sweep_id
    ]


def _sort_key(metric: str) -> Callable[[TrialRecord], float]:
    def key(t: TrialRecord) -> float:
        v = t.metrics.get(metric)
        return -v if isinstance(v, int | float) and np.isfinite(v) else np.inf

    return key


def _check_metric(metric: str, settings: EvalSettings) -> int:
    cut = metric.partition("@")[2]
    if not cut.isdigit() or int(cut) not in settings.ks:
        raise WorkbenchError(
            f"metric {metric!r} needs a cutoff among k = "
            f"{', '.join(map(str, settings.ks))}, e.g. ndcg@{settings.ks[-1]}"
        )
    return int(cut)


def start_sweep(
    store: Store,
    plan: SweepPlan,
    best_to_test: bool = False,
    executor: Executor | None = None,
    reporter: Reporter = SILENT,
    plot_dir: Path | None = None,
    on_trial: OnTrial | None = None,
) -> SweepResult:
    """Evaluate every setting of ``plan`` on the validation split (``plan.settings`` fixes the
    split, the negatives, a random subset and the walks). Each finished trial is stored at once
    (and handed to ``on_trial``), so a cancel (through ``reporter``) or a crash keeps it.
    ``best_to_test`` evaluates the best setting once on the test split, on every board (a board
    sample applies to validation)."""
    return _execute(store, plan, [], best_to_test, executor, reporter, plot_dir, on_trial)


def resume_sweep(
    store: Store,
    sweep_id: str,
    grid: Mapping[str, Sequence[str]] | None = None,
    best_to_test: bool = False,
    executor: Executor | None = None,
    reporter: Reporter = SILENT,
    plot_dir: Path | None = None,
    on_trial: OnTrial | None = None,
) -> SweepResult:
    """Continue sweep ``sweep_id``: its dataset, algorithm, grid (unless a new ``grid`` replaces
    it), metric and settings come from its stored trials; settings already evaluated are
    skipped. Refused when the dataset was replaced since the sweep started."""
    stored = sweep_runs(store, sweep_id)
    if not stored:
        raise WorkbenchError(f"no sweep {sweep_id!r} in the store")
    first = stored[0]
    now = store.dataset(first.dataset).fingerprint
    if now != first.fingerprint:
        raise WorkbenchError(
            f"sweep {sweep_id} ran on dataset {first.dataset!r} at fingerprint "
            f"{first.fingerprint[:12]}, which is now at {now[:12]} (replaced): its trials would "
            "mix two versions of the data; start a new sweep"
        )
    tag = first.info["sweep"]
    plan = SweepPlan(
        sweep_id=sweep_id,
        dataset=first.dataset,
        algo=first.algorithm,
        grid=grid or tag["grid"],
        settings=replace(EvalSettings.from_info(first.info), split="validation"),
        metric=tag["metric"],
        random=tag.get("random") if not grid else None,
    )
    return _execute(store, plan, stored, best_to_test, executor, reporter, plot_dir, on_trial)


def _execute(
    store: Store,
    plan: SweepPlan,
    stored: list[Run],
    best_to_test: bool,
    executor: Executor | None,
    reporter: Reporter,
    plot_dir: Path | None,
    on_trial: OnTrial | None,
) -> SweepResult:
    settings = replace(plan.settings, split="validation")
    plan = replace(plan, settings=settings, grid=check_grid(plan.algo, plan.grid))
    cut = _check_metric(plan.metric, settings)
    wanted = settings_of(plan.grid, plan.random, settings.seed)
    parsed = [params_dict(parse_params(plan.algo, p)) for p in wanted]
    trials = [TrialRecord.of(r) for r in stored if r.info["sweep"].get("role") == "trial"]
    done_params = [t.params for t in trials]
    todo = [(i, p) for i, p in enumerate(wanted) if parsed[i] not in done_params]
    result = SweepResult(
        sweep_id=plan.sweep_id,
        dataset=plan.dataset,
        algorithm=plan.algo,
        metric=plan.metric,
        swept=list(plan.grid),
        trials=trials,
        skipped=len(wanted) - len(todo),
        settings=settings.to_info(),
        fingerprint=stored[0].fingerprint if stored else store.dataset(plan.dataset).fingerprint,
    )
    tag = plan.tag()
    if todo:
        data = prepare(store, plan.dataset, settings)
        result.fingerprint = data.fingerprint
        trial = Trial(data, plan.algo, reporter, {index: n for n, (index, _) in enumerate(todo)})
        try:
            runner = (executor or LocalExecutor()).map(trial, todo)
            for (_, params), res in zip(todo, runner, strict=False):
                info = {"sweep": tag | {"role": "trial", "setting": params}}
                run_id = save_evaluation(store, data, res, info=info, per_board_ks=(cut,))
                record = TrialRecord(run_id, res.params, res.metrics, res.ci95)
                result.trials.append(record)
                if on_trial is not None:
                    on_trial(record)
                reporter.check("the sweep")
        except Cancelled:
            result.cancelled = True
    result.trials.sort(key=_sort_key(plan.metric))
    if result.trials and plot_dir is not None:
        result.plot = plots.sweep_plot(
            [(t.params, float(t.metrics.get(plan.metric, np.nan))) for t in result.trials],
            list(plan.grid),
            plan.metric,
            plot_dir / f"sweep-{plan.sweep_id}-{plan.algo}.png",
            title=f"{plan.algo} on {plan.dataset} (validation), sweep {plan.sweep_id}",
        )
    if best_to_test and result.best is not None and not result.cancelled:
        result.test = _best_on_test(store, plan, result, reporter)
    return result


def _best_on_test(
    store: Store, plan: SweepPlan, result: SweepResult, reporter: Reporter
) -> TrialRecord:
    assert result.best is not None
    previous = [
        r
        for r in sweep_runs(store, result.sweep_id)
        if r.info["sweep"].get("role") == "test" and r.params == result.best.params
    ]
    if previous:
        return TrialRecord.of(previous[-1])
    data = prepare(store, plan.dataset, replace(plan.settings, split="test", boards=None))
    res = run_repeats(data, plan.algo, result.best.params, reporter)
    run_id = save_evaluation(store, data, res, info={"sweep": plan.tag() | {"role": "test"}})
    return TrialRecord(run_id, res.params, res.metrics, res.ci95)
