"""Evaluate one algorithm setting on held-out pins and store the run: the use case behind
``workbench eval``, the TUI's Eval screen and ``wb.evaluate``.

Defaults come from :class:`~workbench.engine.evaluate.EvalSettings` (written once there).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from workbench.engine import plots
from workbench.engine.evaluate import (
    PROTOCOLS,
    TIE_RULE,
    EvalData,
    EvalResult,
    EvalSettings,
    evaluate,
    heldout_pairs,
)
from workbench.engine.export import DEFAULT_DIR
from workbench.engine.metrics import ACCURACY, CATALOGUE, PER_BOARD_BEYOND
from workbench.engine.progress import SILENT, Reporter
from workbench.engine.runs import get_run, run_board_metrics, run_results
from workbench.engine.splits import HOLDOUT_METHODS, SPLITS, SplitSpec
from workbench.engine.store import Store

__all__ = [
    "ACCURACY",
    "HOLDOUT_METHODS",
    "METRICS",
    "PROTOCOLS",
    "SPLITS",
    "TIE_RULE",
    "BoardDetail",
    "EvalRequest",
    "Evaluation",
    "board_detail",
    "run",
]

METRICS = (*ACCURACY, *PER_BOARD_BEYOND, *CATALOGUE)
"""Metric families in the order tables list them (the last five only under the full protocol)."""

_D = EvalSettings()
_H = SplitSpec()


@dataclass(frozen=True)
class EvalRequest:
    """One evaluation: what to evaluate (``dataset``, ``algorithm``, ``params`` as text) and how.

    ``seed`` drives negatives, ties and the algorithm; ``split_seed`` the held-out pins and the
    board sample; ``repeats`` runs seeds ``seed .. seed + repeats - 1`` over one split.
    ``holdout``/``holdout_fraction``/``holdout_method`` say how to hold pins out when the
    dataset has no test split (and how validation is carved). ``plot`` writes a metric@k PNG
    into ``plot_dir`` (default: the exports directory).
    """

    dataset: str
    algorithm: str
    params: Mapping[str, str] = field(default_factory=dict)
    protocol: str = _D.protocol
    split: str = _D.split
    negatives: int = _D.negatives
    ks: tuple[int, ...] = _D.ks
    seed: int = _D.seed
    split_seed: int = _D.split_seed
    repeats: int = _D.repeats
    boards: int | None = _D.boards
    keep_short: bool = _D.keep_short
    holdout: int = _H.holdout
    holdout_fraction: float = _H.fraction
    holdout_method: str = _H.method
    diversity: str | None = _D.diversity
    name: str | None = None
    plot: bool = False
    plot_dir: Path | None = None

    def settings(self) -> EvalSettings:
        """The engine's settings for this request (checked: a bad value raises one line)."""
        spec = SplitSpec(
            method=self.holdout_method, holdout=self.holdout, fraction=self.holdout_fraction
        )
        return EvalSettings(
            protocol=self.protocol,
            split=self.split,
            negatives=self.negatives,
            ks=tuple(self.ks),
            seed=self.seed,
            split_seed=self.split_seed,
            repeats=self.repeats,
            holdout=spec,
            boards=self.boards,
            keep_short=self.keep_short,
            diversity=self.diversity,
        )


@dataclass
class Evaluation:
    """A stored evaluation: ``metrics`` (means over the repeats' seeds), ``ci95`` (half-widths
    of 95% intervals: over boards for per-board metrics, over seeds for catalogue ones),
    ``repeats`` (each seed's value of each metric), ``per_board`` (polars: ``board`` and one
    column per metric, plus ``first_hit``: the rank of the first held-out pin, null when below
    the deepest cutoff), and how it was done."""

    run_id: int
    dataset: str
    algorithm: str
    params: dict[str, Any]
    protocol: str
    split: str
    split_source: str
    split_seed: int
    seed: int
    seeds: list[int]
    ks: list[int]
    boards: int
    short_boards: int
    negatives: str | None
    elapsed_s: float
    fit_s: float
    ms_per_query: float
    steps: int
    tied_positives: float
    metrics: dict[str, float]
    ci95: dict[str, float | None]
    ci95_seeds: dict[str, float | None]
    repeats: dict[str, list[float]]
    notes: list[str]
    per_board: pl.DataFrame
    plot: Path | None = None

    def to_json(self) -> dict[str, Any]:
        """The document ``workbench eval --json`` prints."""
        return {
            "run_id": self.run_id,
            "dataset": self.dataset,
            "algorithm": self.algorithm,
            "params": self.params,
            "protocol": self.protocol,
            "split": self.split,
            "split_source": self.split_source,
            "split_seed": self.split_seed,
            "seed": self.seed,
            "seeds": self.seeds,
            "ks": self.ks,
            "boards": self.boards,
            "short_boards": self.short_boards,
            "negatives": self.negatives,
            "elapsed_s": round(self.elapsed_s, 3),
            "fit_s": round(self.fit_s, 3),
            "ms_per_query": round(self.ms_per_query, 4),
            "steps": self.steps,
            "tied_positives": self.tied_positives,
            "ties": TIE_RULE,
            "metrics": self.metrics,
            "ci95": self.ci95,
            "ci95_seeds": self.ci95_seeds,
            "repeats": self.repeats,
            "notes": self.notes,
            "plot": str(self.plot) if self.plot else None,
        }


