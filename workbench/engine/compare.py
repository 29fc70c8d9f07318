"""Comparing runs: how two rankings differ (overlap, Jaccard, rank-biased overlap, Kendall tau-b,
rank shifts), whether evaluation runs differ significantly (paired t-test and randomisation test
per board, Holm correction), and how stable a Monte-Carlo ranking is from seed to seed.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Hashable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from scipy import stats

from workbench.engine.errors import WorkbenchError
from workbench.engine.progress import SILENT, Reporter
from workbench.engine.runs import Run, get_run, run_board_metrics, run_results

# -- ranked-list similarity ------------------------------------------------------------------------


def tie_groups(scores: Sequence[float] | np.ndarray) -> np.ndarray:
    """Tie-group index of each position of a ranked list: consecutive equal scores share one."""
    s = np.asarray(scores, dtype=np.float64)
    if s.size == 0:
        return np.zeros(0, dtype=np.int64)
    return np.concatenate(([0], np.cumsum(s[1:] != s[:-1]))).astype(np.int64)


def _spans(groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and last 0-based position of the tie group of every position."""
    n = groups.size
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    ends = np.r_[starts[1:], n] - 1
    which = np.searchsorted(starts, np.arange(n), side="right") - 1
    return starts[which], ends[which]


def _contribution(top: int, bottom: int, depth: int) -> np.ndarray:
    """How much of an item a prefix of each depth 1..``depth`` holds, for an item tied over
    positions top..bottom: averaged over the orders of its tie group (Corsi & Urbano, 2024)."""
    d = np.arange(depth)
    return np.clip((d - top + 1) / (bottom - top + 1), 0.0, 1.0)


def rbo(
    a: Sequence[Hashable],
    b: Sequence[Hashable],
    p: float = 0.9,
    a_scores: Sequence[float] | None = None,
    b_scores: Sequence[float] | None = None,
) -> float:
    """Extrapolated rank-biased overlap of two ranked lists (Webber, Moffat & Zobel, TOIS 2010).

    Lists of different lengths use eq. (32) of the paper: the shorter list's agreement at its
    end is assumed to continue. Consecutive equal scores are ties, treated as in Corsi & Urbano
    ("The Treatment of Ties in Rank-Biased Overlap", SIGIR 2024, variant a): the value is the
    expected overlap over all orders of each tie group, which equals the average RBO over those
    orders for lists of equal length. Without ties this is exactly Webber's RBO_EXT.
    """
    if not 0.0 < p < 1.0:
        raise WorkbenchError(f"RBO persistence p must be in (0, 1), got {p}")
    if len(set(a)) != len(a) or len(set(b)) != len(b):
        raise WorkbenchError("a ranked list holds each item at most once")
    if not a or not b:
        return 1.0 if not a and not b else 0.0
    ga = tie_groups(a_scores) if a_scores is not None else np.arange(len(a))
    gb = tie_groups(b_scores) if b_scores is not None else np.arange(len(b))
    if ga.size != len(a) or gb.size != len(b):
        raise WorkbenchError("scores and items of a ranked list differ in length")
    if len(a) > len(b):
        a, b, ga, gb = b, a, gb, ga
    s, length = len(a), len(b)
    top_s, bottom_s = _spans(ga)
    top_l, bottom_l = _spans(gb)
    pos_l = {item: i for i, item in enumerate(b)}
    # X[d]: expected overlap of the prefixes of depth d + 1.
    overlap = np.zeros(length)
    for i, item in enumerate(a):
        j = pos_l.get(item)
        if j is not None:
            overlap += _contribution(top_s[i], bottom_s[i], length) * _contribution(
                top_l[j], bottom_l[j], length
            )
    depths = np.arange(1, length + 1, dtype=np.float64)
    agreement = overlap / depths
    a_s = agreement[s - 1]
    if length > s:
        # Beyond the short list's end, each unseen item of the long list is assumed to match with
        # probability A_s, weighted by how much of that item the long prefix holds.
        short = set(a)
        in_short = np.array([item in short for item in b])
        unseen = np.array(
            [_contribution(top_l[j], bottom_l[j], length) for j in np.flatnonzero(~in_short)]
        )
        tail = unseen[:, s:]
        held = np.where(tail > 0, tail, np.nan)
        mean_held = np.nanmean(held, axis=0) if held.size else np.ones(length - s)
        extra = (depths[s:] - s) * a_s * mean_held
        agreement[s:] = (overlap[s:] + extra) / depths[s:]
    weights = p**depths
    head = float((agreement * weights).sum())
    rest = (overlap[-1] + (length - s) * a_s) / length * p ** (length + 1) / (1 - p)
    return (1 - p) / p * (head + rest)


