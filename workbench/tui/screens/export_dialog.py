"""The dialog that exports a run: format, path and options; runs the export service (as
``workbench export`` does) and dismisses with the written file's path."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, cast

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.validation import Integer
from textual.widgets import Button, Checkbox, Input, Label, Select

from workbench.engine.errors import WorkbenchError
from workbench.engine.progress import Reporter
from workbench.services import export as svc
from workbench.tui.jobs import Job, JobContext, JobEnded
from workbench.tui.widgets.job_bar import JobBar
from workbench.tui.widgets.path_suggester import PathSuggester

if TYPE_CHECKING:
    from workbench.tui.app import WorkbenchApp


class ExportDialog(ModalScreen[Path | None]):
    """Dismisses with the path of the written file, or None when cancelled."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="dialog.cancel"),
    ]

    def __init__(self, run_id: int, algorithm: str) -> None:
        super().__init__()
        self.run_id = run_id
        self.algorithm = algorithm

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="export-dialog") as box:
            box.border_title = f"Export run {self.run_id}"
            box.border_subtitle = "Enter: export · Esc: cancel"
            yield Label("Format")
            yield Select(
                [(f"{f}  {svc.FORMAT_HELP.get(f, '')}", f) for f in svc.FORMATS],
                value="csv",
                allow_blank=False,
                id="export-format",
            )
            yield Label("File or directory")
            yield Input(
                placeholder="exports/  (the default name is run-<id>-<algorithm>.<ext>)",
                id="export-path",
                suggester=PathSuggester(),
            )
            yield Label("Top k per query (optional)")
            yield Input(
                placeholder="all",
                id="export-k",
                type="integer",
                validators=[Integer(minimum=1)],
                validate_on=["changed"],
            )
            yield Checkbox("Overwrite existing files", id="export-force")
            yield Label(classes="field-error", id="export-error")
            yield JobBar()
            with Horizontal(classes="dialog-buttons"):
                yield Button("Export", variant="primary", id="export-ok")
                yield Button("Cancel", id="export-cancel")

    def on_mount(self) -> None:
        self.query_one("#export-path", Input).focus()
        # Short terminals: the dialog scrolls; it opens at its top (focusing the path would
        # scroll its label away).
        self.call_after_refresh(self.query_one("#export-dialog").scroll_home, animate=False)

    @on(Input.Changed, "#export-k")
    def _k_changed(self, event: Input.Changed) -> None:
        result = event.validation_result
        bad = result is not None and not result.is_valid and event.value != ""
        self.query_one("#export-error", Label).update("k must be a whole number ≥ 1" if bad else "")

    @on(Input.Submitted)
    @on(Button.Pressed, "#export-ok")
    def _submit(self) -> None:
        fmt = str(self.query_one("#export-format", Select).value)
        out = self.query_one("#export-path", Input).value.strip() or None
        k_text = self.query_one("#export-k", Input).value.strip()
        if k_text and (not k_text.isdigit() or int(k_text) < 1):
            self.query_one("#export-error", Label).update("k must be a whole number ≥ 1")
            return
        k = int(k_text) if k_text else None
        force = self.query_one("#export-force", Checkbox).value
        store, run_id = cast("WorkbenchApp", self.app).store, self.run_id

        def run(ctx: JobContext) -> Path:
            request = svc.ExportRequest(run_id, fmt, out, force, None, k)
            reporter = Reporter(on_progress=ctx.progress, is_cancelled=lambda: ctx.cancelled)
            return svc.export(store, request, reporter).path

        self.query_one("#export-error", Label).update("")
        self.query_one("#export-ok", Button).disabled = True
        self.query_one(JobBar).start(
            Job(
                "export",
                f"Exporting run {run_id} as {fmt}",
                run,
                on_done=self.dismiss,
                on_error=self._failed,
            )
        )

    def _failed(self, error: WorkbenchError) -> None:
        self.query_one("#export-error", Label).update(str(error))

    def on_job_ended(self, _message: JobEnded) -> None:
        self.query_one("#export-ok", Button).disabled = False

    @on(Button.Pressed, "#export-cancel")
    def action_cancel(self) -> None:
        if not self.query_one(JobBar).cancel():
            self.dismiss(None)
