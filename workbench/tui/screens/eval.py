"""The Eval screen: evaluate one algorithm setting on held-out pins (``workbench eval``) and see
how sure the result is and where it fails.

Left, the form: algorithm and its generated parameters, protocol, split, negatives, k list, seed,
repeats (defaults from the evaluate service's request, nowhere else). Right, after a run: the
metric@k table (with 95% intervals) and its plot, the distribution of the rank of each board's
first held-out pin, and the boards where the algorithm did worst; Enter on one shows its pins,
its held-out pins and the algorithm's top 10 side by side. The run is a thread job with
progress, ETA and Esc to cancel.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container, Horizontal, VerticalScroll
from textual.widgets import Button, DataTable, Input, Label, Select, TabbedContent, TabPane
from textual_plotext import PlotextPlot

from workbench.tui.jobs import Job, JobContext
from workbench.tui.screens.base import WorkbenchScreen
from workbench.tui.widgets.degree_histogram import integer_ticks
from workbench.tui.widgets.param_form import ParamForm
from workbench.tui.widgets.rows_table import RowsTable, format_score

WORST = 50
"""Boards listed in the drill-down list."""
TITLES = {
    "#eval-metrics": "metric@k",
    "#eval-worst": "Worst boards (Enter: drill down)",
    "#eval-held": "Held",
    "#eval-top": "Top 10",
    "#eval-board-pins": "Pins of the board",
}
"""The result panes' titles before a run (and after a dataset switch)."""
METRIC_KEY = re.compile(r"^(?P<name>[a-z_]+)@(?P<k>\d+)$")


def metric_table(
    metrics: dict[str, float], ci95: dict[str, float | None]
) -> tuple[list[int], list[tuple[str, list[str]]], list[tuple[str, str]]]:
    """``metric@k`` values as rows of metrics by columns of k (value ± interval), and the
    metrics without a cutoff (catalogue measures)."""
    by_name: dict[str, dict[int, str]] = {}
    plain: list[tuple[str, str]] = []
    for key, value in metrics.items():
        found = METRIC_KEY.match(key)
        ci = ci95.get(key)
        text = format_score(value) + (f" ±{ci:.3f}" if isinstance(ci, float) else "")
        if found:
            by_name.setdefault(found["name"], {})[int(found["k"])] = text
        else:
            plain.append((key, text))
    ks = sorted({k for row in by_name.values() for k in row})
    rows = [(name, [row.get(k, "—") for k in ks]) for name, row in by_name.items()]
    return ks, rows, plain


@dataclasses.dataclass(frozen=True)
class EvalView:
    """What the screen shows of an evaluation, computed in the worker (it grows with the
    number of boards): rank counts of the first held-out pin and the worst boards."""

    ks: list[int]
    rows: list[tuple[str, list[str]]]
    plain: list[tuple[str, str]]
    rank_counts: list[int]
    """Boards whose first held-out pin came at rank 1 .. deepest k, then beyond it."""
    metric: str | None
    worst: list[tuple[str, int | None, float]]
    """``(board, first hit or None, metric)`` of the worst boards, worst first."""
    boards: int


def eval_view(evaluation: Any) -> EvalView:
    """The screen's tables and plots of ``evaluation`` (an ``evaluate.Evaluation``)."""
    import polars as pl

    ks, rows, plain = metric_table(evaluation.metrics, evaluation.ci95)
    frame = evaluation.per_board
    deepest = max(evaluation.ks) if evaluation.ks else 0
    counts = [0] * (deepest + 1) if deepest else []
    if deepest and frame.height:
        hits = frame["first_hit"].fill_null(deepest + 1).clip(1, deepest + 1)
        for rank, n in hits.value_counts().iter_rows():
            counts[int(rank) - 1] += int(n)
    metric = next(
        (f"{m}@{k}" for m in ("ndcg", "hr", "recall") for k in reversed(ks)
         if f"{m}@{k}" in frame.columns),
        None,
    )  # fmt: skip
    worst: list[tuple[str, int | None, float]] = []
    if metric is not None and frame.height:
        ordered = frame.with_columns(pl.col("first_hit").fill_null(10**9).alias("_hit")).sort(
            [metric, "_hit"], descending=[False, True]
        )
        worst = [
            (str(r["board"]), r["first_hit"], float(r[metric]))
            for r in ordered.head(WORST).iter_rows(named=True)
        ]
    return EvalView(ks, rows, plain, counts, metric, worst, frame.height)