def kendall_tau_b(
    a: Sequence[Hashable],
    b: Sequence[Hashable],
    a_scores: Sequence[float] | None = None,
    b_scores: Sequence[float] | None = None,
) -> float | None:
    """Kendall's tau-b between the orders two lists give their shared items (ties from equal
    scores count as ties); None with fewer than two shared items or no order at all."""
    ga = tie_groups(a_scores) if a_scores is not None else np.arange(len(a))
    gb = tie_groups(b_scores) if b_scores is not None else np.arange(len(b))
    pos_b = {item: i for i, item in enumerate(b)}
    pairs = [(ga[i], gb[pos_b[item]]) for i, item in enumerate(a) if item in pos_b]
    if len(pairs) < 2:
        return None
    x, y = zip(*pairs, strict=True)
    tau = stats.kendalltau(x, y).statistic  # tau-b by default
    return None if math.isnan(tau) else float(tau)


@dataclass
class RankShift:
    """Where one pin of the top-k of either ranking went."""

    pin: str
    change: str  # entered, left, up, down, same
    rank_a: int | None
    rank_b: int | None
    score_a: float | None
    score_b: float | None

    @property
    def moved(self) -> int | None:
        """Positions gained (positive) from ranking a to b."""
        if self.rank_a is None or self.rank_b is None:
            return None
        return self.rank_a - self.rank_b


@dataclass
class RankingComparison:
    """Two rankings of the same query compared at cutoff k."""

    query: str
    k: int
    p: float
    overlap: int
    jaccard: float
    rbo: float
    kendall_tau: float | None
    shared: int
    length_a: int
    length_b: int
    shifts: list[RankShift] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["overlap_fraction"] = self.overlap / self.k
        d["shifts"] = [asdict(s) | {"moved": s.moved} for s in self.shifts]
        return d


def compare_lists(
    query: str,
    a_pins: Sequence[str],
    a_scores: Sequence[float],
    b_pins: Sequence[str],
    b_scores: Sequence[float],
    k: int = 10,
    p: float = 0.9,
) -> RankingComparison:
    """Compare ranking b against ranking a (both best first): top-k overlap and Jaccard, RBO and
    Kendall tau-b over the whole lists, and the shifts of every pin in either top-k."""
    if k < 1:
        raise WorkbenchError(f"k must be at least 1, got {k}")
    top_a, top_b = list(a_pins[:k]), list(b_pins[:k])
    inter = set(top_a) & set(top_b)
    union = set(top_a) | set(top_b)
    rank_a = {pin: i + 1 for i, pin in enumerate(a_pins)}
    rank_b = {pin: i + 1 for i, pin in enumerate(b_pins)}
    shifts: list[RankShift] = []
    for pin in list(dict.fromkeys(top_a + top_b)):
        ra, rb = rank_a.get(pin), rank_b.get(pin)
        in_a, in_b = pin in top_a, pin in top_b
        change = (
            "entered"
            if not in_a
            else "left"
            if not in_b
            else "same"
            if ra == rb
            else "up"
            if (rb or 0) < (ra or 0)
            else "down"
        )
        shifts.append(
            RankShift(
                pin=pin,
                change=change,
                rank_a=ra,
                rank_b=rb,
                score_a=float(a_scores[ra - 1]) if ra else None,
                score_b=float(b_scores[rb - 1]) if rb else None,
            )
        )
    return RankingComparison(
        query=query,
        k=k,
        p=p,
        overlap=len(inter),
        jaccard=len(inter) / len(union) if union else 1.0,
        rbo=rbo(list(a_pins), list(b_pins), p, a_scores, b_scores),
        kendall_tau=kendall_tau_b(list(a_pins), list(b_pins), a_scores, b_scores),
        shared=len(set(a_pins) & set(b_pins)),
        length_a=len(a_pins),
        length_b=len(b_pins),
        shifts=shifts,
    )


# -- significance --------------------------------------------------------------------------------


