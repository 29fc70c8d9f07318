"""The read-only queries behind exploring a dataset: search by id or title, a pin's page, a board's
page, and degree histograms, each bounded (LIMIT, paging, SQL aggregates) so that none of them
grows with the size of the graph.

Every function reads through one connection of the store (one snapshot) and returns plain rows
with original ids; :mod:`workbench.services.explore` shapes them for the faces.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workbench.engine.dataset import resolve_board, resolve_pins
from workbench.engine.store import Store, ident, table

IMAGE_FIELDS = ("description", "image")
TOPICS_PER_ATTRIBUTE = 6


def _words(text: str) -> list[str]:
    return [w.lower() for w in text.split()]


def search(store: Store, dataset: str, text: str, limit: int) -> list[tuple[str, str, str]]:
    """``(kind, id, title)`` of pins and boards whose id contains ``text`` or whose title (board
    name) contains every word of it. Exact ids come first, then ids that start with the text,
    then other id matches, then title matches; pins before boards within each; at most
    ``limit`` rows."""
    needle = text.strip()
    words = _words(needle)
    if not words:
        return []
    rows: list[tuple[int, int, int, str, str]] = []
    with store.connect(read_only=True) as con:
        for order, (kind, tbl, title) in enumerate(
            (("pin", "pins", "title"), ("board", "boards", "name"))
        ):
            in_title = " AND ".join("contains(lower(coalesce(t, '')), ?)" for _ in words)
            found = con.execute(
                f"SELECT CASE WHEN id = ? THEN 0 WHEN starts_with(lower(id), ?) THEN 1 "
                f"WHEN contains(lower(id), ?) THEN 2 ELSE 3 END AS match, idx, id, "
                f"coalesce(t, '') FROM (SELECT idx, {kind} AS id, {title} AS t "
                f"FROM {table(dataset, tbl)}) "
                f"WHERE contains(lower(id), ?) OR ({in_title}) "
                "ORDER BY match, length(id), idx LIMIT ?",
                [needle, needle.lower(), needle.lower(), needle.lower(), *words, int(limit)],
            ).fetchall()
            rows += [(m, order, idx, str(i), str(t)) for m, idx, i, t in found]
    rows.sort(key=lambda r: (r[0], r[1]))
    return [("pin" if order == 0 else "board", i, t) for _, order, _, i, t in rows[:limit]]


def board_rows(store: Store, dataset: str, boards: list[str]) -> list[dict[str, Any]]:
    """The stored columns (name and attributes) of the given boards, in the order given."""
    with store.connect(read_only=True) as con:
        cur = con.execute(
            f"SELECT * EXCLUDE (idx) FROM {table(dataset, 'boards')} "
            "WHERE board IN (SELECT unnest(?::VARCHAR[]))",
            [[str(b) for b in boards]],
        )
        names = [d[0] for d in cur.description]
        rows = {str(r[0]): dict(zip(names, r, strict=True)) for r in cur.fetchall()}
    return [rows[b] for b in map(str, boards) if b in rows]


@dataclass(frozen=True)
class PinRows:
    """A pin's row, its degree, and one page of its boards (each with its number of pins)."""

    pin: str
    row: dict[str, Any]
    degree: int
    boards: list[dict[str, Any]]


def pin_rows(store: Store, dataset: str, pin: str, offset: int, limit: int) -> PinRows:
    """Pin ``pin`` (an original id) with its boards ``offset .. offset+limit`` in board order."""
    pins, boards, edges = (table(dataset, t) for t in ("pins", "boards", "edges"))
    with store.connect(read_only=True) as con:
        dense = int(resolve_pins(store, dataset, [pin])[0])
        cur = con.execute(f"SELECT * EXCLUDE (idx) FROM {pins} WHERE idx = ?", [dense])
        names = [d[0] for d in cur.description]
        row = dict(zip(names, cur.fetchone() or (), strict=True))
        degree = con.execute(f"SELECT count(*) FROM {edges} WHERE pin_idx = ?", [dense]).fetchone()
        cur = con.execute(
            f"WITH mine AS (SELECT board_idx FROM {edges} WHERE pin_idx = ?), "
            f"sizes AS (SELECT e.board_idx, count(*) AS pins FROM {edges} e "
            "JOIN mine USING (board_idx) GROUP BY e.board_idx) "
            f"SELECT b.* EXCLUDE (idx), s.pins FROM sizes s JOIN {boards} b ON b.idx = s.board_idx "
            "ORDER BY b.idx LIMIT ? OFFSET ?",
            [dense, int(limit), int(offset)],
        )
        names = [d[0] for d in cur.description]
        page = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    return PinRows(str(row["pin"]), row, int(degree[0]) if degree else 0, page)


