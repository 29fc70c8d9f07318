"""The Sweep screen: values to try for an algorithm's parameters, evaluated setting by setting on
the validation split by the sweep service (as ``workbench sweep``). Each trial is stored as it
finishes and appears at once in the trials table and the plot; a cancelled sweep keeps them and
runs on from there. Enter opens a trial's run on the Runs screen."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.validation import Function, Integer
from textual.widgets import Button, DataTable, Input, Label, Select, Static

from workbench.engine.progress import Reporter
from workbench.tui.jobs import Job, JobContext, JobEnded
from workbench.tui.screens.base import WorkbenchScreen
from workbench.tui.widgets.grid_form import GridForm
from workbench.tui.widgets.rows_table import RowsTable
from workbench.tui.widgets.trial_plot import TrialPlot

if TYPE_CHECKING:
    from workbench.services.sweep import Run


def _blank_or_positive(text: str) -> bool:
    return not text.strip() or (text.strip().isdigit() and int(text) >= 1)


def settings_count(grid: dict[str, list[str]], random: int | None) -> int:
    """How many settings a sweep of ``grid`` tries (``random`` of them, if fewer)."""
    from workbench.services.sweep import count_settings

    return count_settings(grid, random)


class SweepScreen(WorkbenchScreen):
    """Left: algorithm, evaluation settings and the grid; right: the trials and their metric."""

    MODE = "sweep"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+r", "run", "Run sweep", id="sweep.run"),
        Binding("m", "compare", "Compare marked", id="sweep.compare"),
    ]

    class TrialsStored(Message):
        """Sweep ``sweep_id`` started, stored a trial, or stopped: its trials are worth reading."""

        def __init__(self, sweep_id: str) -> None:
            super().__init__()
            self.sweep_id = sweep_id

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, list[Any]] = {}
        self.sweep_id: str | None = None
        """The sweep on show."""
        self.total = 0
        """How many settings the sweep on show tries (from its stored grid)."""
        self.outcome = ""
        """``running``, ``done``, ``cancelled`` or ``failed``."""
        self._form: tuple[Any, ...] = ()
        """What the running sweep was asked for (a resume must ask for the same)."""
        self._resumable: tuple[tuple[Any, ...], str] | None = None
        """A cancelled sweep with stored trials, and what it was asked for."""
        self.best: Run | None = None
        """The best trial of the sweep on show."""
        self._parse: Callable[..., Any] | None = None

    def compose_body(self) -> ComposeResult:
        with Horizontal(classes="body"):
            with VerticalScroll(id="sweep-form", classes="panel") as form:
                form.border_title = "Algorithm, evaluation and grid"
                with Horizontal(classes="param-row"):
                    yield Label("algorithm", classes="param-name")
                    yield Select([], prompt="loading…", id="sweep-algo", compact=True)
                with Horizontal(classes="param-row"):
                    yield Label("metric", classes="param-name")
                    yield Select([], prompt="loading…", id="sweep-metric", compact=True)
                    yield Label(" @ k ", id="sweep-at")
                    yield Input("10", id="sweep-k", type="integer",
                                validators=[Integer(1, 1000)], compact=True)  # fmt: skip
                with Horizontal(classes="param-row"):
                    yield Label("protocol", classes="param-name")
                    yield Select([], prompt="loading…", id="sweep-protocol", compact=True)
                yield from self._number_row(
                    "negatives", "99", "", "per board", "negatives per board (sampled protocol)"
                )
                yield from self._number_row(
                    "boards", "", "all", "a sample", "a seeded sample of the boards; empty: all"
                )
                yield from self._number_row(
                    "seed",
                    "0",
                    "",
                    "split, walks",
                    "seeds the split, the board sample and the walks",
                )
                yield from self._number_row(
                    "random",
                    "",
                    "all",
                    "of the grid",
                    "settings drawn at random from the grid; empty: all",
                )
                yield Static(id="sweep-count", classes="param-hint")
                yield Label(classes="field-error", id="sweep-error")
                yield Button("Run sweep  (ctrl+r)", variant="primary", id="sweep-run")
                yield Static(
                    "Grid: the values to try, comma-separated (empty keeps the default)",
                    classes="sweep-grid-note",
                )
                yield GridForm(id="sweep-grid")
            with Vertical(id="sweep-results"):
                table = RowsTable(id="sweep-trials", classes="panel")
                table.border_title = "Trials"
                yield table
                yield TrialPlot(id="sweep-plot", classes="panel")
                yield Static(id="sweep-status")

    def _number_row(
        self, name: str, value: str, placeholder: str, hint: str, tooltip: str
    ) -> ComposeResult:
        """A whole-number field with a short hint (it fits at 80 columns; the tooltip says all)."""
        optional = not value
        validator = (
            Function(_blank_or_positive, "a whole number ≥ 1, or empty")
            if optional
            else Integer(minimum=0 if name == "seed" else 1)
        )
        with Horizontal(classes="param-row"):
            yield Label(name, classes="param-name")
            yield Input(value, placeholder=placeholder, id=f"sweep-{name}", type="integer",
                        validators=[validator], compact=True)  # fmt: skip
            yield Label(hint, classes="sweep-field-hint").with_tooltip(tooltip)

    def on_mount(self) -> None:
        self.query_one("#sweep-trials", RowsTable).set_columns("#", "Run")
        self.query_one("#sweep-form").can_focus = False  # Tab goes from field to field
        self.query_one("#sweep-algo", Select).focus()
        self.query_one(TrialPlot).show([], [], "")
        self._show_status()

        def load(_ctx: JobContext) -> tuple[Any, ...]:
            from workbench.services.evaluate import ACCURACY, PROTOCOLS
            from workbench.services.recommend import algorithms
            from workbench.services.sweep import check_value

            return algorithms(), check_value, PROTOCOLS, ACCURACY

        def loaded(found: tuple[Any, ...]) -> None:
            self.fields, self._parse, protocols, metrics = found
            algo = self.query_one("#sweep-algo", Select)
            algo.set_options([(name, name) for name in self.fields])
            algo.value = "pixie" if "pixie" in self.fields else next(iter(self.fields))
            metric = self.query_one("#sweep-metric", Select)
            metric.set_options([(m, m) for m in metrics])
            metric.value = "ndcg" if "ndcg" in metrics else metrics[0]
            protocol = self.query_one("#sweep-protocol", Select)
            protocol.set_options([(p, p) for p in protocols])
            protocol.value = protocols[0]

        self.run_job(Job("sweep.setup", "Reading algorithms", load, loaded, show_progress=False))
        self.watch(self.app, "dataset", self._dataset_changed)

    def _dataset_changed(self, dataset: str | None) -> None:
        """Show the dataset's latest sweep (unless one is running)."""
        if dataset is None or self.outcome == "running":
            return
        self.sweep_id, self.outcome, self._resumable = None, "", None
        store = self.workbench.store

        def latest(_ctx: JobContext) -> list[Run]:
            from workbench.services.sweep import latest_sweep

            return latest_sweep(store, dataset)

        self.run_job(Job("sweep.trials", "Reading the latest sweep", latest, self._show_trials,
                         show_progress=False))  # fmt: skip

    # -- the form -----------------------------------------------------------------------------

    @on(Select.Changed, "#sweep-algo")
    async def _algo_changed(self, event: Select.Changed) -> None:
        if isinstance(event.value, str) and event.value in self.fields and self._parse:
            await self.query_one(GridForm).show(event.value, self.fields[event.value], self._parse)
            self._count()

    @on(Input.Changed)
    def _count(self) -> None:
        """Say how many settings the grid holds (and what is wrong with the fields)."""
        grid = self.query_one(GridForm).grid()
        random_text = self.query_one("#sweep-random", Input).value.strip()
        random = int(random_text) if random_text.isdigit() and int(random_text) > 0 else None
        count = settings_count(grid, random)
        every = settings_count(grid, None)
        if not grid:
            text = "no values yet: type some in the grid below"
        elif count < every:
            text = f"{count} of the grid's {every} settings, drawn at random"
        else:
            varied = [str(len(v)) for v in grid.values() if len(v) > 1]
            shape = f" ({' × '.join(varied)})" if len(varied) > 1 else ""
            text = f"{count} setting{'s' if count != 1 else ''}{shape}"
        self.query_one("#sweep-count", Static).update(text)
        self.query_one("#sweep-error", Label).update("\n".join(self._field_problems()))

    def _field_problems(self) -> list[str]:
        problems = []
        for name in ("k", "negatives", "boards", "seed", "random"):
            box = self.query_one(f"#sweep-{name}", Input)
            result = box.validate(box.value)
            if result is not None and not result.is_valid:
                problems.append(f"{name}: {'; '.join(result.failure_descriptions)}")
        return problems

    def _optional(self, name: str) -> int | None:
        text = self.query_one(f"#sweep-{name}", Input).value.strip()
        return int(text) if text else None

    # -- running ------------------------------------------------------------------------------

    @on(Button.Pressed, "#sweep-run")
    @on(Input.Submitted)
    def action_run(self) -> None:
        error = self.query_one("#sweep-error", Label)
        dataset, store = self.workbench.dataset, self.workbench.store
        algo = self.query_one("#sweep-algo", Select).value
        form = self.query_one(GridForm)
        problems = self._field_problems() + form.errors()
        grid = form.grid()
        if dataset is None:
            problems.append("no dataset in use: choose one on the Datasets screen")
        if not isinstance(algo, str) or self._parse is None:
            problems.append("the algorithms are still loading")
        elif not form.fields:
            problems.append(f"{algo} has no parameters to sweep")
        elif not grid:
            problems.append("type the values to try for at least one parameter (comma-separated)")
        if problems:
            error.update("\n".join(problems))
            error.scroll_visible()
            return
        assert dataset is not None and isinstance(algo, str)
        k, negatives, seed = (int(self.query_one(f"#sweep-{n}", Input).value)
                              for n in ("k", "negatives", "seed"))  # fmt: skip
        metric = f"{self.query_one('#sweep-metric', Select).value}@{k}"
        protocol = str(self.query_one("#sweep-protocol", Select).value)
        boards, random = self._optional("boards"), self._optional("random")
        asked = (dataset, algo, grid, metric, protocol, negatives, boards, seed, random)
        resume = self._resumable[1] if self._resumable and self._resumable[0] == asked else None

        def run(ctx: JobContext) -> Any:
            from workbench.services import sweep as service
            from workbench.services.evaluate import EvalRequest

            request: service.SweepRequest | service.ResumeRequest
            if resume:
                request = service.ResumeRequest(resume, plot=False)
            else:
                evaluation = EvalRequest(dataset, algo, protocol=protocol, negatives=negatives,
                                         seed=seed, ks=tuple(sorted({*EvalRequest.ks, k})),
                                         boards=boards)  # fmt: skip
                request = service.SweepRequest(evaluation, grid, metric=metric, random=random,
                                               plot=False)  # fmt: skip
            sweep_id = request.sweep_id
            # Posted to the screen itself, not through ``ctx.post``: also after a cancel, as the
            # sweep may store the trial it was finishing before it stops.
            self.post_message(self.TrialsStored(sweep_id))
            reporter = Reporter(ctx.progress, lambda: ctx.cancelled)
            try:
                return service.run(
                    store,
                    request,
                    reporter,
                    on_trial=lambda _: self.post_message(self.TrialsStored(sweep_id)),
                )
            finally:
                self.post_message(self.TrialsStored(sweep_id))

        def done(result: Any) -> None:
            best = result.best
            if best is not None:
                self.notify(
                    f"best {result.metric} {best.metrics.get(result.metric, math.nan):.4f} "
                    f"(run {best.run_id}) of {len(result.trials)} trials",
                    title=f"Sweep {result.sweep_id} done",
                    markup=False,
                )

        error.update("")
        self.total = settings_count(grid, random)
        self._form = asked
        self.outcome = "running"
        what = "Resuming" if resume else "Running"
        self.run_job(Job("sweep", f"{what} a sweep of {algo}", run, done,
                         on_error=lambda e: error.update(str(e))))  # fmt: skip

    def on_job_ended(self, message: JobEnded) -> None:
        if message.job.group != "sweep":
            return
        self.outcome = message.outcome
        self._resumable = None
        table = self.query_one("#sweep-trials", RowsTable)
        if message.outcome == "cancelled" and table.row_count and self.sweep_id is not None:
            self._resumable = (self._form, self.sweep_id)
        if message.outcome != "failed" and table.row_count:
            table.focus()  # Enter opens a trial, space marks trials to compare
        self._follow()
        self._show_status()

    # -- the trials ---------------------------------------------------------------------------

    @on(TrialsStored)
    def _trials_stored(self, message: TrialsStored) -> None:
        self.sweep_id = sweep_id = message.sweep_id
        store = self.workbench.store

        def read(_ctx: JobContext) -> list[Run]:
            from workbench.services.sweep import sweep_runs

            return sweep_runs(store, sweep_id)

        self.run_job(Job("sweep.trials", "Reading trials", read, self._show_trials,
                         show_progress=False))  # fmt: skip

    def _show_trials(self, runs: list[Run]) -> None:
        trials = [r for r in runs if r.info["sweep"].get("role") == "trial"]
        table = self.query_one("#sweep-trials", RowsTable)
        self.best = None
        if not trials:
            table.set_columns("#", "Run")
            self.query_one(TrialPlot).show([], [], "")
            self._show_status()
            return
        tag = trials[0].info["sweep"]
        self.sweep_id = tag["id"]
        self.total = settings_count(tag["grid"], tag.get("random"))
        metric, keys = tag["metric"], list(tag["grid"])
        values = [float(r.metrics.get(metric, math.nan)) for r in trials]
        finite = [i for i, v in enumerate(values) if math.isfinite(v)]
        best = max(finite, key=lambda i: values[i]) if finite else None
        if table.headers != ["#", "Run", *keys, metric]:
            table.set_columns("#", "Run", *keys, metric)
        table.set_rows(
            [
                (
                    str(r.run_id),
                    [
                        Text(str(i + 1), justify="right"),
                        Text(str(r.run_id), justify="right"),
                        *(str(r.params.get(key, "")) for key in keys),
                        Text(
                            f"{values[i]:.4f}" + (" ★" if i == best else "  "),
                            style="bold" if i == best else "",
                            justify="right",
                        ),
                    ],
                )
                for i, r in enumerate(trials)
            ]
        )
        self.query_one(TrialPlot).show(
            [(r.params, values[i]) for i, r in enumerate(trials)], keys, metric
        )
        self.best = trials[best] if best is not None else None
        self._follow()
        self._show_status()

    def _follow(self) -> None:
        """Keep the cursor on the newest trial while the sweep runs, on the best once it ends."""
        table = self.query_one("#sweep-trials", RowsTable)
        if not table.row_count:
            return
        if self.outcome == "running":
            table.move_cursor(row=table.row_count - 1)
        elif self.best is not None and str(self.best.run_id) in table.rows:
            table.move_cursor(row=table.get_row_index(str(self.best.run_id)))

    def _show_status(self) -> None:
        table = self.query_one("#sweep-trials", RowsTable)
        status = self.query_one("#sweep-status", Static)
        if self.sweep_id is None:
            table.border_title = "Trials"
            status.update("Each trial is stored as a run as it finishes; Enter opens one on Runs.")
            return
        table.border_title = f"Sweep {self.sweep_id}: {table.row_count} of {self.total} trials"
        parts = []
        if self.best is not None:
            metric = self.best.info["sweep"]["metric"]
            parts.append(f"best {metric} {self.best.metrics[metric]:.4f} (run {self.best.run_id})")
        if self.outcome == "cancelled":
            key = self.workbench.key_for("sweep.run", "ctrl+r")
            parts.append(
                f"cancelled: the finished trials are kept; {key} runs the rest"
                if self._resumable
                else "cancelled before a trial finished"
            )
        elif self.outcome == "failed":
            parts.append("failed")
        status.update(" · ".join(parts))

    @on(DataTable.RowSelected, "#sweep-trials")
    def _open_trial(self, event: DataTable.RowSelected) -> None:
        self.workbench.show_run(int(str(event.row_key.value)))

    def action_compare(self) -> None:
        marked = self.query_one("#sweep-trials", RowsTable).marked
        if len(marked) < 2:
            self.notify("mark two or more trials with space, then press m", severity="warning")
            return
        self.workbench.compare([int(k) for k in marked])
