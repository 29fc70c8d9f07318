"""The Datasets screen: stored datasets with counts and badges, details, load, drop, choose one."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from rich.table import Table
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.widgets import DataTable, Static
from textual.widgets.data_table import RowDoesNotExist

from workbench.services import datasets as svc
from workbench.services.datasets import DatasetInfo, DatasetSummary, LoadReport
from workbench.tui.jobs import Job
from workbench.tui.screens.base import WorkbenchScreen
from workbench.tui.screens.confirm import ConfirmScreen
from workbench.tui.screens.load_dialog import LoadDialog
from workbench.tui.widgets.rows_table import RowsTable


def badges(info: DatasetInfo) -> str:
    return " ".join(svc.badges(info))


def _sources(sources: list[str]) -> str:
    """Source files grouped by directory, the directory by its last part only."""
    by_dir: dict[str, list[str]] = {}
    for s in sources:
        p = Path(s)
        by_dir.setdefault(p.parent.name, []).append(p.name)
    return "; ".join(f"{d}/: {', '.join(names)}" for d, names in by_dir.items())


def _degrees(d: Any) -> str:
    return (
        f"degree min {d.min:g} · median {d.median:g} · mean {d.mean:.1f} · "
        f"p99 {d.p99:g} · max {d.max:g}"
    )


def summary_table(summary: DatasetSummary) -> Table:
    """The detail panel: what ``workbench info`` prints, as a two-column grid."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    s = summary.info
    attrs = ", ".join(f"{k} ({v.lower()})" for k, v in s.pin_attributes.items()) or "none"
    battrs = ", ".join(f"{k} ({v.lower()})" for k, v in s.board_attributes.items()) or "none"
    rows = [
        ("Format", f"{s.format}   fingerprint {s.fingerprint[:12]}"),
        ("Loaded", s.loaded_at.isoformat().replace("T", " ")),
        ("Sources", _sources(s.sources)),
        ("Pins", f"{s.pins:,}   {_degrees(summary.pin_degree)}"),
        ("Boards", f"{s.boards:,}   {_degrees(summary.board_degree)}"),
        (
            "Edges",
            f"{s.edges:,}   weights {'yes' if s.has_weights else 'no'} · "
            f"timestamps {'yes' if s.has_timestamps else 'no'}",
        ),
        (
            "Split",
            f"{s.test:,} test pins on {summary.test_boards:,} boards · {s.negatives:,} negatives"
            if s.test
            else "none",
        ),
        ("Images", f"{s.images:,} ({s.missing_images:,} missing)"),
        ("Pin attributes", attrs),
        ("Board attributes", battrs),
        ("Id types", f"pins {s.pin_id_type} · boards {s.board_id_type}"),
    ]
    for key, value in rows:
        grid.add_row(key, value)
    return grid


class DatasetsScreen(WorkbenchScreen):
    """Top: the datasets table; below: the highlighted dataset's summary."""

    MODE = "datasets"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("l", "load", "Load…", id="datasets.load"),
        Binding("u", "use", "Use", id="datasets.use"),
        Binding("d,delete", "drop", "Drop…", id="datasets.drop"),
        Binding("r", "refresh", "Refresh", id="datasets.refresh"),
    ]

    def compose_body(self) -> ComposeResult:
        with Vertical(classes="body"):
            table = RowsTable(id="datasets-table", classes="panel")
            table.border_title = "Datasets"
            yield table
            with VerticalScroll(id="dataset-detail", classes="panel") as detail:
                detail.border_title = "Summary"
                yield Static(id="dataset-summary")

    def on_mount(self) -> None:
        table = self.query_one(RowsTable)
        table.set_columns("Use", "Name", "Format", "Pins", "Boards", "Edges", "Badges")
        self.watch(self.app, "datasets", self._show_datasets)
        self.watch(self.app, "dataset", self._show_datasets_in_use)
        table.focus()

    def _show_datasets(self, infos: tuple[DatasetInfo, ...]) -> None:
        table = self.query_one(RowsTable)
        table.set_rows(
            [
                (
                    d.name,
                    [
                        "✓" if d.name == self.workbench.dataset else "",
                        d.name,
                        d.format,
                        f"{d.pins:,}",
                        f"{d.boards:,}",
                        f"{d.edges:,}",
                        badges(d),
                    ],
                )
                for d in infos
            ]
        )
        if not infos:
            self.query_one("#dataset-summary", Static).update(
                "No datasets yet. Press [b]l[/b] to load one: a directory of pins.csv, "
                "boards.csv and edges.csv, parquet or jsonl files, NCF or MovieLens."
            )
        self._show_summary()

    def _show_datasets_in_use(self, dataset: str | None) -> None:
        """The list marks the dataset in use, and the cursor (so the summary) moves onto it:
        after a load, the new dataset is the one highlighted and summarised."""
        self._show_datasets(self.workbench.datasets)
        table = self.query_one(RowsTable)
        if dataset is not None and dataset != table.cursor_key:
            try:
                table.move_cursor(row=table.get_row_index(dataset))
            except RowDoesNotExist:  # not listed yet: the next refresh of the list places it
                return

    @on(DataTable.RowHighlighted)
    def _show_summary(self) -> None:
        name = self.query_one(RowsTable).cursor_key
        if name is None:
            return
        store = self.workbench.store

        def run(_ctx: Any) -> DatasetSummary:
            return svc.info(store, name)

        def done(summary: DatasetSummary) -> None:
            self.query_one("#dataset-detail").border_title = f"Summary of {name}"
            self.query_one("#dataset-summary", Static).update(summary_table(summary))

        self.run_job(Job("datasets.summary", f"Summary of {name}", run, done, show_progress=False))

    @on(DataTable.RowSelected)
    def action_use(self) -> None:
        name = self.query_one(RowsTable).cursor_key
        if name is not None:
            self.workbench.dataset = name
            self.notify(f"using dataset {name}", markup=False)

    def action_load(self) -> None:
        def loaded(report: LoadReport | None) -> None:
            self.query_one(RowsTable).focus()  # the focus comes back from the dialog
            if report is None:
                return
            self.notify(
                f"loaded {report.dataset}: {report.pins:,} pins, {report.boards:,} boards, "
                f"{report.edges:,} edges in {report.elapsed_s:.1f}s",
                markup=False,
            )
            for warning in report.warnings:
                self.notify(warning, severity="warning", markup=False)
            self.workbench.refresh_datasets(select=report.dataset)

        self.app.push_screen(LoadDialog({d.name for d in self.workbench.datasets}), loaded)

    def action_drop(self) -> None:
        name = self.query_one(RowsTable).cursor_key
        if name is None:
            return
        store = self.workbench.store

        def dropped(_result: svc.Dropped) -> None:
            self.notify(f"dropped dataset {name}", markup=False)
            self.workbench.refresh_datasets()

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.run_job(
                    Job(
                        "datasets.drop",
                        f"Dropping {name}",
                        lambda _ctx: svc.drop(store, name),
                        dropped,
                    )
                )

        self.app.push_screen(
            ConfirmScreen(
                "Drop dataset",
                f"Drop dataset {name!r} and all its tables? Runs made on it stay in the history.",
                confirm="Drop",
            ),
            confirmed,
        )

    def action_refresh(self) -> None:
        self.workbench.refresh_datasets()
