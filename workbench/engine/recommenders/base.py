"""The recommender interface: queries, rankings, parameters with documented ranges, the registry.

Every algorithm is a :class:`Recommender` subclass with a ``name``, a frozen ``Params`` dataclass
(each field has a default and ``metadata`` with ``help`` and a ``range`` or ``choices``) and one
method, ``_run``, that answers a packed batch of queries: top-k rankings and the scores of given
candidate pins at once. The single-query and batch methods are thin wrappers around it, so all
callers share one code path and query ``i`` of a batch gets the same answer as a single call with
``query_seed(seed, start + i)``.

The CLI and the TUI's parameter form both use :func:`param_fields` and :func:`parse_params`.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import typing
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple, Self

import numpy as np
import numpy.typing as npt

from workbench.engine.errors import WorkbenchError
from workbench.engine.graph import NO_TIME, Graph
from workbench.engine.walks import parallel, query_seeds

BOARD_WEIGHTINGS = ("equal", "recency", "edge")


@dataclass(frozen=True, eq=False, init=False)
class Query:
    """What to recommend for: dense query pins with weights (> 0, default 1), the board they come
    from (if any), and the pins never to recommend (default: the query pins)."""

    pins: np.ndarray  # int32
    weights: np.ndarray  # float64
    board: int | None
    exclude: np.ndarray  # int32

    def __init__(self, pins: npt.ArrayLike, weights: npt.ArrayLike | None = None,
                 board: int | None = None, exclude: npt.ArrayLike | None = None):  # fmt: skip
        pins = np.asarray(pins, dtype=np.int32).ravel()
        w = np.ones(pins.shape[0]) if weights is None else np.asarray(weights, np.float64).ravel()
        if w.shape != pins.shape:
            raise WorkbenchError(f"{pins.shape[0]} query pins but {w.shape[0]} weights")
        if not np.all(np.isfinite(w) & (w > 0)):
            raise WorkbenchError("query pin weights must be finite numbers > 0")
        object.__setattr__(self, "pins", pins)
        object.__setattr__(self, "weights", w)
        object.__setattr__(self, "board", board)
        ex = pins if exclude is None else np.asarray(exclude, dtype=np.int32).ravel()
        object.__setattr__(self, "exclude", ex)


def board_query(
    graph: Graph,
    board: int,
    weighting: str = "equal",
    half_life_days: float = 30.0,
    max_pins: int = 0,
    exclude_board: bool = True,
) -> Query:
    """A query from a board's pins (Pixie's query by board).

    ``weighting``: "equal"; "recency" (weight halves every ``half_life_days`` before the board's
    newest pin; pins of unknown time count as the oldest); or "edge" (the edge weights).
    ``max_pins`` > 0 keeps only the highest-weighted (most recent) pins as query pins;
    ``exclude_board`` excludes all the board's pins from the ranking, not only the query pins.
    """
    if not 0 <= board < graph.n_boards:
        raise WorkbenchError(f"board {board} is not in the graph ({graph.n_boards} boards)")
    if weighting not in BOARD_WEIGHTINGS:
        raise WorkbenchError(
            f"unknown board weighting {weighting!r} (expected one of {', '.join(BOARD_WEIGHTINGS)})"
        )
    lo, hi = int(graph.board_indptr[board]), int(graph.board_indptr[board + 1])
    pins = graph.board_pins[lo:hi]
    if weighting == "equal":
        weights = np.ones(pins.shape[0])
    elif weighting == "edge":
        if graph.board_weights is None:
            raise WorkbenchError(f"dataset {graph.dataset!r} has no edge weights")
        weights = graph.board_weights[lo:hi].astype(np.float64)
    else:
        if graph.board_times is None:
            raise WorkbenchError(f"dataset {graph.dataset!r} has no timestamps for recency weights")
        times = graph.board_times[lo:hi]
        known = times != NO_TIME
        if not known.any():
            weights = np.ones(pins.shape[0])
        else:
            times = np.where(known, times, times[known].min())
            age_days = (times.max() - times) / 86_400e6
            weights = np.exp2(-age_days / half_life_days)
    keep = np.arange(pins.shape[0])
    if 0 < max_pins < pins.shape[0]:
        keep = np.sort(np.lexsort((pins, -weights))[:max_pins])
    # Weights of 0 (edges of weight 0, underflow after many half-lives) would be refused.
    q_weights = np.maximum(weights[keep], np.finfo(np.float64).tiny)
    return Query(
        pins=pins[keep],
        weights=q_weights,
        board=board,
        exclude=pins if exclude_board else pins[keep],
    )


@dataclass(frozen=True, eq=False)
class Ranking:
    """Recommended dense pin ids, best first, their scores, and the walk steps taken (0 for
    algorithms without walks; power iterations for ``ppr``)."""

    pins: np.ndarray  # int32
    scores: np.ndarray  # float64
    steps: int = 0


class QueryBatch(NamedTuple):
    """Queries, exclusions and candidates packed as CSR arrays for the kernels."""

    q_indptr: np.ndarray
    q_pins: np.ndarray
    q_weights: np.ndarray
    ex_indptr: np.ndarray
    ex_pins: np.ndarray
    c_indptr: np.ndarray
    c_pins: np.ndarray

    @property
    def size(self) -> int:
        return self.q_indptr.shape[0] - 1


class BatchOutput(NamedTuple):
    """Rankings (``pins[i, :n[i]]``), candidate scores (flat, in ``c_indptr`` order), steps."""

    pins: np.ndarray
    scores: np.ndarray
    n: np.ndarray
    cand_scores: np.ndarray
    steps: np.ndarray

    @classmethod
    def empty(cls, batch: QueryBatch, k: int) -> BatchOutput:
        n_q = batch.size
        return cls(
            np.full((n_q, k), -1, dtype=np.int32),
            np.zeros((n_q, k)),
            np.zeros(n_q, dtype=np.int64),
            np.zeros(batch.c_pins.shape[0]),
            np.zeros(n_q, dtype=np.int64),
        )


def _csr(parts: Sequence[np.ndarray], dtype: type) -> tuple[np.ndarray, np.ndarray]:
    indptr = np.zeros(len(parts) + 1, dtype=np.int64)
    np.cumsum([p.shape[0] for p in parts], out=indptr[1:])
    flat: np.ndarray = np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)
    return indptr, flat


def pack(
    queries: Sequence[Query], candidates: Sequence[np.ndarray] | None, n_pins: int
) -> QueryBatch:
    """Pack queries (and per-query candidate pins) for the kernels, checking every pin id."""
    if candidates is not None and len(candidates) != len(queries):
        raise WorkbenchError(f"{len(queries)} queries but {len(candidates)} candidate lists")
    q_indptr, q_pins = _csr([q.pins for q in queries], np.int32)
    _, q_weights = _csr([q.weights for q in queries], np.float64)
    ex_indptr, ex_pins = _csr([q.exclude for q in queries], np.int32)
    cands = [np.asarray(c, dtype=np.int32).ravel() for c in candidates] if candidates else []
    c_indptr, c_pins = (
        _csr(cands, np.int32)
        if cands
        else (np.zeros(len(queries) + 1, np.int64), np.zeros(0, np.int32))
    )
    for what, ids in (("query", q_pins), ("excluded", ex_pins), ("candidate", c_pins)):
        bad = ids[(ids < 0) | (ids >= n_pins)]
        if bad.size:
            raise WorkbenchError(f"{what} pin {bad[0]} is not in the graph ({n_pins} pins)")
    return QueryBatch(q_indptr, q_pins, q_weights, ex_indptr, ex_pins, c_indptr, c_pins)


# -- parameters --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParamField:
    """One parameter as a form or a command line shows it."""

    name: str
    type: type
    default: Any
    range: tuple[float, float] | None
    choices: tuple[str, ...] | None
    help: str

    def describe(self) -> str:
        """``steps: int in [1, 1,000,000,000], default 100,000``."""
        kind = getattr(self.type, "__name__", str(self.type))

        def show(v: Any) -> str:
            if self.type is int and not isinstance(v, bool):
                return f"{int(v):,}"
            return repr(v) if isinstance(v, str) else f"{v:g}" if isinstance(v, float) else str(v)

        allowed = (
            f" in [{show(self.range[0])}, {show(self.range[1])}]"
            if self.range is not None
            else f" one of {'|'.join(self.choices)}"
            if self.choices
            else ""
        )
        return f"{self.name}: {kind}{allowed}, default {show(self.default)}"


def param(
    default: Any,
    help: str,
    range: tuple[float, float] | None = None,
    choices: tuple[str, ...] | None = None,
) -> Any:
    """A ``Params`` field with its default, help text and allowed range or choices."""
    return dataclasses.field(
        default=default, metadata={"help": help, "range": range, "choices": choices}
    )


class Recommender(ABC):
    """The common surface of every algorithm: fit once, then answer queries."""

    name: ClassVar[str]
    Params: ClassVar[type[Any]]
    description: ClassVar[str] = ""

    def __init__(self, params: Any | None = None):
        self.params = params if params is not None else self.Params()
        if not isinstance(self.params, self.Params):
            raise TypeError(
                f"{self.name} takes {self.Params.__name__}, not {type(params).__name__}"
            )
        self._graph: Graph | None = None

    @property
    def graph(self) -> Graph:
        if self._graph is None:
            raise WorkbenchError(f"{self.name}: fit() the recommender on a graph first")
        return self._graph

    def fit(self, graph: Graph) -> Self:
        self._fit(graph)
        self._graph = graph
        return self

    @abstractmethod
    def _fit(self, graph: Graph) -> None:
        """Prepare for queries on ``graph`` (similarity matrices, pruned walk graph, ...)."""

    @abstractmethod
    def _run(self, batch: QueryBatch, k: int, seeds: np.ndarray) -> BatchOutput:
        """Answer a packed batch: top ``k`` per query and the candidates' scores."""

    def run_info(self) -> dict[str, Any]:
        """Facts about the fitted model worth storing with a run (JSON-serialisable), e.g.
        ``{"pruning": {...}}`` for a pruned Pixie graph; ``{}`` when there is nothing to add."""
        return {}

    def run_batch(
        self,
        queries: Sequence[Query],
        k: int = 10,
        candidates: Sequence[np.ndarray] | None = None,
        seed: int = 0,
        start: int = 0,
    ) -> tuple[list[Ranking], list[np.ndarray]]:
        """Rankings and candidate scores of many queries in one pass (e.g. for evaluation).

        Query ``i`` is seeded with ``query_seed(seed, start + i)``: pass ``start`` when a long
        list is answered in chunks so the results do not depend on the chunking.
        """
        if k < 0:
            raise WorkbenchError(f"k must be >= 0, got {k}")
        batch = pack(queries, candidates, self.graph.n_pins)
        with parallel(batch.size):
            out = self._run(batch, min(k, self.graph.n_pins), query_seeds(seed, start, batch.size))
        rankings = [
            Ranking(
                out.pins[i, : out.n[i]].copy(), out.scores[i, : out.n[i]].copy(), int(out.steps[i])
            )
            for i in range(batch.size)
        ]
        cand = (
            [out.cand_scores[batch.c_indptr[i] : batch.c_indptr[i + 1]] for i in range(batch.size)]
            if candidates is not None
            else []
        )
        return rankings, cand

    def recommend_batch(
        self, queries: Sequence[Query], k: int = 10, seed: int = 0, start: int = 0
    ) -> list[Ranking]:
        return self.run_batch(queries, k, None, seed, start)[0]

    def score_batch(
        self,
        queries: Sequence[Query],
        candidates: Sequence[np.ndarray],
        seed: int = 0,
        start: int = 0,
    ) -> list[np.ndarray]:
        return self.run_batch(queries, 0, candidates, seed, start)[1]

    def recommend(self, query: Query, k: int = 10, seed: int = 0) -> Ranking:
        return self.recommend_batch([query], k, seed)[0]

    def score(self, query: Query, candidates: np.ndarray, seed: int = 0) -> np.ndarray:
        return self.score_batch([query], [candidates], seed)[0]


