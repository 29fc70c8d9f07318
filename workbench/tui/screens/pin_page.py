"""The pin page, opened with Enter on a pin in any table: the pin's image, title and attributes,
its degree, the boards it is on, and the pins of the highlighted board.

Pages stack on the screen they were opened from; Backspace goes back one page, and the
breadcrumb on top says where you came from. From here the walk goes on: Enter on a board's pin
opens its page, ``a`` adds the pin on show to the query, ``v`` finds similar images.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Static

from workbench.tui.jobs import Job, JobContext
from workbench.tui.messages import PinAction
from workbench.tui.screens.base import WorkbenchScreen
from workbench.tui.widgets.pin_image import PinImage
from workbench.tui.widgets.pin_view import PIN_FIELDS, attribute_grid
from workbench.tui.widgets.rows_table import RowsTable, count_of


def read_pin(store: Any, dataset: str, pin: str, offset: int = 0) -> Any:
    """The pin's row, its degree and one page of its boards (from ``offset``) with sizes."""
    from workbench.services import explore

    return explore.pin_page(store, dataset, pin, offset)


def read_board(store: Any, dataset: str, board: str, offset: int = 0) -> Any:
    """The board's row and one page of its pins (from ``offset``)."""
    from workbench.services import explore

    return explore.board_page(store, dataset, board, offset)


