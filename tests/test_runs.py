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
