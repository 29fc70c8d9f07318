"""Stored runs: provenance, results with original ids, per-board metrics, rename and delete."""

from __future__ import annotations

import polars as pl
import pytest

from workbench.engine.errors import NotFoundError
from workbench.engine.runs import (
    delete_run,
    get_run,
    list_runs,
    rename_run,
    run_board_metrics,
    run_results,
    save_run,
)
from workbench.engine.store import Store


def test_run_round_trip(store: Store) -> None:
    results = pl.DataFrame(
        {"query": ["q"] * 3, "rank": [1, 2, 3], "pin": ["x", "y", "z"], "score": [3.0, 2.0, 1.0]}
    )
    per_board = pl.DataFrame(
        {
            "board": ["b1", "b1", "b2", "b2"],
            "metric": ["hr@10", "ndcg@10"] * 2,
            "value": [1.0, 0.5, 0.0, 0.0],
        }
    )
    rid = save_run(
        store,
        dataset="d",
        kind="eval",
        algorithm="pixie",
        params={"steps": 10},
        seed=7,
        fingerprint="f" * 64,
        results=results,
        board_metrics=per_board,
        metrics={"hr@10": 0.5},
        elapsed_ms=1.5,
        steps=10,
    )
    run = get_run(store, rid)
    assert (run.algorithm, run.params, run.seed, run.metrics) == (
        "pixie",
        {"steps": 10},
        7,
        {"hr@10": 0.5},
    )
    assert run_results(store, rid)["pin"].to_list() == ["x", "y", "z"]
    wide = run_board_metrics(store, rid)
    assert wide.columns == ["board", "hr@10", "ndcg@10"] and wide["hr@10"].to_list() == [1.0, 0.0]
    rename_run(store, rid, "baseline")
    assert list_runs(store)[0].name == "baseline"
    second = save_run(
        store,
        dataset="d",
        kind="recommend",
        algorithm="popular",
        params={},
        seed=None,
        fingerprint="f" * 64,
    )
    assert second == rid + 1
    assert [r.run_id for r in list_runs(store, kind="eval")] == [rid]
    delete_run(store, rid)
    with pytest.raises(NotFoundError, match=f"unknown run {rid}"):
        get_run(store, rid)
    assert store.query("SELECT count(*) FROM run_results") == [(0,)]


def _eval_like(store: Store) -> int:
    """An evaluation-like run: 250 ranked rows and a long, nested set of metrics."""
    results = pl.DataFrame(
        {
            "query": [f"q{i // 10:03d}" for i in range(250)],
            "rank": [i % 10 + 1 for i in range(250)],
            "pin": [f"p{i}" for i in range(250)],
            "score": [1.0 / (i % 10 + 1) for i in range(250)],
        }
    )
    metrics: dict[str, object] = {f"{m}@{k}": 0.123456 for m in ("hr", "ndcg", "mrr")
                                  for k in (1, 5, 10, 20)}  # fmt: skip
    metrics["rank_histogram"] = {str(i): i for i in range(200)}
    return save_run(store, dataset="d", kind="eval", algorithm="pixie",
                    params={"steps": 100000, "alpha": 0.5}, seed=3, fingerprint="f" * 64,
                    results=results, metrics=metrics, steps=100000)  # fmt: skip


def test_results_are_read_a_page_at_a_time(store: Store) -> None:
    from workbench.services import runs as svc

    rid = _eval_like(store)
    first = svc.run_results(store, rid, 0, 100)
    assert (first.total, first.rows.height, first.more) == (250, 100, True)
    assert first.rows.columns == ["query", "rank", "pin", "score", "title"]
    last = svc.run_results(store, rid, 200, 100)
    assert last.rows.height == 50 and not last.more
    assert last.rows["pin"].to_list()[-1] == "p249"


def test_runs_are_found_by_parameter_value_and_words(store: Store) -> None:
    from workbench.services import runs as svc

    rid = _eval_like(store)
    other = save_run(store, dataset="d", kind="recommend", algorithm="ppr", params={"alpha": 0.9},
                     seed=0, fingerprint="f" * 64)  # fmt: skip
    assert [r.run_id for r in svc.find_runs(store, svc.RunFilter(text="alpha=0.5"))] == [rid]
    assert [r.run_id for r in svc.find_runs(store, svc.RunFilter(text="alpha=.9"))] == [other]
    assert [r.run_id for r in svc.find_runs(store, svc.RunFilter(text="PPR"))] == [other]
    assert svc.find_runs(store, svc.RunFilter(text="alpha=0.5 ppr")) == []