ALGORITHMS: dict[str, type[Recommender]] = {}
"""Every algorithm by name (filled by :func:`register` as the algorithm modules are imported)."""


def register(cls: type[Recommender]) -> type[Recommender]:
    ALGORITHMS[cls.name] = cls
    return cls


def algorithm(name: str) -> type[Recommender]:
    if name not in ALGORITHMS:
        raise WorkbenchError(f"unknown algorithm {name!r} (known: {', '.join(ALGORITHMS)})")
    return ALGORITHMS[name]


def param_fields(algo: str) -> list[ParamField]:
    """The parameters of algorithm ``algo``: name, type, default, range or choices, help."""
    return list(_fields_of(algorithm(algo).Params))


@functools.cache
def _fields_of(params: type) -> tuple[ParamField, ...]:
    """Read once per parameter class: resolving the type hints costs ~0.7 ms a call."""
    hints = typing.get_type_hints(params)
    return tuple(
        ParamField(
            name=f.name,
            type=hints[f.name],
            default=f.default,
            range=f.metadata.get("range"),
            choices=f.metadata.get("choices"),
            help=f.metadata.get("help", ""),
        )
        for f in dataclasses.fields(params)
    )


_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")


def _convert(algo: str, f: ParamField, value: Any) -> Any:
    what = f"{algo}: parameter {f.name}={value!r}"
    text = str(value).strip()
    if f.type is bool:
        if isinstance(value, bool):
            return value
        if text.lower() in _TRUE + _FALSE:
            return text.lower() in _TRUE
        raise WorkbenchError(f"{what}: expected true or false")
    if f.type is int:
        if isinstance(value, bool):
            raise WorkbenchError(f"{what}: expected an integer")
        try:
            return int(text.replace("_", ""))
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                number = math.nan
            if math.isfinite(number) and number.is_integer():
                return int(number)
            raise WorkbenchError(f"{what}: expected an integer") from None
    if f.type is float:
        try:
            number = float(text)
        except ValueError:
            number = math.nan
        if isinstance(value, bool) or not math.isfinite(number):
            raise WorkbenchError(f"{what}: expected a number")
        return number
    return text


