"""Sweeps: every trial stored with the sweep id, resume skips finished trials, cancellation and
interruption keep finished trials, the best setting re-evaluated on test, a pluggable executor,
grids checked value by value before settings are counted."""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pytest
from click.testing import CliRunner

import workbench.engine.sweep as S
from tests.test_evaluate import clustered_dir
from workbench.cli import main
from workbench.engine.errors import WorkbenchError
from workbench.engine.evaluate import EvalSettings, prepare
from workbench.engine.executors import for_remote
from workbench.engine.ingest import load_dataset
from workbench.engine.progress import Reporter
from workbench.engine.store import Store
from workbench.services.evaluate import EvalRequest
from workbench.services.parsing import parse_grid
from workbench.services.sweep import ResumeRequest, SweepRequest, run

T = TypeVar("T")
R = TypeVar("R")
FAST = EvalSettings(negatives=20, ks=(5, 10))


def new(grid: dict[str, list[str]], algo: str = "p3alpha", **kw: Any) -> SweepRequest:
    """A sweep of ``grid`` on the clustered dataset with 20 negatives, k 5 and 10, no plot."""
    evaluation = EvalRequest("clustered", algo, negatives=20, ks=(5, 10))
    return SweepRequest(evaluation, grid, plot=kw.pop("plot", False), **kw)


@pytest.fixture
def clustered(store: Store, tmp_path: Path) -> Store:
    load_dataset(store, [clustered_dir(tmp_path / "clustered", boards=40)], "clustered")
    return store


