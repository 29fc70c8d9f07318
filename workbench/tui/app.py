"""The terminal UI's App: screens (one per mode), the thread workers, errors, keymap and theme.

Every action calls the same service as the CLI, in a thread worker (see ``jobs.py``): the UI
never blocks and never holds a DuckDB connection while idle. Engine modules are imported inside
the workers, so the first screen appears before numba, faiss or polars are loaded.

What the App offers every screen:

- navigation: ``go(mode)``, a back stack (Backspace) and :meth:`WorkbenchApp.breadcrumb`;
  ``1``-``9`` switch screens where the focus is not in a text box, ``alt+1``-``alt+9`` anywhere;
- :class:`~workbench.tui.messages.PinAction` routing: open a pin page, add to the query, similar
  images, explain (a panel docked beside the screen's lists);
- state per dataset: :meth:`WorkbenchApp.remember` / :meth:`WorkbenchApp.recall` keep a screen's
  values (query pins, filters) for the dataset in use; switching datasets never carries them
  across. Screens watch ``dataset`` and restore with ``recall``;
- errors: one handler, one line from :func:`workbench.engine.errors.user_message` with the TUI's
  own hints (:data:`TUI_HINTS`).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on
from textual.app import App
from textual.binding import Binding, BindingType
from textual.message_pump import MessagePump
from textual.reactive import var
from textual.screen import ModalScreen, Screen
from textual.widgets import Input, TextArea
from textual.worker import Worker, WorkerState

from workbench.engine.errors import Cancelled, StoreLockedError, WorkbenchError, user_message
from workbench.services.datasets import DatasetInfo, Store, list_datasets
from workbench.tui.commands import WorkbenchCommands
from workbench.tui.config import TuiConfig, TuiState, load_config, load_state
from workbench.tui.jobs import Job, JobContext, JobEnded
from workbench.tui.messages import NOTHING_TO_EXPLAIN, PinAction

if TYPE_CHECKING:
    pass

LOCK_RETRIES = 5
LOCK_RETRY_DELAY_S = 1.0

# (mode, title, default key): the order of the navigation bar. In a text box a digit is text:
# there ctrl+PgUp/ctrl+PgDn go to the previous/next screen, Esc leaves the box (then digits
# work), and alt+digit works in terminals that send it as such (kitty keyboard protocol; most
# terminals send ESC+digit, which Textual reads as the macOS Option character).
SCREENS: tuple[tuple[str, str, str], ...] = (
    ("datasets", "Datasets", "1"),
    ("explore", "Explore", "2"),
    ("recommend", "Recommend", "3"),
    ("visual", "Visual", "4"),
    ("compare", "Compare", "5"),
    ("sweep", "Sweep", "6"),
    ("runs", "Runs", "7"),
    ("eval", "Eval", "8"),
    ("sql", "SQL", "9"),
)

TUI_HINTS: dict[str, str] = {
    "overwrite": "tick Overwrite",
    "replace": "tick Replace",
    "grid": "give at least one parameter a list of values",
    "top": "ask for fewer results (top k)",
    "index": "index the images first (ctrl+o on Visual)",
    "confirm": "confirm it in the dialog",
}
"""The TUI's words for the engine's hint keys (the CLI names flags, the TUI names its controls)."""

SEARCH_ACTIONS = ("focus_search", "focus_filter", "focus_runs")
"""Screen actions that ``/`` runs: the screen's search or filter box."""

BACK_LIMIT = 30
WARM_IMPORTS = ("workbench.services.visual",)
"""Modules that screens import on the UI thread when first shown and that take long to import
(the visual service loads numba, faiss and scipy: about 1-2 s): imported in a thread once the
first screen is drawn, so that the first show finds them loaded."""


@dataclass
class DatasetState:
    """What belongs to one dataset: query pins and the values screens remember for it."""

    query_pins: tuple[str, ...] = ()
    values: dict[str, Any] = field(default_factory=dict)