class PinPageScreen(WorkbenchScreen):
    """One pin: picture and attributes on top; its boards and the highlighted board's pins."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("backspace", "app.back", "Back", id="page.back"),
        Binding("a", "page_pin('add')", "Add to query", id="page.add"),
        Binding("v", "page_pin('similar')", "Similar images", id="page.similar"),
        Binding("m", "more", "More rows", id="page.more"),
    ]

    def __init__(self, dataset: str, pin: str, mode: str) -> None:
        super().__init__()
        self.MODE = mode  # type: ignore[misc]  # the tab stays on the screen it came from
        self.dataset = dataset
        self.pin = pin
        self.crumb = f"pin {pin}"
        self.detail: Any = None
        """The last page of the pin's boards read (``PinPage``)."""
        self.board_detail: Any = None
        """The last page of the highlighted board's pins read (``BoardPage``)."""
        self._board: str | None = None

    def compose_body(self) -> ComposeResult:
        yield Static(id="page-crumbs")
        with Vertical(classes="body", id="page-body"):
            with Horizontal(id="page-top"):
                yield PinImage(id="page-picture")
                yield Static(id="page-text")
            with Horizontal(id="page-tables"):
                boards = RowsTable(id="page-boards", classes="panel")
                boards.border_title = "Boards"
                yield boards
                pins = RowsTable(id="page-board-pins", classes="panel")
                pins.border_title = "Pins of the board"
                yield pins

    def on_mount(self) -> None:
        trail = self.workbench.breadcrumb()
        self.query_one("#page-crumbs", Static).update(
            Text.assemble(
                (" › ".join(trail[:-1]) + " › " if len(trail) > 1 else "", "dim"),
                (trail[-1], "bold"),
                ("   (⌫ back)", "dim"),
            )
        )
        self.query_one("#page-boards", RowsTable).set_columns("Board", "Name", "Pins")
        self.query_one("#page-board-pins", RowsTable).set_columns("Pin", "Title")
        store, dataset, pin = self.workbench.store, self.dataset, self.pin
        self.run_job(
            Job(
                "page.pin",
                f"Opening pin {pin}",
                lambda _ctx: read_pin(store, dataset, pin),
                self.show,
                on_error=lambda e: self.query_one("#page-text", Static).update(str(e)),
                show_progress=False,
            )
        )

    def show(self, detail: Any) -> None:
        self.detail = detail
        row = detail.row
        self.query_one(PinImage).show(row.get("image"))
        text = Table.grid()
        text.add_row(Text(f"{row.get('title') or '(no title)'}", style="bold"))
        if row.get("description"):
            text.add_row(Text(str(row["description"]), style="italic"))
        text.add_row("")
        text.add_row(attribute_grid({"pin": detail.pin, "degree": count_of(detail.degree, "board")}
                                    | {k: v for k, v in row.items() if k not in PIN_FIELDS},
                                    ()))  # fmt: skip
        self.query_one("#page-text", Static).update(text)
        table = self.query_one("#page-boards", RowsTable)
        self._add_boards(detail, [])
        table.focus()
        if detail.boards:
            self._show_board(str(detail.boards[0]["board"]))

    @on(DataTable.RowHighlighted, "#page-boards")
    def _board_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is not None:
            self._show_board(str(event.row_key.value))

    @on(DataTable.RowSelected, "#page-boards")
    def _board_selected(self) -> None:
        self.query_one("#page-board-pins", RowsTable).focus()

    def _show_board(self, board: str) -> None:
        if board == self._board:
            return
        self._board = board
        store, dataset = self.workbench.store, self.dataset

        def run(_ctx: JobContext) -> Any:
            return read_board(store, dataset, board)

        self.run_job(Job("page.board", f"Reading board {board}", run,
                         lambda found: self._add_board_pins(found, []),
                         show_progress=False))  # fmt: skip

    def _add_boards(self, page: Any, shown: list[tuple[str, list[Any]]]) -> None:
        """Show ``page``'s boards after the rows already ``shown``."""
        self.detail = page
        rows = shown + [
            (str(b["board"]), [str(b["board"]), b.get("name") or "", int(b["pins"])])
            for b in page.boards
        ]
        table = self.query_one("#page-boards", RowsTable)
        table.set_rows(rows)
        more = f"{len(rows):,} of " if len(rows) < page.degree else ""
        hint = " · m more" if more else ""
        table.border_title = f"Boards ({more}{page.degree:,}){hint}"

    def _add_board_pins(self, page: Any, shown: list[tuple[str, list[Any]]]) -> None:
        """Show ``page``'s pins after the rows already ``shown``."""
        self.board_detail = page
        rows = shown + [(str(p["pin"]), [str(p["pin"]), p.get("title") or ""]) for p in page.pins]
        table = self.query_one("#page-board-pins", RowsTable)
        table.set_rows(rows)
        more = f"{len(rows):,} of " if len(rows) < page.size else ""
        hint = " · m more" if more else ""
        table.border_title = f"Pins of board {page.board} ({more}{page.size:,}){hint}"

    def _rows(self, table: RowsTable) -> list[tuple[str, list[Any]]]:
        return [(str(key.value), list(table.get_row(key))[1:]) for key in table.rows]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "more":
            focused = self.focused
            if focused is not None and focused.id == "page-boards" and self.detail is not None:
                return self.query_one("#page-boards", RowsTable).row_count < self.detail.degree
            if focused is not None and focused.id == "page-board-pins" and self.board_detail:
                table = self.query_one("#page-board-pins", RowsTable)
                return table.row_count < self.board_detail.size
            return False
        return super().check_action(action, parameters)

    def action_more(self) -> None:
        """``m``: the next page of the focused list (boards of the pin, or pins of the board)."""
        store, dataset, pin = self.workbench.store, self.dataset, self.pin
        focused = self.focused
        if focused is not None and focused.id == "page-boards":
            table = self.query_one("#page-boards", RowsTable)
            shown, offset = self._rows(table), table.row_count
            self.run_job(Job("page.more", "Reading more boards",
                             lambda _ctx: read_pin(store, dataset, pin, offset),
                             lambda page: self._add_boards(page, shown),
                             show_progress=False))  # fmt: skip
        elif focused is not None and focused.id == "page-board-pins" and self.board_detail:
            table = self.query_one("#page-board-pins", RowsTable)
            shown, offset, board = self._rows(table), table.row_count, self.board_detail.board
            self.run_job(Job("page.more", "Reading more pins",
                             lambda _ctx: read_board(store, dataset, board, offset),
                             lambda page: self._add_board_pins(page, shown),
                             show_progress=False))  # fmt: skip

    def action_page_pin(self, verb: str) -> None:
        """``a`` / ``v`` where no pin row has the focus: the pin on show."""
        self.post_message(PinAction("add" if verb == "add" else "similar", self.pin))
