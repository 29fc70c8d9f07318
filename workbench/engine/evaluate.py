"""Offline evaluation of a recommender on held-out pins, stored as a run.

Protocols:

* ``sampled``: leave-one-out with sampled negatives (He et al., "Neural Collaborative
  Filtering", WWW 2017): each board's held-out pins are ranked among the dataset's negatives for
  the board, or N pins drawn uniformly (seeded) from those the board never touched.
* ``full``: every pin not on the board is ranked (Krichene & Rendle, "On Sampled Metrics for
  Item Recommendation", KDD 2020, show sampled metrics can misorder algorithms).

In both, pins already on the board (its training pins) are never ranked, and equal scores are
ordered by a seeded hash of (board, pin): random, and independent of where a candidate was listed,
so the held-out pin never wins a tie by position. The fraction of held-out pins tied with another
candidate is reported with the metrics.

Work is split in three so a sweep can ship trials to other machines: :func:`prepare` reads the
store once (graph, split, candidates) into an :class:`EvalData`; :func:`run_trial` is a pure
function of that data, an algorithm, its parameters and a seed; :func:`save_evaluation` stores
the result as a run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import numba
import numpy as np
import polars as pl

import workbench.engine.recommenders  # noqa: F401 - registers every algorithm
from workbench.engine import metrics as M
from workbench.engine.dataset import id_map
from workbench.engine.errors import Cancelled, WorkbenchError
from workbench.engine.graph import Graph, load_graph
from workbench.engine.recommenders.base import board_query, create, params_dict
from workbench.engine.runs import Run, save_run
from workbench.engine.splits import (
    SPLITS,
    STREAM_TIES,
    Split,
    SplitSpec,
    make_split,
    pair_key,
    sample_boards,
    sample_negatives,
    stream_base,
)
from workbench.engine.store import Store, table

PROTOCOLS = ("sampled", "full")
DEFAULT_KS = (1, 5, 10, 20)
TIE_RULE = (
    "ties broken at random (seeded hash of board and pin), never by candidate position: "
    "the held-out pin gains nothing from a tie"
)

ProgressFn = Callable[[int, int], None]
CancelFn = Callable[[], bool]


@dataclass(frozen=True)
class EvalSettings:
    """How to evaluate: protocol, split, negatives, cutoffs, seed, holdout, board sample.

    ``negatives``: sampled negatives per board (sampled protocol; the dataset's own negatives
    table is used instead for its test split when it has one). ``boards``: evaluate a seeded
    sample of this many boards (None: all). ``diversity``: the pin attribute for intra-list
    diversity (None: ``topic`` when the dataset has it). ``batch``: boards scored per call.
    """

    protocol: str = "sampled"
    split: str = "test"
    negatives: int = 99
    ks: tuple[int, ...] = DEFAULT_KS
    seed: int = 0
    holdout: SplitSpec = field(default_factory=SplitSpec)
    boards: int | None = None
    diversity: str | None = None
    batch: int = 2048

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise WorkbenchError(f"unknown protocol {self.protocol!r} (sampled or full)")
        if self.split not in SPLITS:
            raise WorkbenchError(f"unknown split {self.split!r} (test or validation)")
        if not self.ks or min(self.ks) < 1:
            raise WorkbenchError("cutoffs k must be positive integers")
        if self.negatives < 1:
            raise WorkbenchError("the number of negatives must be at least 1")
        if self.boards is not None and self.boards < 1:
            raise WorkbenchError("the board sample must hold at least one board")
        object.__setattr__(self, "ks", tuple(sorted(set(int(k) for k in self.ks))))

    @property
    def depth(self) -> int:
        return max(self.ks)

    def to_info(self) -> dict[str, Any]:
        """The settings as stored in a run's ``info`` (and read back by :meth:`from_info`)."""
        d = asdict(self)
        d["ks"] = list(self.ks)
        d["holdout"] = asdict(self.holdout)
        return d

    @classmethod
    def from_info(cls, info: Mapping[str, Any]) -> EvalSettings:
        s = info["settings"]
        spec = {f.name: s["holdout"][f.name] for f in fields(SplitSpec) if f.name in s["holdout"]}
        return cls(**{**s, "ks": tuple(s["ks"]), "holdout": SplitSpec(**spec)})


@dataclass(frozen=True, eq=False)
class EvalData:
    """Everything a trial needs, read from the store once; holds no connection (picklable).

    ``cand_indptr``/``cand`` list each evaluated board's candidates (held-out pins first for the
    sampled protocol; None for the full protocol, where candidates are all pins not on the
    board).
    """

    dataset: str
    fingerprint: str
    settings: EvalSettings
    split: Split
    cand_indptr: np.ndarray | None
    cand: np.ndarray | None
    negatives_source: str
    pin_ids: np.ndarray
    board_ids: np.ndarray
    notes: tuple[str, ...] = ()

    @property
    def graph(self) -> Graph:
        """The graph models are fitted on (training minus held-out edges)."""
        return self.split.train