@dataclass
class PairedTest:
    """Paired tests of b against a over the same boards, and the 95% interval of the mean
    paired difference (Student's t over boards; None with fewer than two boards)."""

    n: int
    mean_a: float
    mean_b: float
    delta: float
    t: float
    p_t: float
    p_permutation: float
    permutations: int  # 0: exact, every sign assignment enumerated
    ci95: tuple[float, float] | None = None
    p_t_holm: float | None = None
    p_permutation_holm: float | None = None
    run_a: int | None = None
    run_b: int | None = None

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["ci95"] = list(self.ci95) if self.ci95 is not None else None
        return d


def randomisation_test(
    diff: np.ndarray,
    permutations: int = 10_000,
    seed: int = 0,
    reporter: Reporter = SILENT,
) -> tuple[float, int]:
    """Two-sided paired randomisation (sign-flip) test of mean(diff) = 0 (Fisher 1935; for IR:
    Smucker, Allan & Carterette, CIKM 2007). Exact when 2^n <= ``permutations`` (returns 0 as the
    count), otherwise ``permutations`` random sign flips with p = (hits + 1) / (R + 1)."""
    d = np.asarray(diff, dtype=np.float64)
    n = d.size
    if n == 0:
        return 1.0, 0
    observed = abs(d.sum())
    tolerance = 1e-9 * max(observed, np.abs(d).sum() * 1e-6, 1e-300)
    if n <= 20 and 2**n <= permutations:
        signs = 1.0 - 2.0 * ((np.arange(2**n)[:, None] >> np.arange(n)) & 1)
        hits = int((np.abs(signs @ d) >= observed - tolerance).sum())
        return hits / 2**n, 0
    rng = np.random.default_rng(seed)
    hits, chunk = 0, max(1, min(permutations, 4_000_000 // max(n, 1)))
    done = 0
    while done < permutations:
        reporter.check("the comparison")
        m = min(chunk, permutations - done)
        signs = rng.integers(0, 2, size=(m, n), dtype=np.int8).astype(np.float64) * 2 - 1
        hits += int((np.abs(signs @ d) >= observed - tolerance).sum())
        done += m
    return (hits + 1) / (permutations + 1), permutations


def delta_interval(diff: np.ndarray) -> tuple[float, float] | None:
    """The 95% Student-t interval of the mean of paired differences (None below two)."""
    d = np.asarray(diff, dtype=np.float64)
    if d.size < 2:
        return None
    half = float(stats.t.ppf(0.975, d.size - 1) * d.std(ddof=1) / math.sqrt(d.size))
    return float(d.mean() - half), float(d.mean() + half)


def paired_test(
    a: np.ndarray,
    b: np.ndarray,
    permutations: int = 10_000,
    seed: int = 0,
    reporter: Reporter = SILENT,
) -> PairedTest:
    """Paired t-test (scipy's ttest_rel) and randomisation test of b - a, with the 95%
    interval of the mean difference."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    diff = b - a
    if diff.size >= 2 and np.ptp(diff) > 0:
        res = stats.ttest_rel(b, a)
        t, p_t = float(res.statistic), float(res.pvalue)
    else:  # no variation: identical (or a single pair), no evidence of a difference
        t, p_t = (0.0, 1.0) if not diff.size or diff.mean() == 0 else (math.inf, 0.0)
    p_perm, used = randomisation_test(diff, permutations, seed, reporter)
    return PairedTest(
        n=int(diff.size),
        mean_a=float(a.mean()) if a.size else 0.0,
        mean_b=float(b.mean()) if b.size else 0.0,
        delta=float(diff.mean()) if diff.size else 0.0,
        t=t,
        p_t=p_t,
        p_permutation=p_perm,
        permutations=used,
        ci95=delta_interval(diff),
    )


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (Holm, Scand. J. Statist. 1979), in the given order."""
    m = len(pvalues)
    order = np.argsort(pvalues, kind="stable")
    adjusted = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted.tolist()


# -- comparing stored runs -------------------------------------------------------------------------

RANKING_KINDS = ("recommend", "visual", "fusion", "batch")


@dataclass
class RunLabel:
    """Which run a comparison column is."""

    run_id: int
    kind: str
    algorithm: str
    params: dict[str, Any]
    seed: int | None
    dataset: str
    name: str | None

    @classmethod
    def of(cls, run: Run) -> RunLabel:
        return cls(run.run_id, run.kind, run.algorithm, run.params, run.seed, run.dataset, run.name)

    @property
    def label(self) -> str:
        """``#3 pixie`` (or the run's name)."""
        return f"#{self.run_id} {self.name or self.algorithm}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RankingPair:
    """One ranking run compared with the first over their shared queries: means of overlap,
    Jaccard and RBO over the queries; Kendall tau averaged over the queries with at least two
    shared items (``kendall_queries`` of them, ``kendall_items`` shared items in all; None when
    no query has two)."""

    run_a: int
    run_b: int
    per_query: list[RankingComparison]
    overlap: float
    jaccard: float
    rbo: float
    kendall_tau: float | None
    kendall_queries: int
    kendall_items: int

    @property
    def queries(self) -> int:
        return len(self.per_query)

    def to_json(self) -> dict[str, Any]:
        return {
            "run_a": self.run_a,
            "run_b": self.run_b,
            "queries": self.queries,
            "mean": {
                "overlap": self.overlap,
                "jaccard": self.jaccard,
                "rbo": self.rbo,
                "kendall_tau": self.kendall_tau,
                "kendall_queries": self.kendall_queries,
                "kendall_items": self.kendall_items,
            },
            "per_query": [c.to_json() for c in self.per_query],
        }


@dataclass
class RankingsComparison:
    """Ranking runs compared with the first at cutoff ``k`` (RBO persistence ``p``)."""

    k: int
    p: float
    runs: list[RunLabel]
    comparisons: list[RankingPair]
    notes: list[str] = field(default_factory=list)
    plots: list[Path] = field(default_factory=list)
    kind: str = "rankings"

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "k": self.k,
            "p": self.p,
            "runs": [r.to_json() for r in self.runs],
            "comparisons": [c.to_json() for c in self.comparisons],
            "notes": self.notes,
            "plots": [str(f) for f in self.plots],
        }


@dataclass
class MetricRow:
    """One evaluation run's metrics at the cutoff, its deltas against the first run, and the
    half-widths of its 95% intervals (None when the run has none stored)."""

    run_id: int
    algorithm: str
    params: dict[str, Any]
    metrics: dict[str, float]
    delta: dict[str, float | None]
    ci95: dict[str, float | None]
    seeds: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class EvaluationsComparison:
    """Evaluation runs of one dataset version, split and protocol compared with the first:
    metric table and, per metric, paired tests over boards (Holm-corrected over the runs)."""

    k: int
    runs: list[RunLabel]
    table: list[MetricRow]
    tests: dict[str, list[PairedTest]]
    notes: list[str] = field(default_factory=list)
    setup: dict[str, Any] = field(default_factory=dict)
    plots: list[Path] = field(default_factory=list)
    kind: str = "evaluations"

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "k": self.k,
            "runs": [r.to_json() for r in self.runs],
            "table": [row.to_json() for row in self.table],
            "tests": {m: [t.to_json() for t in ts] for m, ts in self.tests.items()},
            "notes": self.notes,
            "setup": self.setup,
            "plots": [str(f) for f in self.plots],
        }