@dataclass(frozen=True)
class BoardRows:
    """A board's row, its size, one page of its pins, and the commonest attribute values."""

    board: str
    row: dict[str, Any]
    size: int
    pins: list[dict[str, Any]]
    topics: dict[str, list[tuple[str, int]]]


def board_rows_page(store: Store, dataset: str, board: str, offset: int, limit: int) -> BoardRows:
    """Board ``board`` with pins ``offset .. offset+limit`` of it (in pin order) and, for each
    non-numeric pin attribute, its commonest values over all the board's pins."""
    pins, boards, edges = (table(dataset, t) for t in ("pins", "boards", "edges"))
    with store.connect(read_only=True) as con:
        info = store.dataset(dataset)
        dense = resolve_board(store, dataset, board)
        cur = con.execute(f"SELECT * EXCLUDE (idx) FROM {boards} WHERE idx = ?", [dense])
        names = [d[0] for d in cur.description]
        row = dict(zip(names, cur.fetchone() or (), strict=True))
        size = con.execute(f"SELECT count(*) FROM {edges} WHERE board_idx = ?", [dense]).fetchone()
        cur = con.execute(
            f"SELECT p.* EXCLUDE (idx) FROM {pins} p JOIN {edges} e ON e.pin_idx = p.idx "
            "WHERE e.board_idx = ? ORDER BY p.idx LIMIT ? OFFSET ?",
            [dense, int(limit), int(offset)],
        )
        names = [d[0] for d in cur.description]
        page = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        topics: dict[str, list[tuple[str, int]]] = {}
        for column, kind in info.pin_attributes.items():
            if kind.upper() in ("DOUBLE", "FLOAT", "REAL", "DECIMAL"):
                continue
            counted = con.execute(
                f"SELECT CAST(p.{ident(column)} AS VARCHAR) AS v, "
                f"count(*) AS n FROM {pins} p JOIN {edges} e ON e.pin_idx = p.idx "
                "WHERE e.board_idx = ? GROUP BY v ORDER BY n DESC, v LIMIT ?",
                [dense, TOPICS_PER_ATTRIBUTE],
            ).fetchall()
            topics[column] = [(str(v), int(n)) for v, n in counted]
    return BoardRows(str(row["board"]), row, int(size[0]) if size else 0, page, topics)


@dataclass(frozen=True)
class LogHistogram:
    """How many nodes have each degree, in powers-of-two bins: bin 0 holds degree 0, bin
    ``i >= 1`` degrees ``2**(i-1) .. 2**i - 1``."""

    bins: list[int]
    counts: list[int]
    nodes: int


def degree_histogram(store: Store, dataset: str, kind: str) -> LogHistogram:
    """Degrees of pins (``kind="pin"``: boards per pin) or boards (pins per board) counted in
    log bins by the database: no edge list comes into Python."""
    column = {"pin": "pin_idx", "board": "board_idx"}[kind]
    nodes_table = table(dataset, "pins" if kind == "pin" else "boards")
    with store.connect(read_only=True) as con:
        found = con.execute(
            f"SELECT floor(log2(d))::INTEGER + 1 AS bin, count(*) FROM (SELECT count(*) AS d "
            f"FROM {table(dataset, 'edges')} GROUP BY {column}) GROUP BY bin ORDER BY bin"
        ).fetchall()
        total_row = con.execute(f"SELECT count(*) FROM {nodes_table}").fetchone()
    total = int(total_row[0]) if total_row else 0
    counts = {int(b): int(n) for b, n in found}
    isolated = total - sum(counts.values())
    if isolated > 0:
        counts[0] = isolated
    if not counts:
        return LogHistogram([], [], total)
    bins = list(range(min(counts), max(counts) + 1))
    return LogHistogram(bins, [counts.get(b, 0) for b in bins], total)
