"""A screen's job runner: starts jobs and shows their progress bar with ETA and the cancel key.

Jobs report to this widget (not to the screen), so every screen and dialog gets the same
progress bar and "Esc to cancel" by composing one ``JobBar``. ``JobEnded`` bubbles on to the
screen, after the App has passed a result to the job's ``on_done``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label, ProgressBar

from workbench.tui.jobs import Job, JobEnded, JobProgress

if TYPE_CHECKING:
    from workbench.tui.app import WorkbenchApp


class JobBar(Horizontal):
    """Hidden while idle; while a job runs: its label and stage, a progress bar, the cancel key."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._shown_jobs: list[Job[Any]] = []

    def compose(self) -> ComposeResult:
        yield Label(id="job-label")
        yield ProgressBar(show_eta=True, id="job-progress")
        yield Label(id="job-cancel")

    @property
    def workbench(self) -> WorkbenchApp:
        return cast("WorkbenchApp", self.app)

    @property
    def running(self) -> bool:
        """Whether a job with a progress bar is running."""
        return bool(self._shown_jobs)

    def start(self, job: Job[Any]) -> None:
        self.workbench.start_job(job, self)
        if not job.show_progress:
            return
        self._shown_jobs = [j for j in self._shown_jobs if j.group != job.group] + [job]
        self.query_one("#job-label", Label).update(job.label)
        self.query_one(ProgressBar).update(total=None, progress=0)
        key = self.workbench.key_for("cancel", "escape")
        self.query_one("#job-cancel", Label).update(f"{key} to cancel")
        self.display = True
        self.screen.refresh_bindings()

    def cancel(self) -> bool:
        """Cancel the running jobs; whether there were any."""
        return self.workbench.cancel_jobs(self)

    @on(JobProgress)
    def _progress(self, message: JobProgress) -> None:
        message.stop()
        if message.job not in self._shown_jobs:
            return
        stage = f": {message.stage}" if message.stage else ""
        self.query_one("#job-label", Label).update(f"{message.job.label}{stage}")
        self.query_one(ProgressBar).update(total=message.total, progress=message.done)

    @on(JobEnded)
    def _ended(self, message: JobEnded) -> None:
        job = message.job
        if job in self._shown_jobs:
            self._shown_jobs.remove(job)
            self.display = bool(self._shown_jobs)
            self.screen.refresh_bindings()
