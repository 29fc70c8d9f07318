"""Parameter sweeps: every setting of a grid (or a seeded random subset) evaluated on the
validation split, each trial stored as an ``eval`` run tagged with the sweep id; resumable,
cancellable, and optionally re-evaluating the best setting once on the test split.

A trial is :class:`Trial`, a picklable callable ``params -> EvalResult`` over prepared
:class:`~workbench.engine.evaluate.EvalData`; the driver hands trials to an executor of
:mod:`workbench.engine.executors` (``map(fn, items)`` yielding results in order): local, one
after another, by default, or Ray, which ships the trial without its local-only hooks.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from workbench.engine import plots
from workbench.engine.errors import Cancelled, WorkbenchError
from workbench.engine.evaluate import (
    CancelFn,
    EvalData,
    EvalResult,
    EvalSettings,
    ProgressFn,
    prepare,
    run_trial,
    save_evaluation,
)
from workbench.engine.executors import Executor, LocalExecutor
from workbench.engine.export import DEFAULT_DIR
from workbench.engine.recommenders import params_dict, parse_params
from workbench.engine.runs import Run, list_runs
from workbench.engine.store import Store


@dataclass(frozen=True, eq=False)
class Trial:
    """One setting's evaluation as a pure function of ``params`` (picklable without the hooks,
    which only a local executor uses)."""

    data: EvalData
    algo: str
    seed: int
    progress: Callable[[int, int, int], None] | None = None  # (trial index, done, total)
    cancelled: CancelFn | None = None

    def __call__(self, item: tuple[int, dict[str, str]]) -> EvalResult:
        index, params = item
        hook: ProgressFn | None = None
        if self.progress is not None:
            report = self.progress

            def hook(done: int, total: int) -> None:
                report(index, done, total)

        return run_trial(self.data, self.algo, params, self.seed, hook, self.cancelled)

    def without_hooks(self) -> Trial:
        """The same trial without progress and cancel hooks (for another process)."""
        return Trial(self.data, self.algo, self.seed)


def parse_grid(items: Sequence[str]) -> dict[str, list[str]]:
    """``KEY=V1,V2,...`` options as ``{key: [values]}`` (a key given twice is an error)."""
    grid: dict[str, list[str]] = {}
    for item in items:
        key, sep, values = item.partition("=")
        key = key.strip()
        vals = [v.strip() for v in values.split(",") if v.strip()]
        if not sep or not key or not vals:
            raise WorkbenchError(f"--grid {item!r}: expected KEY=V1,V2,...")
        if key in grid:
            raise WorkbenchError(f"--grid {key} given twice")
        grid[key] = vals
    return grid


def settings_of(
    grid: Mapping[str, Sequence[str]], random: int | None = None, seed: int = 0
) -> list[dict[str, str]]:
    """Every combination of the grid (keys in the given order), or ``random`` of them drawn
    without replacement (seeded)."""
    keys = list(grid)
    combos = [
        dict(zip(keys, values, strict=True))
        for values in itertools.product(*(grid[k] for k in keys))
    ]
    if random is not None and random < len(combos):
        pick = np.random.default_rng(seed).choice(len(combos), size=random, replace=False)
        combos = [combos[i] for i in sorted(pick)]
    return combos


@dataclass
class TrialRecord:
    """A stored trial: its run, parameters (all of them, as stored) and metrics."""

    run_id: int
    params: dict[str, Any]
    metrics: dict[str, float]

    def to_json(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "params": self.params, "metrics": self.metrics}


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

    @property
    def best(self) -> TrialRecord | None:
        return self.trials[0] if self.trials else None

    def to_json(self) -> dict[str, Any]:
        return {
            "sweep_id": self.sweep_id,
            "dataset": self.dataset,
            "algorithm": self.algorithm,
            "metric": self.metric,
            "trials": [t.to_json() for t in self.trials],
            "best": self.best.params if self.best else None,
            "best_run_id": self.best.run_id if self.best else None,
            "test": self.test.metrics if self.test else None,
            "test_run_id": self.test.run_id if self.test else None,
            "skipped": self.skipped,
            "cancelled": self.cancelled,
            "plot": str(self.plot) if self.plot else None,
            "settings": self.settings,
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


def _record(run_id: int, params: dict[str, Any], metrics: dict[str, float]) -> TrialRecord:
    return TrialRecord(run_id=run_id, params=params, metrics=metrics)


def _sort_key(metric: str) -> Callable[[TrialRecord], float]:
    def key(t: TrialRecord) -> float:
        v = t.metrics.get(metric)
        return -v if isinstance(v, int | float) and np.isfinite(v) else np.inf

    return key


def run_sweep(
    store: Store,
    dataset: str | None = None,
    algo: str | None = None,
    grid: Mapping[str, Sequence[str]] | None = None,
    settings: EvalSettings | None = None,
    metric: str = "ndcg@10",
    random: int | None = None,
    resume: str | None = None,
    sweep_id: str | None = None,
    best_to_test: bool = False,
    executor: Executor | None = None,
    progress: Callable[[int, int, int, int], None] | None = None,
    cancelled: CancelFn | None = None,
    plot_dir: Path | None = DEFAULT_DIR,
) -> SweepResult:
    """Evaluate every setting of ``grid`` for ``algo`` on the validation split of ``dataset``
    (``settings.seed`` fixes the split, the negatives, a ``random`` subset and the walks).

    Each finished trial is stored at once (tag ``info["sweep"]``), so cancelling (``cancelled()``
    returning True, or an exception) keeps it. ``resume`` continues sweep ``resume``: its dataset,
    algorithm, grid, metric and settings are read from its stored trials (a new ``grid`` may
    replace the stored one) and settings already evaluated are skipped; a new sweep gets
    ``sweep_id`` (default: a fresh one, see :func:`new_sweep_id`). ``progress(trial,
    trials, done, total)`` reports boards done within the current trial. ``best_to_test``
    evaluates the best setting once on the test split, on every board (``settings.boards`` only
    samples the validation boards).
    """
    stored: list[Run] = []
    if resume is not None:
        stored = sweep_runs(store, resume)
        if not stored:
            raise WorkbenchError(f"no sweep {resume!r} in the store")
        tag = stored[0].info["sweep"]
        dataset, algo, metric = stored[0].dataset, stored[0].algorithm, tag["metric"]
        if not grid:
            grid, random = tag["grid"], tag.get("random")
        settings = EvalSettings.from_info(stored[0].info)
        sweep_id = resume
    else:
        sweep_id = sweep_id or new_sweep_id()
    if dataset is None or algo is None or not grid:
        raise WorkbenchError("a sweep needs a dataset, an algorithm and at least one --grid")
    settings = replace(settings or EvalSettings(), split="validation")
    seed = settings.seed
    cut = metric.partition("@")[2]
    if not cut.isdigit() or int(cut) not in settings.ks:
        raise WorkbenchError(
            f"metric {metric!r} needs a cutoff among k = "
            f"{', '.join(map(str, settings.ks))}, e.g. ndcg@{settings.ks[-1]}"
        )
    wanted = settings_of(grid, random, seed)
    parsed = [params_dict(parse_params(algo, p)) for p in wanted]  # checks every value first
    tag = {
        "id": sweep_id,
        "metric": metric,
        "grid": {k: list(v) for k, v in grid.items()},
        "random": random,
        "seed": seed,
    }
    trials = [
        _record(r.run_id, r.params, r.metrics)
        for r in stored
        if r.info["sweep"].get("role") == "trial"
    ]
    done_params = [t.params for t in trials]
    todo = [(i, p) for i, p in enumerate(wanted) if parsed[i] not in done_params]
    result = SweepResult(
        sweep_id=sweep_id,
        dataset=dataset,
        algorithm=algo,
        metric=metric,
        swept=list(grid),
        trials=trials,
        skipped=len(wanted) - len(todo),
        settings=settings.to_info(),
    )
    if todo:
        data = prepare(store, dataset, settings)
        position = {index: n for n, (index, _) in enumerate(todo)}

        def trial_progress(index: int, done: int, total: int) -> None:
            if progress is not None:
                progress(position[index], len(todo), done, total)

        trial = Trial(data, algo, seed, trial_progress, cancelled)
        try:
            for (_, params), res in zip(
                todo, (executor or LocalExecutor()).map(trial, todo), strict=False
            ):
                info = {"sweep": tag | {"role": "trial", "setting": params}}
                run_id = save_evaluation(store, data, res, info=info, per_board_ks=(int(cut),))
                result.trials.append(_record(run_id, res.params, res.metrics))
                if cancelled is not None and cancelled():
                    raise Cancelled("sweep cancelled")
        except Cancelled:
            result.cancelled = True
    result.trials.sort(key=_sort_key(metric))
    if result.trials and plot_dir is not None:
        result.plot = plots.sweep_plot(
            [(t.params, float(t.metrics.get(metric, np.nan))) for t in result.trials],
            metric,
            0,
            plot_dir / f"sweep-{sweep_id}-{algo}.png",
            title=f"{algo} on {dataset} (validation), sweep {sweep_id}",
        )
    if best_to_test and result.best is not None and not result.cancelled:
        result.test = _best_on_test(store, dataset, algo, result, settings, tag, cancelled)
    return result


def _best_on_test(
    store: Store,
    dataset: str,
    algo: str,
    result: SweepResult,
    settings: EvalSettings,
    tag: dict[str, Any],
    cancelled: CancelFn | None,
) -> TrialRecord:
    assert result.best is not None
    previous = [
        r
        for r in sweep_runs(store, result.sweep_id)
        if r.info["sweep"].get("role") == "test" and r.params == result.best.params
    ]
    if previous:
        return _record(previous[-1].run_id, previous[-1].params, previous[-1].metrics)
    test_settings = replace(settings, split="test", boards=None)
    data = prepare(store, dataset, test_settings)
    res = run_trial(data, algo, result.best.params, settings.seed, None, cancelled)
    run_id = save_evaluation(store, data, res, info={"sweep": tag | {"role": "test"}})
    return _record(run_id, res.params, res.metrics)
