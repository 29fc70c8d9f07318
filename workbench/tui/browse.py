"""What the Explore screen reads: pin and board details, degree histograms, search.

Adjacency, degrees and pin rows come from engine functions (``load_graph``, ``id_map``,
``pins_frame``). Two look-ups have no engine function yet and are plain read-only queries here:
``search`` (pins and boards by id or title words) and ``boards_rows`` (board rows by id);
they are candidates to move to ``workbench.engine.dataset``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from workbench.engine.store import Store, table


def search(store: Store, dataset: str, text: str, limit: int = 200) -> list[tuple[str, str, str]]:
    """``(kind, id, title)`` of pins and boards whose id is ``text`` or whose title (board name)
    contains every word of it; exact id matches first, then pins, then boards, by id."""
    words = text.split()
    if not words:
        return []
    results: list[tuple[str, str, str]] = []
    for kind, tbl, title in (("pin", "pins", "title"), ("board", "boards", "name")):
        like = " AND ".join(f"coalesce({title}, '') ILIKE ?" for _ in words)
        rows = store.query(
            f"SELECT {kind}, coalesce({title}, ''), {kind} = ? AS exact "
            f"FROM {table(dataset, tbl)} WHERE {kind} = ? OR ({like}) "
            f"ORDER BY exact DESC, idx LIMIT ?",
            [text.strip(), text.strip(), *(f"%{w}%" for w in words), limit],
        )
        results += [(kind, str(i), str(t)) for i, t, _ in rows]
    results.sort(key=lambda r: r[1] != text.strip())
    return results[:limit]


def boards_rows(store: Store, dataset: str, boards: Sequence[str]) -> list[dict[str, Any]]:
    """The stored columns (name and attributes) of the given boards, in the order given."""
    with store.connect(read_only=True) as con:
        cur = con.execute(
            f"SELECT * EXCLUDE (idx) FROM {table(dataset, 'boards')} "
            "WHERE board IN (SELECT unnest(?::VARCHAR[]))",
            [[str(b) for b in boards]],
        )
        names = [d[0] for d in cur.description]
        rows = {r[0]: dict(zip(names, r, strict=True)) for r in cur.fetchall()}
    return [rows[b] for b in map(str, boards) if b in rows]


@dataclass(frozen=True)
class PinDetail:
    """A pin as Explore shows it: its stored columns and its boards (with their sizes)."""

    pin: str
    row: dict[str, Any]
    boards: list[dict[str, Any]]


@dataclass(frozen=True)
class BoardDetail:
    """A board as Explore shows it: its stored columns, its pins, and their attribute counts."""

    board: str
    row: dict[str, Any]
    pins: list[dict[str, Any]]
    topics: dict[str, list[tuple[str, int]]]


@dataclass(frozen=True)
class DegreeHistograms:
    """Degree counts of pins (boards per pin) and boards (pins per board)."""

    pin_degree: list[int]
    board_degree: list[int]


def degrees(store: Store, dataset: str) -> DegreeHistograms:
    from workbench.engine.graph import load_graph

    graph = load_graph(store, dataset)
    return DegreeHistograms(graph.pin_degree.tolist(), graph.board_degree.tolist())


def pin_detail(store: Store, dataset: str, pin: str) -> PinDetail:
    from workbench.engine.dataset import id_map, pins_frame, resolve_pins
    from workbench.engine.graph import load_graph

    dense = int(resolve_pins(store, dataset, [pin])[0])
    graph, ids = load_graph(store, dataset), id_map(store, dataset)
    row = pins_frame(store, dataset, [str(ids.pins[dense])]).row(0, named=True)
    board_idx = graph.boards_of(dense)
    boards = boards_rows(store, dataset, [str(ids.boards[b]) for b in board_idx])
    sizes = dict(zip(map(str, ids.boards[board_idx]), graph.board_degree[board_idx], strict=True))
    return PinDetail(str(row["pin"]), row, [b | {"pins": int(sizes[b["board"]])} for b in boards])


def board_detail(store: Store, dataset: str, board: str) -> BoardDetail:
    from workbench.engine.dataset import id_map, pins_frame, resolve_board
    from workbench.engine.graph import load_graph

    dense = resolve_board(store, dataset, board)
    graph, ids = load_graph(store, dataset), id_map(store, dataset)
    row = boards_rows(store, dataset, [str(ids.boards[dense])])[0]
    frame = pins_frame(store, dataset, [str(p) for p in ids.pins[graph.pins_of(dense)]])
    attributes = [c for c in frame.columns if c not in ("pin", "title", "description", "image")]
    topics = {
        c: sorted(
            ((str(v), int(n)) for v, n in frame[c].value_counts().iter_rows()),
            key=lambda vn: (-vn[1], vn[0]),
        )[:6]
        for c in attributes
        if not frame[c].dtype.is_float()
    }
    return BoardDetail(str(row["board"]), row, frame.to_dicts(), topics)
