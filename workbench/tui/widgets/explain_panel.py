"""Why a run ranked a pin: the panel that ``e`` opens beside any list of a run's pins.

It calls the explain service (``workbench.services.explain``) in a thread worker and shows what
it returns: the pin's score, degree and popularity rank, the share of each query pin, and the
boards through which the walks reached it most often. ``e`` on the same pin again, or Esc,
closes it: in the panel by its own binding, elsewhere on the screen by the screen's
:data:`CLOSE_EXPLAIN` binding with :class:`ExplainHost` (Esc cancels a running job first, and in a
text box it leaves the box). A switch of dataset closes it (:meth:`ExplainPanel.close_on`): it
explains a run of the old dataset.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, cast

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Input, Static, TextArea

from workbench.tui.jobs import Job, JobContext
from workbench.tui.widgets.rows_table import RowsTable, format_score

if TYPE_CHECKING:
    from workbench.tui.app import WorkbenchApp


CLOSE_EXPLAIN = Binding(
    "escape", "close_explain", "Close", id="explain.close", tooltip="Close the explanation"
)
"""Esc on a screen with the panel open (after the screen's ``cancel_job`` binding for Esc, so
that Esc still cancels a running job first): screens list it with :class:`ExplainHost`."""


def explanation_dict(explanation: Any) -> dict[str, Any]:
    """The explanation as the JSON object of ``workbench explain --json``."""
    if isinstance(explanation, dict):
        return explanation
    if hasattr(explanation, "to_json"):
        data = explanation.to_json()
        return cast("dict[str, Any]", data if isinstance(data, dict) else {})
    from dataclasses import asdict, is_dataclass

    return asdict(explanation) if is_dataclass(explanation) else {}  # type: ignore[arg-type]


def share_text(share: Any) -> str:
    return f"{float(share) * 100:.1f}%" if isinstance(share, int | float) else "—"


class ExplainPanel(Vertical):
    """The explanation of one pin of one run, docked beside the screen's lists."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close explanation", id="explain.close"),
    ]

    def __init__(self) -> None:
        super().__init__(id="explain-panel", classes="panel")
        self.run_id: int | None = None
        self.pin: str | None = None
        self.explanation: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="explain-summary")
        by_query = RowsTable(id="explain-query-pins")
        by_query.border_title = "By query pin"
        yield by_query
        boards = RowsTable(id="explain-boards")
        boards.border_title = "Via boards"
        yield boards
        yield Static(id="explain-notes")

    @classmethod
    def open_on(cls, screen: Screen[Any], run_id: int, pin: str) -> None:
        """Explain ``pin`` of run ``run_id`` in the panel of ``screen`` (made if needed); the
        same pin again closes the panel.

        The panel floats on its own layer beside the list, on the half of the screen the list
        is not on (the focused list stays in view, and nothing is squeezed at 80 columns)."""
        found = screen.query(ExplainPanel)
        if found and found.first().run_id == run_id and found.first().pin == pin:
            cls.close_on(screen)
            return
        panel = found.first() if found else cls()
        focused = screen.focused
        on_right = focused is not None and (
            focused.region.x + focused.region.width / 2 > screen.size.width / 2
        )
        panel.set_class(on_right, "-left")
        if not found:
            screen.mount(panel)
        panel.call_after_refresh(panel.explain, run_id, pin)

    @property
    def workbench(self) -> WorkbenchApp:
        return cast("WorkbenchApp", self.app)

    def on_mount(self) -> None:
        self._fit()
        self.screen.refresh_bindings()  # the footer offers Esc to close it

    def _fit(self) -> None:
        """Between the navigation line and the footer (a floating panel has no container)."""
        self.styles.height = max(self.screen.size.height - 2, 6)

    def explain(self, run_id: int, pin: str) -> None:
        """Ask the explain service why run ``run_id`` ranked ``pin``, in a worker."""
        self._fit()
        self.run_id, self.pin, self.explanation = run_id, pin, None
        self.border_title = f"Why pin {pin} in run {run_id}"
        self.query_one("#explain-summary", Static).update("Explaining… (the walk is re-run)")
        self.query_one("#explain-notes", Static).update("")
        for table in self.query(RowsTable):
            table.set_rows([])
        store = self.workbench.store

        def run(ctx: JobContext) -> dict[str, Any]:
            from workbench.services.explain import ExplainRequest, explain

            request = ExplainRequest(run_id, pin)  # the service's default top
            return explanation_dict(explain(store, request, ctx.reporter))

        def failed(error: Exception) -> None:
            self.query_one("#explain-summary", Static).update(self.workbench.message_for(error))

        job = Job("explain", f"Explaining pin {pin}", run, self.show, on_error=failed)
        from workbench.tui.widgets.job_bar import JobBar

        bars = self.screen.query(JobBar)
        if bars:
            bars.first().start(job)
        else:
            self.workbench.start_job(job, self)

    def show(self, data: dict[str, Any]) -> None:
        """Fill the panel from an explanation (the ``explain --json`` object)."""
        self.explanation = data
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column()
        method = f" ({data['method']})" if data.get("method") else ""
        grid.add_row("Algorithm", f"{data.get('algorithm', '—')}{method}")
        rank = f"rank {data['rank']:,} · " if isinstance(data.get("rank"), int) else ""
        grid.add_row("Score", f"{rank}{format_score(data.get('score'))}")
        if isinstance(data.get("degree"), int):
            popularity = data.get("popularity_rank")
            of = f" of {data['n_pins']:,}" if isinstance(data.get("n_pins"), int) else ""
            grid.add_row(
                "Degree",
                f"{data['degree']:,} boards"
                + (f" · popularity #{popularity:,}{of}" if isinstance(popularity, int) else ""),
            )
        if data.get("steps"):
            grid.add_row("Re-walked", f"{data['steps']:,} steps")
        visual = data.get("visual")
        if isinstance(visual, dict):
            cosine = "Region cosine" if visual.get("matched_region") else "Similarity"
            grid.add_row(cosine, f"{visual['similarity']:.4f} (distance "
                                 f"{visual['distance']:.4f})")  # fmt: skip
            for key, label in (("crop", "Query crop"), ("matched_region", "Matched region")):
                if visual.get(key):
                    grid.add_row(label, ",".join(map(str, visual[key])))
            if visual.get("object_cosine") is not None:
                weight = visual["object_weight"]
                grid.add_row(
                    "Object cosine", f"{visual['object_cosine']:.4f} (x {weight:g} in the score)"
                )
                if visual.get("object_box"):
                    grid.add_row("Matched object", ",".join(map(str, visual["object_box"])))
        self.query_one("#explain-summary", Static).update(grid)
        self.query_one("#explain-notes", Static).update(
            "\n".join(f"· {note}" for note in data.get("notes", []))
        )
        amount = str(data.get("unit") or "visits").capitalize()
        by_query = self.query_one("#explain-query-pins", RowsTable)
        by_query.set_columns("Pin", amount, "Share")
        by_query.set_rows(
            [
                (
                    str(q["pin"]) if q.get("pin") is not None else "_others",
                    [
                        str(q["pin"]) if q.get("pin") is not None else f"{q.get('others')} more",
                        q.get("visits"),
                        share_text(q.get("share")),
                    ],
                )
                for q in data.get("by_query_pin", [])
            ]
        )
        boards = self.query_one("#explain-boards", RowsTable)
        boards.set_columns("Board", "Name", amount, "Share")
        boards.set_rows(
            [
                (
                    str(b["board"]) if b.get("board") is not None else "_others",
                    [
                        str(b["board"])
                        if b.get("board") is not None
                        else f"{b.get('others')} more",
                        b.get("name") or "",
                        b.get("visits"),
                        share_text(b.get("share")),
                    ],
                )
                for b in data.get("via_boards", [])
            ]
        )
        n_boards = data.get("n_boards")
        boards.border_title = (
            f"Via boards ({n_boards:,})" if isinstance(n_boards, int) else "Via boards"
        )

    def action_close(self) -> None:
        self.close_on(self.screen)

    @classmethod
    def is_open(cls, screen: Screen[Any]) -> bool:
        return bool(screen.query(ExplainPanel))

    @classmethod
    def close_on(cls, screen: Screen[Any]) -> None:
        """Close the panel of ``screen``, if it has one open."""
        found = screen.query(ExplainPanel)
        if found:
            found.remove()
            screen.call_after_refresh(screen.refresh_bindings)


class ExplainHost:
    """For a screen that shows the explain panel (list it before the screen class, and put
    :data:`CLOSE_EXPLAIN` in ``BINDINGS`` after the base screen's Esc binding): Esc closes the
    panel while it is open, no job runs and the focus is not in a text box (there Esc leaves
    the box, as everywhere)."""

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "close_explain":
            screen = cast("Screen[Any]", self)
            from workbench.tui.widgets.job_bar import JobBar

            bars = screen.query(JobBar)
            return (
                ExplainPanel.is_open(screen)
                and not (bars and bars.first().running)
                and not isinstance(screen.focused, Input | TextArea)
            )
        return cast("bool | None", super().check_action(action, parameters))  # type: ignore[misc]

    def action_close_explain(self) -> None:
        ExplainPanel.close_on(cast("Screen[Any]", self))