@dataclass
class EvalResult:
    """One evaluation: metrics (mean over boards, or over the catalogue), per-board values, the
    top of each board's ranking, timing."""

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

    @property
    def elapsed_s(self) -> float:
        return self.fit_s + self.score_s


def _test_pairs(store: Store, dataset: str) -> tuple[np.ndarray, np.ndarray] | None:
    with store.connect(read_only=True) as con:
        arr = con.execute(f"SELECT board_idx, pin_idx FROM {table(dataset, 'test')}").fetchnumpy()
    if not len(arr["board_idx"]):
        return None
    return np.asarray(arr["board_idx"], np.int32), np.asarray(arr["pin_idx"], np.int32)


def _table_negatives(store: Store, dataset: str, split: Split) -> tuple[dict[int, np.ndarray], int]:
    """The dataset's negatives per board, minus any pin the board touched (and how many)."""
    with store.connect(read_only=True) as con:
        arr = con.execute(
            f"SELECT board_idx, pin_idx FROM {table(dataset, 'negatives')} ORDER BY ALL"
        ).fetchnumpy()
    boards = np.asarray(arr["board_idx"], np.int32)
    pins = np.asarray(arr["pin_idx"], np.int32)
    starts = np.searchsorted(boards, split.boards, side="left")
    ends = np.searchsorted(boards, split.boards, side="right")
    out: dict[int, np.ndarray] = {}
    dropped = 0
    for i, b in enumerate(split.boards):
        neg = pins[starts[i] : ends[i]]
        touched = split.touched[split.touched_indptr[b] : split.touched_indptr[b + 1]]
        keep = ~np.isin(neg, touched)
        dropped += int((~keep).sum())
        if neg.size:
            out[int(b)] = neg[keep]
    return out, dropped


def prepare(store: Store, dataset: str, settings: EvalSettings) -> EvalData:
    """Read ``dataset`` and build the split and candidates that ``settings`` ask for."""
    info = store.dataset(dataset)
    graph = load_graph(store, dataset)
    if settings.diversity is not None:
        graph.pin_attribute(settings.diversity)  # an unknown attribute fails before any work
    split = make_split(
        graph, _test_pairs(store, dataset), settings.split, settings.holdout, settings.seed
    )
    notes = list(split.notes)
    if split.boards.size == 0:
        raise WorkbenchError(
            f"dataset {dataset!r} has no held-out pins for the {settings.split} "
            "split (are boards large enough to hold pins out?)"
        )
    if settings.boards is not None and settings.boards < split.boards.size:
        split = split.restrict(sample_boards(split.boards, settings.boards, settings.seed))
        notes.append(f"a seeded sample of {split.boards.size} boards")
    cand_indptr = cand = None
    source = "all pins not on the board"
    if settings.protocol == "sampled":
        parts: list[np.ndarray]
        if settings.split == "test" and info.negatives > 0 and info.test > 0:
            table_neg, dropped = _table_negatives(store, dataset, split)
            missing = [int(b) for b in split.boards if int(b) not in table_neg]
            if missing:
                sampled = sample_negatives(
                    split.restrict(np.flatnonzero(np.isin(split.boards, missing))),
                    settings.negatives,
                    settings.seed,
                )
                table_neg |= {b: row[row >= 0] for b, row in zip(missing, sampled, strict=True)}
                notes.append(
                    f"{len(missing)} boards had no negatives in the dataset: "
                    f"{settings.negatives} sampled for each"
                )
            if dropped:
                notes.append(f"{dropped} of the dataset's negatives were on their board: dropped")
            negatives = [table_neg[int(b)] for b in split.boards]
            source = "the dataset's negatives table"
        else:
            sampled = sample_negatives(split, settings.negatives, settings.seed)
            negatives = [row[row >= 0] for row in sampled]
            source = (
                f"{settings.negatives} sampled uniformly per board from pins it never "
                f"touched (seed {settings.seed})"
            )
        parts = [
            np.concatenate([split.relevant_of(i), negatives[i]]) for i in range(split.boards.size)
        ]
        cand_indptr = np.concatenate(([0], np.cumsum([p.size for p in parts]))).astype(np.int64)
        cand = np.concatenate(parts).astype(np.int32)
    ids = id_map(store, dataset)
    return EvalData(
        dataset=dataset,
        fingerprint=info.fingerprint,
        settings=settings,
        split=split,
        cand_indptr=cand_indptr,
        cand=cand,
        negatives_source=source,
        pin_ids=ids.pins,
        board_ids=ids.boards,
        notes=tuple(notes),
    )