Comparison = RankingsComparison | EvaluationsComparison


def _lists(store: Any, run_id: int) -> dict[str, tuple[list[str], list[float]]]:
    df = run_results(store, run_id)
    out: dict[str, tuple[list[str], list[float]]] = {}
    for (query,), part in df.sort(["query", "rank"]).group_by(["query"], maintain_order=True):
        out[str(query)] = (
            part["pin"].cast(pl.String).to_list(),
            part["score"].cast(pl.Float64).to_list(),
        )
    return out


def compare_rankings(
    store: Any,
    run_ids: Sequence[int],
    k: int = 10,
    p: float = 0.9,
    query: str | None = None,
    reporter: Reporter = SILENT,
) -> RankingsComparison:
    """Compare each ranking run with the first, on their shared queries (or ``query`` only).
    Runs on different datasets are refused; on two versions of one dataset, noted."""
    runs = [get_run(store, r) for r in run_ids]
    notes = []
    for r in runs[1:]:
        if r.dataset != runs[0].dataset:
            raise WorkbenchError(
                f"cannot compare run {r.run_id} with run {runs[0].run_id}: they rank pins of "
                f"different datasets ({r.dataset!r} and {runs[0].dataset!r})"
            )
        if r.fingerprint != runs[0].fingerprint:
            notes.append(
                f"run {r.run_id} ranks another version of {r.dataset!r} than run "
                f"{runs[0].run_id} (the dataset was reloaded between them)"
            )
    base = _lists(store, runs[0].run_id)
    comparisons = []
    for i, other in enumerate(runs[1:]):
        reporter.progress(i, len(runs) - 1, f"run {other.run_id}")
        lists = _lists(store, other.run_id)
        pairs = [(q, q, q) for q in base if q in lists and query in (None, q)]
        if not pairs and query is None and len(base) == 1 and len(lists) == 1:
            # one ranking each, labelled differently (a walk for pin p, a crop search of p, a
            # fusion): compare the two lists themselves
            (qa,), (qb,) = base, lists
            pairs = [(f"{qa} | {qb}", qa, qb)]
        if not pairs:
            raise WorkbenchError(
                f"runs {runs[0].run_id} and {other.run_id} share no query"
                + (f" {query!r}" if query is not None else "")
            )
        per = [compare_lists(label, *base[a], *lists[b], k=k, p=p) for label, a, b in pairs]
        with_tau = [c for c in per if c.kendall_tau is not None]
        comparisons.append(
            RankingPair(
                run_a=runs[0].run_id,
                run_b=other.run_id,
                per_query=per,
                overlap=float(np.mean([c.overlap for c in per])),
                jaccard=float(np.mean([c.jaccard for c in per])),
                rbo=float(np.mean([c.rbo for c in per])),
                kendall_tau=(
                    float(np.mean([c.kendall_tau for c in with_tau])) if with_tau else None
                ),
                kendall_queries=len(with_tau),
                kendall_items=sum(c.shared for c in with_tau),
            )
        )
    return RankingsComparison(
        k=k, p=p, runs=[RunLabel.of(r) for r in runs], comparisons=comparisons, notes=notes
    )


