"""The Explore screen: search pins and boards, follow pin -> board -> pin, degree histograms.

Search results are pins (in the ``Pin`` column) and boards (in the ``Board`` column). Pin rows have
the pin actions of every pin table (``a`` add to the query, ``v`` similar images; ``e`` says that
there is no run to explain here); Enter opens a pin or a board in place, with a history that
Backspace walks. The search runs in a worker and the hits are shown a page at a time (``[`` ``]``),
so the work on the UI thread stays the same however many pins and boards the dataset has.
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import ContentSwitcher, DataTable, Input, Static

from workbench.services import explore
from workbench.tui.jobs import Job, JobContext
from workbench.tui.messages import NOTHING_TO_EXPLAIN
from workbench.tui.screens.base import WorkbenchScreen
from workbench.tui.widgets.board_view import BoardView
from workbench.tui.widgets.degree_histogram import DegreeHistogram
from workbench.tui.widgets.pin_tile import PinTile
from workbench.tui.widgets.pin_view import PinView
from workbench.tui.widgets.rows_table import RowsTable

SEARCH_LIMIT = explore.SEARCH_LIMIT
PAGE = 50
"""Search hits shown at a time: filling a table costs the UI thread time per row."""


class ExploreScreen(WorkbenchScreen):
    """Left: search and its results; right: the overview, a pin page or a board page."""

    MODE = "explore"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "focus_search", "Search", id="explore.search"),
        Binding("backspace", "back", "Back", id="explore.back"),
        Binding("g", "toggle_layout", "Grid/list", id="explore.layout"),
        Binding("o", "overview", "Overview", id="explore.overview"),
        Binding("a", "add_to_query", "Add to query", id="explore.add"),
        Binding("v", "visual_search", "Similar", id="explore.visual", tooltip="Similar images"),
        Binding("e", "explain", "Explain", id="explore.explain", show=False),
        # The results' title says "[ ]" when there are more pages (the footer has no room).
        Binding("right_square_bracket", "page(1)", "Next results", id="explore.next", show=False),
        Binding(
            "left_square_bracket", "page(-1)", "Previous results", id="explore.previous", show=False
        ),
        Binding("m", "more", "More", id="explore.more", tooltip="More rows of the page"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.history: list[tuple[str, str]] = []
        """Pages visited since the last overview: ``(kind, id)``, the current one last."""
        self.hits: list[explore.SearchHit] = []
        """The last search's hits (at most ``SEARCH_LIMIT``), shown ``PAGE`` at a time."""
        self.page = 0
        self.searched = ""

    def compose_body(self) -> ComposeResult:
        with Horizontal(classes="body"):
            with Vertical(id="explore-left"):
                yield Input(placeholder="pin or board id, or title words  (/)", id="explore-search")
                # Enter opens a result in place (pages and history here), not as a pin page.
                results = RowsTable(id="explore-results", classes="panel", open_pins=False)
                results.border_title = "Results"
                yield results
            with ContentSwitcher(initial="explore-overview", id="explore-page", classes="panel"):
                with Vertical(id="explore-overview"):
                    yield Static(id="overview-text")
                    with Horizontal(id="overview-plots"):
                        yield DegreeHistogram(id="pin-degree-plot")
                        yield DegreeHistogram(id="board-degree-plot")
                yield PinView(id="explore-pin")
                yield BoardView(id="explore-board")

    def on_mount(self) -> None:
        self.query_one("#explore-results", RowsTable).set_columns("Pin", "Board", "Title")
        self.watch(self.app, "dataset", self._dataset_changed)

    # -- the dataset and its overview ---------------------------------------------------------

    def _dataset_changed(self, dataset: str | None) -> None:
        self.history.clear()
        self.query_one("#explore-search", Input).value = ""
        self._show_hits([], "")
        self.action_overview()

    def action_overview(self) -> None:
        self.history.clear()
        self.query_one(ContentSwitcher).current = "explore-overview"
        dataset = self.workbench.dataset
        page = self.query_one("#explore-page")
        page.border_title = f"Overview of {dataset}" if dataset else "Overview"
        text = self.query_one("#overview-text", Static)
        if dataset is None:
            text.update("No dataset in use: load or choose one on the Datasets screen.")
            return
        store = self.workbench.store

        def done(hist: explore.DegreeHistograms) -> None:
            text.update(
                f"{hist.pins.nodes:,} pins and {hist.boards.nodes:,} boards. Search on "
                "the left by id or title words; Enter opens a result, a board, or a pin."
            )
            self.query_one("#pin-degree-plot", DegreeHistogram).show(
                hist.pins, "Pin degree", "boards per pin"
            )
            self.query_one("#board-degree-plot", DegreeHistogram).show(
                hist.boards, "Board degree", "pins per board"
            )

        text.update("Reading the graph…")
        self.run_job(
            Job(
                "explore.overview",
                f"Reading {dataset}",
                lambda _ctx: explore.degree_histograms(store, dataset),
                done,
            )
        )

    # -- search -------------------------------------------------------------------------------

    def action_focus_search(self) -> None:
        self.query_one("#explore-search", Input).focus()

    @on(Input.Changed, "#explore-search")
    def _search(self, event: Input.Changed) -> None:
        dataset, text, store = self.workbench.dataset, event.value, self.workbench.store
        if dataset is None:
            return

        def run(_ctx: JobContext) -> list[explore.SearchHit]:
            return explore.search(store, dataset, text, SEARCH_LIMIT)

        def done(hits: list[explore.SearchHit]) -> None:
            self._show_hits(hits, text)

        self.run_job(Job("explore.search", "Searching", run, done, show_progress=False))

    def _show_hits(self, hits: list[explore.SearchHit], text: str) -> None:
        self.hits, self.searched, self.page = hits, text, 0
        self._show_page()
        self.refresh_bindings()

    def _show_page(self) -> None:
        """The current page of hits: a pin's id in the Pin column, a board's in Board."""
        hits, table = self.hits, self.query_one("#explore-results", RowsTable)
        pages = max(1, -(-len(hits) // PAGE))
        self.page = min(max(self.page, 0), pages - 1)
        shown = hits[self.page * PAGE : (self.page + 1) * PAGE]
        table.set_rows([
            (f"{kind}:{id_}", [id_, "", title] if kind == "pin" else ["", id_, title])
            for kind, id_, title in shown
        ])  # fmt: skip
        more = "+" if len(hits) == SEARCH_LIMIT else ""
        paging = f" · {self.page + 1}/{pages} [ ]" if pages > 1 else ""
        found = f"Results ({len(hits)}{more}){paging}"
        table.border_title = found if self.searched.strip() else "Results"

    def action_page(self, step: int) -> None:
        self.page += step
        self._show_page()
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "page":
            # A bracket typed in the search box is text; no page before the first or after
            # the last.
            target = self.page + int(str(parameters[0]))
            pages = -(-len(self.hits) // PAGE)
            return 0 <= target < pages and pages > 1 and not isinstance(self.focused, Input)
        if action == "more":  # the page on show lists fewer boards or pins than it has
            current = self.query_one(ContentSwitcher).current
            if current == "explore-pin":
                return self.query_one(PinView).more
            return current == "explore-board" and self.query_one(BoardView).more
        return super().check_action(action, parameters)

    def action_more(self) -> None:
        """``m``: the next page of the pin's boards or of the board's pins."""
        dataset, store = self.workbench.dataset, self.workbench.store
        if dataset is None:
            return
        if self.query_one(ContentSwitcher).current == "explore-pin":
            view = self.query_one(PinView)
            table = view.query_one(RowsTable)
            shown = [(str(k.value), list(table.get_row(k))[1:]) for k in table.rows]
            pin, offset = view.detail.pin, len(shown)  # type: ignore[union-attr]
            self.run_job(Job("explore.more", "Reading more boards",
                             lambda _ctx: explore.pin_page(store, dataset, pin, offset),
                             lambda page: view.show(page, shown),
                             show_progress=False))  # fmt: skip
            return
        board_view = self.query_one(BoardView)
        board, offset = board_view.detail.board, len(board_view.shown)  # type: ignore[union-attr]
        self.run_job(Job("explore.more", "Reading more pins",
                         lambda _ctx: explore.board_page(store, dataset, board, offset),
                         lambda page: self.call_later(board_view.show, page, True),
                         show_progress=False))  # fmt: skip

    @on(Input.Submitted, "#explore-search")
    def _to_results(self) -> None:
        self.query_one("#explore-results", RowsTable).focus()

    # -- pages --------------------------------------------------------------------------------

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        key = str(event.row_key.value)
        table_id = event.data_table.id
        if table_id == "explore-results":
            kind, _, id_ = key.partition(":")
            self.open(kind, id_)
        elif table_id == "pin-boards":
            self.open("board", key)
        elif table_id == "board-list":
            self.open("pin", key)

    @on(PinTile.Opened)
    def _tile_opened(self, event: PinTile.Opened) -> None:
        self.open("pin", event.pin)

    def open(self, kind: str, id_: str, remember: bool = True) -> None:
        """Show pin or board ``id_``; ``remember`` adds it to the history that Back walks."""
        dataset, store = self.workbench.dataset, self.workbench.store
        if dataset is None:
            return

        def run(_ctx: JobContext) -> Any:
            if kind == "pin":
                return explore.pin_page(store, dataset, id_)
            return explore.board_page(store, dataset, id_)

        def done(detail: Any) -> None:
            if remember:
                self.history.append((kind, id_))
            page = f"explore-{kind}"
            self.query_one(ContentSwitcher).current = page
            self.query_one("#explore-page").border_title = " ‹ ".join(
                f"{k} {i}" for k, i in reversed(self.history[-4:])
            )
            if kind == "pin":
                self.query_one(PinView).show(detail)
                self.query_one("#pin-boards", RowsTable).focus()
            else:
                view = self.query_one(BoardView)
                self.call_later(view.show, detail)

        self.run_job(Job("explore.open", f"Opening {kind} {id_}", run, done, show_progress=False))

    def action_back(self) -> None:
        if len(self.history) < 2:
            self.action_overview()
            return
        self.history.pop()
        kind, id_ = self.history[-1]
        self.history.pop()
        self.open(kind, id_)

    def _chosen_pin(self) -> str | None:
        """The pin on show, or a board's highlighted pin; None (and a hint) if there is none.

        (A pin row of the results handles ``a`` and ``v`` itself, as every pin table does.)"""
        pin: str | None = None
        current = self.query_one(ContentSwitcher).current
        results = self.query_one("#explore-results", RowsTable)
        if self.focused is results:
            kind, _, id_ = (results.cursor_key or "").partition(":")
            if kind == "board":
                self.notify(
                    f"board {id_} is a board, not a pin: Enter opens it, then choose a pin",
                    severity="warning",
                    markup=False,
                )
            else:
                self.notify("search for a pin first", severity="warning")
            return None
        if current == "explore-pin" and self.history:
            pin = self.history[-1][1]
        elif current == "explore-board":
            focused = self.focused
            if isinstance(focused, PinTile):
                pin = focused.pin
            else:
                pin = self.query_one("#board-list", RowsTable).cursor_key
        if pin is None:
            self.notify("open a pin (or highlight one on a board) first", severity="warning")
        return pin

    def action_add_to_query(self) -> None:
        """Add the chosen pin to Recommend's query pins."""
        pin = self._chosen_pin()
        if pin is not None:
            self.workbench.add_query_pin(pin)

    def action_visual_search(self) -> None:
        """Find pins that look like the chosen pin, on the Visual screen."""
        pin = self._chosen_pin()
        if pin is not None:
            self.workbench.visual_search(pin)

    def action_explain(self) -> None:
        """``e`` where no pin row took it: Explore shows the graph, not a run's ranking."""
        self.notify(NOTHING_TO_EXPLAIN, markup=False)

    def action_toggle_layout(self) -> None:
        self.query_one(BoardView).toggle_layout()
