"""One progress and cancel reporter for every long operation (load, index, recommend, batch,
evaluate, sweep, compare, export).

The engine calls :meth:`Reporter.progress` between steps and :meth:`Reporter.check` where it can
stop; each face builds one from its own display: the CLI a progress bar on stderr, the TUI its
worker's progress messages and cancel flag, the notebook nothing (:data:`SILENT`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from workbench.engine.errors import Cancelled

ProgressFn = Callable[[float, "float | None", str], None]
"""``(done, total, stage)``: ``total`` is ``None`` when unknown."""


@dataclass(frozen=True)
class Reporter:
    """Where a long operation reports progress and learns that it should stop."""

    on_progress: ProgressFn | None = None
    is_cancelled: Callable[[], bool] | None = None

    @property
    def cancelled(self) -> bool:
        return self.is_cancelled is not None and self.is_cancelled()

    def check(self, what: str = "the operation") -> None:
        """Raise :class:`Cancelled` if the user asked to stop (call it between steps)."""
        if self.cancelled:
            raise Cancelled(f"{what} was cancelled")

    def progress(self, done: float, total: float | None = None, stage: str = "") -> None:
        """Report ``done`` of ``total`` in ``stage``; also the place where a cancel stops work."""
        self.check(stage or "the operation")
        if self.on_progress is not None:
            self.on_progress(done, total, stage)

    def scaled(self, start: float, span: float, total: float, stage: str = "") -> Reporter:
        """A reporter for one part of the work: its ``done`` of ``total`` maps onto
        ``start .. start + span`` of this reporter's scale."""
        if self.on_progress is None:
            return self
        outer = self.on_progress

        def inner(done: float, inner_total: float | None, inner_stage: str) -> None:
            frac = done / inner_total if inner_total else 0.0
            outer(start + span * frac, total, inner_stage or stage)

        return Reporter(on_progress=inner, is_cancelled=self.is_cancelled)


SILENT = Reporter()
"""Reports nothing and never cancels."""
