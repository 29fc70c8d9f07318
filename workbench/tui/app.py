"""The terminal UI's App: screens (one per mode), the thread workers, errors, keymap and theme.

Every action calls the same engine function as the CLI, in a thread worker (see ``jobs.py``):
the UI never blocks and never holds a DuckDB connection while idle. Engine modules are imported
inside the workers, so the first screen appears before numba, faiss or polars are loaded.
"""

from __future__ import annotations

import importlib
import os
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on
from textual.app import App
from textual.binding import Binding, BindingType
from textual.message_pump import MessagePump
from textual.reactive import var
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from workbench.engine.errors import Cancelled, StoreLockedError, WorkbenchError
from workbench.engine.store import DatasetInfo, Store
from workbench.tui.commands import WorkbenchCommands
from workbench.tui.config import TuiConfig, load_config
from workbench.tui.jobs import Job, JobContext, JobEnded

if TYPE_CHECKING:
    pass

LOCK_RETRIES = 5
LOCK_RETRY_DELAY_S = 1.0

# (mode, title, default key): the order of the navigation bar.
SCREENS: tuple[tuple[str, str, str], ...] = (
    ("datasets", "Datasets", "1"),
    ("explore", "Explore", "2"),
    ("recommend", "Recommend", "3"),
    ("visual", "Visual", "4"),
    ("compare", "Compare", "5"),
    ("sweep", "Sweep", "6"),
    ("runs", "Runs", "7"),
)


def _lazy_screen(mode: str, title: str) -> Callable[[], Screen[Any]]:
    """A factory that imports a screen's module only when the screen is first shown."""

    def make() -> Screen[Any]:
        module = importlib.import_module(f"workbench.tui.screens.{mode}")
        screen: Screen[Any] = getattr(module, f"{title}Screen")()
        return screen

    return make


def error_message(exc: BaseException) -> str:
    """One line for the user, as the CLI would print it."""
    if isinstance(exc, WorkbenchError):
        return str(exc)
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if type(exc).__module__.startswith("duckdb"):
        return f"database error: {text}"
    if isinstance(exc, OSError):
        name = f"{exc.filename}: " if exc.filename else ""
        return f"{name}{exc.strerror or exc}"
    return f"internal error: {type(exc).__name__}: {text} (WORKBENCH_DEBUG=1 for details)"