def _count_trials(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    real = S.run_repeats

    def counting(data: Any, algo: str, params: Any, *args: Any) -> Any:
        calls.append(dict(params))
        return real(data, algo, params, *args)

    monkeypatch.setattr(S, "run_repeats", counting)
    return calls


def test_grid_and_random_subset() -> None:
    grid = parse_grid(["alpha=0.5,0.9", "topk=10,20,30"])
    assert grid == {"alpha": ["0.5", "0.9"], "topk": ["10", "20", "30"]}
    combos = S.settings_of(grid)
    assert len(combos) == 6 and combos[0] == {"alpha": "0.5", "topk": "10"}
    assert combos[1] == {"alpha": "0.5", "topk": "20"} and S.count_settings(grid, 4) == 4
    some = S.settings_of(grid, random=3, seed=1)
    assert len(some) == 3 and all(c in combos for c in some)
    assert some == S.settings_of(grid, random=3, seed=1)
    with pytest.raises(Exception, match="KEY=V1"):
        parse_grid(["alpha"])


def test_invalid_grid_values_refused_before_counting() -> None:
    huge = {f"p{i}": [str(v) for v in range(100)] for i in range(6)}  # 10^12 settings
    with pytest.raises(WorkbenchError, match="alpha"):
        S.check_grid("p3alpha", {"alpha": ["0.5", "x"], "topk": ["10"]})
    with pytest.raises(WorkbenchError, match="unknown parameter"):
        S.check_grid("p3alpha", huge)
    big = {"alpha": [str(v / 10) for v in range(1, 11)]} | {"topk": [str(v) for v in range(1, 101)]}
    assert S.count_settings(big) == 1000
    assert len(S.settings_of(big | {"beta": ["1"] * 1}, random=5, seed=0)) == 5
    with pytest.raises(WorkbenchError, match="random subset"):
        S.settings_of({f"p{i}": [str(v) for v in range(100)] for i in range(4)})


def test_sweep_stores_every_trial(clustered: Store, tmp_path: Path) -> None:
    res = run(clustered, new({"alpha": ["0.5", "1.0", "2.0"]}, plot=True, plot_dir=tmp_path))
    runs = S.sweep_runs(clustered, res.sweep_id)
    assert len(runs) == len(res.trials) == 3
    assert {r.params["alpha"] for r in runs} == {0.5, 1.0, 2.0}
    assert all(r.info["split"] == "validation" for r in runs)
    values = [t.metrics["ndcg@10"] for t in res.trials]
    assert values == sorted(values, reverse=True)
    assert res.best is not None and res.best.run_id == res.trials[0].run_id
    assert res.plot is not None and res.plot.exists()
    out = res.to_json()
    assert out["best"] == res.best.params and len(out["trials"]) == 3
    assert set(out["trials"][0]) == {"run_id", "params", "metrics", "ci95"}


def test_resume_skips_finished_trials(
    clustered: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _count_trials(monkeypatch)
    first = run(clustered, new({"alpha": ["0.5", "1.0"]}))
    assert len(calls) == 2
    again = run(clustered, ResumeRequest(first.sweep_id, plot=False))
    assert len(calls) == 2 and again.skipped == 2 and len(again.trials) == 2
    more = run(
        clustered, ResumeRequest(first.sweep_id, grid={"alpha": ["0.5", "1.0", "1.5"]}, plot=False)
    )
    assert [c["alpha"] for c in calls] == ["0.5", "1.0", "1.5"]
    assert more.skipped == 2 and len(more.trials) == 3
    assert len(S.sweep_runs(clustered, first.sweep_id)) == 3
    with pytest.raises(Exception, match="no sweep"):
        run(clustered, ResumeRequest("nosuchid"))


def test_cancellation_keeps_finished_trials(clustered: Store) -> None:
    request = new({"alpha": ["0.5", "1.0", "2.0"]})

    def cancelled() -> bool:  # cancel once the first trial is stored
        return len(S.sweep_runs(clustered, request.sweep_id)) >= 1

    res = run(clustered, request, Reporter(is_cancelled=cancelled))
    assert res.cancelled and len(res.trials) == 1
    assert len(S.sweep_runs(clustered, request.sweep_id)) == 1
    done = run(clustered, ResumeRequest(request.sweep_id, plot=False))
    assert not done.cancelled and done.skipped == 1 and len(done.trials) == 3


def test_interrupt_mid_trial_keeps_finished_trials(
    clustered: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = S.run_repeats

    def interrupted(data: Any, algo: str, params: Any, *args: Any) -> Any:
        if params["alpha"] == "1.0":
            raise KeyboardInterrupt
        return real(data, algo, params, *args)

    monkeypatch.setattr(S, "run_repeats", interrupted)
    request = new({"alpha": ["0.5", "1.0"]})
    with pytest.raises(KeyboardInterrupt):
        run(clustered, request)
    runs = S.sweep_runs(clustered, request.sweep_id)
    assert [r.params["alpha"] for r in runs] == [0.5]


def test_best_to_test(clustered: Store) -> None:
    res = run(clustered, new({"alpha": ["0.5", "2.0"]}, best_to_test=True))
    assert res.test is not None and res.best is not None
    runs = S.sweep_runs(clustered, res.sweep_id)
    test_runs = [r for r in runs if r.info["sweep"]["role"] == "test"]
    assert len(test_runs) == 1 and test_runs[0].info["split"] == "test"
    assert test_runs[0].params == res.best.params
    assert res.to_json()["test"] == res.test.metrics


class PicklingExecutor:
    """Ships every trial through pickle, as a process pool or Ray would."""

    name = "pickling"
    workers = 1

    def __init__(self) -> None:
        self.items = 0

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[R]:
        for item in items:
            self.items += 1
            clone = pickle.loads(pickle.dumps(for_remote(fn)))
            yield clone(item)


def test_trials_are_picklable_pure_functions(clustered: Store) -> None:
    data = prepare(clustered, "clustered", FAST)
    trial = S.Trial(data, "p3alpha", Reporter(on_progress=lambda *a: None))
    a = pickle.loads(pickle.dumps(trial.without_hooks()))((0, {"alpha": "1.0"}))
    b = trial((0, {"alpha": "1.0"}))
    assert a.metrics == b.metrics
    executor = PicklingExecutor()
    plan = S.SweepPlan("5eed0002", "clustered", "p3alpha", {"alpha": ["0.5", "1.0"]}, FAST)
    res = S.start_sweep(clustered, plan, executor=executor)
    assert executor.items == 2 and len(res.trials) == 2


def test_sweep_command(clustered: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    res = runner.invoke(
        main,
        [
            "sweep",
            "--dataset",
            "clustered",
            "--algo",
            "rp3beta",
            "--grid",
            "beta=0.2,0.6",
            "--param",
            "topk=30",
            "--negatives",
            "20",
            "--k",
            "10",
            "--metric",
            "hr@10",
            "--best-to-test",
            "--json",
            "--db",
            str(clustered.path),
        ],
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert len(out["trials"]) == 2 and out["best"]["topk"] == 30
    assert "hr@10" in out["test"] and Path(out["plot"]).exists()
    text = runner.invoke(main, ["sweep", "--resume", out["sweep_id"], "--db", str(clustered.path)])
    assert text.exit_code == 0, text.output
    assert "2 already stored" in text.output and "best (hr@10)" in text.output
    bad = runner.invoke(
        main,
        [
            "sweep",
            "--dataset",
            "clustered",
            "--algo",
            "rp3beta",
            "--grid",
            "beta=0.2",
            "--metric",
            "hr@7",
            "--db",
            str(clustered.path),
        ],
    )
    assert bad.exit_code == 2 and "cutoff" in bad.output
