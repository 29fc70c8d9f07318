"""Exploring a dataset: search pins and boards, a pin's page, a board's page, degree histograms.

Every answer is bounded whatever the size of the graph: searches stop at ``limit`` rows, pages
hold at most ``limit`` boards or pins (``offset`` pages on), and histograms are counted by the
database in powers-of-two bins (degrees follow a power law; linear bins would put nearly every
node in the first bar).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from workbench.engine import browse_queries as q

if TYPE_CHECKING:
    from workbench.engine.store import Store

__all__ = [
    "PAGE_SIZE",
    "SEARCH_LIMIT",
    "BoardPage",
    "DegreeHistogram",
    "DegreeHistograms",
    "PinPage",
    "SearchHit",
    "board_page",
    "degree_histograms",
    "pin_page",
    "pins",
    "search",
]

SEARCH_LIMIT = 200
"""Search results returned when the caller does not say."""
PAGE_SIZE = 200
"""Boards of a pin, or pins of a board, per page."""


class SearchHit(NamedTuple):
    """A pin or a board found by :func:`search`."""

    kind: str  # "pin" or "board"
    id: str
    title: str


def search(store: Store, dataset: str, text: str, limit: int = SEARCH_LIMIT) -> list[SearchHit]:
    """Pins and boards whose id contains ``text`` (``p0004`` finds ``p00041``) or whose title or
    name contains every word of it: exact ids first, then ids starting with the text, then
    other id matches, then title matches; at most ``limit``."""
    return [SearchHit(*hit) for hit in q.search(store, dataset, text, limit)]


def pins(store: Store, dataset: str, ids: list[str]) -> list[dict[str, Any]]:
    """The stored columns (title, image, attributes) of the given pins, in store order."""
    from workbench.engine.dataset import pins_frame

    return pins_frame(store, dataset, ids).to_dicts() if ids else []


@dataclass(frozen=True)
class PinPage:
    """A pin: its stored columns (``row``), its degree, and one page of its boards, each a dict
    of the board's columns plus ``pins`` (its number of pins)."""

    pin: str
    row: dict[str, Any]
    degree: int
    boards: list[dict[str, Any]]
    offset: int = 0

    @property
    def more(self) -> bool:
        return self.offset + len(self.boards) < self.degree


def pin_page(store: Store, dataset: str, pin: str, offset: int = 0,
             limit: int = PAGE_SIZE) -> PinPage:  # fmt: skip
    """Pin ``pin`` (original id) with boards ``offset .. offset+limit`` of it, in one read."""
    rows = q.pin_rows(store, dataset, pin, max(0, offset), max(1, limit))
    return PinPage(rows.pin, rows.row, rows.degree, rows.boards, max(0, offset))


@dataclass(frozen=True)
class BoardPage:
    """A board: its stored columns, its number of pins, one page of its pins (dicts of their
    columns), and per pin attribute its commonest values with counts (over all its pins)."""

    board: str
    row: dict[str, Any]
    size: int
    pins: list[dict[str, Any]]
    topics: dict[str, list[tuple[str, int]]]
    offset: int = 0

    @property
    def more(self) -> bool:
        return self.offset + len(self.pins) < self.size


def board_page(store: Store, dataset: str, board: str, offset: int = 0,
               limit: int = PAGE_SIZE) -> BoardPage:  # fmt: skip
    """Board ``board`` (original id) with pins ``offset .. offset+limit`` of it, in one read."""
    rows = q.board_rows_page(store, dataset, board, max(0, offset), max(1, limit))
    return BoardPage(rows.board, rows.row, rows.size, rows.pins, rows.topics, max(0, offset))


@dataclass(frozen=True)
class DegreeHistogram:
    """Nodes per degree bin: ``labels[i]`` (``0``, ``1``, ``2-3``, ``4-7``, ...) has
    ``counts[i]`` nodes (whole numbers); ``nodes`` in all."""

    labels: list[str]
    counts: list[int]
    nodes: int


@dataclass(frozen=True)
class DegreeHistograms:
    """Boards per pin, and pins per board."""

    pins: DegreeHistogram
    boards: DegreeHistogram


def _label(b: int) -> str:
    if b <= 1:
        return str(b)
    lo, hi = 2 ** (b - 1), 2**b - 1
    return f"{lo}-{hi}"


def _histogram(found: q.LogHistogram) -> DegreeHistogram:
    return DegreeHistogram([_label(b) for b in found.bins], list(found.counts), found.nodes)


def degree_histograms(store: Store, dataset: str) -> DegreeHistograms:
    """Degree histograms of pins and boards in log bins, counted by the database."""
    with store.connect(read_only=True):
        pins = q.degree_histogram(store, dataset, "pin")
        boards = q.degree_histogram(store, dataset, "board")
    return DegreeHistograms(_histogram(pins), _histogram(boards))