class WorkbenchApp(App[None]):
    """Pinboard workbench: browse datasets, run walks and baselines, compare and export runs."""

    TITLE = "Pinboard workbench"
    CSS_PATH = "workbench.tcss"
    COMMANDS: ClassVar = App.COMMANDS | {WorkbenchCommands}
    MODES: ClassVar = {mode: _lazy_screen(mode, title) for mode, title, _ in SCREENS}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1", "help", "Help", id="help"),
        Binding("ctrl+p", "command_palette", "Commands", id="commands", priority=True),
        Binding("ctrl+q", "quit", "Quit", id="quit", priority=True),
        Binding("ctrl+t", "change_theme", "Theme", id="theme", show=False),
        *(
            Binding(key, f"go('{mode}')", f"Go to {title}", id=f"screen.{mode}", show=False)
            for mode, title, key in SCREENS
        ),
    ]

    dataset: var[str | None] = var(None)
    """The dataset that Explore, Recommend, Visual and Sweep work on."""
    datasets: var[tuple[DatasetInfo, ...]] = var(())
    """The store's datasets, refreshed after every load and drop."""
    query_pins: var[tuple[str, ...]] = var((), always_update=True)
    """Query pins (``id`` or ``id:weight``) sent to the Recommend screen from Explore."""
    compare_request: var[tuple[int, ...]] = var((), always_update=True)
    """Runs sent to the Compare screen (from Runs, Visual or Sweep)."""
    visual_request: var[str | None] = var(None, always_update=True)
    """A pin sent to the Visual screen (from Explore) to find pins that look like it."""
    run_request: var[int | None] = var(None, always_update=True)
    """A run to show on the Runs screen (a sweep's trial)."""

    def __init__(self, store: Store, config: TuiConfig | None = None) -> None:
        self.config = config or load_config()
        if self.config.images != "none":
            # textual-image asks the terminal what it can draw; that must happen before Textual
            # takes the terminal over. A terminal that cannot answer means no images, not a crash.
            try:
                importlib.import_module("textual_image.widget")
            except Exception as exc:
                self.config = replace(
                    self.config,
                    images="none",
                    problems=(
                        *self.config.problems,
                        f"images off: the terminal did not answer ({exc})",
                    ),
                )
        super().__init__()
        self.store = store
        self._jobs: dict[Worker[Any], tuple[Job[Any], MessagePump]] = {}
        self._warned_clash = False

    # -- start-up ------------------------------------------------------------------------------

    def on_mount(self) -> None:
        if self.config.theme:
            if self.get_theme(self.config.theme) is None:
                self.notify(
                    f"unknown theme {self.config.theme!r} in {self.config.path}",
                    severity="warning",
                    markup=False,
                )
            else:
                self.theme = self.config.theme
        if self.config.keys:
            self.set_keymap(self.config.keys)
        for problem in self.config.problems:
            self.notify(problem, title="Settings", severity="warning", markup=False)
        self.switch_mode("datasets")
        self.refresh_datasets()
        if os.environ.get("WORKBENCH_TUI_EXIT_ON_READY"):
            self.call_after_refresh(self._exit_for_benchmark)

    def _exit_for_benchmark(self) -> None:
        """``bench/bench_tui.py``: report when the first screen is on the terminal, then quit."""
        self.exit(message=f"workbench-tui-ready {time.time():.6f}")

    def refresh_datasets(self, select: str | None = None) -> None:
        """Re-read the store's datasets; ``select`` (or the current one, or 'sample') is used."""

        def done(infos: list[DatasetInfo]) -> None:
            self.datasets = tuple(infos)
            names = [d.name for d in infos]
            for candidate in (select, self.dataset, "sample"):
                if candidate in names:
                    self.dataset = candidate
                    return
            self.dataset = names[0] if names else None

        self.start_job(
            Job(
                "datasets",
                "Reading datasets",
                lambda _ctx: self.store.datasets(),
                done,
                show_progress=False,
            ),
            self,
        )

    # -- navigation ----------------------------------------------------------------------------

    def action_go(self, mode: str) -> None:
        if mode != self.current_mode:
            self.switch_mode(mode)

    def compare(self, run_ids: list[int]) -> None:
        """Open the Compare screen on these runs (the first is the baseline)."""
        self.action_go("compare")
        self.compare_request = tuple(run_ids)

    def visual_search(self, pin: str) -> None:
        """Open the Visual screen and search for pins that look like ``pin``."""
        self.action_go("visual")
        self.visual_request = pin

    def show_run(self, run_id: int) -> None:
        """Open the Runs screen with ``run_id`` highlighted."""
        self.action_go("runs")
        self.run_request = run_id

    def action_help(self) -> None:
        from workbench.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def key_for(self, binding_id: str, default: str) -> str:
        """The key bound to ``binding_id`` after the user's keymap, for display."""
        key = self._keymap.get(binding_id, default).split(",")[0]
        return self.get_key_display(Binding(key, ""))

    def handle_bindings_clash(self, clashed_bindings: set[Binding], node: Any) -> None:
        if not self._warned_clash:
            self._warned_clash = True
            ids = ", ".join(sorted(b.id or b.action for b in clashed_bindings))
            self.notify(
                f"key map clash: {ids} now share a key",
                title="Settings",
                severity="warning",
                markup=False,
            )

    # -- jobs ----------------------------------------------------------------------------------

    def start_job(self, job: Job[Any], reply_to: MessagePump) -> Worker[Any]:
        """Run ``job`` in a thread worker: progress and its end are posted to ``reply_to`` (a
        ``JobBar``), its result goes to ``job.on_done`` on the UI thread."""

        def work() -> Any:
            ctx = JobContext(job, worker, reply_to.post_message)
            for attempt in range(1, LOCK_RETRIES + 1):
                try:
                    return job.run(ctx)
                except StoreLockedError as exc:
                    if attempt == LOCK_RETRIES or ctx.cancelled:
                        raise
                    self.call_from_thread(
                        self.notify,
                        f"{exc} (retry {attempt} of {LOCK_RETRIES - 1})",
                        title="Store locked",
                        severity="warning",
                        markup=False,
                    )
                    ctx.progress(0, None, "waiting for the store lock")
                    ctx.wait(LOCK_RETRY_DELAY_S)
            raise AssertionError("unreachable")

        worker: Worker[Any] = self.run_worker(
            work,
            name=job.label,
            group=job.group,
            thread=True,
            exclusive=True,
            exit_on_error=False,
        )
        self._jobs[worker] = (job, reply_to)
        return worker

    def cancel_jobs(self, reply_to: MessagePump) -> bool:
        """Cancel the visible jobs started for ``reply_to``; whether there were any."""
        workers = [w for w, (job, to) in self._jobs.items() if to is reply_to and job.show_progress]
        for worker in workers:
            worker.cancel()
        return bool(workers)

    def has_jobs(self, reply_to: MessagePump) -> bool:
        return any(to is reply_to and job.show_progress for job, to in self._jobs.values())

    @on(Worker.StateChanged)
    def _job_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place where a job's end is seen: results go back, errors are reported."""
        if event.state not in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            return
        entry = self._jobs.pop(event.worker, None)
        if entry is None:
            return
        job, reply_to = entry
        if event.state == WorkerState.SUCCESS:
            if job.on_done is not None:
                job.on_done(event.worker.result)
            reply_to.post_message(JobEnded(job, "done", event.worker.result))
            return
        error = event.worker.error
        if event.state == WorkerState.CANCELLED or isinstance(error, Cancelled):
            if job.show_progress:
                self.notify(f"{job.label}: cancelled", severity="warning", markup=False)
            reply_to.post_message(JobEnded(job, "cancelled"))
            return
        if isinstance(error, WorkbenchError) and job.on_error is not None:
            job.on_error(error)
        elif error is not None:
            self.report_error(error)
        reply_to.post_message(JobEnded(job, "failed"))

    def report_error(self, exc: BaseException) -> None:
        """Show an error as a toast with its one-line message; never let it end the app."""
        if os.environ.get("WORKBENCH_DEBUG") and not isinstance(exc, WorkbenchError):
            self.log.error(repr(exc))
        title = "Store locked" if isinstance(exc, StoreLockedError) else "Error"
        self.notify(error_message(exc), title=title, severity="error", timeout=8, markup=False)

    # -- clipboard -----------------------------------------------------------------------------

    def copy_rows(self, header: list[str], rows: list[list[str]]) -> None:
        """Copy rows as TSV (OSC 52 to the terminal's clipboard) and say how many."""
        lines = ["\t".join(header), *("\t".join(r) for r in rows)]
        self.copy_to_clipboard("\n".join(lines) + "\n")
        noun = "row" if len(rows) == 1 else "rows"
        self.notify(f"copied {len(rows)} {noun} as TSV", markup=False)