def _first_hits(data: EvalData, result: EvalResult) -> np.ndarray:
    """Rank (1-based) of each board's first held-out pin in its ranking; 0 when not ranked."""
    split, top = data.split, result.top_pins
    n_pins = max(data.graph.n_pins, 1)
    counts = np.diff(split.relevant_indptr)
    keys = np.repeat(split.boards.astype(np.int64), counts) * n_pins + split.relevant
    hits = np.isin(split.boards.astype(np.int64)[:, None] * n_pins + top, keys) & (top >= 0)
    return np.where(hits.any(axis=1), hits.argmax(axis=1) + 1, 0)


def run(store: Store, request: EvalRequest, reporter: Reporter = SILENT) -> Evaluation:
    """Evaluate as ``request`` says, store the run (refused if the dataset is replaced
    meanwhile) and return it. Cancellable through ``reporter``."""
    settings = request.settings()
    run_id, result, data = evaluate(
        store,
        request.dataset,
        request.algorithm,
        dict(request.params),
        settings,
        reporter=reporter,
        name=request.name,
    )
    first = _first_hits(data, result)
    per_board = pl.DataFrame(
        {
            "board": data.board_ids[result.boards].astype(str),
            **{k: v for k, v in result.per_board.items()},
            "first_hit": first.astype(np.int32),
        }
    ).with_columns(pl.when(pl.col("first_hit") > 0).then(pl.col("first_hit")).alias("first_hit"))
    plot = None
    if request.plot:
        plot = plots.metric_curves(
            [(f"run {run_id} {request.algorithm}", result.metrics)],
            (request.plot_dir or DEFAULT_DIR) / f"eval-run-{run_id}-{request.algorithm}.png",
            ci95=result.ci95,
        )
    return Evaluation(
        run_id=run_id,
        dataset=request.dataset,
        algorithm=request.algorithm,
        params=result.params,
        protocol=data.settings.protocol,
        split=data.settings.split,
        split_source=data.split.source,
        split_seed=data.settings.split_seed,
        seed=result.seed,
        seeds=result.seeds,
        ks=list(data.settings.ks),
        boards=int(result.boards.size),
        short_boards=data.short_boards,
        negatives=(
            data.negatives_source
            + (
                "; drawn again for each seed"
                if len(result.seeds) > 1 and "sampled" in data.negatives_source
                else ""
            )
            if data.settings.protocol == "sampled"
            else None
        ),
        elapsed_s=result.elapsed_s,
        fit_s=result.fit_s,
        ms_per_query=result.ms_per_query,
        steps=result.steps,
        tied_positives=result.tied_positives,
        metrics=result.metrics,
        ci95=result.ci95,
        ci95_seeds=result.ci95_seeds,
        repeats=result.repeats,
        notes=list(data.notes),
        per_board=per_board,
        plot=plot,
    )


@dataclass
class BoardDetail:
    """One evaluated board of a stored evaluation: its held-out pins, the algorithm's top of the
    ranking (rank, pin, score, held_out) and the board's metric values."""

    run_id: int
    board: str
    held_out: list[str]
    ranking: pl.DataFrame
    metrics: dict[str, float]


def board_detail(store: Store, run_id: int, board: str, top: int = 10) -> BoardDetail:
    """The drill-down of ``board`` in evaluation run ``run_id``: held-out pins (recomputed from
    the run's settings; refused if the dataset changed since), the top ``top`` of its ranking
    with the held-out pins marked, and its per-board metrics."""
    run_ = get_run(store, run_id)
    pairs = heldout_pairs(store, run_)
    held = pairs.filter(pl.col("query") == str(board))["pin"].to_list()
    ranking = (
        run_results(store, run_id)
        .filter(pl.col("query") == str(board))
        .sort("rank")
        .head(top)
        .select("rank", "pin", "score")
        .with_columns(pl.col("pin").is_in(held).alias("held_out"))
    )
    values = run_board_metrics(store, run_id).filter(pl.col("board") == str(board))
    metrics = (
        {
            k: float(v)
            for k, v in values.row(0, named=True).items()
            if k != "board" and v is not None
        }
        if values.height
        else {}
    )
    return BoardDetail(
        run_id=run_id, board=str(board), held_out=held, ranking=ranking, metrics=metrics
    )
