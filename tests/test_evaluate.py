"""Evaluation protocols on small generated graphs where the right answer is known: popularity ranks
by hand, negatives drawn only from untouched pins, ties that never favour the held-out pin,
validation carved without leaking held-out edges into fitting, and the eval command."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from scipy import stats

from tests.conftest import write
from workbench.cli import main
from workbench.engine.errors import WorkbenchError
from workbench.engine.evaluate import (
    EvalSettings,
    evaluate,
    heldout_pairs,
    prepare,
    rank_candidates,
    reseed,
    run_trial,
)
from workbench.engine.export import export_run
from workbench.engine.graph import Graph
from workbench.engine.ingest import load_dataset
from workbench.engine.runs import get_run, run_board_metrics, run_results
from workbench.engine.splits import SplitSpec, make_split, pair_keys, sample_negatives
from workbench.engine.store import Store


def clustered_dir(
    root: Path, boards: int = 80, pins: int = 60, topics: int = 4, per_board: int = 8, seed: int = 0
) -> Path:
    """A board/pin graph in which each board draws most pins from its own topic."""
    rng = np.random.default_rng(seed)
    pin_topic = np.arange(pins) % topics
    lines = ["pin,title,topic"] + [f"p{i},Pin {i},t{pin_topic[i]}" for i in range(pins)]
    write(root / "pins.csv", "\n".join(lines) + "\n")
    edges = ["board,pin,timestamp"]
    for b in range(boards):
        own = np.flatnonzero(pin_topic == b % topics)
        other = np.flatnonzero(pin_topic != b % topics)
        chosen = set(rng.choice(own, size=per_board - 1, replace=False).tolist())
        chosen.add(int(rng.choice(other)))
        for j, p in enumerate(sorted(chosen)):
            edges.append(f"b{b},p{p},2024-01-{1 + (b + j) % 28:02d} 00:00:{j:02d}")
    write(root / "edges.csv", "\n".join(edges) + "\n")
    return root


@pytest.fixture
def clustered(store: Store, tmp_path: Path) -> Store:
    load_dataset(store, [clustered_dir(tmp_path / "clustered")], "clustered")
    return store


def _hand_dir(root: Path, negatives: bool) -> Path:
    # Training degrees: a 4, b 3, c 2, d 1, e 0 (e appears only in the test split).
    write(
        root / "edges.csv",
        "board,pin\nB1,a\nB1,b\nB1,c\nB1,d\nB2,a\nB2,b\nB2,c\nB3,a\nB3,b\nB4,a\n",
    )
    write(root / "test.csv", "board,pin\nB2,d\nB3,c\nB4,e\n")
    if negatives:
        write(root / "negatives.csv", "board,pin\nB2,e\nB3,d\nB3,e\nB4,b\nB4,c\nB4,d\n")
    return root


@pytest.mark.parametrize("negatives", [True, False])
def test_popularity_by_hand(store: Store, tmp_path: Path, negatives: bool) -> None:
    load_dataset(store, [_hand_dir(tmp_path / "hand", negatives)], "hand")
    # Held-out pins rank 1 (d over e), 1 (c over d, e) and 4 (e below b, c, d). Without a
    # negatives table every untouched pin is sampled (fewer than 99), which is the same set.
    settings = EvalSettings(ks=(1, 3, 4), keep_short=True)
    _, result, data = evaluate(store, "hand", "popular", {}, settings)
    m = result.metrics
    assert m["hr@1"] == pytest.approx(2 / 3) and m["hr@3"] == pytest.approx(2 / 3)
    assert m["hr@4"] == pytest.approx(1.0)
    assert m["mrr@4"] == pytest.approx((1 + 1 + 1 / 4) / 3)
    assert m["ndcg@4"] == pytest.approx((2 + 1 / math.log2(5)) / 3)
    assert ("table" in data.negatives_source) == negatives
    full = evaluate(store, "hand", "popular", {}, EvalSettings(ks=(1, 4), protocol="full"))[1]
    assert full.metrics["hr@1"] == pytest.approx(2 / 3)
    assert full.metrics["mrr@4"] == pytest.approx(0.75)


def test_negatives_exclude_touched_pins_and_are_seeded(clustered: Store) -> None:
    data = prepare(clustered, "clustered", EvalSettings(protocol="full"))
    split = data.split
    a = sample_negatives(split, 20, seed=1)
    assert np.array_equal(a, sample_negatives(split, 20, seed=1))
    assert not np.array_equal(a, sample_negatives(split, 20, seed=2))
    for i, b in enumerate(split.boards):
        touched = set(split.touched[split.touched_indptr[b] : split.touched_indptr[b + 1]])
        row = a[i][a[i] >= 0]
        assert len(set(row.tolist())) == row.size  # without replacement
        assert not touched & set(row.tolist())
        assert set(split.relevant_of(i).tolist()) <= touched
        # test pins are touched, though not training edges
        assert row.size == min(20, data.graph.n_pins - len(touched))


def test_negatives_are_uniform() -> None:
    # One board touching pins 0..9 of 50: the other 40 should be drawn equally often.
    g = Graph.from_edges(50, 400, np.repeat(np.arange(400), 10), np.tile(np.arange(10), 400))
    split = make_split(
        g, (np.arange(400, dtype=np.int32), np.full(400, 10, np.int32)), "test", SplitSpec()
    )
    neg = sample_negatives(split, 5, seed=0)
    counts = np.bincount(neg.ravel(), minlength=50)
    assert counts[:11].sum() == 0
    expected = 400 * 5 / 39
    chi2 = ((counts[11:] - expected) ** 2 / expected).sum()
    assert chi2 < 80  # 38 degrees of freedom; p < 1e-4 beyond about 75


def test_rank_candidates_ties_never_favour_the_positive() -> None:
    n, c = 2000, 100
    boards = np.arange(n)
    c_indptr = np.arange(0, n * c + 1, c).astype(np.int64)
    pins = np.tile(np.arange(c, dtype=np.int32), n)
    scores = np.ones(n * c)
    r_indptr = np.arange(n + 1).astype(np.int64)
    for positive in (0, c - 1):  # listed first, then last
        relevant = np.full(n, positive, dtype=np.int32)
        top, _, tied = rank_candidates(boards, c_indptr, pins, scores, r_indptr, relevant, 0, 10)
        hr = float((top == positive).any(axis=1).mean())
        assert hr == pytest.approx(0.10, abs=0.025)
        assert float((top[:, 0] == positive).mean()) == pytest.approx(0.01, abs=0.008)
        assert tied == n
    top2, _, _ = rank_candidates(boards, c_indptr, pins, scores, r_indptr, relevant, 0, 10)
    assert np.array_equal(top, top2)  # seeded
    # A strictly better score still wins, and -inf/NaN lose.
    scores2 = scores.copy()
    scores2[5::c] = 2.0
    scores2[7::c] = np.nan
    top, s, tied = rank_candidates(boards, c_indptr, pins, scores2, r_indptr, relevant, 0, 10)
    assert (top[:, 0] == 5).all() and (s[:, 0] == 2.0).all()
    assert not (top == 7).any()


def test_all_equal_scores_give_chance_level(store: Store, tmp_path: Path) -> None:
    # Every pin is on exactly two boards, so popularity ties everything: HR@10 among 50
    # candidates must be about 10/50, not 1.
    n = 300
    edges = ["board,pin"] + [f"b{i},p{(i + j) % n}" for i in range(n) for j in (0, 1)]
    test = ["board,pin"] + [f"b{i},p{(i + n // 2) % n}" for i in range(n)]
    write(tmp_path / "eq" / "edges.csv", "\n".join(edges) + "\n")
    write(tmp_path / "eq" / "test.csv", "\n".join(test) + "\n")
    load_dataset(store, [tmp_path / "eq"], "eq")
    _, result, _ = evaluate(store, "eq", "popular", {}, EvalSettings(negatives=49, ks=(1, 10)))
    assert result.tied_positives == pytest.approx(1.0)
    assert 0.12 < result.metrics["hr@10"] < 0.28
    assert result.metrics["hr@1"] < 0.06


def _edge_set(g: Graph) -> set[tuple[int, int]]:
    b, p = g.edges()
    return set(zip(b.tolist(), p.tolist(), strict=True))


def test_validation_split_never_fits_on_held_out_edges(clustered: Store) -> None:
    spec = SplitSpec()
    test = prepare(
        clustered, "clustered", EvalSettings(split="test", holdout=spec, split_seed=3, negatives=20)
    )
    val = prepare(
        clustered,
        "clustered",
        EvalSettings(split="validation", holdout=spec, split_seed=3, negatives=20),
    )

    def pairs(d: object) -> set[tuple[int, int]]:
        s = d.split  # type: ignore[attr-defined]
        counts = np.diff(s.relevant_indptr)
        return set(zip(np.repeat(s.boards, counts).tolist(), s.relevant.tolist(), strict=True))

    test_pairs, val_pairs = pairs(test), pairs(val)
    fitted_test, fitted_val = _edge_set(test.graph), _edge_set(val.graph)
    assert test_pairs and val_pairs and not test_pairs & val_pairs
    assert not fitted_test & test_pairs
    assert not fitted_val & (test_pairs | val_pairs)
    assert fitted_val | val_pairs == fitted_test
    assert val.graph.fingerprint != test.graph.fingerprint != ""
    # Recomputed identically from the seed; another seed holds out other pins.
    again = prepare(
        clustered,
        "clustered",
        EvalSettings(split="validation", holdout=spec, split_seed=3, negatives=20),
    )
    assert pairs(again) == val_pairs
    other = prepare(
        clustered, "clustered", EvalSettings(split="validation", split_seed=4, negatives=20)
    )
    assert pairs(other) != val_pairs


def test_dataset_test_split_and_validation(store: Store, tmp_path: Path) -> None:
    load_dataset(store, [_hand_dir(tmp_path / "hand", False)], "hand")
    val = prepare(store, "hand", EvalSettings(split="validation", keep_short=True))
    fitted = {(int(b), int(p)) for b, p in zip(*val.graph.edges(), strict=True)}
    assert len(fitted) == 10 - 3  # one pin per board with >= 2 pins carved for validation
    assert "validation carved from training" in val.split.source


def test_time_holdout_takes_latest_pins() -> None:
    boards = np.array([0, 0, 0, 1, 1], dtype=np.int32)
    pins = np.array([0, 1, 2, 0, 3], dtype=np.int32)
    times = np.array([5, 9, 1, 7, 2], dtype=np.int64)
    g = Graph.from_edges(4, 2, boards, pins, times=times)
    split = make_split(g, None, "test", SplitSpec(method="time"))
    assert split.relevant.tolist() == [1, 0]
    frac = make_split(g, None, "test", SplitSpec(method="time", fraction=0.5))
    assert frac.relevant_indptr.tolist() == [0, 2, 3]  # rint(1.5) = 2 of 3, 1 of 2
    assert sorted(frac.relevant_of(0).tolist()) == [0, 1]


def test_pair_keys_do_not_depend_on_order() -> None:
    b = np.array([3, 1, 2])
    p = np.array([7, 8, 9])
    k = pair_keys(5, 1, b, p)
    assert pair_keys(5, 1, b[::-1], p[::-1]).tolist() == k[::-1].tolist()
    assert pair_keys(6, 1, b, p).tolist() != k.tolist()


def test_pixie_beats_chance_on_a_clustered_graph(clustered: Store) -> None:
    data = prepare(clustered, "clustered", EvalSettings(negatives=30, ks=(10,)))
    pixie = run_trial(data, "pixie", {"steps": "3000"})
    assert pixie.metrics["hr@10"] > 0.6  # chance: 10/31
    assert pixie.steps > 0
    again = run_trial(data, "pixie", {"steps": "3000"})
    assert again.metrics == pixie.metrics  # seeded


def test_eval_command_stores_run(
    clustered: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(
        main,
        [
            "eval",
            "--dataset",
            "clustered",
            "--algo",
            "p3alpha",
            "--param",
            "topk=50",
            "--negatives",
            "20",
            "--k",
            "5,10",
            "--json",
            "--plot",
            "--db",
            str(clustered.path),
        ],
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert {"run_id", "protocol", "boards", "elapsed_s", "metrics"} <= set(out)
    assert out["protocol"] == "sampled" and out["boards"] == 80
    for key in ("hr@10", "ndcg@10", "mrr@10", "map@5", "precision@10", "recall@10"):
        assert key in out["metrics"] and key in out["ci95"], key
    assert out["split_seed"] == 0 and out["repeats"]["hr@10"] == [out["metrics"]["hr@10"]]
    assert Path(out["plot"]).exists()
    run = get_run(clustered, out["run_id"])
    assert run.kind == "eval" and run.params["topk"] == 50
    assert run.info["ties"].startswith("ties broken at random")
    per_board = run_board_metrics(clustered, run.run_id)
    assert per_board.height == 80
    assert per_board["hr@10"].mean() == pytest.approx(out["metrics"]["hr@10"])
    results = run_results(clustered, run.run_id)
    assert results.group_by("query").len()["len"].max() == 10
    text = CliRunner().invoke(
        main,
        [
            "eval",
            "--dataset",
            "clustered",
            "--algo",
            "popular",
            "--negatives",
            "20",
            "--repeats",
            "2",
            "--db",
            str(clustered.path),
        ],
    )
    assert text.exit_code == 0 and "ties broken at random" in text.output
    full = CliRunner().invoke(
        main,
        [
            "eval",
            "--dataset",
            "clustered",
            "--algo",
            "popular",
            "--protocol",
            "full",
            "--json",
            "--db",
            str(clustered.path),
        ],
    )
    assert full.exit_code == 0, full.output
    full_metrics = json.loads(full.output)["metrics"]
    for key in ("coverage@10", "gini@5", "novelty@5", "diversity@10", "popularity@10", "hr@10"):
        assert key in full_metrics, key
    bad = CliRunner().invoke(
        main,
        [
            "eval",
            "--dataset",
            "clustered",
            "--algo",
            "pixie",
            "--param",
            "nope=1",
            "--db",
            str(clustered.path),
        ],
    )
    assert bad.exit_code == 2 and "unknown parameter" in bad.output


def test_trec_export_agrees_with_trec_eval(clustered: Store, tmp_path: Path) -> None:
    ir = pytest.importorskip("ir_measures")
    run_id, result, data = evaluate(
        clustered, "clustered", "itemknn", {}, EvalSettings(negatives=25, ks=(5, 10))
    )
    path = export_run(clustered, run_id, "trec", out=tmp_path / "r.trec")
    qrels_path = tmp_path / "r.qrels"
    assert qrels_path.exists()
    qrels = list(ir.read_trec_qrels(str(qrels_path)))
    assert len(qrels) == data.split.relevant.size
    run = list(ir.read_trec_run(str(path)))
    theirs = ir.calc_aggregate([ir.Success @ 10, ir.nDCG @ 10, ir.RR @ 10, ir.P @ 5], qrels, run)
    assert theirs[ir.Success @ 10] == pytest.approx(result.metrics["hr@10"])
    assert theirs[ir.nDCG @ 10] == pytest.approx(result.metrics["ndcg@10"])
    assert theirs[ir.RR @ 10] == pytest.approx(result.metrics["mrr@10"])
    assert theirs[ir.P @ 5] == pytest.approx(result.metrics["precision@5"])
    pairs = heldout_pairs(clustered, get_run(clustered, run_id))
    assert pairs.height == len(qrels)


# -- issue 14: evaluation you can publish ------------------------------------------------------


def test_sampled_runs_carry_no_catalogue_metrics(clustered: Store) -> None:
    _, sampled, _ = evaluate(clustered, "clustered", "popular", {}, EvalSettings(negatives=20))
    names = {key.split("@")[0] for key in sampled.metrics}
    assert names == {"hr", "precision", "recall", "ndcg", "mrr", "map"}
    run_id, full, _ = evaluate(clustered, "clustered", "popular", {}, EvalSettings(protocol="full"))
    assert {"coverage@10", "gini@10", "popularity@10", "novelty@10"} <= set(full.metrics)
    assert "coverage@10" in get_run(clustered, run_id).metrics


def test_two_seeds_with_one_split_seed_train_on_the_same_pins(clustered: Store) -> None:
    a = prepare(
        clustered, "clustered", EvalSettings(split="validation", seed=1, split_seed=7, negatives=20)
    )
    b = prepare(
        clustered, "clustered", EvalSettings(split="validation", seed=2, split_seed=7, negatives=20)
    )
    c = prepare(
        clustered, "clustered", EvalSettings(split="validation", seed=1, split_seed=8, negatives=20)
    )
    assert _edge_set(a.graph) == _edge_set(b.graph)
    assert np.array_equal(a.split.relevant, b.split.relevant)
    assert _edge_set(a.graph) != _edge_set(c.graph)
    assert a.cand is not None and b.cand is not None
    assert not np.array_equal(a.cand, b.cand)  # the seed draws other negatives
    run_id, _, _ = evaluate(
        clustered, "clustered", "popular", {}, EvalSettings(split_seed=7, negatives=20)
    )
    assert get_run(clustered, run_id).info["split_seed"] == 7


def test_repeats_report_means_intervals_and_per_seed_values(clustered: Store) -> None:
    settings = EvalSettings(negatives=20, ks=(10,), seed=5, repeats=3)
    run_id, result, data = evaluate(clustered, "clustered", "pixie", {"steps": "500"}, settings)
    assert result.seeds == [5, 6, 7]
    singles = [
        run_trial(reseed(data, s), "pixie", {"steps": "500"}).metrics["hr@10"] for s in (5, 6, 7)
    ]
    assert result.repeats["hr@10"] == pytest.approx(singles)
    assert result.metrics["hr@10"] == pytest.approx(np.mean(singles))
    assert len(set(singles)) > 1  # the seeds differ
    per_board = result.per_board["hr@10"]
    sd = per_board.std(ddof=1)
    expected = stats.t.ppf(0.975, per_board.size - 1) * sd / math.sqrt(per_board.size)
    assert result.ci95["hr@10"] == pytest.approx(expected)
    assert result.ci95_seeds["hr@10"] is not None
    info = get_run(clustered, run_id).info
    assert info["repeats"]["hr@10"] == pytest.approx(singles) and info["seeds"] == [5, 6, 7]
    assert info["ci95"]["hr@10"] == pytest.approx(expected)


def test_short_boards_are_flagged_and_left_out(store: Store, tmp_path: Path) -> None:
    load_dataset(store, [_hand_dir(tmp_path / "hand", False)], "hand")
    # 5 pins; untouched pins of the evaluated boards: B2 (a b c d) 1, B3 (a b c) 2, B4 (a e) 3
    with pytest.raises(WorkbenchError, match="every board has fewer than 4"):
        prepare(store, "hand", EvalSettings(negatives=4))
    data = prepare(store, "hand", EvalSettings(negatives=2))
    assert data.short_boards == 1 and data.split.boards.size == 2
    assert "1 of 3 boards have fewer than 2 candidate negatives: left out" in data.notes
    kept = prepare(store, "hand", EvalSettings(negatives=2, keep_short=True))
    assert kept.short_boards == 1 and kept.split.boards.size == 3
    run_id, _, _ = evaluate(store, "hand", "popular", {}, EvalSettings(negatives=2))
    assert get_run(store, run_id).info["short_boards"] == 1


def test_full_protocol_on_validation_never_ranks_test_pins(clustered: Store) -> None:
    test = prepare(clustered, "clustered", EvalSettings(protocol="full", split="test"))
    val = prepare(clustered, "clustered", EvalSettings(protocol="full", split="validation"))
    held_test = {
        int(b): set(test.split.relevant_of(i).tolist()) for i, b in enumerate(test.split.boards)
    }
    cands = val.full_candidates(0, val.split.boards.size)
    for i, b in enumerate(val.split.boards):
        pool = set(cands[i].tolist())
        assert set(val.split.relevant_of(i).tolist()) <= pool
        assert not held_test.get(int(b), set()) & pool
        assert not set(val.graph.pins_of(int(b)).tolist()) & pool


def test_evaluate_service_result_and_board_drill_down(clustered: Store) -> None:
    from workbench.services.evaluate import EvalRequest, board_detail, run

    request = EvalRequest("clustered", "itemknn", negatives=20, ks=(5, 10), repeats=2)
    result = run(clustered, request)
    assert result.seeds == [0, 1] and result.to_json()["split_seed"] == 0
    per_board = result.per_board
    assert per_board.height == result.boards and "hr@10" in per_board.columns
    hit = per_board.filter(per_board["first_hit"].is_not_null()).row(0, named=True)
    detail = board_detail(clustered, result.run_id, hit["board"])
    assert detail.held_out and detail.ranking.height == 10
    marked = detail.ranking.filter(detail.ranking["held_out"])
    assert marked["rank"].min() == hit["first_hit"]
    assert detail.metrics["hr@10"] == pytest.approx(hit["hr@10"])