def parse_params(algo: str, values: Mapping[str, Any] | None = None) -> Any:
    """``Params`` of ``algo`` from strings (``{"steps": "100000"}``) or typed values; unknown
    keys and bad or out-of-range values raise one-line :class:`WorkbenchError`\\ s."""
    fields = {f.name: f for f in param_fields(algo)}
    chosen: dict[str, Any] = {}
    for key, value in (values or {}).items():
        if key not in fields:
            raise WorkbenchError(
                f"{algo}: unknown parameter {key!r} (parameters: {', '.join(fields) or 'none'})"
            )
        f = fields[key]
        v = _convert(algo, f, value)
        if f.range is not None and not f.range[0] <= v <= f.range[1]:
            raise WorkbenchError(
                f"{algo}: parameter {key}={v} is out of range [{f.range[0]}, {f.range[1]}]"
            )
        if f.choices is not None and v not in f.choices:
            raise WorkbenchError(
                f"{algo}: parameter {key}={v!r} must be one of {', '.join(f.choices)}"
            )
        chosen[key] = v
    return algorithm(algo).Params(**chosen)


def params_dict(params: Any) -> dict[str, Any]:
    """A ``Params`` object as a plain dict (as stored with a run)."""
    return dataclasses.asdict(params)


def create(algo: str, params: Any | Mapping[str, Any] | None = None) -> Recommender:
    """An unfitted recommender; ``params`` as a ``Params`` object or as strings to parse."""
    cls = algorithm(algo)
    if params is None or isinstance(params, Mapping):
        params = parse_params(algo, params)
    return cls(params)
