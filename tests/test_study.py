"""Declared experiments: a tiny study on the shipped sample tunes on validation, tests once with
repeats, stores every run, writes its report with intervals beside the file, gives the same
numbers when run again (reusing the runs), and refuses a bad file in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import SAMPLE
from workbench.cli import main
from workbench.engine.errors import WorkbenchError
from workbench.engine.runs import get_run, list_runs
from workbench.engine.store import Store
from workbench.services.study import StudyRequest, read_study, run

STUDY = f"""
name = "tiny"
description = "Two baselines and a walk on the sample."
findings = "Walks and P3alpha beat popularity here."
metrics = ["hr@10", "ndcg@10"]
repeats = 2
baseline = "popular"

[evaluation]
negatives = 20
ks = [5, 10]
boards = 40

[tuning]
metric = "ndcg@10"
boards = 30

[catalogue]
metrics = ["coverage@10"]
boards = 20

[[datasets]]
name = "sample"
load = ["{SAMPLE}"]

[[algorithms]]
algorithm = "popular"

[[algorithms]]
label = "p3alpha tuned"
algorithm = "p3alpha"
grid = {{ alpha = ["0.5", "1.0"] }}

[[algorithms]]
label = "pixie 2k"
algorithm = "pixie"
params = {{ steps = "2000" }}
"""


def test_tiny_study_on_the_sample(tmp_path: Path) -> None:
    path = tmp_path / "tiny.toml"
    path.write_text(STUDY)
    store = Store(tmp_path / "wb.duckdb")
    first = run(store, StudyRequest(path))
    assert [r.label for r in first.rows] == ["popular", "p3alpha tuned", "pixie 2k"]
    tuned = first.rows[1]
    assert tuned.sweep_id and tuned.trials == 2 and tuned.params["alpha"] in (0.5, 1.0)
    test = get_run(store, tuned.test_run)
    assert test.info["split"] == "test" and test.info["seeds"] == [0, 1]
    assert len(test.info["repeats"]["hr@10"]) == 2 and tuned.ci95["hr@10"] is not None
    trials = [
        r
        for r in list_runs(store, kind="eval")
        if r.info.get("sweep", {}).get("id") == tuned.sweep_id
    ]
    assert {r.info["split"] for r in trials} == {"validation"}  # tuned on validation only
    assert all(r.catalogue_run and "coverage@10" in r.catalogue for r in first.rows)
    assert "hr@10" in tuned.versus and len(tuned.versus["hr@10"]["ci95"]) == 2
    report = path.with_suffix(".md").read_text()
    assert "| **p3alpha tuned** | alpha=" in report and "±" in report
    assert report.rstrip().endswith("## Findings\n\nWalks and P3alpha beat popularity here.")
    assert "Paired against **popular**" in report and (tmp_path / "tiny-sample.png").exists()
    stored = len(list_runs(store))

    again = run(store, StudyRequest(path))  # same file, same store: the same numbers, no new run
    assert len(list_runs(store)) == stored
    assert [r.to_json() for r in again.rows] == [r.to_json() for r in first.rows]
    assert path.with_suffix(".md").read_text() == report


def test_study_command_and_bad_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[algorithms]]\nalgorithm = "popular"\n')
    with pytest.raises(WorkbenchError, match="datasets: expected at least one dataset"):
        read_study(bad)
    bad.write_text(
        'datasets = ["sample"]\n[[algorithms]]\nalgorithm = "popular"\n[evaluation]\n'
        "negatives = 0\n"
    )
    runner = CliRunner()
    res = runner.invoke(main, ["study", str(bad), "--db", str(tmp_path / "x.duckdb")])
    assert res.exit_code == 2 and res.output.count("\n") == 1
    assert "bad.toml" in res.output and "negatives" in res.output
    bad.write_text('datasets = ["s"]\n[[algorithms]]\nalgorithm = "popular"\nfindings = "x"\n')
    with pytest.raises(WorkbenchError, match=r"unknown key 'findings'.*put study keys at the top"):
        read_study(bad)
    bad.write_text("datasets = [\n")
    res = runner.invoke(main, ["study", str(bad), "--db", str(tmp_path / "x.duckdb")])
    assert res.exit_code == 2 and "not valid TOML" in res.output
    good = tmp_path / "one.toml"
    good.write_text(
        f'datasets = [{{ name = "sample", load = ["{SAMPLE}"] }}]\n'
        '[evaluation]\nnegatives = 20\nboards = 20\n[[algorithms]]\nalgorithm = "popular"\n'
    )
    res = runner.invoke(main, ["study", str(good), "--json", "--db", str(tmp_path / "y.duckdb")])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["rows"][0]["label"] == "popular" and Path(out["report"]).exists()
