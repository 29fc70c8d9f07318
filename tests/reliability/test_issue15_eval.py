"""Issue 15, evaluation side: a sweep is never resumed over a replaced dataset (item 4), cutoffs
are capped at the number of candidates instead of allocating by k (item 12), and an evaluation
whose dataset is replaced while it runs stores nothing (item 3)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import write
from tests.test_evaluate import clustered_dir
from workbench.cli import main
from workbench.engine.evaluate import DatasetChangedError, EvalSettings, evaluate, prepare
from workbench.engine.ingest import load_dataset
from workbench.engine.progress import Reporter
from workbench.engine.runs import list_runs
from workbench.engine.store import Store


@pytest.fixture
def clustered(store: Store, tmp_path: Path) -> Store:
    load_dataset(store, [clustered_dir(tmp_path / "c", boards=30)], "c")
    return store


def _reload(store: Store, tmp_path: Path, seed: int) -> None:
    load_dataset(
        store, [clustered_dir(tmp_path / f"c{seed}", boards=30, seed=seed)], "c", replace=True
    )


def test_sweep_resume_after_a_reload_is_refused(clustered: Store, tmp_path: Path) -> None:
    db = ["--db", str(clustered.path)]
    runner = CliRunner()
    first = runner.invoke(
        main,
        [
            "sweep",
            "--dataset",
            "c",
            "--algo",
            "p3alpha",
            "--grid",
            "alpha=0.5",
            "--negatives",
            "10",
            "--json",
            *db,
        ],
    )
    assert first.exit_code == 0, first.output
    out = json.loads(first.output)
    before = clustered.dataset("c").fingerprint
    _reload(clustered, tmp_path, seed=1)
    after = clustered.dataset("c").fingerprint
    assert before != after
    again = runner.invoke(
        main, ["sweep", "--resume", out["sweep_id"], "--grid", "alpha=0.5,1.0", *db]
    )
    assert again.exit_code == 2
    assert before[:12] in again.output and after[:12] in again.output
    assert "replaced" in again.output and again.output.count("\n") == 1
    assert len(list_runs(clustered, kind="eval")) == 1  # no trial of the new version added


def test_k_is_capped_at_the_number_of_candidates(clustered: Store) -> None:
    data = prepare(clustered, "c", EvalSettings(negatives=10, ks=(10, 2_000_000)))
    assert data.depth == 11  # the held-out pin and 10 negatives
    assert any("capped at 11 pins" in note for note in data.notes)
    _, result, _ = evaluate(
        clustered, "c", "popular", {}, EvalSettings(negatives=10, ks=(10, 2_000_000))
    )
    assert result.top_pins.shape[1] == 11  # not 2,000,000 columns per board
    assert result.metrics["hr@2000000"] == 1.0  # every candidate is in a list of k slots
    full = prepare(clustered, "c", EvalSettings(protocol="full", ks=(10, 100_000_000)))
    assert full.depth <= 60  # the dataset's pins


def test_eval_cli_with_a_huge_k_finishes_with_a_note(clustered: Store) -> None:
    res = CliRunner().invoke(
        main,
        [
            "eval",
            "--dataset",
            "c",
            "--algo",
            "popular",
            "--negatives",
            "10",
            "--k",
            "10,100000000",
            "--json",
            "--db",
            str(clustered.path),
        ],
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert any("capped" in n for n in out["notes"]) and "hr@100000000" in out["metrics"]


def test_evaluation_over_a_replaced_dataset_stores_nothing(
    clustered: Store, tmp_path: Path
) -> None:
    replaced = []

    def replace_once(done: float, total: float | None, stage: str) -> None:
        if stage == "scoring boards" and not replaced:
            _reload(clustered, tmp_path, seed=2)  # another process's load --replace, meanwhile
            replaced.append(True)

    with pytest.raises(DatasetChangedError, match="was replaced while it was being evaluated"):
        evaluate(
            clustered,
            "c",
            "popular",
            {},
            EvalSettings(negatives=10, batch=8),
            reporter=Reporter(on_progress=replace_once),
        )
    assert replaced and list_runs(clustered) == []


def test_replaced_between_reads_is_refused(
    clustered: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import workbench.engine.evaluation.data as data_module

    real = data_module.id_map

    def id_map_after_a_reload(store: Store, dataset: str) -> object:
        _reload(clustered, tmp_path, seed=3)  # the ids are read from the new version
        return real(store, dataset)

    monkeypatch.setattr(data_module, "id_map", id_map_after_a_reload)
    with pytest.raises(DatasetChangedError, match="was replaced while it was being read"):
        prepare(clustered, "c", EvalSettings(negatives=10))


def test_short_board_note_survives_a_tiny_catalogue(store: Store, tmp_path: Path) -> None:
    write(tmp_path / "t" / "edges.csv", "board,pin\nb1,a\nb1,b\nb2,a\nb2,c\nb3,b\nb3,c\n")
    load_dataset(store, [tmp_path / "t"], "t")
    res = CliRunner().invoke(
        main, ["eval", "--dataset", "t", "--algo", "popular", "--db", str(store.path)]
    )
    assert res.exit_code == 2 and res.output.count("\n") == 1
    assert "fewer than 99 candidate negatives" in res.output


def test_full_protocol_metrics_are_batched_and_rankings_kept_shallow(
    clustered: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import workbench.engine.evaluation.data as data_module
    import workbench.engine.evaluation.trial as trial_module

    settings = EvalSettings(protocol="full", ks=(5, 40), batch=4096)
    _, whole, _ = evaluate(clustered, "c", "itemknn", {}, settings)
    monkeypatch.setattr(trial_module, "STORED_DEPTH", 5)
    monkeypatch.setattr(data_module, "STORED_DEPTH", 5)
    small = EvalSettings(protocol="full", ks=(5, 40), batch=12)  # 3 boards per batch
    _, batched, data = evaluate(clustered, "c", "itemknn", {}, small)
    assert batched.top_pins.shape[1] == 5 and whole.top_pins.shape[1] == 40
    assert batched.metrics == pytest.approx(whole.metrics)
    assert {"coverage@40", "gini@40", "hr@40"} <= set(batched.metrics)
    assert any("rankings stored to depth 5" in n for n in data.notes)