def evaluation_setup(run: Run) -> dict[str, Any]:
    """What two evaluations must share to be compared: the dataset's version, the split and its
    seed and holdout, the protocol and the negatives (count and source)."""
    info = run.info
    settings = info.get("settings", {})
    sampled = info.get("protocol") == "sampled"
    source = str(info.get("negatives") or "")
    return {
        "dataset": run.dataset,
        "fingerprint": run.fingerprint,
        "split": info.get("split"),
        "split seed": info.get("split_seed", settings.get("seed")),
        "holdout": settings.get("holdout"),
        "protocol": info.get("protocol"),
        "negatives": (
            ("the dataset's table" if "table" in source else settings.get("negatives"))
            if sampled
            else None
        ),
    }


def check_comparable(runs: Sequence[Run]) -> dict[str, Any]:
    """Refuse, in one line, evaluations that differ in dataset (or its version), split, split
    seed, holdout, protocol or negatives; returns what they share."""
    first = evaluation_setup(runs[0])
    for r in runs[1:]:
        setup = evaluation_setup(r)
        for key, value in first.items():
            if setup[key] != value:
                what = {"fingerprint": f"version of dataset {r.dataset!r}"}.get(key, key)
                shown = (
                    (str(setup[key])[:12], str(value)[:12])
                    if key == "fingerprint"
                    else (setup[key], value)
                )
                raise WorkbenchError(
                    f"cannot compare run {r.run_id} with run {runs[0].run_id}: they differ in "
                    f"{what} ({shown[0]} vs {shown[1]}); compare evaluations of one dataset, "
                    "split and protocol"
                )
    return first


