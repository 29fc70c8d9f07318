"""Evaluations as stored runs: how one was done (in words and numbers), its rankings and
per-board values, and the held-out pairs of a stored run recomputed for a TREC export."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import polars as pl

from workbench.engine.errors import WorkbenchError
from workbench.engine.evaluation.data import EvalData, check_version, prepare
from workbench.engine.evaluation.settings import TIE_RULE, EvalSettings
from workbench.engine.evaluation.trial import EvalResult
from workbench.engine.runs import Run, save_run
from workbench.engine.store import Store


def describe(data: EvalData) -> dict[str, Any]:
    """How an evaluation was done, in words and numbers (stored in the run's ``info``)."""
    s = data.settings
    return {
        "protocol": s.protocol,
        "split": s.split,
        "split_source": data.split.source,
        "negatives": data.negatives_source if s.protocol == "sampled" else None,
        "negatives_count": s.negatives if s.protocol == "sampled" else None,
        "holdout": s.holdout.describe(s.split_seed),
        "boards_sample": s.boards,
        "boards": int(data.split.boards.size),
        "short_boards": data.short_boards,
        "short_boards_kept": s.keep_short,
        "held_out": int(data.split.relevant.size),
        "ks": list(s.ks),
        "split_seed": s.split_seed,
        "ties": TIE_RULE,
        "excluded": "pins the board holds outside the evaluated split are never ranked",
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
    every cutoff). Refuses if the dataset was replaced since ``data`` was read. Returns the run
    id."""
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
            "ms_per_query": result.ms_per_query,
            "seeds": result.seeds or [result.seed],
            "ci95": result.ci95,
            "ci95_seeds": result.ci95_seeds,
            "repeats": result.repeats,
            "rankings_seed": result.seed,
        }
        | dict(info or {})
    )
    check_version(store, data.dataset, data.fingerprint, "it was being evaluated")
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
    settings = replace(EvalSettings.from_info(run.info), repeats=1)
    data = prepare(store, run.dataset, settings)
    split = data.split
    counts = np.diff(split.relevant_indptr)
    return pl.DataFrame(
        {
            "query": data.board_ids[np.repeat(split.boards, counts)].astype(str),
            "pin": data.pin_ids[split.relevant].astype(str),
        }
    )
