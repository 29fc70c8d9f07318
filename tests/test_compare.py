"""Comparing rankings and evaluation runs: RBO, Kendall tau-b, overlap, rank shifts, paired tests,
Holm correction; checked against hand-computed values, brute force and scipy."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from workbench.cli import main
from workbench.engine import compare as C
from workbench.engine.errors import WorkbenchError
from workbench.engine.runs import save_run
from workbench.engine.store import Store

# -- RBO ---------------------------------------------------------------------------------------


def test_rbo_hand_computed_even_lists() -> None:
    # X = 0, 2, 2 at depths 1..3; RBO_EXT = X_3/3 p^3 + (1-p)/p sum X_d/d p^d (Webber eq. 30).
    assert C.rbo(list("abc"), list("bad"), 0.5) == pytest.approx(5 / 12)


def test_rbo_hand_computed_uneven_lists() -> None:
    # Webber eq. 32, s = 2, l = 4, p = 0.5: 0.776042 + 0.046875.
    assert C.rbo(list("ab"), list("acbd"), 0.5) == pytest.approx(0.8229166667)
    assert C.rbo(list("acbd"), list("ab"), 0.5) == pytest.approx(0.8229166667)


def test_rbo_extremes() -> None:
    assert C.rbo(list("abcdef"), list("abcdef"), 0.9) == pytest.approx(1.0)
    assert C.rbo(list("abc"), list("xyz"), 0.9) == pytest.approx(0.0)
    assert C.rbo([], [], 0.9) == 1.0
    assert C.rbo(["a"], [], 0.9) == 0.0
    with pytest.raises(Exception, match="p must be"):
        C.rbo(["a"], ["a"], 1.0)
    with pytest.raises(Exception, match="at most once"):
        C.rbo(["a", "a"], ["a"], 0.5)


def _webber_ext(s: list[str], t: list[str], p: float) -> float:
    """Webber, Moffat & Zobel (2010) eq. 32, written out term by term."""
    if len(s) > len(t):
        s, t = t, s
    sl, ll = len(s), len(t)

    def x(d: int) -> int:
        return len(set(s[:d]) & set(t[:d]))

    head = sum(x(d) / d * p**d for d in range(1, ll + 1))
    extra = sum(x(sl) * (d - sl) / (sl * d) * p**d for d in range(sl + 1, ll + 1))
    return (1 - p) / p * (head + extra) + ((x(ll) - x(sl)) / ll + x(sl) / sl) * p**ll


@settings(max_examples=80, deadline=None)
@given(
    st.permutations(list("abcdefghij")),
    st.permutations(list("abcdefghijklmn")),
    st.integers(1, 10),
    st.integers(1, 14),
    st.sampled_from([0.5, 0.8, 0.9, 0.98]),
)
def test_rbo_matches_webber_eq_32(a: list[str], b: list[str], la: int, lb: int, p: float) -> None:
    assert C.rbo(a[:la], b[:lb], p) == pytest.approx(_webber_ext(a[:la], b[:lb], p))


def test_rbo_ties_hand_computed() -> None:
    # S = a (b c) against T = a b c, p = 0.5: prefix overlaps 1, 1.5, 3 -> 0.9375, the mean of
    # RBO over the two orders of the tie (1.0 and 0.875).
    assert C.rbo(list("abc"), list("abc"), 0.5, a_scores=[3, 2, 2]) == pytest.approx(0.9375)


def test_rbo_ties_equal_the_average_over_tie_orders() -> None:
    a, a_scores = list("abcdef"), [9, 7, 7, 7, 3, 3]
    b, b_scores = list("cabfxe"), [5, 4, 4, 2, 1, 0]
    groups_a = [["a"], ["b", "c", "d"], ["e", "f"]]
    groups_b = [["c"], ["a", "b"], ["f"], ["x"], ["e"]]
    values = []
    for pa in itertools.product(*[itertools.permutations(g) for g in groups_a]):
        for pb in itertools.product(*[itertools.permutations(g) for g in groups_b]):
            values.append(C.rbo([i for g in pa for i in g], [i for g in pb for i in g], 0.8))
    got = C.rbo(a, b, 0.8, a_scores, b_scores)
    assert got == pytest.approx(float(np.mean(values)))


def test_kendall_tau_b() -> None:
    # Shared pins a b c d; one discordant pair of six: (4 - ... ) tau = (5 - 1) / 6.
    assert C.kendall_tau_b(list("abcdx"), list("bacdy")) == pytest.approx(4 / 6)
    assert C.kendall_tau_b(list("abc"), list("cba")) == pytest.approx(-1.0)
    assert C.kendall_tau_b(list("ab"), list("xy")) is None
    # Ties: a b c tied in the first list -> tau-b with a tie correction (scipy's definition).
    got = C.kendall_tau_b(list("abcd"), list("abcd"), [2, 2, 2, 1], [4, 3, 2, 1])
    assert got == pytest.approx(stats.kendalltau([0, 0, 0, 1], [0, 1, 2, 3]).statistic)
    assert got == pytest.approx(3 / np.sqrt(3 * 6))  # nc=3, nd=0, tied pairs in x: 3


def test_compare_lists_shift_table() -> None:
    c = C.compare_lists("q", list("abcde"), [5, 4, 3, 2, 1], list("cabxe"), [9, 8, 7, 6, 5], k=4)
    assert (c.overlap, c.shared) == (3, 4)
    assert c.jaccard == pytest.approx(3 / 5)
    change = {s.pin: (s.change, s.rank_a, s.rank_b, s.moved) for s in c.shifts}
    assert change == {
        "a": ("down", 1, 2, -1),
        "b": ("down", 2, 3, -1),
        "c": ("up", 3, 1, 2),
        "d": ("left", 4, None, None),
        "x": ("entered", None, 4, None),
    }
    assert c.to_json()["overlap_fraction"] == pytest.approx(0.75)


# -- significance -----------------------------------------------------------------------------


def test_paired_t_test_matches_scipy() -> None:
    rng = np.random.default_rng(0)
    a = rng.random(40)
    b = a + rng.normal(0.05, 0.1, 40)
    res = C.paired_test(a, b, permutations=2000, seed=1)
    want = stats.ttest_rel(b, a)
    assert res.t == pytest.approx(want.statistic)
    assert res.p_t == pytest.approx(want.pvalue)
    assert res.delta == pytest.approx(float((b - a).mean()))


def test_exact_randomisation_test_matches_scipy() -> None:
    d = np.array([1.0, 2, -0.5, 3, 0.2, 1, 1, -1, 2, 0.5])
    p, used = C.randomisation_test(d, permutations=10_000)
    assert used == 0  # 2^10 sign assignments enumerated
    want = stats.permutation_test(
        (d, np.zeros_like(d)),
        lambda x, y, axis: np.mean(x - y, axis=axis),
        permutation_type="samples",
        n_resamples=np.inf,
    ).pvalue
    assert p == pytest.approx(want)


def test_random_randomisation_test_is_close_to_exact() -> None:
    rng = np.random.default_rng(5)
    d = rng.normal(0.3, 1.0, 16)
    exact, _ = C.randomisation_test(d, permutations=2**16)
    sampled, used = C.randomisation_test(d, permutations=20_000, seed=2)
    assert used == 20_000
    assert sampled == pytest.approx(exact, abs=0.01)
    assert C.randomisation_test(d, 20_000, seed=2) == (sampled, used)  # seeded


def test_no_difference_gives_p_one() -> None:
    a = np.array([0.5, 0.2, 0.9])
    res = C.paired_test(a, a.copy())
    assert (res.p_t, res.p_permutation, res.delta) == (1.0, 1.0, 0.0)


def test_holm_hand_computed() -> None:
    # sorted 0.01, 0.03, 0.04 -> 3 * 0.01, max(0.03, 2 * 0.03), max(0.06, 1 * 0.04)
    assert C.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert C.holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert C.holm([]) == []


# -- stored runs ------------------------------------------------------------------------------


def _eval_run(
    store: Store, algo: str, values: np.ndarray, hr: float, dataset: str = "d", **info: Any
) -> int:
    boards = [f"b{i}" for i in range(values.size)]
    bm = pl.DataFrame(
        {
            "board": boards * 2,
            "metric": ["ndcg@10"] * values.size + ["hr@10"] * values.size,
            "value": np.concatenate([values, (values > 0.3).astype(float)]),
        }
    )
    return save_run(
        store,
        dataset=dataset,
        kind="eval",
        algorithm=algo,
        params={},
        seed=0,
        fingerprint="f",
        board_metrics=bm,
        metrics={"ndcg@10": float(values.mean()), "hr@10": hr, "coverage@10": 0.5},
        info={"protocol": "sampled", "split": "test", "split_seed": 0} | info,
    )


def test_compare_evaluations_with_holm(store: Store) -> None:
    rng = np.random.default_rng(0)
    base = rng.random(30)
    r1 = _eval_run(store, "popular", base, 0.3)
    r2 = _eval_run(store, "p3alpha", np.clip(base + 0.2, 0, 1), 0.8)
    r3 = _eval_run(store, "rp3beta", base + rng.normal(0, 0.01, 30), 0.31)
    out = C.compare_runs(store, [r1, r2, r3], k=10, permutations=500)
    assert isinstance(out, C.EvaluationsComparison)
    assert out.table[1].delta["hr@10"] == pytest.approx(0.5)
    tests = out.tests["ndcg@10"]
    assert [t.run_b for t in tests] == [r2, r3]
    raw = [t.p_t for t in tests]
    assert [t.p_t_holm for t in tests] == pytest.approx(C.holm(raw))
    assert tests[0].p_t < 0.001
    assert "coverage@10" not in out.tests  # no per-board values
    entry = out.to_json()["tests"]["ndcg@10"][0]
    assert {"run_a", "run_b", "delta", "p_t", "p_t_holm", "ci95"} <= set(entry)
    res = CliRunner().invoke(
        main,
        ["compare", str(r1), str(r2), str(r3), "--permutations", "200", "--db", str(store.path)],
    )
    assert res.exit_code == 0, res.output
    assert "Holm-corrected" in res.output and "delta" in res.output


def test_compare_rankings_and_cli(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def rec(pins: list[str]) -> int:
        res = pl.DataFrame(
            {
                "query": ["p1"] * len(pins),
                "rank": list(range(1, len(pins) + 1)),
                "pin": pins,
                "score": [10.0 - i for i in range(len(pins))],
            }
        )
        return save_run(
            store,
            dataset="d",
            kind="recommend",
            algorithm="pixie",
            params={},
            seed=0,
            fingerprint="f",
            results=res,
        )

    a, b = rec(list("abcde")), rec(list("bacdf"))
    out = C.compare_runs(store, [a, b], k=3, p=0.9)
    assert isinstance(out, C.RankingsComparison)
    comp = out.comparisons[0]
    assert comp.queries == 1
    assert comp.rbo == pytest.approx(C.rbo(list("abcde"), list("bacdf"), 0.9))
    assert (comp.kendall_queries, comp.kendall_items) == (1, 4)  # a, b, c, d shared
    runner = CliRunner()
    res = runner.invoke(
        main, ["compare", str(a), str(b), "--k", "3", "--json", "--db", str(store.path)]
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)["comparisons"][0]
    assert doc["per_query"][0]["overlap"] == 3
    assert doc["mean"]["kendall_items"] == 4 and doc["mean"]["kendall_queries"] == 1
    monkeypatch.chdir(tmp_path)
    res = runner.invoke(main, ["compare", str(a), str(b), "--plot", "--db", str(store.path)])
    assert res.exit_code == 0, res.output
    assert "rbo" in res.output
    assert list(Path("exports").glob("*.png"))


def test_stability_grows_with_steps(store: Store, tmp_path: Path) -> None:
    from tests.test_evaluate import clustered_dir
    from workbench.engine.evaluate import ranking_stability
    from workbench.engine.ingest import load_dataset

    load_dataset(store, [clustered_dir(tmp_path / "c")], "c")
    out = ranking_stability(store, "c", ["p1", "p2"], "pixie", {}, [30, 20_000], seeds=3, k=5)
    few, many = out.table
    assert few["seeds"] == many["seeds"] == 3
    assert many["rbo_mean"] > few["rbo_mean"] and many["rbo_mean"] > 0.8
    runner = CliRunner()
    res = runner.invoke(
        main,
        [
            "compare",
            "--stability",
            "--dataset",
            "c",
            "--pin",
            "p1",
            "--steps",
            "100,1000",
            "--seeds",
            "2",
            "--json",
            "--db",
            str(store.path),
        ],
    )
    assert res.exit_code == 0, res.output
    assert [r["steps"] for r in json.loads(res.output)["table"]] == [100, 1000]
    with pytest.raises(Exception, match="no step budget"):
        ranking_stability(store, "c", ["p1"], "popular", {}, [10], seeds=2)


# -- issue 12: compare only what is comparable, and say how sure ---------------------------------


def test_delta_interval_is_the_t_interval_of_the_paired_differences() -> None:
    rng = np.random.default_rng(3)
    a = rng.random(50)
    b = a + rng.normal(0.05, 0.1, 50)
    res = C.paired_test(a, b, permutations=500)
    d = b - a
    half = stats.t.ppf(0.975, 49) * d.std(ddof=1) / np.sqrt(50)
    assert res.ci95 == pytest.approx((d.mean() - half, d.mean() + half))
    assert res.ci95[0] < res.delta < res.ci95[1]
    assert C.paired_test(a[:1], b[:1]).ci95 is None


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"dataset": "other"}, "dataset"),
        ({"split": "validation"}, "split"),
        ({"split_seed": 3}, "split seed"),
        ({"protocol": "full"}, "protocol"),
        ({"settings": {"negatives": 50}}, "negatives"),
    ],
)
def test_incomparable_evaluations_are_refused(
    store: Store, change: dict[str, Any], words: str
) -> None:
    values = np.linspace(0, 1, 10)
    base = _eval_run(store, "popular", values, 0.3, settings={"negatives": 99})
    dataset = change.pop("dataset", "d")
    other = _eval_run(
        store, "itemknn", values, 0.4, dataset=dataset, **({"settings": {"negatives": 99}} | change)
    )
    with pytest.raises(WorkbenchError, match=f"differ in {words}"):
        C.compare_runs(store, [base, other])
    res = CliRunner().invoke(main, ["compare", str(base), str(other), "--db", str(store.path)])
    assert res.exit_code == 2 and res.output.count("\n") == 1
    assert f"differ in {words}" in res.output


def test_rankings_of_different_datasets_are_refused(store: Store) -> None:
    def rec(dataset: str) -> int:
        res = pl.DataFrame(
            {"query": ["q"] * 2, "rank": [1, 2], "pin": ["a", "b"], "score": [2.0, 1.0]}
        )
        return save_run(
            store,
            dataset=dataset,
            kind="recommend",
            algorithm="pixie",
            params={},
            seed=0,
            fingerprint=dataset,
            results=res,
        )

    with pytest.raises(WorkbenchError, match="different datasets"):
        C.compare_runs(store, [rec("d1"), rec("d2")])


def test_kendall_tau_needs_two_shared_items() -> None:
    one = C.compare_lists("q", list("abc"), [3.0, 2, 1], list("axy"), [3.0, 2, 1], k=3)
    assert one.shared == 1 and one.kendall_tau is None
    two = C.compare_lists("q", list("abc"), [3.0, 2, 1], list("bax"), [3.0, 2, 1], k=3)
    assert two.shared == 2 and two.kendall_tau == pytest.approx(-1.0)


def test_stability_study_is_stored_as_a_run(store: Store, tmp_path: Path) -> None:
    from tests.test_evaluate import clustered_dir
    from workbench.engine.evaluation import stability as S
    from workbench.engine.ingest import load_dataset
    from workbench.engine.runs import get_run, run_results

    load_dataset(store, [clustered_dir(tmp_path / "c")], "c")
    out = S.ranking_stability(store, "c", ["p1"], "pixie", {}, [50, 500], seeds=2, k=5, depth=8)
    assert out.run_id is not None and not out.notes
    run = get_run(store, out.run_id)
    assert run.kind == "stability" and run.info["stability"]["table"] == out.table
    queries = set(run_results(store, out.run_id)["query"].to_list())
    assert queries == {f"steps={n} seed={s}" for n in (50, 500) for s in (0, 1)}


def test_compare_plot_of_per_board_differences(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    values = np.linspace(0, 1, 12)
    a = _eval_run(store, "popular", values, 0.3)
    b = _eval_run(store, "itemknn", values[::-1], 0.4)
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(main, ["compare", str(a), str(b), "--plot", "--db", str(store.path)])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "exports" / f"compare-{a}-{b}-boards.png").exists()