# -- ranking the candidates ------------------------------------------------------------------------


@numba.njit(cache=True, nogil=True)
def _rank_one(board, pins, scores, relevant, base, out_pins, out_scores, out_keys):  # type: ignore[no-untyped-def]
    """Best ``len(out_pins)`` of ``pins`` by score (NaN counts as -inf), equal scores ordered by
    the pair key, by insertion into the sorted output. Returns how many ``relevant`` pins share
    their score with another candidate."""
    depth = out_pins.shape[0]
    size = 0
    for j in range(pins.shape[0]):
        s = scores[j]
        if np.isnan(s):
            s = -np.inf
        key = pair_key(base, board, pins[j])
        if size == depth and not (
            s > out_scores[size - 1] or (s == out_scores[size - 1] and key < out_keys[size - 1])
        ):
            continue
        i = size if size < depth else depth - 1
        while i > 0 and (
            s > out_scores[i - 1] or (s == out_scores[i - 1] and key < out_keys[i - 1])
        ):
            out_pins[i], out_scores[i], out_keys[i] = (
                out_pins[i - 1],
                out_scores[i - 1],
                out_keys[i - 1],
            )
            i -= 1
        out_pins[i], out_scores[i], out_keys[i] = pins[j], s, key
        size = min(size + 1, depth)
    tied = 0
    for r in relevant:
        s_r = np.nan
        for j in range(pins.shape[0]):
            if pins[j] == r:
                s_r = scores[j]
        same = 0
        for j in range(pins.shape[0]):
            same += scores[j] == s_r
        tied += same > 1
    return tied


@numba.njit(cache=True, parallel=True)
def _rank_batch(boards, c_indptr, c_pins, c_scores, r_indptr, relevant, base, out_pins, out_scores):  # type: ignore[no-untyped-def]
    tied = np.zeros(boards.shape[0], dtype=np.int64)
    keys = np.zeros(out_pins.shape, dtype=np.uint64)
    for i in numba.prange(boards.shape[0]):
        lo, hi = c_indptr[i], c_indptr[i + 1]
        tied[i] = _rank_one(
            boards[i],
            c_pins[lo:hi],
            c_scores[lo:hi],
            relevant[r_indptr[i] : r_indptr[i + 1]],
            base,
            out_pins[i],
            out_scores[i],
            keys[i],
        )
    return tied.sum()