def test_runs_show_reads_as_text_not_python(store: Store) -> None:
    from click.testing import CliRunner

    from workbench.cli import main

    rid = _eval_like(store)
    res = CliRunner().invoke(main, ["runs", "show", str(rid), "--db", str(store.path)])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert max(len(line) for line in lines) <= 120
    assert "{" not in res.output and "'" not in res.output  # no raw dicts
    assert any(line.split() == ["params", "steps=100,000", "alpha=0.5"] for line in lines)
    assert any("hr@1 0.1235" in line for line in lines)
    assert any("rank_histogram" in line and "200 entries" in line for line in lines)
    listed = CliRunner().invoke(main, ["runs", "--db", str(store.path)]).output
    assert "100,000" in listed.splitlines()[1]


def test_a_stored_recommendation_is_repeated_by_its_cli_command(sample_store: Store) -> None:
    """The command `runs` offers to copy repeats the run: same settings, same ranked pins."""
    import shlex

    from click.testing import CliRunner

    from workbench.cli import main
    from workbench.engine.runs import list_runs, run_results
    from workbench.services import runs as svc
    from workbench.services.recommend import RecommendRequest, recommend

    first = recommend(
        sample_store,
        RecommendRequest("sample", pins=("p00004", "p00010"), weights=(1.0, 2.0),
                         params={"steps": "3000", "alpha": "0.7"}, k=7, seed=3),
    )  # fmt: skip
    run = next(r for r in list_runs(sample_store) if r.run_id == first.run_id)
    assert svc.query_summary(run) == "p00004 p00010:2"
    assert svc.key_params(run) == "steps=3000 alpha=0.7"
    command = svc.cli_command(run)
    assert command.startswith("workbench recommend --dataset sample --algo pixie --pin p00004")
    assert "--pin p00010:2" in command and "--top 7" in command and "--seed 3" in command
    shown = CliRunner().invoke(
        main, ["runs", "show", str(run.run_id), "--db", str(sample_store.path)]
    )
    assert f"       command  {command}" in shown.output.splitlines()  # the CLI twin of y
    args = [*shlex.split(command)[1:], "--db", str(sample_store.path), "--json"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    again = max(r.run_id for r in list_runs(sample_store))
    assert again != run.run_id
    a, b = run_results(sample_store, run.run_id), run_results(sample_store, again)
    assert a["pin"].to_list() == b["pin"].to_list() and a["score"].to_list() == b["score"].to_list()
    assert len(a) == 7


def test_a_stored_evaluation_is_repeated_with_its_settings(sample_store: Store) -> None:
    from workbench.engine.runs import get_run
    from workbench.services import evaluate as ev
    from workbench.services import runs as svc

    request = ev.EvalRequest("sample", "itemknn", params={"topk": "50"}, protocol="full",
                             ks=(5, 20), seed=2, split_seed=4, boards=40)  # fmt: skip
    first = ev.run(sample_store, request)
    run = get_run(sample_store, first.run_id)
    assert svc.main_metric(run).startswith("ndcg@5 ")  # no @10: the smallest k
    again = svc.rerun_request(run)
    assert isinstance(again, ev.EvalRequest)
    assert (again.protocol, again.ks, again.seed, again.split_seed, again.boards) == (
        "full",
        (5, 20),
        2,
        4,
        40,
    )
    second = get_run(sample_store, ev.run(sample_store, again).run_id)
    assert second.metrics == run.metrics
    command = svc.cli_command(run)
    assert "--protocol full" in command and "--k 5,20" in command and "--split-seed 4" in command


def test_runs_that_cannot_be_repeated_say_so(sample_store: Store) -> None:
    from workbench.engine.errors import WorkbenchError
    from workbench.engine.runs import save_run
    from workbench.services import runs as svc

    run_id = save_run(
        sample_store, dataset="sample", kind="visual", algorithm="visual:builtin",
        params={"k": 10}, seed=None, fingerprint="f", query={"pin": "p00001"},
    )  # fmt: skip
    run = svc.show_run(sample_store, run_id)
    assert svc.query_summary(run) == "pin p00001" and svc.key_params(run) == "k=10"
    with pytest.raises(WorkbenchError, match="only recommendations and evaluations"):
        svc.cli_command(run)
