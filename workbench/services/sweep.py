"""Sweep an algorithm's parameters on the validation split: the use case behind
``workbench sweep``, the TUI's Sweep screen and ``wb.sweep``. A new sweep is a
:class:`SweepRequest`; going on with a stored one is a :class:`ResumeRequest`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from workbench.engine import sweep as engine
from workbench.engine.executors import EXECUTORS, make_executor
from workbench.engine.export import DEFAULT_DIR
from workbench.engine.plots import sweep_axes, sweep_series
from workbench.engine.progress import SILENT, Reporter
from workbench.engine.recommenders import parse_params
from workbench.engine.runs import Run
from workbench.engine.store import Store
from workbench.engine.sweep import (
    OnTrial,
    SweepResult,
    TrialRecord,
    check_grid,
    count_settings,
)
from workbench.services.evaluate import EvalRequest

__all__ = [
    "DEFAULT_METRIC",
    "EXECUTORS",
    "OnTrial",
    "ResumeRequest",
    "Run",
    "RunOn",
    "SweepRequest",
    "SweepResult",
    "TrialRecord",
    "check_grid",
    "check_value",
    "count_settings",
    "latest_sweep",
    "run",
    "sweep_axes",
    "sweep_runs",
    "sweep_series",
]

DEFAULT_METRIC = "ndcg@10"


@dataclass(frozen=True)
class RunOn:
    """Where trials run: ``local`` (one after another) or ``ray`` (``workers`` CPUs, an
    existing cluster at ``address``)."""

    executor: str = "local"
    workers: int | None = None
    address: str | None = None
    shared_files: bool | None = None
    """Ship the graph to Ray nodes as file paths (None: ``WORKBENCH_RAY_SHARED_FILES``)."""


def _new_id() -> str:
    return engine.new_sweep_id()  # looked up at call time, so tests can fix it


@dataclass(frozen=True)
class SweepRequest:
    """A new sweep: ``evaluation`` says what (dataset, algorithm, fixed ``params``) and how
    (its split is always validation); ``grid`` the values to try per parameter (text, checked
    one by one before any setting is counted); ``random`` a seeded subset of that many
    settings; ``metric`` the one to maximise; ``best_to_test`` evaluates the best setting once on
    the test split; ``plot_dir`` (None: the exports directory; ``plot=False``: none)."""

    evaluation: EvalRequest
    grid: Mapping[str, Sequence[str]]
    metric: str = DEFAULT_METRIC
    random: int | None = None
    best_to_test: bool = False
    run_on: RunOn = field(default_factory=RunOn)
    sweep_id: str = field(default_factory=_new_id)
    plot: bool = True
    plot_dir: Path | None = None

    def plan(self) -> engine.SweepPlan:
        grid = {k: list(v) for k, v in self.grid.items()}
        for key, value in self.evaluation.params.items():
            grid.setdefault(key, [str(value)])  # a fixed parameter: a grid line of one value
        return engine.SweepPlan(
            sweep_id=self.sweep_id,
            dataset=self.evaluation.dataset,
            algo=self.evaluation.algorithm,
            grid=grid,
            settings=self.evaluation.settings(),
            metric=self.metric,
            random=self.random,
        )


@dataclass(frozen=True)
class ResumeRequest:
    """Go on with stored sweep ``sweep_id`` (refused if its dataset was replaced since);
    ``grid`` replaces its grid when given."""

    sweep_id: str
    grid: Mapping[str, Sequence[str]] | None = None
    best_to_test: bool = False
    run_on: RunOn = field(default_factory=RunOn)
    plot: bool = True
    plot_dir: Path | None = None


def run(
    store: Store,
    request: SweepRequest | ResumeRequest,
    reporter: Reporter = SILENT,
    on_trial: OnTrial | None = None,
) -> SweepResult:
    """Run or resume a sweep; every finished trial is stored as it ends (and handed to
    ``on_trial``), so a cancel through ``reporter`` (the result says ``cancelled``) or a crash
    keeps it."""
    plot_dir = (request.plot_dir or DEFAULT_DIR) if request.plot else None
    executor = make_executor(
        request.run_on.executor,
        request.run_on.workers,
        request.run_on.address,
        shared_files=request.run_on.shared_files,
    )
    if isinstance(request, ResumeRequest):
        return engine.resume_sweep(
            store,
            request.sweep_id,
            request.grid,
            request.best_to_test,
            executor,
            reporter,
            plot_dir,
            on_trial,
        )
    return engine.start_sweep(
        store, request.plan(), request.best_to_test, executor, reporter, plot_dir, on_trial
    )


def sweep_runs(store: Store, sweep_id: str) -> list[Run]:
    """The stored runs of a sweep (trials and its test evaluation), oldest first."""
    return engine.sweep_runs(store, sweep_id)


def latest_sweep(store: Store, dataset: str) -> list[Run]:
    """The runs of the newest sweep on ``dataset`` (none: empty)."""
    from workbench.engine.runs import list_runs

    newest = next(
        (r for r in list_runs(store, dataset=dataset, kind="eval") if "sweep" in r.info), None
    )
    return engine.sweep_runs(store, newest.info["sweep"]["id"]) if newest else []


def check_value(algo: str, name: str, value: str) -> None:
    """Raise a one-line error if ``value`` is not valid for ``algo``'s parameter ``name``."""
    parse_params(algo, {name: value})
