"""Explain a recommendation: why a pin stands where it does in a stored walk or graph ranking.

For a walk (Pixie, pixie-dn) the run is re-walked with its own seed, parameters and graph
version, counting only the chosen pin's visits: which query pin's walk and which board each visit
came through. For P3alpha, RP3beta, ItemKNN and exact PPR the score is split exactly over the
query pins and the boards on the pin -> board -> pin paths. For a visual run the stored cosine
and query (crop box) are shown. Every explanation carries the pin's degree and popularity rank,
so popularity bias is visible. Nothing large is stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from workbench.engine.progress import SILENT, Reporter

if TYPE_CHECKING:
    from workbench.engine.store import Store

METHODS = ("walk", "exact", "visual", "popularity")
"""How an explanation was obtained: ``walk`` (visits re-counted by re-walking the run),
``exact`` (the score split over query pins and 3-step paths), ``visual`` (the stored image
similarity), ``popularity`` (the score is the pin's number of boards)."""


@dataclass(frozen=True)
class ExplainRequest:
    """Explain pin ``pin`` (original id) of run ``run_id``; list at most ``top`` query pins and
    ``top`` boards (the rest summed in one row)."""

    run_id: int
    pin: str
    top: int = 10


@dataclass(frozen=True)
class QueryPinPart:
    """What one query pin contributed. ``visits``: walk visits before boosting (``walk``), or
    the exact contribution to the score (``exact``, ``visual``). A row with ``pin`` None sums
    the ``others`` query pins not listed."""

    pin: str | int | None
    title: str | None
    weight: float | None
    visits: float
    share: float
    others: int = 0


@dataclass(frozen=True)
class BoardPart:
    """What one board contributed: the walks reached the pin through it ``visits`` times (or its
    paths' exact contribution). A row with ``board`` None sums the ``others`` boards not listed."""

    board: str | int | None
    name: str | None
    visits: float
    share: float
    others: int = 0


@dataclass(frozen=True)
class VisualMatch:
    """A visual run's evidence: cosine similarity, distance (1 - cosine), the query's crop box
    (x, y, w, h) and the pin's best-matching region when the run stored it (None otherwise)."""

    similarity: float
    distance: float
    embedding: str
    crop: tuple[int, int, int, int] | None
    matched_region: tuple[int, int, int, int] | None


@dataclass
class Explanation:
    """Why ``pin`` has ``score`` (rank ``rank``) in run ``run_id``."""

    run_id: int
    dataset: str
    algorithm: str
    method: str  # one of METHODS
    pin: str | int
    title: str | None
    rank: int
    score: float
    degree: int  # number of boards of the pin in the dataset
    popularity_rank: int  # 1 = on the most boards; ties share the best rank
    n_pins: int
    total: float  # walk: the pin's visits from all query pins; exact: the score being split
    steps: int  # walk: steps re-walked (equal to the run's); 0 otherwise
    by_query_pin: list[QueryPinPart] = field(default_factory=list)
    via_boards: list[BoardPart] = field(default_factory=list)
    n_boards: int = 0  # boards through which the pin was reached (before ``top``)
    visual: VisualMatch | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def unit(self) -> str:
        """What the ``visits`` column holds: "visits" for walks, else "contribution"."""
        return "visits" if self.method == "walk" else "contribution"

    def to_json(self) -> dict[str, Any]:
        def query_row(q: QueryPinPart) -> dict[str, Any]:
            row: dict[str, Any] = {"pin": q.pin, "title": q.title, "weight": q.weight,
                                   "visits": q.visits, "share": q.share}  # fmt: skip
            if q.pin is None:
                row["others"] = q.others
            return row

        def board_row(b: BoardPart) -> dict[str, Any]:
            row: dict[str, Any] = {"board": b.board, "name": b.name, "visits": b.visits,
                                   "share": b.share}  # fmt: skip
            if b.board is None:
                row["others"] = b.others
            return row

        doc: dict[str, Any] = {
            "run_id": self.run_id,
            "pin": self.pin,
            "score": self.score,
            "algorithm": self.algorithm,
            "by_query_pin": [query_row(q) for q in self.by_query_pin],
            "via_boards": [board_row(b) for b in self.via_boards],
            "degree": self.degree,
            "popularity_rank": self.popularity_rank,
            "dataset": self.dataset,
            "method": self.method,
            "unit": self.unit,
            "title": self.title,
            "rank": self.rank,
            "n_pins": self.n_pins,
            "total": self.total,
            "steps": self.steps,
            "n_boards": self.n_boards,
            "notes": list(self.notes),
        }
        if self.visual is not None:
            v = self.visual
            doc["visual"] = {
                "similarity": v.similarity,
                "distance": v.distance,
                "embedding": v.embedding,
                "crop": list(v.crop) if v.crop else None,
                "matched_region": list(v.matched_region) if v.matched_region else None,
            }
        return doc


def explain(store: Store, request: ExplainRequest, reporter: Reporter = SILENT) -> Explanation:
    """Why ``request.pin`` is in run ``request.run_id``'s ranking (see the module docstring)."""
    raise NotImplementedError("explain: being built (engine kernel first)")
