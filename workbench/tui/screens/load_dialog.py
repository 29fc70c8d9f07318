"""The dialog that loads a dataset: path, format, name, images, replace; errors shown inline.

Fields are checked as they are typed; the load itself runs the datasets service (as
``workbench load`` does) in a worker with a progress bar, and its errors appear in the dialog.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, cast

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.validation import ValidationResult, Validator
from textual.widgets import Button, Checkbox, Input, Label, Select

from workbench.engine.errors import WorkbenchError
from workbench.engine.progress import Reporter
from workbench.services import datasets as svc
from workbench.services.datasets import LoadReport, validate_dataset_name
from workbench.tui.jobs import Job, JobContext, JobEnded
from workbench.tui.widgets.job_bar import JobBar
from workbench.tui.widgets.path_suggester import PathSuggester

if TYPE_CHECKING:
    from workbench.tui.app import WorkbenchApp


class _PathExists(Validator):
    def __init__(self, directory: bool = False, optional: bool = False) -> None:
        super().__init__()
        self.directory = directory
        self.optional = optional

    def validate(self, value: str) -> ValidationResult:
        if not value.strip():
            return self.success() if self.optional else self.failure("give a file or directory")
        path = Path(value.strip()).expanduser()
        if not path.exists():
            return self.failure(f"{value.strip()}: no such file or directory")
        if self.directory and not path.is_dir():
            return self.failure(f"{value.strip()}: not a directory")
        return self.success()


class _DatasetName(Validator):
    def __init__(self, dialog: LoadDialog) -> None:
        super().__init__()
        self.dialog = dialog

    def validate(self, value: str) -> ValidationResult:
        try:
            validate_dataset_name(value.strip())
        except WorkbenchError as exc:
            return self.failure(str(exc))
        if value.strip() in self.dialog.existing and not self.dialog.replace:
            return self.failure(f"dataset {value.strip()!r} exists: tick Replace to reload it")
        return self.success()


def name_from_path(path: str) -> str:
    """A dataset name suggested by a path: its last part, lower-cased, invalid characters as '_'."""
    stem = Path(path.rstrip("/")).stem.lower()
    name = re.sub(r"[^a-z0-9_-]+", "_", stem).strip("_-")
    if name and not name[0].isalpha():
        name = "d_" + name
    return name[:63]


class LoadDialog(ModalScreen[LoadReport | None]):
    """Dismisses with the load's report, or None when cancelled."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="dialog.cancel"),
    ]

    def __init__(self, existing: set[str]) -> None:
        super().__init__()
        self.existing = existing
        self._auto_name = ""

    @property
    def replace(self) -> bool:
        return self.query_one("#load-replace", Checkbox).value

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="load-dialog") as box:
            box.border_title = "Load a dataset"
            box.border_subtitle = "Enter: load · Esc: cancel"
            yield Label("Files or directory")
            yield Input(
                placeholder="e.g. sample_data/ or data/edges.csv",
                id="load-path",
                suggester=PathSuggester(),
                validators=[_PathExists()],
                validate_on=["changed", "submitted"],
            )
            yield Label(classes="field-error", id="load-path-error")
            with Horizontal(classes="form-row"):
                with Vertical():
                    yield Label("Format")
                    yield Select(
                        [(f, f) for f in svc.formats()],
                        value="auto",
                        allow_blank=False,
                        id="load-format",
                    )
                with Vertical():
                    yield Label("Dataset name")
                    yield Input(
                        placeholder="lower-case, e.g. pins2024",
                        id="load-name",
                        validators=[_DatasetName(self)],
                        validate_on=["changed", "submitted"],
                    )
            yield Label(classes="field-error", id="load-name-error")
            yield Label("Images directory (optional: images named by pin id)")
            yield Input(
                placeholder="leave empty to use the pins file's image column",
                id="load-images",
                suggester=PathSuggester(),
                validators=[_PathExists(directory=True, optional=True)],
                validate_on=["changed", "submitted"],
            )
            yield Label(classes="field-error", id="load-images-error")
            yield Checkbox("Replace a dataset of the same name", id="load-replace")
            yield Label(classes="field-error", id="load-error")
            yield JobBar()
            with Horizontal(classes="dialog-buttons"):
                yield Button("Load", variant="primary", id="load-ok")
                yield Button("Cancel", id="load-cancel")

    def on_mount(self) -> None:
        # Short terminals: the dialog scrolls; it opens at its top (focusing the path would
        # scroll its label away).
        self.call_after_refresh(self.query_one("#load-dialog").scroll_home, animate=False)

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        if event.input.id == "load-path":
            name_input = self.query_one("#load-name", Input)
            if name_input.value in ("", self._auto_name):
                self._auto_name = name_from_path(event.value)
                name_input.value = self._auto_name
        self._show_errors(event.input, event.validation_result)
        self.query_one("#load-error", Label).update("")

    def _show_errors(self, field: Input, result: ValidationResult | None) -> None:
        text = "; ".join(result.failure_descriptions) if result and not result.is_valid else ""
        self.query_one(f"#{field.id}-error", Label).update(text)

    @on(Checkbox.Changed)
    def _replace_changed(self) -> None:
        name_input = self.query_one("#load-name", Input)
        self._show_errors(name_input, name_input.validate(name_input.value))

    @on(Input.Submitted)
    @on(Button.Pressed, "#load-ok")
    def _submit(self) -> None:
        fields = [self.query_one(f"#load-{n}", Input) for n in ("path", "name", "images")]
        ok = True
        for field in fields:
            result = field.validate(field.value)
            self._show_errors(field, result)
            ok = ok and (result is None or result.is_valid)
        if not ok:
            self.query_one("#load-error", Label).update("fix the fields marked above")
            return
        path, name, images = (f.value.strip() for f in fields)
        fmt = str(self.query_one("#load-format", Select).value)
        replace = self.replace

        def run(ctx: JobContext) -> LoadReport:
            request = svc.LoadRequest((path,), name, fmt, images or None, replace)
            reporter = Reporter(on_progress=ctx.progress, is_cancelled=lambda: ctx.cancelled)
            return svc.load(cast("WorkbenchApp", self.app).store, request, reporter)

        self.query_one("#load-ok", Button).disabled = True
        self.query_one(JobBar).start(
            Job("load", f"Loading {name}", run, on_done=self.dismiss, on_error=self._failed)
        )

    def _failed(self, error: WorkbenchError) -> None:
        self.query_one("#load-error", Label).update(str(error))
        self.query_one("#load-ok", Button).disabled = False

    def on_job_ended(self, _message: JobEnded) -> None:
        self.query_one("#load-ok", Button).disabled = False

    @on(Button.Pressed, "#load-cancel")
    def action_cancel(self) -> None:
        if not self.query_one(JobBar).cancel():
            self.dismiss(None)
