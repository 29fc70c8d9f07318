"""One evaluation trial (an algorithm fitted on the split's training graph and scored on every
evaluated board), the metrics of its rankings, and repeats over seeds summarised with 95%
intervals.

A trial is a pure function of the prepared data, the algorithm and its parameters, so a sweep can
ship it to another process.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

import workbench.engine.recommenders  # noqa: F401 - registers every algorithm
from workbench.engine import metrics as M
from workbench.engine.evaluation.data import EvalData, reseed
from workbench.engine.evaluation.ranking import rank_candidates
from workbench.engine.evaluation.settings import STORED_DEPTH
from workbench.engine.progress import SILENT, Reporter
from workbench.engine.recommenders.base import Recommender, board_query, create, params_dict


@dataclass
class EvalResult:
    """One evaluation: metrics (means over boards, catalogue measures under the full protocol),
    per-board values, the top of each board's ranking, timing.

    With repeats, ``metrics`` are the means over the seeds ``seeds``, ``per_board`` the per-board
    means, ``repeats`` every seed's value of each metric, and the rankings those of the first
    seed. ``ci95`` holds the half-width of the 95% interval of each metric: over boards (the
    per-board values, averaged over the seeds; Student's t) for metrics with per-board values,
    over the seeds for catalogue measures (None with one seed). ``ci95_seeds`` is the interval
    over the seeds alone (None with one seed).
    """

    algorithm: str
    params: dict[str, Any]
    seed: int
    metrics: dict[str, float]
    per_board: dict[str, np.ndarray]
    boards: np.ndarray
    top_pins: np.ndarray
    top_scores: np.ndarray
    fit_s: float
    score_s: float
    steps: int
    tied_positives: float
    query_s: float = 0.0
    """The algorithm's own time over all boards (candidate scoring; excludes ranking and
    metrics, and a warm-up query that loads compiled kernels)."""
    seeds: list[int] = field(default_factory=list)
    repeats: dict[str, list[float]] = field(default_factory=dict)
    ci95: dict[str, float | None] = field(default_factory=dict)
    ci95_seeds: dict[str, float | None] = field(default_factory=dict)

    @property
    def elapsed_s(self) -> float:
        return self.fit_s + self.score_s

    @property
    def ms_per_query(self) -> float:
        """The algorithm's time per evaluated board (one query), in milliseconds."""
        return self.query_s * 1000 / max(int(self.boards.size), 1)