class EvalScreen(WorkbenchScreen):
    """Left: the evaluation form; right: metrics, rank distribution and the worst boards."""

    MODE = "eval"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+r", "run", "Evaluate", id="eval.run"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, list[Any]] = {}
        self.evaluation: Any = None

    def compose_body(self) -> ComposeResult:
        with Horizontal(classes="body"):
            with VerticalScroll(id="eval-form", classes="panel") as form:
                form.border_title = "Evaluate"
                for name, label in (
                    ("algo", "algorithm"),
                    ("protocol", "protocol"),
                    ("split", "split"),
                ):
                    with Horizontal(classes="param-row"):
                        yield Label(label, classes="param-name")
                        yield Select([], prompt="…", id=f"eval-{name}", compact=True)
                for name, label in (
                    ("negatives", "negatives"),
                    ("ks", "k list"),
                    ("seed", "seed"),
                    ("repeats", "repeats"),
                    ("boards", "boards"),
                ):
                    with Horizontal(classes="param-row"):
                        yield Label(label, classes="param-name")
                        yield Input(id=f"eval-{name}", compact=True)
                yield Label(classes="field-error", id="eval-error")
                yield Button("Evaluate  (ctrl+r)", variant="primary", id="eval-go")
                yield ParamForm(id="eval-params")
            with TabbedContent(id="eval-results"):
                with TabPane("Metrics", id="eval-tab-metrics"):
                    yield RowsTable(id="eval-metrics", classes="panel")
                    yield PlotextPlot(id="eval-plot")
                with TabPane("Ranks", id="eval-tab-ranks"):
                    yield PlotextPlot(id="eval-ranks")
                with TabPane("Worst boards", id="eval-tab-worst"):
                    # The worst boards on top at full width; under them a board's held-out
                    # pins, the top 10 and its pins (a grid: side by side when wide, in two
                    # rows that scroll when narrow).
                    with VerticalScroll(id="eval-worst-row"):
                        yield RowsTable(id="eval-worst", classes="panel")
                        with Container(id="eval-drill"):
                            yield RowsTable(id="eval-held", classes="panel")
                            yield RowsTable(id="eval-top", classes="panel")
                            yield RowsTable(id="eval-board-pins", classes="panel")

    def on_mount(self) -> None:
        self.query_one("#eval-form").can_focus = False
        self.query_one("#eval-worst", RowsTable).set_columns("Board", "First hit", "Metric")
        self.query_one("#eval-held", RowsTable).set_columns("Pin")
        self.query_one("#eval-top", RowsTable).set_columns("Rank", "Pin", "Score", "Held")
        self.query_one("#eval-board-pins", RowsTable).set_columns("Pin", "Title")
        for selector, title in TITLES.items():
            self.query_one(selector, RowsTable).border_title = title
        self.watch(self.app, "dataset", self._dataset_changed)

        def load(_ctx: JobContext) -> dict[str, Any]:
            from workbench.services import evaluate, recommend

            defaults = {
                f.name: f.default
                for f in dataclasses.fields(evaluate.EvalRequest)
                if f.default is not dataclasses.MISSING
            }
            return {
                "fields": recommend.algorithms(),
                "protocols": evaluate.PROTOCOLS,
                "splits": evaluate.SPLITS,
                "defaults": defaults,
            }

        self.run_job(
            Job("eval.choices", "Reading algorithms", load, self._loaded, show_progress=False)
        )

    def _loaded(self, found: dict[str, Any]) -> None:
        self.fields = found["fields"]
        defaults = found["defaults"]
        algo = self.query_one("#eval-algo", Select)
        algo.set_options([(n, n) for n in self.fields])
        algo.value = "pixie" if "pixie" in self.fields else next(iter(self.fields))
        for name, options in (("protocol", found["protocols"]), ("split", found["splits"])):
            select = self.query_one(f"#eval-{name}", Select)
            select.set_options([(o, o) for o in options])
            select.value = defaults.get(name, options[0])
        self.query_one("#eval-negatives", Input).value = str(defaults.get("negatives", ""))
        self.query_one("#eval-ks", Input).value = ",".join(map(str, defaults.get("ks", ())))
        self.query_one("#eval-seed", Input).value = str(defaults.get("seed", 0))
        self.query_one("#eval-repeats", Input).value = str(defaults.get("repeats", 1))
        boards = self.query_one("#eval-boards", Input)
        boards.placeholder = "all"
        boards.value = "" if defaults.get("boards") is None else str(defaults["boards"])

    def _dataset_changed(self, _dataset: str | None) -> None:
        """Results belong to the dataset they were computed on: a switch clears them (tables,
        titles and plots; the form's settings stay)."""
        self.evaluation = None
        for table in self.query(RowsTable):
            table.set_rows([])
        self.query_one("#eval-worst", RowsTable).set_columns("Board", "First hit", "Metric")
        for selector, title in TITLES.items():
            self.query_one(selector, RowsTable).border_title = title
        for plot in self.query(PlotextPlot):
            plot.plt.clear_figure()
            plot.refresh()
        self.query_one("#eval-worst-row").scroll_home(animate=False)
        self.query_one("#eval-error", Label).update("")

    @on(Select.Changed, "#eval-algo")
    async def _algo_changed(self, event: Select.Changed) -> None:
        if isinstance(event.value, str) and event.value in self.fields:
            await self.query_one(ParamForm).show(self.fields[event.value])

    # -- run ----------------------------------------------------------------------------------

    def _read_form(self) -> tuple[list[str], dict[str, Any]]:
        """The form's problems (one line each) and its values."""
        from workbench.services.parsing import ParseError, parse_int_list

        problems = self.query_one(ParamForm).errors()
        values: dict[str, Any] = {}
        for name in ("negatives", "seed", "repeats"):
            text = self.query_one(f"#eval-{name}", Input).value.strip()
            minimum = 1 if name != "seed" else 0
            if not text.isdigit() or int(text) < minimum:
                problems.append(f"{name}: expected a whole number >= {minimum}")
            else:
                values[name] = int(text)
        boards = self.query_one("#eval-boards", Input).value.strip()
        if boards and (not boards.isdigit() or int(boards) < 1):
            problems.append("boards: expected a whole number >= 1, or blank for all")
        elif boards:
            values["boards"] = int(boards)
        try:
            values["ks"] = parse_int_list(self.query_one("#eval-ks", Input).value, "k list")
        except ParseError as exc:
            problems.append(str(exc))
        for name in ("algo", "protocol", "split"):
            value = self.query_one(f"#eval-{name}", Select).value
            if isinstance(value, str):
                values[name] = value
            elif "the algorithms are still loading" not in problems:
                problems.append("the algorithms are still loading")
        if self.workbench.dataset is None:
            problems.append("no dataset in use: choose one on the Datasets screen")
        return problems, values

    @on(ParamForm.Changed)
    @on(Input.Changed)
    def _recheck(self) -> None:
        """A shown error goes as soon as the value is fixed (and changes as it changes)."""
        error = self.query_one("#eval-error", Label)
        if str(error.render()):
            error.update("\n".join(self._read_form()[0]))

    @on(Button.Pressed, "#eval-go")
    def action_run(self) -> None:
        error = self.query_one("#eval-error", Label)
        dataset, store = self.workbench.dataset, self.workbench.store
        problems, values = self._read_form()
        if problems:
            error.update("\n".join(problems))
            return
        error.update("")
        params = self.query_one(ParamForm).values()
        algo, protocol, split = values.pop("algo"), values.pop("protocol"), values.pop("split")

        def run(ctx: JobContext) -> Any:
            from workbench.services import evaluate

            request = evaluate.EvalRequest(
                dataset=str(dataset),
                algorithm=algo,
                params=params,
                protocol=protocol,
                split=split,
                **values,
            )
            evaluation = evaluate.run(store, request, ctx.reporter)
            return evaluation, eval_view(evaluation)

        self.run_job(
            Job(
                "eval",
                f"Evaluating {algo}",
                run,
                self.show,
                on_error=lambda e: error.update(str(e)),
            )
        )

    # -- results ------------------------------------------------------------------------------

    def show(self, found: tuple[Any, EvalView]) -> None:
        evaluation, view = found
        self.evaluation = evaluation
        table = self.query_one("#eval-metrics", RowsTable)
        table.run_id = evaluation.run_id
        table.set_columns("Metric", *(f"@{k}" for k in view.ks))
        table.set_rows(
            [(name, [name, *cells]) for name, cells in view.rows]
            + [(name, [name, text]) for name, text in view.plain]
        )
        table.border_title = (
            f"Run {evaluation.run_id}: {evaluation.algorithm}, {evaluation.protocol} on "
            f"{evaluation.split} · {evaluation.boards:,} boards · {evaluation.elapsed_s:.1f} s"
        )
        self._plot_metrics(evaluation, view.ks)
        self._plot_ranks(view)
        self._list_worst(view)

    def _plot_metrics(self, evaluation: Any, ks: list[int]) -> None:
        plt = self.query_one("#eval-plot", PlotextPlot).plt
        plt.clear_figure()
        plt.title("metric@k")
        plt.xlabel("k")
        for name in ("hr", "ndcg", "recall", "mrr"):
            ys = [evaluation.metrics.get(f"{name}@{k}") for k in ks]
            if ks and all(isinstance(y, float) for y in ys):
                plt.plot(ks, ys, label=name, marker="dot")
        if ks:
            plt.xticks(ks, [str(k) for k in ks])
        self.query_one("#eval-plot", PlotextPlot).refresh()

    def _plot_ranks(self, view: EvalView) -> None:
        """How many boards had their first held-out pin at each rank (and how many missed)."""
        widget = self.query_one("#eval-ranks", PlotextPlot)
        plt = widget.plt
        plt.clear_figure()
        counts = view.rank_counts
        if counts:
            deepest = len(counts) - 1
            labels = [str(r) for r in range(1, deepest + 1)] + [f">{deepest}"]
            plt.bar(list(range(len(counts))), counts, marker="hd")
            step = max(1, len(labels) // 8)
            ticks = [*range(0, len(labels) - 1, step), len(labels) - 1]
            plt.xticks(ticks, [labels[i] for i in ticks])
            yticks = integer_ticks(max(counts))
            plt.yticks([float(t) for t in yticks], [f"{t:,}" for t in yticks])
            plt.title(f"Rank of each board's first held-out pin ({sum(counts):,} boards)")
            plt.xlabel("rank")
            plt.ylabel("boards")
        widget.refresh()

    def _list_worst(self, view: EvalView) -> None:
        table = self.query_one("#eval-worst", RowsTable)
        table.set_columns("Board", "First hit", view.metric or "Metric")
        table.set_rows(
            [
                (
                    board,
                    [board, Text("missed" if hit is None else str(hit), justify="right"), value],
                )
                for board, hit, value in view.worst
            ]
        )
        table.border_title = (
            f"Worst {len(view.worst):,} of {view.boards:,} boards by {view.metric}"
            if view.metric
            else "Worst boards"
        )

    @on(DataTable.RowSelected, "#eval-worst")
    def _drill(self, event: DataTable.RowSelected) -> None:
        """A board of the evaluation: its pins, its held-out pins, the algorithm's top 10."""
        if self.evaluation is None:
            return
        board, run_id = str(event.row_key.value), self.evaluation.run_id
        dataset, store = self.evaluation.dataset, self.workbench.store

        def run(_ctx: JobContext) -> tuple[Any, Any]:
            from workbench.services import evaluate, explore

            detail = evaluate.board_detail(store, run_id, board, top=10)
            return detail, explore.board_page(store, dataset, board)

        def done(found: tuple[Any, Any]) -> None:
            detail, pins = found
            held = self.query_one("#eval-held", RowsTable)
            held.set_rows([(p, [p]) for p in detail.held_out])
            held.border_title = f"Held ({len(detail.held_out)})"
            top = self.query_one("#eval-top", RowsTable)
            top.set_rows(
                [
                    (
                        str(r["pin"]),
                        [r["rank"], str(r["pin"]), float(r["score"]), "✓" if r["held_out"] else ""],
                    )
                    for r in detail.ranking.iter_rows(named=True)
                ]
            )
            top.border_title = f"Top 10 for board {board}"
            board_pins = self.query_one("#eval-board-pins", RowsTable)
            board_pins.set_rows(
                [(str(p["pin"]), [str(p["pin"]), p.get("title") or ""]) for p in pins.pins]
            )
            board_pins.border_title = f"Pins of board {board} ({pins.size:,})"
            held.scroll_visible(animate=False)  # at 80x24 the drill-down is below the list

        self.run_job(Job("eval.drill", f"Opening board {board}", run, done, show_progress=False))
