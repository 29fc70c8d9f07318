"""The SQL screen: ad-hoc read-only questions to the store, as harlequin offers them.

An editor with SQL highlighting (tree-sitter's SQL grammar, from ``textual[syntax]``; the colours
follow the app's theme: the theme's own background with VS Code's dark colours, or GitHub's light
colours under a light theme), the store's tables and their columns beside it, and the result
below, a page at a time. Only one reading statement runs (SELECT, WITH, DESCRIBE, SHOW,
SUMMARIZE, EXPLAIN, FROM, VALUES): the service refuses the rest and attaches the store read-only.
Esc interrupts a running query; the whole result can be exported (csv, parquet or json lines, by
the file's extension).
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Label, TextArea

from workbench.tui.jobs import Job, JobContext
from workbench.tui.screens.base import WorkbenchScreen
from workbench.tui.screens.confirm import ConfirmScreen
from workbench.tui.screens.prompt import PromptScreen
from workbench.tui.widgets.rows_table import RowsTable, count_of

PAGE = 200
"""Rows shown at a time (the query keeps up to the service's row limit)."""
EXAMPLE = "e.g. SELECT * FROM runs ORDER BY run_id DESC LIMIT 20  (ctrl+r runs it; read-only)"
FORMATS = {".csv": "csv", ".parquet": "parquet", ".json": "json", ".jsonl": "json"}
EDITOR_THEMES = {True: "css", False: "github_light"}
"""The editor's highlighting theme under a dark (True) or light app theme: ``css`` keeps the app's
background and uses VS Code's dark colours, which read poorly on white."""


def sql_cell(value: Any) -> Any:
    """A result value as shown: NULL dimmed, numbers right-aligned at full precision."""
    if value is None:
        return Text("NULL", style="dim")
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return Text(f"{value:,}", justify="right")
    if isinstance(value, float):
        return Text(repr(value), justify="right")
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat(sep=" ") if isinstance(value, datetime.datetime) else str(value)
    return str(value).replace("\n", " ")


class SQLScreen(WorkbenchScreen):
    """Top: the editor and the store's tables; below: the result, a page at a time."""

    MODE = "sql"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+r", "run", "Run query", id="sql.run", priority=True),
        Binding("ctrl+s", "export", "Export result…", id="sql.export", priority=True),
        Binding("ctrl+down", "focus_result", "To result", id="sql.result", show=False),
        Binding("ctrl+up", "focus_editor", "To editor", id="sql.editor", show=False),
        Binding("right_square_bracket", "page(1)", "Next page", id="sql.next"),
        Binding("left_square_bracket", "page(-1)", "Previous page", id="sql.previous"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.result: Any = None
        self.page = 0

    def compose_body(self) -> ComposeResult:
        with Vertical(classes="body"):
            with Horizontal(id="sql-top"):
                editor = TextArea.code_editor(
                    "",
                    language="sql",
                    theme=self._editor_theme(),
                    id="sql-editor",
                    placeholder=EXAMPLE,
                )
                editor.add_class("panel")
                editor.border_title = "SQL (read-only) · ctrl+r run · ctrl+s export"
                yield editor
                tables = RowsTable(id="sql-tables", classes="panel")
                tables.border_title = "Tables"
                yield tables
            yield Label(classes="field-error", id="sql-error")
            result = RowsTable(id="sql-result", classes="panel")
            result.border_title = "Result"
            yield result

    def on_mount(self) -> None:
        self._error("")
        self.query_one("#sql-tables", RowsTable).set_columns("Table", "Columns")
        editor = self.query_one("#sql-editor", TextArea)
        editor.cursor_blink = False
        editor.soft_wrap = True
        editor.focus()
        editor.move_cursor(editor.document.end)
        self.watch(self.app, "theme", self._app_theme_changed, init=False)
        store = self.workbench.store

        def run(ctx: JobContext) -> Any:
            from workbench.services import sql

            return sql.tables(store)

        def done(listed: Any) -> None:
            self.query_one("#sql-tables", RowsTable).set_rows(
                [
                    (f"{schema}.{name}", [f"{schema}.{name}", ", ".join(columns)])
                    for schema, name, columns in listed.rows
                ]
            )

        self.run_job(Job("sql.tables", "Reading tables", run, done, show_progress=False))

    def _editor_theme(self) -> str:
        return EDITOR_THEMES[self.app.current_theme.dark]

    def _app_theme_changed(self) -> None:
        self.query_one("#sql-editor", TextArea).theme = self._editor_theme()

    def _error(self, text: str) -> None:
        """Show (or, with "", hide) the one-line error under the editor."""
        error = self.query_one("#sql-error", Label)
        error.update(text)
        error.set_class(not text, "-empty")

    @property
    def sql_text(self) -> str:
        return self.query_one("#sql-editor", TextArea).text

    def action_run(self) -> None:
        """Run the editor's statement in a worker (Esc interrupts it)."""
        text, store = self.sql_text, self.workbench.store
        self._error("")

        def run(ctx: JobContext) -> Any:
            from workbench.services import sql

            reporter = ctx.reporter
            return sql.run(store, sql.SqlRequest(text), reporter)

        self.run_job(
            Job(
                "sql.run",
                "Running the query",
                run,
                self._show,
                on_error=lambda e: self._error(str(e)),
            )
        )

    def _show(self, result: Any) -> None:
        self.result, self.page = result, 0
        self._show_page()
        if result.rows:
            self.query_one("#sql-result", RowsTable).focus()

    def _show_page(self) -> None:
        result = self.result
        table = self.query_one("#sql-result", RowsTable)
        if result is None:
            return
        pages = max(1, -(-len(result.rows) // PAGE))
        self.page = min(max(self.page, 0), pages - 1)
        first = self.page * PAGE
        shown = result.rows[first : first + PAGE]
        table.set_columns(*result.columns)
        table.set_rows(
            [(str(first + i), [sql_cell(v) for v in row]) for i, row in enumerate(shown)]
        )
        more = f" (first {len(result.rows):,}; the query has more)" if result.truncated else ""
        paging = f" · page {self.page + 1}/{pages} ([ ])" if pages > 1 else ""
        table.border_title = (
            f"{count_of(len(result.rows), 'row')}{more} · {result.elapsed_ms:,.0f} ms{paging}"
        )

    def action_page(self, step: int) -> None:
        if self.result is not None:
            self.page += step
            self._show_page()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "page":
            if self.result is None or len(self.result.rows) <= PAGE:
                return False
            return not isinstance(self.focused, TextArea)
        return super().check_action(action, parameters)

    def action_focus_result(self) -> None:
        self.query_one("#sql-result", RowsTable).focus()

    def action_focus_editor(self) -> None:
        self.query_one("#sql-editor", TextArea).focus()

    @on(DataTable.RowSelected, "#sql-tables")
    def _table_chosen(self, event: DataTable.RowSelected) -> None:
        """Enter on a table: a query of its first rows in the editor."""
        name = str(event.row_key.value)
        editor = self.query_one("#sql-editor", TextArea)
        editor.text = f"SELECT * FROM {name} LIMIT 100"
        editor.focus()
        editor.move_cursor(editor.document.end)

    # -- export -------------------------------------------------------------------------------

    def action_export(self) -> None:
        text = self.sql_text

        def chosen(path: str | None) -> None:
            if path:
                self._export(text, path, overwrite=False)

        self.app.push_screen(
            PromptScreen(
                "Export the result",
                "Every row of the query to a file (.csv, .parquet, .json):",
                "query.csv",
            ),
            chosen,
        )

    def _export(self, text: str, path: str, overwrite: bool) -> None:
        from workbench.engine.errors import OutputExistsError

        fmt = FORMATS.get(Path(path).suffix.lower(), "csv")
        store = self.workbench.store

        def run(ctx: JobContext) -> Any:
            from workbench.services import sql

            reporter = ctx.reporter
            request = sql.SqlExportRequest(text, path, fmt, overwrite)
            return sql.export(store, request, reporter)

        def done(written: Any) -> None:
            self.notify(f"exported {count_of(written.rows, 'row')} to {written.path}", markup=False)

        def failed(exc: Exception) -> None:
            if isinstance(exc, OutputExistsError) and not overwrite:

                def confirmed(yes: bool | None) -> None:
                    if yes:
                        self._export(text, path, overwrite=True)

                self.app.push_screen(
                    ConfirmScreen("File exists", f"{path} exists. Overwrite it?", "Overwrite"),
                    confirmed,
                )
                return
            self._error(str(exc))

        self.run_job(Job("sql.export", f"Exporting to {path}", run, done, on_error=failed))