def _lazy_screen(mode: str, title: str) -> Callable[[], Screen[Any]]:
    """A factory that imports a screen's module only when the screen is first shown."""

    def make() -> Screen[Any]:
        module = importlib.import_module(f"workbench.tui.screens.{mode}")
        screen: Screen[Any] = getattr(module, f"{title}Screen")()
        return screen

    return make


def error_message(exc: BaseException) -> str:
    """One line for the user, with the TUI's hint (e.g. "; tick Overwrite")."""
    return user_message(exc, TUI_HINTS)[0]


class WorkbenchApp(App[None]):
    """Pinboard workbench: browse datasets, run walks and baselines, compare and export runs."""

    TITLE = "Pinboard workbench"
    CSS_PATH = "workbench.tcss"
    # Screens get -narrow/-wide and -short/-tall classes: the stylesheet fits 80x24 with them.
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-narrow"), (110, "-wide")]
    VERTICAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-short"), (32, "-tall")]
    COMMANDS: ClassVar = App.COMMANDS | {WorkbenchCommands}
    MODES: ClassVar = {mode: _lazy_screen(mode, title) for mode, title, _ in SCREENS}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1", "help", "Help", id="help"),
        Binding("ctrl+p", "command_palette", "Commands", id="commands", priority=True),
        Binding("ctrl+q", "quit", "Quit", id="quit", priority=True),
        Binding("ctrl+t", "next_theme", "Next theme", id="theme", show=False, priority=True),
        Binding("slash", "search", "Search box", id="search", show=False, priority=True),
        Binding("backspace", "back", "Back", id="back", show=False),
        Binding(
            "ctrl+pagedown", "cycle(1)", "Next screen", id="screen.next", show=False, priority=True
        ),
        Binding(
            "ctrl+pageup",
            "cycle(-1)",
            "Previous screen",
            id="screen.previous",
            show=False,
            priority=True,
        ),
        Binding("escape", "leave_text", "Leave the text box", id="leave_text", show=False),
        *(
            Binding(key, f"go('{mode}')", f"Go to {title}", id=f"screen.{mode}", show=False)
            for mode, title, key in SCREENS
        ),
        *(
            Binding(
                f"alt+{key}",
                f"go('{mode}')",
                f"Go to {title}",
                id=f"screen.{mode}.alt",
                show=False,
                priority=True,
            )
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

    def __init__(
        self, store: Store, config: TuiConfig | None = None, state: TuiState | None = None
    ) -> None:
        self.config = config or load_config()
        self.state = state or load_state()
        """What is remembered between runs (the dataset last used on this store, the theme)."""
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
        self.dataset_states: dict[str, DatasetState] = {}
        """Per-dataset state, by dataset name (see :meth:`remember`)."""
        self.back_modes: list[str] = []
        """Screens visited before the current one (Backspace returns to the last)."""
        self._going_back = False

    # -- start-up ------------------------------------------------------------------------------

    def on_mount(self) -> None:
        theme = self.state.theme if self.state.theme and not self.config.theme else None
        if theme and self.get_theme(theme) is not None:
            self.theme = theme
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
        self.call_after_refresh(self.warm_imports)

    def warm_imports(self) -> None:
        """Import :data:`WARM_IMPORTS` in a thread worker (a failure is left for the screen that
        needs the module to report)."""

        def work() -> None:
            for name in WARM_IMPORTS:
                with contextlib.suppress(Exception):
                    importlib.import_module(name)

        self.run_worker(work, name="warm imports", group="warm", thread=True, exit_on_error=False)

    def _exit_for_benchmark(self) -> None:
        """``bench/bench_tui.py``: report when the first screen is on the terminal, then quit."""
        self.exit(message=f"workbench-tui-ready {time.time():.6f}")

    def refresh_datasets(self, select: str | None = None) -> None:
        """Re-read the store's datasets; ``select`` (or the current one, or 'sample') is used."""

        def done(infos: list[DatasetInfo]) -> None:
            self.datasets = tuple(infos)
            names = [d.name for d in infos]
            remembered = self.state.dataset_for(self.store.path)
            for candidate in (select, self.dataset, remembered, "sample"):
                if candidate in names:
                    self.dataset = candidate
                    return
            self.dataset = names[0] if names else None

        self.start_job(
            Job(
                "datasets",
                "Reading datasets",
                lambda _ctx: list_datasets(self.store),
                done,
                show_progress=False,
            ),
            self,
        )

    # -- state per dataset ---------------------------------------------------------------------

    @property
    def dataset_state(self) -> DatasetState:
        """The state of the dataset in use (a throw-away one when there is none)."""
        if self.dataset is None:
            return DatasetState()
        return self.dataset_states.setdefault(self.dataset, DatasetState())

    def remember(self, key: str, value: Any) -> None:
        """Keep ``value`` under ``key`` for the dataset in use (e.g. ``"runs.filter"``)."""
        if self.dataset is not None:
            self.dataset_state.values[key] = value

    def recall(self, key: str, default: Any = None) -> Any:
        """What :meth:`remember` kept under ``key`` for the dataset in use, else ``default``."""
        return self.dataset_state.values.get(key, default)

    def watch_dataset(self, old: str | None, new: str | None) -> None:
        """A switch of dataset: its own query pins come back, nothing of the old one stays; the
        choice is remembered for the next start on this store."""
        if old == new:
            return
        from workbench.tui.screens.pin_page import PinPageScreen

        while isinstance(self.screen, PinPageScreen):  # its pages are the old dataset's
            self.pop_screen()
        self.query_pins = self.dataset_state.query_pins
        if new is not None:
            self.state.remember_dataset(self.store.path, new)
            self.state.save()

    def watch_query_pins(self, pins: tuple[str, ...]) -> None:
        if self.dataset is not None:
            self.dataset_state.query_pins = pins

    def add_query_pin(self, pin: str) -> None:
        """Add ``pin`` to the query pins of the dataset in use (Recommend picks them up)."""
        pins = self.query_pins
        if any(spec == pin or spec.rpartition(":")[0] == pin for spec in pins):
            self.notify(f"pin {pin} is already in the query", markup=False)
            return
        self.query_pins = (*pins, pin)
        key = self.key_for("screen.recommend", "3")
        self.notify(f"query pins: {' '.join(self.query_pins)} ({key} Recommend)", markup=False)

    # -- navigation ----------------------------------------------------------------------------

    def action_go(self, mode: str) -> None:
        if mode == self.current_mode:
            return
        if not self._going_back:
            if self.current_mode:
                self.back_modes.append(self.current_mode)
            del self.back_modes[:-BACK_LIMIT]
        self.switch_mode(mode)

    def action_back(self) -> None:
        """Back to where you came from: the page below a pin page, else the previous screen."""
        from workbench.tui.screens.pin_page import PinPageScreen

        if isinstance(self.screen, PinPageScreen):
            self.pop_screen()
            return
        while self.back_modes and self.back_modes[-1] == self.current_mode:
            self.back_modes.pop()
        if not self.back_modes:
            self.bell()
            return
        self._going_back = True
        try:
            self.action_go(self.back_modes.pop())
        finally:
            self._going_back = False

    def breadcrumb(self) -> list[str]:
        """Where you came from, oldest first: recent screens, then the pages on this one."""
        titles = {mode: title for mode, title, _ in SCREENS}
        trail = [titles.get(m, m) for m in self.back_modes[-2:]]
        trail.append(titles.get(self.current_mode, self.current_mode))
        trail += [c for s in self.screen_stack if (c := getattr(s, "crumb", None))]
        return trail

    def action_cycle(self, step: int) -> None:
        """ctrl+PgDn / ctrl+PgUp: the next / previous screen, from anywhere."""
        from workbench.tui.screens.pin_page import PinPageScreen

        modes = [mode for mode, _, _ in SCREENS]
        here = modes.index(self.current_mode) if self.current_mode in modes else 0
        while isinstance(self.screen, PinPageScreen):
            self.pop_screen()
        self.action_go(modes[(here + step) % len(modes)])

    def action_leave_text(self) -> None:
        """Esc in a text box: the focus moves on to the next control that is not one, so the
        screen keys (digits, ``a``, ``v``, ...) work again."""
        focused = self.screen.focused
        chain = self.screen.focus_chain
        start = chain.index(focused) if focused in chain else -1
        for widget in chain[start + 1 :] + chain[: max(start, 0)]:
            if not isinstance(widget, Input | TextArea):
                widget.focus()
                return
        self.screen.set_focus(None)

    async def action_search(self) -> None:
        """``/``: focus the screen's search box (select its text if it has the focus already)."""
        focused = self.screen.focused
        for name in SEARCH_ACTIONS:
            if hasattr(self.screen, f"action_{name}"):
                await self.screen.run_action(name)
                break
        if isinstance(focused, Input) and focused is self.screen.focused:
            focused.select_all()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "leave_text":
            return isinstance(self.screen.focused, Input) and not isinstance(
                self.screen, ModalScreen
            )
        if action == "search":
            # ``/`` stays a character where one may type it: paths, SQL, and screens
            # without a search box.
            focused = self.screen.focused
            if isinstance(focused, TextArea) or (
                isinstance(focused, Input)
                and (focused.suggester is not None or focused.type != "text")
            ):
                return False
            return any(hasattr(self.screen, f"action_{n}") for n in SEARCH_ACTIONS)
        return True

    def action_next_theme(self) -> None:
        """ctrl+t: the next theme, said in a toast, remembered for the next start."""
        names = sorted(self.available_themes)
        current = names.index(self.theme) if self.theme in names else -1
        self.theme = names[(current + 1) % len(names)]
        self.state.theme = self.theme
        self.state.save()
        key = self.key_for("theme", "ctrl+t")
        self.notify(
            f"theme {self.theme} ({current + 2 if current + 2 <= len(names) else 1} of "
            f"{len(names)}; {key} for the next)",
            title="Theme",
            markup=False,
        )

    @on(PinAction)
    def _pin_action(self, message: PinAction) -> None:
        """A pin action that no screen handled: open its page, add it to the query, find
        similar images, or explain it in a panel beside the screen's lists."""
        if message.verb == "open":
            from workbench.tui.screens.pin_page import PinPageScreen

            if self.dataset is None:
                self.notify("no dataset in use", severity="warning")
                return
            self.push_screen(PinPageScreen(self.dataset, message.pin, self.current_mode))
        elif message.verb == "add":
            self.add_query_pin(message.pin)
        elif message.verb == "similar":
            from workbench.tui.screens.pin_page import PinPageScreen

            while isinstance(self.screen, PinPageScreen):
                self.pop_screen()
            self.visual_search(message.pin)
        elif message.verb == "explain":
            from workbench.tui.widgets.explain_panel import ExplainPanel

            if message.run_id is None:
                self.notify(NOTHING_TO_EXPLAIN, markup=False)
                return
            ExplainPanel.open_on(self.screen, message.run_id, message.pin)

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
        if entry is None or not self.is_running:
            return  # not ours, or the app is shutting down: its screens are being taken apart
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
            # Forms show ``str(error)`` inline: give it the TUI's hint ("; tick Overwrite").
            error.args = (error_message(error),)
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

    @staticmethod
    def message_for(exc: BaseException) -> str:
        """The one line for ``exc`` with the TUI's hint, for showing inline in a form."""
        return error_message(exc)

    # -- clipboard -----------------------------------------------------------------------------

    def copy_rows(self, header: list[str], rows: list[list[str]]) -> None:
        """Copy rows as TSV (OSC 52 to the terminal's clipboard) and say how many."""
        lines = ["\t".join(header), *("\t".join(r) for r in rows)]
        self.copy_to_clipboard("\n".join(lines) + "\n")
        noun = "row" if len(rows) == 1 else "rows"
        self.notify(f"copied {len(rows)} {noun} as TSV", markup=False)
