"""Long work run by the App's thread workers: what to run, how it reports, the messages it posts.

A screen describes the work as a :class:`Job` (a function of a :class:`JobContext` that calls one
engine function) and hands it to ``WorkbenchApp.start_job``. The worker posts
:class:`JobProgress` and finally :class:`JobEnded` to the screen (or dialog) that asked for it;
errors are reported by the App in one place.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from textual.message import Message
from textual.worker import Worker

from workbench.engine.errors import Cancelled, WorkbenchError
from workbench.engine.progress import Reporter

T = TypeVar("T")

PROGRESS_INTERVAL_S = 0.1


@dataclass(eq=False)
class Job(Generic[T]):
    """One piece of long work and what to do with its result on the UI thread."""

    group: str
    """Worker group: starting a job cancels a running one of the same group."""
    label: str
    """What the progress bar says, e.g. ``Loading sample``."""
    run: Callable[[JobContext], T]
    """Runs in a thread: calls engine functions, reports progress through the context."""
    on_done: Callable[[T], object] | None = None
    """Called on the UI thread with the result."""
    on_error: Callable[[WorkbenchError], None] | None = None
    """Shows a user-fixable error where it belongs (e.g. inline in a form) instead of a toast."""
    show_progress: bool = True
    """Show the progress bar (quick look-ups do not)."""
    started: float = field(default_factory=time.monotonic)


class JobContext:
    """What a job's function gets: progress reporting and the cancel flag of its worker."""

    def __init__(self, job: Job[Any], worker: Worker[Any], post: Callable[[Message], object]):
        self.job = job
        self._worker = worker
        self._post = post
        self._last = 0.0

    @property
    def cancelled(self) -> bool:
        return self._worker.is_cancelled

    @property
    def reporter(self) -> Reporter:
        """The services' progress/cancel reporter, wired to this job's bar and Esc."""
        return Reporter(on_progress=self.progress, is_cancelled=lambda: self.cancelled)

    def check(self) -> None:
        """Raise :class:`Cancelled` if the user asked to stop (call it between steps)."""
        if self._worker.is_cancelled:
            raise Cancelled(f"{self.job.label}: cancelled")

    def progress(self, done: float, total: float | None, stage: str = "") -> None:
        """Report progress (throttled); also the place where a cancel request stops the job."""
        self.check()
        now = time.monotonic()
        if now - self._last >= PROGRESS_INTERVAL_S or (total is not None and done >= total):
            self._last = now
            self._post(JobProgress(self.job, done, total, stage))

    def post(self, message: Message) -> None:
        """Post a message to the screen that started the job (unless it was cancelled)."""
        if not self._worker.is_cancelled:
            self._post(message)

    def wait(self, seconds: float) -> None:
        """Sleep, waking early if the job is cancelled."""
        self._worker.cancelled_event.wait(seconds)
        self.check()


class JobProgress(Message):
    """A job moved on: ``done`` of ``total`` (``None``: unknown), in ``stage``."""

    def __init__(self, job: Job[Any], done: float, total: float | None, stage: str) -> None:
        super().__init__()
        self.job = job
        self.done = done
        self.total = total
        self.stage = stage


class JobEnded(Message):
    """A job finished, failed or was cancelled; ``result`` is set only when it finished."""

    def __init__(self, job: Job[Any], outcome: str, result: Any = None) -> None:
        super().__init__()
        self.job = job
        self.outcome = outcome  # "done", "failed" or "cancelled"
        self.result = result
