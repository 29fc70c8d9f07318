"""The Explore screen: search pins and boards, follow pin -> board -> pin, degree histograms."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import ContentSwitcher, DataTable, Input, Static

from workbench.services import explore
from workbench.tui.jobs import Job, JobContext
from workbench.tui.screens.base import WorkbenchScreen
from workbench.tui.widgets.board_view import BoardView
from workbench.tui.widgets.degree_histogram import DegreeHistogram
from workbench.tui.widgets.pin_tile import PinTile
from workbench.tui.widgets.pin_view import PinView
from workbench.tui.widgets.rows_table import RowsTable

SEARCH_LIMIT = explore.SEARCH_LIMIT


class ExploreScreen(WorkbenchScreen):
    """Left: search and its results; right: the overview, a pin page or a board page."""

    MODE = "explore"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "focus_search", "Search", id="explore.search"),
        Binding("backspace", "back", "Back", id="explore.back"),
        Binding("g", "toggle_layout", "Grid/list", id="explore.layout"),
        Binding("o", "overview", "Overview", id="explore.overview"),
        Binding("a", "add_to_query", "Add to query", id="explore.add"),
        Binding("v", "visual_search", "Similar images", id="explore.visual"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.history: list[tuple[str, str]] = []
        """Pages visited since the last overview: ``(kind, id)``, the current one last."""

    def compose_body(self) -> ComposeResult:
        with Horizontal(classes="body"):
            with Vertical(id="explore-left"):
                yield Input(placeholder="pin or board id, or title words  (/)", id="explore-search")
                results = RowsTable(id="explore-results", classes="panel")
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
        self.query_one(RowsTable).set_columns("Kind", "Id", "Title")
        self.watch(self.app, "dataset", self._dataset_changed)

    # -- the dataset and its overview ---------------------------------------------------------

    def _dataset_changed(self, dataset: str | None) -> None:
        self.history.clear()
        self.query_one("#explore-search", Input).value = ""
        self.query_one(RowsTable).set_rows([])
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
        table = self.query_one("#explore-results", RowsTable)

        def run(_ctx: JobContext) -> list[explore.SearchHit]:
            return explore.search(store, dataset, text, SEARCH_LIMIT)

        def done(rows: list[explore.SearchHit]) -> None:
            table.set_rows([(f"{kind}:{id_}", [kind, id_, title]) for kind, id_, title in rows])
            more = "+" if len(rows) == SEARCH_LIMIT else ""
            table.border_title = f"Results ({len(rows)}{more})" if text.strip() else "Results"

        self.run_job(Job("explore.search", "Searching", run, done, show_progress=False))

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
        """The pin on show, or a board's highlighted pin; None (and a hint) if there is none."""
        pin: str | None = None
        current = self.query_one(ContentSwitcher).current
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
        if pin is None:
            return
        pins = self.workbench.query_pins
        if any(spec.rpartition(":")[0] == pin or spec == pin for spec in pins):
            self.notify(f"pin {pin} is already in the query", markup=False)
            return
        self.workbench.query_pins = (*pins, pin)
        self.notify(
            f"query pins: {' '.join(self.workbench.query_pins)} (3 Recommend)", markup=False
        )

    def action_visual_search(self) -> None:
        """Find pins that look like the chosen pin, on the Visual screen."""
        pin = self._chosen_pin()
        if pin is not None:
            self.workbench.visual_search(pin)

    def action_toggle_layout(self) -> None:
        self.query_one(BoardView).toggle_layout()
