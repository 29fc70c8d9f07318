"""Offline evaluation of a recommender on held-out pins, stored as a run.

Protocols:

* ``sampled``: leave-one-out with sampled negatives (He et al., "Neural Collaborative
  Filtering", WWW 2017): each board's held-out pins are ranked among the dataset's negatives for
  the board, or N pins drawn uniformly (seeded) from those the board never touched. Only accuracy
  is reported: lists drawn from a positive and random negatives say nothing of the catalogue.
* ``full``: every pin the board does not hold outside the evaluated split is ranked (Krichene &
  Rendle, "On Sampled Metrics for Item Recommendation", KDD 2020, show sampled metrics can
  misorder algorithms); coverage, Gini, popularity, novelty and diversity are reported too.

In both, pins already on the board are never ranked, and equal scores are ordered by a seeded
hash of (board, pin), so the held-out pin never wins a tie by position. The split comes from the
split seed; negatives, ties and the algorithm from the seed, so repeats with several seeds test
the same held-out pins.

The parts live in :mod:`workbench.engine.evaluation`; this module names them for the callers
(sweeps, exports, scripts) and runs the whole: :func:`evaluate`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workbench.engine.evaluation.data import (
    DatasetChangedError,
    EvalData,
    candidate_counts,
    check_version,
    prepare,
    reseed,
)
from workbench.engine.evaluation.ranking import rank_candidates
from workbench.engine.evaluation.settings import (
    DEFAULT_KS,
    DEFAULT_NEGATIVES,
    PROTOCOLS,
    TIE_RULE,
    EvalSettings,
)
from workbench.engine.evaluation.stability import StabilityResult, ranking_stability
from workbench.engine.evaluation.storage import (
    describe,
    heldout_pairs,
    save_evaluation,
)
from workbench.engine.evaluation.trial import (
    EvalResult,
    combine,
    half_width,
    run_repeats,
    run_trial,
    summarise,
)
from workbench.engine.progress import SILENT, Reporter
from workbench.engine.recommenders import parse_params
from workbench.engine.store import Store

__all__ = [
    "DEFAULT_KS",
    "DEFAULT_NEGATIVES",
    "PROTOCOLS",
    "TIE_RULE",
    "DatasetChangedError",
    "EvalData",
    "EvalResult",
    "EvalSettings",
    "StabilityResult",
    "candidate_counts",
    "check_version",
    "combine",
    "describe",
    "evaluate",
    "half_width",
    "heldout_pairs",
    "prepare",
    "rank_candidates",
    "ranking_stability",
    "reseed",
    "run_repeats",
    "run_trial",
    "save_evaluation",
    "summarise",
]


def evaluate(
    store: Store,
    dataset: str,
    algo: str,
    params: Mapping[str, Any] | None = None,
    settings: EvalSettings | None = None,
    reporter: Reporter = SILENT,
    name: str | None = None,
    info: Mapping[str, Any] | None = None,
) -> tuple[int, EvalResult, EvalData]:
    """Evaluate ``algo`` on ``dataset`` (every repeat of the settings) and store the run;
    returns (run id, result, data)."""
    settings = settings or EvalSettings()
    parse_params(algo, dict(params or {}))  # a bad parameter fails before any work
    reporter.progress(0, 1, "reading the dataset")
    data = prepare(store, dataset, settings)
    result = run_repeats(data, algo, params, reporter)
    return save_evaluation(store, data, result, info=info, name=name), result, data
