"""The Recommend screen: query pins (with weights) or a board, an algorithm and its generated
parameter form; runs the recommend service (as ``workbench recommend``) in a worker and shows
the ranked pins with a preview of the highlighted one."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.validation import Integer
from textual.widgets import Button, Input, Label, Select

from workbench.engine.errors import Cancelled
from workbench.engine.progress import Reporter
from workbench.services import recommend as svc
from workbench.tui.jobs import Job, JobContext
from workbench.tui.screens.base import WorkbenchScreen
from workbench.tui.widgets.explain_panel import CLOSE_EXPLAIN, ExplainHost, ExplainPanel
from workbench.tui.widgets.param_form import ParamForm
from workbench.tui.widgets.ranked_pins import RankedPins

MODES = (("Query pins", "pins"), ("A board", "board"))


class RecommendScreen(ExplainHost, WorkbenchScreen):
    """Left: query, algorithm and parameters; right: the ranking and the highlighted pin."""

    MODE = "recommend"
    BINDINGS: ClassVar[list[BindingType]] = [
        *WorkbenchScreen.BINDINGS,  # Esc cancels a running job first
        CLOSE_EXPLAIN,
        Binding("ctrl+r", "run", "Run", id="recommend.run"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, list[Any]] = {}

    def compose_body(self) -> ComposeResult:
        with Horizontal(classes="body"):
            with VerticalScroll(id="recommend-form", classes="panel") as form:
                form.border_title = "Query and algorithm"
                yield Select(MODES, value="pins", allow_blank=False, id="rec-mode")
                yield Input(placeholder="pin ids: ID ID:WEIGHT …", id="rec-pins")
                with Horizontal(id="rec-board-row"):
                    yield Input(placeholder="board id", id="rec-board")
                    yield Select([], prompt="weights", id="rec-weighting")  # fmt: skip
                with Horizontal(classes="param-row"):
                    yield Label("algorithm", classes="param-name")
                    # the default until the list is read: no "loading…" entry to pick
                    yield Select([(svc.DEFAULT_ALGORITHM, svc.DEFAULT_ALGORITHM)],
                                 value=svc.DEFAULT_ALGORITHM, allow_blank=False,
                                 id="rec-algo", compact=True)  # fmt: skip
                with Horizontal(classes="param-row"):
                    yield Label("top k", classes="param-name")
                    yield Input(
                        str(svc.DEFAULT_K),
                        id="rec-k",
                        type="integer",
                        validators=[Integer(1, 10_000)],
                        compact=True,
                    )
                with Horizontal(classes="param-row"):
                    yield Label("seed", classes="param-name")
                    yield Input(
                        "0", id="rec-seed", type="integer", validators=[Integer(0)], compact=True
                    )
                yield Label(classes="field-error", id="rec-error")
                yield Button("Run  (ctrl+r)", variant="primary", id="rec-run")
                yield ParamForm(id="rec-params")
            yield RankedPins("rec", id="recommend-results")

    def on_mount(self) -> None:
        self.query_one("#rec-board-row").display = False
        self.watch(self.app, "dataset", self._dataset_changed)
        self.watch(self.app, "query_pins", self._query_pins_changed)
        # typing goes to the query (a digit there is a pin id, not a screen key); Tab moves on
        self.query_one("#recommend-form").can_focus = False
        self.query_one("#rec-pins", Input).focus()

        def load(_ctx: JobContext) -> tuple[dict[str, list[Any]], tuple[str, ...]]:
            return svc.algorithms(), svc.BOARD_WEIGHTINGS

        def loaded(found: tuple[dict[str, list[Any]], tuple[str, ...]]) -> None:
            self.fields, weightings = found
            select = self.query_one("#rec-algo", Select)
            select.set_options([(name, name) for name in self.fields])
            default = svc.DEFAULT_ALGORITHM
            select.value = default if default in self.fields else next(iter(self.fields))
            # the value may not change (it was the default already): show its form explicitly
            self.call_later(self.query_one(ParamForm).show, self.fields[str(select.value)])
            weighting = self.query_one("#rec-weighting", Select)
            weighting.set_options([(f"{w} weights", w) for w in weightings])
            weighting.value = weightings[0]

        self.run_job(Job("recommend.algorithms", "Reading algorithms", load, loaded,
                         show_progress=False))  # fmt: skip

    def _dataset_changed(self, dataset: str | None) -> None:
        """The results are a run of the dataset they were made on: a switch clears them and
        closes their explanation (``a`` must not add the old dataset's pins to the new query)."""
        ExplainPanel.close_on(self)
        ranking = self.query_one(RankedPins)
        if ranking.table.row_count or ranking.table.run_id is not None:
            ranking.clear()
        self.query_one("#rec-error", Label).update("")

    def _query_pins_changed(self, pins: tuple[str, ...]) -> None:
        """The App's query pins belong to the dataset in use: a switch to another dataset
        empties the box (or brings back that dataset's pins), so no stale query runs there."""
        if pins:
            self.query_one("#rec-mode", Select).value = "pins"
        self.query_one("#rec-pins", Input).value = " ".join(pins)

    @on(Select.Changed, "#rec-mode")
    def _mode_changed(self, event: Select.Changed) -> None:
        board = event.value == "board"
        self.query_one("#rec-pins").display = not board
        self.query_one("#rec-board-row").display = board

    @on(ParamForm.Changed)
    @on(Input.Changed)
    def _clear_stale_error(self) -> None:
        """An error shown for the old values goes as soon as a value changes (issue 12 #3)."""
        self.query_one("#rec-error", Label).update("")

    @on(Select.Changed, "#rec-algo")
    async def _algo_changed(self, event: Select.Changed) -> None:
        if isinstance(event.value, str) and event.value in self.fields:
            await self.query_one(ParamForm).show(self.fields[event.value])

    @on(Button.Pressed, "#rec-run")
    @on(Input.Submitted)
    def action_run(self) -> None:
        error = self.query_one("#rec-error", Label)
        dataset, store = self.workbench.dataset, self.workbench.store
        algo = self.query_one("#rec-algo", Select).value
        problems = self.query_one(ParamForm).errors()
        for name in ("k", "seed"):
            box = self.query_one(f"#rec-{name}", Input)
            result = box.validate(box.value)
            if result is not None and not result.is_valid:
                problems.append(f"{name}: {'; '.join(result.failure_descriptions)}")
        if dataset is None:
            problems.append("no dataset in use: choose one on the Datasets screen")
        if not isinstance(algo, str):
            problems.append("the algorithms are still loading")
        by_board = self.query_one("#rec-mode", Select).value == "board"
        specs = self.query_one("#rec-pins", Input).value.split()
        board = self.query_one("#rec-board", Input).value.strip()
        if by_board and not board:
            problems.append("give a board id")
        if not by_board and not specs:
            problems.append("give one or more query pins (id or id:weight)")
        if problems:
            error.update("\n".join(problems))
            return
        assert isinstance(algo, str) and dataset is not None
        params = self.query_one(ParamForm).values()
        weighting_value = self.query_one("#rec-weighting", Select).value
        weighting = weighting_value if isinstance(weighting_value, str) else "equal"
        k = int(self.query_one("#rec-k", Input).value)
        seed = int(self.query_one("#rec-seed", Input).value)

        def run(ctx: JobContext) -> tuple[Any, list[dict[str, Any]]]:
            from workbench.services import explore, runs
            from workbench.services.parsing import parse_pin_specs

            ids, weights = parse_pin_specs(specs, "pin") if not by_board else ([], [])
            request = svc.RecommendRequest(
                dataset, tuple(ids), tuple(weights) if ids else None,
                board if by_board else None, weighting, algo, params, k, seed,
            )  # fmt: skip
            result = svc.recommend(store, request, Reporter(is_cancelled=lambda: ctx.cancelled))
            if ctx.cancelled:  # cancelled while the run was being stored: drop it
                runs.delete_runs(store, [result.run_id])
                raise Cancelled("recommend cancelled")
            return result, explore.pins(store, dataset, result.results["pin"].to_list())

        def done(outcome: tuple[Any, list[dict[str, Any]]]) -> None:
            if self.workbench.dataset == dataset:  # else the dataset was switched meanwhile
                self._show(outcome)

        error.update("")
        self.run_job(Job("recommend", f"Running {algo}", run, done,
                         on_error=lambda e: error.update(str(e))))  # fmt: skip

    def _show(self, outcome: tuple[Any, list[dict[str, Any]]]) -> None:
        result, pins = outcome
        steps = f" · {result.steps:,} steps" if result.steps else f" · steps {svc.format_steps(0)}"
        self.query_one(RankedPins).show(
            result.results.select("rank", "pin", "score").rows(),
            pins,
            f"Run {result.run_id}: {result.algorithm}{steps} · {result.elapsed_ms:.0f} ms",
            run_id=result.run_id,
        )
