"""The Runs screen: the history of runs with filters, sorted by any column; details and top
results; rename, delete, export, re-run with the same settings, copy as a CLI command, and send
marked runs to Compare."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Input, Select, Static

from workbench.engine.progress import Reporter
from workbench.services import runs as svc
from workbench.services.runs import RUN_KINDS, Run
from workbench.tui.jobs import Job, JobContext
from workbench.tui.screens.base import WorkbenchScreen
from workbench.tui.screens.confirm import ConfirmScreen
from workbench.tui.screens.export_dialog import ExportDialog
from workbench.tui.screens.prompt import PromptScreen
from workbench.tui.widgets.explain_panel import CLOSE_EXPLAIN, ExplainHost, ExplainPanel
from workbench.tui.widgets.rows_table import RowsTable, format_scores

LIST_LIMIT = 2000
PREVIEW_ROWS = svc.PAGE_SIZE
ALL = "*"


COLUMNS = (
    "Run", "Name", "Dataset", "Kind", "Algorithm", "Metric", "Query", "Parameters", "Created",
    "Elapsed", "Steps", "Status",
)  # fmt: skip


def run_cells(run: Run) -> list[Any]:
    """The cells of a run's row in the runs table."""
    elapsed = f"{run.elapsed_ms / 1000:.2f}s" if run.elapsed_ms is not None else ""
    return [
        Text(str(run.run_id), justify="right"),
        run.name or "",
        run.dataset,
        run.kind,
        run.algorithm,
        svc.main_metric(run),
        svc.query_summary(run),
        svc.key_params(run),
        f"{run.created_at:%Y-%m-%d %H:%M}",
        Text(elapsed, justify="right"),
        Text(svc.format_steps(run.steps), justify="right"),
        run.status,
    ]


def sort_key(cell: Any) -> tuple[int, float, str]:
    """Numbers (also the value ending "ndcg@10 0.4123", "0.47s", "100,000") sort as numbers,
    other text as text; empty cells last."""
    text = str(cell).strip()
    if not text or text == "–":
        return (2, 0.0, "")
    for candidate in (text, text.rsplit(" ", 1)[-1]):
        try:
            return (0, float(candidate.replace(",", "").removesuffix("s")), text)
        except ValueError:
            pass
    return (1, 0.0, text.lower())


