"""`workbench recommend` and the service behind it: output, stored runs, errors, caching, help."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import hold_store, write
from workbench.cli import main
from workbench.engine.errors import WorkbenchError
from workbench.engine.ingest import load_dataset
from workbench.engine.recommend import load_model
from workbench.engine.runs import get_run, run_results
from workbench.engine.store import Store
from workbench.services.parsing import parse_pin_specs
from workbench.services.recommend import RecommendRequest, recommend


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def tiny_db(tmp_path: Path, tiny_dir: Path) -> str:
    db = str(tmp_path / "wb.duckdb")
    load_dataset(Store(db), [tiny_dir], "tiny")
    return db


@pytest.fixture
def numeric_db(tmp_path: Path) -> str:
    """Integer ids: boards 1-4, pins 10-15 with titles."""
    d = tmp_path / "numeric"
    write(d / "pins.csv", "pin,title\n10,Ten\n11,Eleven\n12,Twelve\n13,Thirteen\n14,F\n15,Lonely\n")
    write(d / "edges.csv", "board,pin\n1,10\n1,11\n1,12\n2,10\n2,13\n3,11\n3,13\n3,14\n4,12\n")
    db = str(tmp_path / "num.duckdb")
    load_dataset(Store(db), [d], "num")
    return db


def test_json_output_has_original_ids_and_the_stored_run(tiny_db: str) -> None:
    args = ["recommend", "--dataset", "tiny", "--pin", "a", "--db", tiny_db,
            "--param", "steps=5000", "--seed", "3", "--top", "3", "--json"]  # fmt: skip
    code, out, err = run(*args)
    assert code == 0, err
    doc = json.loads(out)
    assert {"run_id", "algorithm", "params", "seed", "steps", "elapsed_ms", "results"} <= set(doc)
    assert doc["algorithm"] == "pixie" and doc["seed"] == 3 and doc["steps"] == 5000
    assert doc["params"]["steps"] == 5000 and doc["params"]["alpha"] == 0.9
    assert [r["rank"] for r in doc["results"]] == [1, 2, 3]
    assert {r["pin"] for r in doc["results"]} <= {"b", "c", "d", "e"}
    assert all(isinstance(r["score"], float) for r in doc["results"])
    store = Store(tiny_db)
    stored = get_run(store, doc["run_id"])
    assert (stored.kind, stored.algorithm, stored.seed, stored.steps) == (
        "recommend",
        "pixie",
        3,
        5000,
    )
    assert stored.query == {"pins": ["a"], "weights": [1.0]}
    rows = run_results(store, doc["run_id"])
    assert rows["pin"].to_list() == [r["pin"] for r in doc["results"]]
    # The same seed gives the same ranking; the query pin is never recommended.
    again = json.loads(run(*args)[1])
    assert again["results"] == doc["results"] and again["run_id"] == doc["run_id"] + 1


def test_integer_ids_stay_integers_and_text_output_shows_titles(numeric_db: str) -> None:
    code, out, _ = run(
        "recommend",
        "--dataset",
        "num",
        "--pin",
        "10:2",
        "--pin",
        "14",
        "--algo",
        "rp3beta",
        "--db",
        numeric_db,
        "--json",
    )
    doc = json.loads(out)
    assert code == 0 and doc["algorithm"] == "rp3beta" and doc["steps"] == 0
    assert doc["results"] and all(isinstance(r["pin"], int) for r in doc["results"])
    assert not {10, 14} & {r["pin"] for r in doc["results"]}
    code, out, _ = run(
        "recommend", "--dataset", "num", "--board", "1", "--algo", "itemknn", "--db", numeric_db
    )
    lines = out.strip().splitlines()
    assert code == 0 and lines[0].split() == ["rank", "pin", "score", "title"]
    assert lines[1].split()[0] == "1" and lines[1].split()[1] in {"13", "14"}
    assert "Thirteen" in out and lines[-1].startswith("run ") and "itemknn" in lines[-1]
    code, out, _ = run("recommend", "--dataset", "num", "--pin", "15", "--db", numeric_db)
    assert code == 0 and "no pins reached" in out


def test_board_queries_with_recency_weights(tiny_db: str) -> None:
    code, out, err = run(
        "recommend",
        "--dataset",
        "tiny",
        "--board",
        "B3",
        "--board-weights",
        "recency",
        "--algo",
        "ppr",
        "--db",
        tiny_db,
        "--json",
    )
    doc = json.loads(out)
    assert code == 0, err
    assert doc["query"] == {"board": "B3", "weighting": "recency"}
    assert not {"d", "e", "b"} & {r["pin"] for r in doc["results"]}  # the board's own pins


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--pin", "zz"], "error: unknown pin 'zz' in dataset 'tiny'"),
        (["--board", "B9"], "error: unknown board 'B9' in dataset 'tiny'"),
        (["--pin", "a", "--param", "stepz=1"], "error: pixie: unknown parameter 'stepz'"),
        (["--pin", "a", "--param", "alpha=2"], "error: pixie: parameter alpha=2.0 is out of range"),
        (["--pin", "a", "--algo", "magic"], "error: unknown algorithm 'magic' (known: "),
        (["--pin", "a", "--board", "B1"], "error: give either query pins or a board"),
        ([], "error: give either query pins or a board"),
        (["--pin", "a:-1"], "error: pin 'a:-1': the weight must be a number > 0"),
        (["--pin", "a", "--seed", str(2**63)], "error: seed 9223372036854775808: expected a whole"),
        (["--pin", "a", "--top", "0"], "error: the number of results must be at least 1"),
        (
            ["--pin", "a", "--param", "bias=0.5", "--param", "topic=colour"],
            "error: dataset 'tiny' has no pin attribute 'colour'",
        ),
    ],
)
def test_errors_are_one_line_with_exit_2(tiny_db: str, args: list[str], message: str) -> None:
    code, out, err = run("recommend", "--dataset", "tiny", "--db", tiny_db, *args)
    assert code == 2 and out == ""
    assert err.startswith(message) and err.count("\n") == 1


def test_models_are_cached_until_the_dataset_changes(tmp_path: Path, tiny_dir: Path) -> None:
    store = Store(tmp_path / "wb.duckdb")
    load_dataset(store, [tiny_dir], "tiny")
    first = load_model(store, "tiny", "p3alpha", {"topk": "10"})
    assert load_model(Store(store.path), "tiny", "p3alpha", {"topk": 10}) is first
    assert load_model(store, "tiny", "p3alpha", {"topk": "11"}) is not first
    write(tiny_dir / "edges.csv", "board,pin\nB1,a\nB1,b\nB2,a\n")
    load_dataset(store, [tiny_dir], "tiny", replace=True)
    refit = load_model(store, "tiny", "p3alpha", {"topk": "10"})
    assert refit is not first and refit.graph.n_edges == 3
    result = recommend(store, RecommendRequest("tiny", ("a",), algo="p3alpha",
                                               params={"topk": "10"}, k=5))  # fmt: skip
    assert result.results["pin"].to_list() == ["b"] and result.to_json()["results"][0]["pin"] == "b"


def test_pin_specs_take_an_optional_numeric_weight() -> None:
    assert parse_pin_specs(["a", "b:2.5", "c:d", "7:1e-1"]) == (
        ["a", "b", "c:d", "7"],
        [1.0, 2.5, 1.0, 0.1],
    )
    with pytest.raises(WorkbenchError, match="weight must be a number > 0"):
        parse_pin_specs(["x:0"])


def test_help_lists_every_algorithm_with_ranges_and_defaults() -> None:
    code, out, _ = run("recommend", "--help")
    assert code == 0
    assert "pixie-dn" in out and "rp3beta" in out and "ppr" in out
    assert "steps: int in [1, 1,000,000,000], default 100,000" in out
    assert "alpha: float in [0.001, 1], default 0.9" in out


def test_steps_are_reported_for_every_algorithm(tiny_db: str) -> None:
    """Not only for `pixie`: pixie-dn and ppr report theirs, algorithms without walks say '–'."""
    for algo, shown in (("pixie-dn", "steps 2,000"), ("ppr", "steps "), ("itemknn", "steps –")):
        code, out, err = run("recommend", "--dataset", "tiny", "--pin", "a", "--algo", algo,
                             "--db", tiny_db, *(["--param", "steps=2000"] if algo != "ppr"
                                                and algo != "itemknn" else []))  # fmt: skip
        assert code == 0, err
        assert shown in out.strip().splitlines()[-1], (algo, out)


def test_held_store_answers_many_queries_through_one_open(tiny_db: str) -> None:
    store = Store(tiny_db)
    with store.open():
        first = recommend(store, RecommendRequest("tiny", ("a",), params={"steps": "500"}))
        second = recommend(store, RecommendRequest("tiny", ("b",), params={"steps": "500"}))
    assert second.run_id == first.run_id + 1
    # the file is released at the end of the block: another process can open it read-write
    holder = hold_store(Path(tiny_db), 0.1)
    holder.wait()
    assert len(Store(tiny_db).datasets()) == 1


def test_warm_process_resolves_ids_from_memory_with_the_same_answers(numeric_db: str) -> None:
    """The second call of a process holds the pins in memory: same ranking, same titles, same
    errors as the first call's SQL look-ups; a reload (new version) is read again."""
    store = Store(numeric_db)
    request = RecommendRequest("num", ("10", "14"), (2.0, 1.0), algo="rp3beta")
    first, second, third = (recommend(store, request) for _ in range(3))
    assert first.results.equals(second.results) and second.results.equals(third.results)
    assert "Thirteen" in third.results["title"].to_list()
    with pytest.raises(WorkbenchError, match="unknown pin '99' in dataset 'num'"):
        recommend(store, RecommendRequest("num", ("99",)))
    # ids match exactly in memory as in SQL: '010' is not pin 10 (issue 15 item 5)
    with pytest.raises(WorkbenchError, match="unknown pin '010' in dataset 'num'"):
        recommend(store, RecommendRequest("num", ("010",)))