def compare_evaluations(
    store: Any,
    run_ids: Sequence[int],
    k: int = 10,
    permutations: int = 10_000,
    seed: int = 0,
    reporter: Reporter = SILENT,
) -> EvaluationsComparison:
    """Metric table of evaluation runs with deltas against the first run, and paired tests per
    board (t-test, randomisation test, 95% interval of the delta) of every per-board metric at
    cutoff ``k``, each Holm-corrected over the runs compared with the first (one family per
    metric). Runs that do not share dataset version, split, split seed, protocol and negatives
    are refused. With repeats, per-board values are the means over the seeds."""
    runs = [get_run(store, r) for r in run_ids]
    for r in runs:
        if r.kind != "eval":
            raise WorkbenchError(f"run {r.run_id} is a {r.kind} run, not an evaluation")
    setup = check_comparable(runs)
    notes = [
        f"run {r.run_id} evaluated a sample of {r.info['settings'].get('boards')} boards: tests "
        "use the boards both runs hold"
        for r in runs
        if r.info.get("settings", {}).get("boards")
        != runs[0].info.get("settings", {}).get("boards")
    ]
    suffix = f"@{k}"
    metric_keys = [
        m for m in runs[0].metrics if m.endswith(suffix) and all(m in r.metrics for r in runs)
    ]
    if not metric_keys:
        raise WorkbenchError(f"the runs share no metric at cutoff {k}")
    table = [
        MetricRow(
            run_id=r.run_id,
            algorithm=r.algorithm,
            params=r.params,
            metrics={m: r.metrics[m] for m in metric_keys},
            delta={m: _delta(r.metrics[m], runs[0].metrics[m]) for m in metric_keys},
            ci95={m: (r.info.get("ci95") or {}).get(m) for m in metric_keys},
            seeds=len(r.info.get("seeds") or [r.seed]),
        )
        for r in runs
    ]
    boards = [run_board_metrics(store, r.run_id) for r in runs]
    tested = [m for m in metric_keys if all(m in b.columns for b in boards)]
    tests: dict[str, list[PairedTest]] = {}
    for i, m in enumerate(tested):
        reporter.progress(i, len(tested), f"paired tests of {m}")
        results: list[PairedTest] = []
        for j, other in enumerate(boards[1:]):
            joined = (
                boards[0]
                .select("board", m)
                .join(other.select("board", m), on="board", suffix="_b")
                .drop_nulls()
                .drop_nans()
            )
            res = paired_test(
                joined[m].to_numpy(), joined[f"{m}_b"].to_numpy(), permutations, seed, reporter
            )
            res.run_a, res.run_b = runs[0].run_id, runs[j + 1].run_id
            results.append(res)
        for attr in ("p_t", "p_permutation"):
            for res, adj in zip(results, holm([getattr(x, attr) for x in results]), strict=True):
                setattr(res, f"{attr}_holm", adj)
        tests[m] = results
    return EvaluationsComparison(
        k=k,
        runs=[RunLabel.of(r) for r in runs],
        table=table,
        tests=tests,
        notes=notes,
        setup={key: v for key, v in setup.items() if key != "fingerprint"},
    )


def _delta(value: Any, base: Any) -> float | None:
    if isinstance(value, int | float) and isinstance(base, int | float):
        return float(value) - float(base)
    return None


def compare_runs(
    store: Any,
    run_ids: Sequence[int],
    k: int = 10,
    p: float = 0.9,
    permutations: int = 10_000,
    seed: int = 0,
    query: str | None = None,
    reporter: Reporter = SILENT,
) -> Comparison:
    """Compare stored runs: evaluation runs by metrics and significance, ranking runs by how
    their lists differ. All runs must be of one family."""
    if len(run_ids) < 2:
        raise WorkbenchError("give at least two runs to compare")
    kinds = {get_run(store, r).kind for r in run_ids}
    if kinds == {"eval"}:
        return compare_evaluations(store, run_ids, k, permutations, seed, reporter)
    if kinds <= set(RANKING_KINDS):
        return compare_rankings(store, run_ids, k, p, query, reporter)
    raise WorkbenchError(
        "compare evaluation runs with each other, or ranking runs with each "
        f"other (got kinds {', '.join(sorted(kinds))})"
    )


# -- seed-to-seed stability -------------------------------------------------------------------


def stability_table(
    rankings: dict[int, list[tuple[list[str], list[float]]]], k: int, p: float
) -> list[dict[str, Any]]:
    """For each step budget, how much rankings of the same query from different seeds agree:
    RBO and top-k overlap over every pair of seeds (mean, min)."""
    rows = []
    for steps, lists in sorted(rankings.items()):
        rbos, overlaps = [], []
        for (pa, sa), (pb, sb) in itertools.combinations(lists, 2):
            rbos.append(rbo(pa, pb, p, sa, sb))
            overlaps.append(len(set(pa[:k]) & set(pb[:k])) / k)
        rows.append(
            {
                "steps": steps,
                "seeds": len(lists),
                "rbo_mean": float(np.mean(rbos)) if rbos else 1.0,
                "rbo_min": float(np.min(rbos)) if rbos else 1.0,
                "overlap_mean": float(np.mean(overlaps)) if overlaps else 1.0,
                "overlap_min": float(np.min(overlaps)) if overlaps else 1.0,
            }
        )
    return rows
