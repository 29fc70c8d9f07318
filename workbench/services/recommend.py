"""Recommend pins for a query (weighted pins, or a board's pins) with any algorithm; every
answer is stored as a run.

The whole call reads and writes through one attachment of the store (one open, one snapshot);
hold the store open around many calls (``with store.open(): ...``) to share even that.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from workbench.engine.progress import SILENT, Reporter
from workbench.services.parsing import check_seed

if TYPE_CHECKING:
    from workbench.engine.recommend import RecommendResult
    from workbench.engine.recommenders.base import ParamField
    from workbench.engine.store import Store

__all__ = [
    "DEFAULT_ALGORITHM",
    "DEFAULT_K",
    "AlgorithmHelp",
    "ParamField",
    "RecommendRequest",
    "RecommendResult",
    "algorithm_help",
    "algorithms",
    "format_steps",
    "recommend",
]

DEFAULT_K = 10
"""Pins returned when the caller does not say: the same in the CLI, the TUI and the notebook."""
DEFAULT_ALGORITHM = "pixie"


def __getattr__(name: str) -> Any:
    """The engine's names this module re-exports, imported when first used (they load numba)."""
    if name == "RecommendResult":
        from workbench.engine.recommend import RecommendResult

        return RecommendResult
    if name == "ParamField":
        from workbench.engine.recommenders.base import ParamField

        return ParamField
    if name == "BOARD_WEIGHTINGS":
        from workbench.engine.recommenders.base import BOARD_WEIGHTINGS

        return BOARD_WEIGHTINGS
    raise AttributeError(name)


@dataclass(frozen=True)
class RecommendRequest:
    """One query. Give ``pins`` (original ids, ``weights`` optional, 1 each) or ``board``;
    ``params`` as strings to parse (``{"steps": "100000"}``) or a ``Params`` object."""

    dataset: str
    pins: tuple[str, ...] = ()
    weights: tuple[float, ...] | None = None
    board: str | None = None
    board_weighting: str = "equal"
    algo: str = DEFAULT_ALGORITHM
    params: Mapping[str, Any] | Any = field(default_factory=dict)
    k: int = DEFAULT_K
    seed: int = 0


def recommend(
    store: Store, request: RecommendRequest, reporter: Reporter = SILENT
) -> RecommendResult:
    """Rank pins for ``request`` and store the run; ``result.results`` has rank, pin, score,
    title. Bad ids, parameters or seeds fail before any work, with one line."""
    from workbench.engine.recommend import recommend as _recommend

    check_seed(request.seed)
    return _recommend(
        store,
        request.dataset,
        request.algo,
        request.params,
        pins=list(request.pins) or None,
        weights=list(request.weights) if request.weights is not None else None,
        board=request.board,
        board_weighting=request.board_weighting,
        k=request.k,
        seed=request.seed,
        reporter=reporter,
    )


def format_steps(steps: int | None) -> str:
    """Walk steps as every face shows them: ``100,000``, or ``–`` for algorithms that take none."""
    return f"{steps:,}" if steps else "–"


# -- what the faces offer ------------------------------------------------------------------------


@dataclass(frozen=True)
class AlgorithmHelp:
    """An algorithm's name, one-line description and parameters."""

    name: str
    description: str
    params: tuple[ParamField, ...]


def algorithms() -> dict[str, list[ParamField]]:
    """Every algorithm's parameters, by name, in the registry's order."""
    from workbench.engine.recommenders import ALGORITHMS, param_fields

    return {name: param_fields(name) for name in ALGORITHMS}


def algorithm_help() -> list[AlgorithmHelp]:
    """What ``recommend --help`` lists: each algorithm with its parameters' ranges and defaults."""
    from workbench.engine.recommenders import ALGORITHMS

    fields = algorithms()
    return [
        AlgorithmHelp(name, next(iter((cls.description or "").strip().splitlines()), ""),
                      tuple(fields[name]))
        for name, cls in ALGORITHMS.items()
    ]  # fmt: skip