def rank_candidates(
    boards: np.ndarray,
    c_indptr: np.ndarray,
    c_pins: np.ndarray,
    c_scores: np.ndarray,
    r_indptr: np.ndarray,
    relevant: np.ndarray,
    seed: int,
    depth: int,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Top ``depth`` candidates of each board (CSR ``c_indptr``/``c_pins`` with ``c_scores``),
    ties broken by the seeded pair key; returns (pins, scores, held-out pins in a tie)."""
    out_pins = np.full((boards.size, depth), -1, dtype=np.int32)
    out_scores = np.full((boards.size, depth), -np.inf)
    tied = _rank_batch(
        boards.astype(np.int64),
        c_indptr,
        c_pins,
        c_scores.astype(np.float64),
        r_indptr,
        relevant,
        stream_base(seed, STREAM_TIES),
        out_pins,
        out_scores,
    )
    return out_pins, out_scores, int(tied)


# -- one trial -------------------------------------------------------------------------------------


def _full_candidates(graph: Graph, boards: np.ndarray) -> list[np.ndarray]:
    everything = np.arange(graph.n_pins, dtype=np.int32)
    return [np.setdiff1d(everything, graph.pins_of(int(b)), assume_unique=True) for b in boards]


def run_trial(
    data: EvalData,
    algo: str,
    params: Mapping[str, Any] | None = None,
    seed: int = 0,
    progress: ProgressFn | None = None,
    cancelled: CancelFn | None = None,
) -> EvalResult:
    """Fit ``algo`` with ``params`` on the split's training graph and evaluate it: a pure function
    of its arguments (``progress(done, total)`` and ``cancelled()`` are optional hooks; a
    cancelled trial raises :class:`Cancelled`)."""
    settings, split = data.settings, data.split
    started = time.perf_counter()
    model = create(algo, dict(params or {}))
    model.fit(split.train)
    fit_s = time.perf_counter() - started
    n, depth = split.boards.size, settings.depth
    top_pins = np.full((n, depth), -1, dtype=np.int32)
    top_scores = np.full((n, depth), -np.inf)
    tied = steps = 0
    started = time.perf_counter()
    batch = max(1, settings.batch if settings.protocol == "sampled" else settings.batch // 4)
    for lo in range(0, n, batch):
        if cancelled is not None and cancelled():
            raise Cancelled("evaluation cancelled")
        hi = min(n, lo + batch)
        boards = split.boards[lo:hi]
        queries = [board_query(split.train, int(b)) for b in boards]
        if data.cand is not None and data.cand_indptr is not None:
            cands = [
                data.cand[data.cand_indptr[i] : data.cand_indptr[i + 1]] for i in range(lo, hi)
            ]
        else:
            cands = _full_candidates(split.train, boards)
        rankings, scores = model.run_batch(queries, 0, cands, seed=seed, start=lo)
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
        top_pins[lo:hi], top_scores[lo:hi] = p, s
        tied += t
        if progress is not None:
            progress(hi, n)
    score_s = time.perf_counter() - started
    metrics, per_board = summarise(data, top_pins)
    return EvalResult(
        algorithm=algo,
        params=params_dict(model.params),
        seed=seed,
        metrics=metrics,
        per_board=per_board,
        boards=split.boards.copy(),
        top_pins=top_pins,
        top_scores=top_scores,
        fit_s=fit_s,
        score_s=score_s,
        steps=int(steps),
        tied_positives=tied / max(split.relevant.size, 1),
    )


def summarise(
    data: EvalData, top_pins: np.ndarray
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """Metrics at every cutoff: means over boards (and catalogue measures), and the per-board
    values behind the means."""
    split, settings, graph = data.split, data.settings, data.graph
    n_pins = graph.n_pins
    counts = np.diff(split.relevant_indptr)
    rel_keys = np.repeat(split.boards.astype(np.int64), counts) * n_pins + split.relevant
    hits = np.isin(split.boards.astype(np.int64)[:, None] * n_pins + top_pins, rel_keys)
    hits &= top_pins >= 0
    popularity = graph.pin_degree.astype(np.float64)
    attr = settings.diversity or ("topic" if "topic" in graph.pin_attributes else None)
    categories = graph.pin_attribute(attr).codes if attr else None
    metrics: dict[str, float] = {}
    per_board: dict[str, np.ndarray] = {}
    for k in settings.ks:
        values = M.accuracy(hits, counts, k)
        values["popularity"] = M.popularity_of_lists(top_pins, k, popularity)
        values["novelty"] = M.novelty_of_lists(top_pins, k, popularity, graph.n_boards)
        if categories is not None:
            values["diversity"] = M.diversity_of_lists(top_pins, k, categories)
        for name, v in values.items():
            key = M.metric_name(name, k)
            per_board[key] = v
            finite = v[np.isfinite(v)]
            if finite.size:  # diversity has no value when no list holds two categorised pins
                metrics[key] = float(finite.mean())
        metrics[M.metric_name("coverage", k)] = M.coverage(top_pins, k, n_pins)
        metrics[M.metric_name("gini", k)] = M.gini(top_pins, k, n_pins)
    return metrics, per_board


# -- storing ---------------------------------------------------------------------------------------


def describe(data: EvalData) -> dict[str, Any]:
    """How an evaluation was done, in words and numbers (stored in the run's ``info``)."""
    s = data.settings
    return {
        "protocol": s.protocol,
        "split": s.split,
        "split_source": data.split.source,
        "negatives": data.negatives_source if s.protocol == "sampled" else None,
        "boards": int(data.split.boards.size),
        "held_out": int(data.split.relevant.size),
        "ks": list(s.ks),
        "split_seed": s.seed,
        "ties": TIE_RULE,
        "excluded": "pins on the board in the fitted graph are never ranked",
        "notes": list(data.notes),
        "settings": s.to_info(),
    }


def save_evaluation(
    store: Store,
    data: EvalData,
    result: EvalResult,
    info: Mapping[str, Any] | None = None,
    per_board_ks: tuple[int, ...] | None = None,
    name: str | None = None,
) -> int:
    """Store ``result`` as an ``eval`` run: metrics, the top of every board's ranking (in
    ``run_results``, query = board id) and per-board metric values (at ``per_board_ks``, default
    every cutoff). Returns the run id."""
    board_ids = data.board_ids[result.boards].astype(str)
    n, depth = result.top_pins.shape
    valid = result.top_pins >= 0
    results = pl.DataFrame(
        {
            "query": np.repeat(board_ids, depth)[valid.ravel()],
            "rank": np.tile(np.arange(1, depth + 1, dtype=np.int32), n)[valid.ravel()],
            "pin": data.pin_ids[result.top_pins[valid]].astype(str),
            "score": result.top_scores[valid],
        }
    )
    wanted = set(per_board_ks if per_board_ks is not None else data.settings.ks)
    frames = [
        pl.DataFrame({"board": board_ids, "metric": key, "value": v})
        for key, v in result.per_board.items()
        if int(key.split("@")[1]) in wanted
    ]
    board_metrics = pl.concat(frames).filter(pl.col("value").is_not_nan()) if frames else None
    run_info = (
        describe(data)
        | {
            "tied_positives": result.tied_positives,
            "fit_s": result.fit_s,
            "score_s": result.score_s,
        }
        | dict(info or {})
    )
    return save_run(
        store,
        dataset=data.dataset,
        kind="eval",
        algorithm=result.algorithm,
        params=result.params,
        seed=result.seed,
        fingerprint=data.fingerprint,
        results=results,
        board_metrics=board_metrics,
        elapsed_ms=result.elapsed_s * 1000,
        steps=result.steps or None,
        metrics=result.metrics,
        info=run_info,
        name=name,
    )


def evaluate(
    store: Store,
    dataset: str,
    algo: str,
    params: Mapping[str, Any] | None = None,
    settings: EvalSettings | None = None,
    seed: int | None = None,
    progress: ProgressFn | None = None,
    cancelled: CancelFn | None = None,
    name: str | None = None,
) -> tuple[int, EvalResult, EvalData]:
    """Evaluate ``algo`` on ``dataset`` and store the run; returns (run id, result, data).
    ``seed`` seeds the algorithm (default: the settings' seed, which fixes split, negatives
    and ties)."""
    settings = settings or EvalSettings()
    data = prepare(store, dataset, settings)
    result = run_trial(
        data, algo, params, settings.seed if seed is None else seed, progress, cancelled
    )
    return save_evaluation(store, data, result, name=name), result, data


def heldout_pairs(store: Store, run: Run) -> pl.DataFrame:
    """The held-out (board, pin) pairs an evaluation run was scored on, recomputed from its
    stored settings (``query`` = board id, ``pin``): the qrels of a TREC export."""
    if run.kind != "eval" or "settings" not in run.info:
        raise WorkbenchError(f"run {run.run_id} is not an evaluation run")
    info = store.dataset(run.dataset)
    if info.fingerprint != run.fingerprint:
        raise WorkbenchError(
            f"dataset {run.dataset!r} changed since run {run.run_id}: its "
            "held-out pins cannot be recomputed"
        )
    settings = replace(EvalSettings.from_info(run.info), protocol="full")
    data = prepare(store, run.dataset, settings)
    split = data.split
    counts = np.diff(split.relevant_indptr)
    return pl.DataFrame(
        {
            "query": data.board_ids[np.repeat(split.boards, counts)].astype(str),
            "pin": data.pin_ids[split.relevant].astype(str),
        }
    )


def ranking_stability(
    store: Store,
    dataset: str,
    pins: list[str],
    algo: str,
    params: Mapping[str, Any],
    steps: list[int],
    seeds: int,
    k: int = 10,
    p: float = 0.9,
    depth: int = 100,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """How much a Monte-Carlo ranking of the query ``pins`` changes between seeds at each step
    budget: RBO and top-k overlap over every pair of ``seeds`` seeds (seeds 0..seeds-1)."""
    from workbench.engine.compare import stability_table
    from workbench.engine.dataset import resolve_pins
    from workbench.engine.recommenders.base import Query, param_fields

    if "steps" not in {f.name for f in param_fields(algo)}:
        raise WorkbenchError(f"{algo} has no step budget: its rankings do not depend on a seed")
    graph = load_graph(store, dataset)
    query = Query(pins=resolve_pins(store, dataset, pins))
    ids = id_map(store, dataset).pins
    rankings: dict[int, list[tuple[list[str], list[float]]]] = {}
    total, done = len(steps) * seeds, 0
    for n_steps in steps:
        model = create(algo, {**params, "steps": str(n_steps)}).fit(graph)
        rankings[n_steps] = []
        for seed in range(seeds):
            r = model.recommend(query, depth, seed)
            rankings[n_steps].append((ids[r.pins].astype(str).tolist(), r.scores.tolist()))
            done += 1
            if progress is not None:
                progress(done, total)
    return {
        "dataset": dataset,
        "pins": pins,
        "algorithm": algo,
        "params": dict(params),
        "seeds": seeds,
        "k": k,
        "p": p,
        "depth": depth,
        "table": stability_table(rankings, k, p),
    }