def half_width(values: Sequence[float] | np.ndarray) -> float | None:
    """Half-width of the 95% Student-t interval of the mean of ``values`` (NaNs left out);
    None with fewer than two values."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size < 2:
        return None
    sd = float(v.std(ddof=1))
    return float(stats.t.ppf(0.975, v.size - 1) * sd / math.sqrt(v.size)) if sd > 0 else 0.0


def run_trial(
    data: EvalData,
    algo: str,
    params: Mapping[str, Any] | None = None,
    reporter: Reporter = SILENT,
    fitted: Recommender | None = None,
) -> EvalResult:
    """Fit ``algo`` with ``params`` on the split's training graph (or use ``fitted``, the same
    model already fitted on it: fitting does not depend on the seed) and evaluate it with the
    data's seed (algorithm, negatives and ties): a pure function of its arguments. ``reporter``
    gets the boards done and may cancel (:class:`~workbench.engine.errors.Cancelled`)."""
    settings, split = data.settings, data.split
    reporter.check("the evaluation")
    started = time.perf_counter()
    model = fitted or create(algo, dict(params or {})).fit(split.train)
    fit_s = time.perf_counter() - started
    n, depth = split.boards.size, data.depth or settings.depth
    keep = min(depth, STORED_DEPTH)
    top_pins = np.full((n, keep), -1, dtype=np.int32)
    top_scores = np.full((n, keep), -np.inf)
    summary = Summary(data)
    tied = steps = 0
    query_s = 0.0
    if n:  # warm-up: the first call of a compiled kernel in a process loads it
        warm = data.cand[: data.cand_indptr[1]] if data.cand is not None else None
        model.run_batch(
            [board_query(split.train, int(split.boards[0]))],
            0,
            [warm if warm is not None else data.full_candidates(0, 1)[0]],
            seed=settings.seed,
            start=0,
        )
    started = time.perf_counter()
    batch = max(1, settings.batch if settings.protocol == "sampled" else settings.batch // 4)
    for lo in range(0, n, batch):
        reporter.check("the evaluation")
        hi = min(n, lo + batch)
        boards = split.boards[lo:hi]
        queries = [board_query(split.train, int(b)) for b in boards]
        if data.cand is not None and data.cand_indptr is not None:
            cands = [
                data.cand[data.cand_indptr[i] : data.cand_indptr[i + 1]] for i in range(lo, hi)
            ]
        else:
            cands = data.full_candidates(lo, hi)
        timer = time.perf_counter()
        rankings, scores = model.run_batch(queries, 0, cands, seed=settings.seed, start=lo)
        query_s += time.perf_counter() - timer
        steps += sum(r.steps for r in rankings)
        c_indptr = np.concatenate(([0], np.cumsum([c.size for c in cands]))).astype(np.int64)
        r_indptr = split.relevant_indptr[lo : hi + 1] - split.relevant_indptr[lo]
        relevant = split.relevant[split.relevant_indptr[lo] : split.relevant_indptr[hi]]
        p, s, t = rank_candidates(
            boards,
            c_indptr,
            np.concatenate(cands),
            np.concatenate(scores),
            r_indptr,
            relevant,
            settings.seed,
            depth,
        )
        summary.add(lo, hi, p)
        top_pins[lo:hi], top_scores[lo:hi] = p[:, :keep], s[:, :keep]
        tied += t
        reporter.progress(hi, n, "scoring boards")
    score_s = time.perf_counter() - started
    metrics, per_board = summary.finish()
    result = EvalResult(
        algorithm=algo,
        params=params_dict(model.params),
        seed=settings.seed,
        metrics=metrics,
        per_board=per_board,
        boards=split.boards.copy(),
        top_pins=top_pins,
        top_scores=top_scores,
        fit_s=fit_s,
        score_s=score_s,
        steps=int(steps),
        tied_positives=tied / max(split.relevant.size, 1),
        query_s=query_s,
    )
    return combine([result])


class Summary:
    """Metrics accumulated batch by batch (rankings are never held whole): per-board values, and
    for the full protocol how often each pin is listed, for coverage and Gini.

    Accuracy always; the measures of what is recommended (popularity, novelty, diversity,
    coverage, Gini) only under the full protocol: over a positive and sampled negatives they
    describe the negatives, not the catalogue.
    """

    def __init__(self, data: EvalData) -> None:
        self.data = data
        graph, settings = data.graph, data.settings
        self.catalogue = settings.protocol == "full"
        self.popularity = graph.pin_degree.astype(np.float64)
        attr = settings.diversity or ("topic" if "topic" in graph.pin_attributes else None)
        self.categories = graph.pin_attribute(attr).codes if attr and self.catalogue else None
        self.per_board: dict[str, np.ndarray] = {}
        self.listed = {k: np.zeros(graph.n_pins) for k in settings.ks} if self.catalogue else {}

    def add(self, lo: int, hi: int, top: np.ndarray) -> None:
        """The rankings of evaluated boards ``lo:hi`` (one row each, deepest cutoff wide)."""
        split, graph, n = self.data.split, self.data.graph, self.data.split.boards.size
        n_pins = graph.n_pins
        boards = split.boards[lo:hi].astype(np.int64)
        counts = np.diff(split.relevant_indptr[lo : hi + 1])
        relevant = split.relevant[split.relevant_indptr[lo] : split.relevant_indptr[hi]]
        keys = np.repeat(boards, counts) * n_pins + relevant
        hits = np.isin(boards[:, None] * n_pins + top, keys) & (top >= 0)
        for k in self.data.settings.ks:
            values = M.accuracy(hits, counts, k)
            if self.catalogue:
                values["popularity"] = M.popularity_of_lists(top, k, self.popularity)
                values["novelty"] = M.novelty_of_lists(top, k, self.popularity, graph.n_boards)
                if self.categories is not None:
                    values["diversity"] = M.diversity_of_lists(top, k, self.categories)
                self.listed[k] += M.list_counts(top, k, n_pins)
            for name, v in values.items():
                key = M.metric_name(name, k)
                self.per_board.setdefault(key, np.full(n, np.nan))[lo:hi] = v

    def finish(self) -> tuple[dict[str, float], dict[str, np.ndarray]]:
        """Means over boards (and catalogue measures), and the per-board values behind them."""
        metrics: dict[str, float] = {}
        for k in self.data.settings.ks:
            for key, v in self.per_board.items():
                if key.endswith(f"@{k}"):
                    finite = v[np.isfinite(v)]
                    if finite.size:  # diversity has no value without two categorised pins
                        metrics[key] = float(finite.mean())
            if self.catalogue:
                metrics[M.metric_name("coverage", k)] = M.coverage_of_counts(self.listed[k])
                metrics[M.metric_name("gini", k)] = M.gini_of_counts(self.listed[k])
        return metrics, self.per_board


def summarise(
    data: EvalData, top_pins: np.ndarray
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """Metrics of whole rankings (one row per evaluated board): see :class:`Summary`."""
    summary = Summary(data)
    summary.add(0, data.split.boards.size, top_pins)
    return summary.finish()


def combine(results: Sequence[EvalResult]) -> EvalResult:
    """Trials of the same split with different seeds as one result: means, per-seed values and
    95% intervals (see :class:`EvalResult`); the rankings are the first trial's."""
    first = results[0]
    keys = [m for m in first.metrics if all(m in r.metrics for r in results)]
    repeats = {m: [float(r.metrics[m]) for r in results] for m in keys}
    with np.errstate(invalid="ignore"):
        per_board = {
            m: np.nanmean(np.vstack([r.per_board[m] for r in results]), axis=0)
            if len(results) > 1
            else first.per_board[m]
            for m in first.per_board
            if all(m in r.per_board for r in results)
        }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column: no value
        ci95 = {
            m: half_width(per_board[m]) if m in per_board else half_width(repeats[m]) for m in keys
        }
    n = len(results)
    return EvalResult(
        algorithm=first.algorithm,
        params=first.params,
        seed=first.seed,
        metrics={m: float(np.mean(v)) for m, v in repeats.items()},
        per_board=per_board,
        boards=first.boards,
        top_pins=first.top_pins,
        top_scores=first.top_scores,
        fit_s=sum(r.fit_s for r in results) / n,
        score_s=sum(r.score_s for r in results) / n,
        query_s=sum(r.query_s for r in results) / n,
        steps=round(sum(r.steps for r in results) / n),
        tied_positives=sum(r.tied_positives for r in results) / n,
        seeds=[s for r in results for s in (r.seeds or [r.seed])],
        repeats=repeats,
        ci95=ci95,
        ci95_seeds={m: half_width(v) for m, v in repeats.items()},
    )


def run_repeats(
    data: EvalData,
    algo: str,
    params: Mapping[str, Any] | None = None,
    reporter: Reporter = SILENT,
) -> EvalResult:
    """:func:`run_trial` for every seed of the settings' repeats over the same split (new
    negatives, ties and walks each time), combined by :func:`combine`."""
    seeds = data.settings.seeds
    results: list[EvalResult] = []
    model: Recommender | None = None
    fit_s = 0.0
    for i, seed in enumerate(seeds):
        stage = f"seed {seed} ({i + 1} of {len(seeds)})" if len(seeds) > 1 else "scoring boards"
        part = reporter.scaled(i, 1, len(seeds), stage)
        if model is None and len(seeds) > 1:  # fitted once: fitting does not use the seed
            started = time.perf_counter()
            model = create(algo, dict(params or {})).fit(data.split.train)
            fit_s = time.perf_counter() - started
        results.append(run_trial(reseed(data, seed), algo, params, part, model))
    combined = combine(results)
    if model is not None:
        combined.fit_s = fit_s
    return combined