def run_summary(run: Run) -> Table:
    """Provenance of a run: what ran, with which parameters, on what, and what it measured."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    for label, text in svc.describe_run(run):
        grid.add_row(label.capitalize() if label.islower() else label, text)
    return grid


class RunsScreen(ExplainHost, WorkbenchScreen):
    """Top: filters and the runs; below: the highlighted run and its top results."""

    MODE = "runs"
    BINDINGS: ClassVar[list[BindingType]] = [
        *WorkbenchScreen.BINDINGS,  # Esc cancels a running job first
        CLOSE_EXPLAIN,  # ``e`` on the results explains a pin
        Binding("e", "export", "Export…", id="runs.export"),
        Binding("n", "rename", "Rename…", id="runs.rename"),
        Binding("d,delete", "delete", "Delete…", id="runs.delete"),
        Binding("m", "compare", "Compare", id="runs.compare", tooltip="Compare the marked runs"),
        Binding("R", "rerun", "Re-run", id="runs.rerun"),
        Binding("y", "copy_command", "Copy command", id="runs.copy_command"),
        Binding("s", "sort", "Sort", id="runs.sort"),
        Binding("S", "sort_reverse", "Reverse sort", id="runs.sort_reverse", show=False),
        Binding("r", "refresh", "Refresh", id="runs.refresh", show=False),
        Binding("slash", "focus_filter", "Filter", id="runs.filter", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.runs: dict[str, Run] = {}
        self._wanted: str | None = None
        """A run asked for by another screen, highlighted once the list shows it."""
        self._dataset_names: set[str] = set()
        self._sort: tuple[int, bool] | None = None
        """Column index and descending, when the user sorted the list."""

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="runs-filters"):
            yield Select([("all datasets", ALL)], value=ALL, allow_blank=False, id="runs-dataset")
            yield Select(
                [("all kinds", ALL), *((k, k) for k in RUN_KINDS)],
                value=ALL,
                allow_blank=False,
                id="runs-kind",
            )
            yield Input(placeholder="name, algorithm or key=value  (/)", id="runs-text")
        with Vertical(classes="body"):
            table = RowsTable(id="runs-table", classes="panel")
            table.border_title = "Runs"
            yield table
            with Horizontal(id="run-detail"):
                with VerticalScroll(id="run-summary-box", classes="panel") as box:
                    box.border_title = "Run"
                    yield Static(id="run-summary")
                results = RowsTable(id="run-results", classes="panel")
                results.border_title = "Top results"
                yield results

    def on_mount(self) -> None:
        table = self.query_one("#runs-table", RowsTable)
        table.set_columns(*COLUMNS)
        self.query_one("#run-results", RowsTable).set_columns(
            "Query", "Rank", "Pin", "Score", "Title"
        )
        self.watch(self.app, "datasets", self._datasets_changed)
        self.watch(self.app, "dataset", self._dataset_in_use)
        self.watch(self.app, "run_request", self._requested)
        table.focus()

    def _dataset_in_use(self, dataset: str | None) -> None:
        """Filters and the sort belong to a dataset: a switch lists the new dataset's runs with
        the filter text and sort last chosen for it (none carried across); the old run's detail
        and explanation go at once, the list's highlighted run fills them when it is read."""
        ExplainPanel.close_on(self)
        self._sort = self.workbench.recall("runs.sort", None)
        self.runs = {}
        self._show_rows()
        self._show_run()
        select = self.query_one("#runs-dataset", Select)
        if dataset is not None and dataset in self._dataset_names:
            select.value = dataset
        self.query_one("#runs-text", Input).value = self.workbench.recall("runs.text", "")
        self.action_refresh()

    def on_screen_resume(self) -> None:
        self.action_refresh()

    def _datasets_changed(self, infos: tuple[Any, ...]) -> None:
        select = self.query_one("#runs-dataset", Select)
        current = select.value
        self._dataset_names = {d.name for d in infos}
        options = [("all datasets", ALL), *((d.name, d.name) for d in infos)]
        select.set_options(options)
        select.value = current if any(v == current for _, v in options) else ALL

    def _requested(self, run_id: int | None) -> None:
        """Show run ``run_id``: clear the filters so it is listed, then highlight it."""
        if run_id is None:
            return
        self._wanted = str(run_id)
        self.query_one("#runs-dataset", Select).value = ALL
        self.query_one("#runs-kind", Select).value = ALL
        self.query_one("#runs-text", Input).value = ""
        self.action_refresh()

    # -- the list -----------------------------------------------------------------------------

    @on(Input.Changed, "#runs-text")
    def _remember_text(self, event: Input.Changed) -> None:
        self.workbench.remember("runs.text", event.value)

    @on(Select.Changed)
    @on(Input.Changed, "#runs-text")
    def action_refresh(self) -> None:
        dataset = self.query_one("#runs-dataset", Select).value
        kind = self.query_one("#runs-kind", Select).value
        text = self.query_one("#runs-text", Input).value.strip()
        store = self.workbench.store
        wanted = svc.RunFilter(
            dataset=None if dataset == ALL else str(dataset),
            kind=None if kind == ALL else str(kind),
            text=text,
            limit=LIST_LIMIT,
        )

        def run(_ctx: JobContext) -> list[Run]:
            return svc.find_runs(store, wanted)

        def done(runs: list[Run]) -> None:
            self.runs = {str(r.run_id): r for r in runs}
            self._show_rows()
            table = self.query_one("#runs-table", RowsTable)
            if self._wanted in self.runs:
                table.move_cursor(row=table.get_row_index(self._wanted))
                table.focus()
                self._wanted = None
            self._show_run()

        self.run_job(Job("runs.list", "Reading runs", run, done, show_progress=False))

    def _show_rows(self) -> None:
        """The listed runs in the table, in the order the user chose (newest first else)."""
        table = self.query_one("#runs-table", RowsTable)
        rows = [(key, run_cells(run)) for key, run in self.runs.items()]
        order = ""
        if self._sort is not None:
            column, descending = self._sort
            rows.sort(key=lambda row: sort_key(row[1][column]), reverse=descending)
            if descending:  # empty cells stay last either way
                rows.sort(key=lambda row: sort_key(row[1][column])[0] == 2)
            order = f" · by {COLUMNS[column]} {'▼' if descending else '▲'}"
        table.set_rows(rows)
        table.border_title = f"Runs ({len(rows)}){order}"

    def _sort_by(self, column: int, descending: bool) -> None:
        self._sort = (column, descending)
        self.workbench.remember("runs.sort", self._sort)
        self._show_rows()

    def action_sort(self) -> None:
        """Sort by the next column (numbers as numbers); S reverses."""
        column = -1 if self._sort is None else self._sort[0]
        self._sort_by((column + 1) % len(COLUMNS), False)

    def action_sort_reverse(self) -> None:
        column, descending = self._sort or (0, True)
        self._sort_by(column, not descending)

    @on(DataTable.HeaderSelected, "#runs-table")
    def _header_clicked(self, event: DataTable.HeaderSelected) -> None:
        """A click on a column's header sorts by it; a second click reverses."""
        column = event.column_index - 1  # after the mark column
        if 0 <= column < len(COLUMNS):
            same = self._sort is not None and self._sort[0] == column
            self._sort_by(column, not self._sort[1] if same and self._sort else False)

    def action_focus_filter(self) -> None:
        self.query_one("#runs-text", Input).focus()

    # -- the highlighted run ------------------------------------------------------------------

    @property
    def current(self) -> Run | None:
        key = self.query_one("#runs-table", RowsTable).cursor_key
        return self.runs.get(key) if key is not None else None

    @on(DataTable.RowHighlighted, "#runs-table")
    def _show_run(self) -> None:
        run = self.current
        summary = self.query_one("#run-summary", Static)
        results = self.query_one("#run-results", RowsTable)
        if run is None:
            summary.update("No runs match." if self.runs == {} else "")
            results.set_rows([])
            results.border_title = "Top results"
            return
        summary.update(run_summary(run))
        store = self.workbench.store

        def read(_ctx: JobContext) -> svc.ResultsPage:
            return svc.run_results(store, run.run_id, 0, PREVIEW_ROWS)

        def done(page: svc.ResultsPage) -> None:
            current = self.current
            if current is None or current.run_id != run.run_id:  # another run is highlighted
                return
            rows = page.rows.to_dicts()
            scores = format_scores([r["score"] for r in rows])  # one format for the column
            results.set_rows(
                [
                    (
                        f"{r['query']}:{r['rank']}",
                        [
                            r["query"],
                            Text(str(r["rank"]), justify="right"),
                            r["pin"],
                            Text(score, justify="right"),
                            r["title"] or "",
                        ],
                    )
                    for r, score in zip(rows, scores, strict=True)
                ]
            )
            shown = f" (first {len(rows):,} of {page.total:,})" if page.more else ""
            results.border_title = (
                f"Top results of run {run.run_id}{shown}" if rows else "No results"
            )

        self.run_job(Job("runs.results", "Reading results", read, done, show_progress=False))

    # -- actions ------------------------------------------------------------------------------

    def action_rename(self) -> None:
        run = self.current
        if run is None:
            return
        store = self.workbench.store

        def renamed(name: str | None) -> None:
            if name is None:
                return

            def rename(_ctx: JobContext) -> None:
                svc.rename_run(store, run.run_id, name or None)

            self.run_job(
                Job(
                    "runs.write",
                    f"Renaming run {run.run_id}",
                    rename,
                    lambda _r: self.action_refresh(),
                )
            )

        self.app.push_screen(
            PromptScreen(f"Rename run {run.run_id}", "Name (empty to clear it)", run.name or ""),
            renamed,
        )

    def action_delete(self) -> None:
        table = self.query_one("#runs-table", RowsTable)
        ids = [int(k) for k in table.marked] or ([self.current.run_id] if self.current else [])
        if not ids:
            return
        store = self.workbench.store
        listed = ", ".join(map(str, ids))

        def delete(ctx: JobContext) -> None:
            reporter = Reporter(on_progress=ctx.progress, is_cancelled=lambda: ctx.cancelled)
            svc.delete_runs(store, ids, reporter)

        def deleted(_result: None) -> None:
            self.notify(f"deleted run{'s' if len(ids) > 1 else ''} {listed}", markup=False)
            self.action_refresh()

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.run_job(Job("runs.write", f"Deleting run {listed}", delete, deleted))

        noun = f"runs {listed}" if len(ids) > 1 else f"run {listed}"
        self.app.push_screen(
            ConfirmScreen("Delete runs", f"Delete {noun} and their results?"), confirmed
        )

    def action_export(self) -> None:
        run = self.current
        if run is None:
            return

        def exported(path: Path | None) -> None:
            if path is not None:
                self.notify(f"wrote {path}", title=f"Exported run {run.run_id}", markup=False)

        self.app.push_screen(ExportDialog(run.run_id, run.algorithm), exported)

    def action_copy_command(self) -> None:
        """Copy the workbench command line that repeats the highlighted run."""
        run = self.current
        if run is None:
            return
        try:
            command = svc.cli_command(run)
        except Exception as error:
            self.notify(self.workbench.message_for(error), severity="warning", markup=False)
            return
        self.app.copy_to_clipboard(command)
        self.notify(command, title=f"Copied the command of run {run.run_id}", markup=False)

    def action_rerun(self) -> None:
        """Run the highlighted recommendation or evaluation again with its stored settings; the
        new run is highlighted when it is stored."""
        run = self.current
        if run is None:
            return
        try:
            request = svc.rerun_request(run)
        except Exception as error:
            self.notify(self.workbench.message_for(error), severity="warning", markup=False)
            return
        store = self.workbench.store

        def again(ctx: JobContext) -> int:
            from workbench.services import evaluate, recommend

            if isinstance(request, recommend.RecommendRequest):
                return recommend.recommend(store, request, ctx.reporter).run_id
            return evaluate.run(store, request, ctx.reporter).run_id

        def done(run_id: int) -> None:
            self.notify(f"run {run.run_id} repeated as run {run_id}", markup=False)
            self._wanted = str(run_id)
            self.action_refresh()

        self.run_job(Job("runs.rerun", f"Re-running run {run.run_id}", again, done))

    def action_compare(self) -> None:
        marked = self.query_one("#runs-table", RowsTable).marked
        if len(marked) < 2:
            self.notify("mark two or more runs with space, then press m", severity="warning")
            return
        self.workbench.compare([int(k) for k in marked])
