"""The Runs screen: the history of runs with filters; details and top results; rename, delete,
export, and send marked runs to Compare."""

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
from workbench.tui.widgets.rows_table import RowsTable

LIST_LIMIT = 2000
PREVIEW_ROWS = svc.PAGE_SIZE
ALL = "*"


def run_cells(run: Run) -> list[Any]:
    """The cells of a run's row in the runs table."""
    elapsed = f"{run.elapsed_ms / 1000:.2f}s" if run.elapsed_ms is not None else ""
    return [
        Text(str(run.run_id), justify="right"),
        run.name or "",
        run.dataset,
        run.kind,
        run.algorithm,
        f"{run.created_at:%Y-%m-%d %H:%M}",
        Text(elapsed, justify="right"),
        Text(svc.format_steps(run.steps), justify="right"),
        run.status,
    ]


def run_summary(run: Run) -> Table:
    """Provenance of a run: what ran, with which parameters, on what, and what it measured."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    for label, text in svc.describe_run(run):
        grid.add_row(label.capitalize() if label.islower() else label, text)
    return grid


class RunsScreen(WorkbenchScreen):
    """Top: filters and the runs; below: the highlighted run and its top results."""

    MODE = "runs"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("e", "export", "Export…", id="runs.export"),
        Binding("n", "rename", "Rename…", id="runs.rename"),
        Binding("d,delete", "delete", "Delete…", id="runs.delete"),
        Binding("m", "compare", "Compare marked", id="runs.compare"),
        Binding("r", "refresh", "Refresh", id="runs.refresh", show=False),
        Binding("slash", "focus_filter", "Filter", id="runs.filter", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.runs: dict[str, Run] = {}
        self._wanted: str | None = None
        """A run asked for by another screen, highlighted once the list shows it."""
        self._dataset_names: set[str] = set()

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
        table.set_columns(
            "Run", "Name", "Dataset", "Kind", "Algorithm", "Created", "Elapsed", "Steps", "Status"
        )
        self.query_one("#run-results", RowsTable).set_columns(
            "Query", "Rank", "Pin", "Score", "Title"
        )
        self.watch(self.app, "datasets", self._datasets_changed)
        self.watch(self.app, "dataset", self._dataset_in_use)
        self.watch(self.app, "run_request", self._requested)
        table.focus()

    def _dataset_in_use(self, dataset: str | None) -> None:
        """Filters belong to a dataset: a switch lists the new dataset's runs with the filter
        text last typed for it (none carried across)."""
        select = self.query_one("#runs-dataset", Select)
        if dataset is not None and dataset in self._dataset_names:
            select.value = dataset
        self.query_one("#runs-text", Input).value = self.workbench.recall("runs.text", "")

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
            table = self.query_one("#runs-table", RowsTable)
            table.set_rows([(str(r.run_id), run_cells(r)) for r in runs])
            table.border_title = f"Runs ({len(runs)})"
            if self._wanted in self.runs:
                table.move_cursor(row=table.get_row_index(self._wanted))
                table.focus()
                self._wanted = None
            self._show_run()

        self.run_job(Job("runs.list", "Reading runs", run, done, show_progress=False))

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
            return
        summary.update(run_summary(run))
        store = self.workbench.store

        def read(_ctx: JobContext) -> svc.ResultsPage:
            return svc.run_results(store, run.run_id, 0, PREVIEW_ROWS)

        def done(page: svc.ResultsPage) -> None:
            rows = page.rows.to_dicts()
            results.set_rows(
                [
                    (
                        f"{r['query']}:{r['rank']}",
                        [
                            r["query"],
                            Text(str(r["rank"]), justify="right"),
                            r["pin"],
                            Text(f"{r['score']:.4g}", justify="right"),
                            r["title"] or "",
                        ],
                    )
                    for r in rows
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

    def action_compare(self) -> None:
        marked = self.query_one("#runs-table", RowsTable).marked
        if len(marked) < 2:
            self.notify("mark two or more runs with space, then press m", severity="warning")
            return
        self.workbench.compare([int(k) for k in marked])
