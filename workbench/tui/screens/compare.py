"""The Compare screen: runs side by side via the compare service (as ``workbench compare``).

Ranking runs: overlap, Jaccard, RBO and Kendall tau (with the shared items it used) against the
first run, and the pins of every top-k aligned in one table with rank shifts coloured (its pins
have the pin actions; ``e`` explains a pin's rank in the first run).
Evaluation runs (refused unless they share dataset, split, split seed, protocol and negatives):
the metric table with intervals and deltas against the first run, and paired tests with the 95%
interval of each delta and p-values; ``p`` swaps that table for a plot of the paired per-board
differences of the main metric against the first run (hidden for rankings).

The runs field belongs to the dataset in use: a switch brings back what was typed for that
dataset (nothing is carried across) and clears the comparison on screen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.validation import Function, Integer, Number
from textual.widgets import Button, Input, Label, Select, Static

from workbench.engine.errors import WorkbenchError
from workbench.engine.progress import Reporter
from workbench.services.parsing import parse_run_ids
from workbench.tui.jobs import Job, JobContext
from workbench.tui.screens.base import WorkbenchScreen
from workbench.tui.widgets.board_diff_plot import BoardDiffPlot
from workbench.tui.widgets.explain_panel import CLOSE_EXPLAIN, ExplainHost, ExplainPanel
from workbench.tui.widgets.rows_table import RowsTable

if TYPE_CHECKING:
    from workbench.services.compare import (
        BoardDifferences,
        Comparison,
        EvaluationsComparison,
        RankingsComparison,
        RankShift,
    )

SIGNIFICANT = 0.05
MISSING = Text("·", style="dim", justify="right")


def _ids_ok(text: str) -> bool:
    try:
        return len(parse_run_ids(text.replace(";", " "))) >= 2
    except WorkbenchError:
        return False


def shift_cell(shift: RankShift, k: int) -> Text:
    """A run's rank of a pin, with its shift against the first run: ▲ up, ▼ down, = same."""
    rank = shift.rank_b
    shown = str(rank) if rank is not None else "—"
    change, moved = shift.change, shift.moved
    if change == "same":
        return Text(f"{shown} =", style="dim", justify="right")
    if change == "entered":
        return Text(f"{shown} new", style="bold green", justify="right")
    if change == "left":
        label = f"{shown} out" if rank is not None and rank > k else "— out"
        return Text(label, style="bold red", justify="right")
    arrow = "▲" if change == "up" else "▼"
    return Text(
        f"{shown} {arrow}{abs(moved or 0)}",
        style="green" if change == "up" else "red",
        justify="right",
    )


def run_labels(result: Comparison) -> dict[int, str]:
    """``#3 pixie`` (or the run's name) for each compared run."""
    return {r.run_id: r.label for r in result.runs}


def _number(value: Any, digits: int = 4) -> str:
    return f"{value:.{digits}f}" if isinstance(value, int | float) and value is not None else "—"


def _p(value: float | None) -> Text:
    if value is None:
        return Text("—", justify="right")
    style = "bold" if value < SIGNIFICANT else "dim"
    shown = "<0.0001" if value < 0.0001 else f"{value:.4f}"  # never "0.0000": p is never 0
    return Text(shown, style=style, justify="right")


class CompareScreen(ExplainHost, WorkbenchScreen):
    """Top: runs, cutoff and query; middle: the summary; bottom: the aligned or metric table
    (or, for evaluations, the per-board difference plot: ``p``)."""

    MODE = "compare"
    # ``-plot``: the per-board plot stands in for the paired tests (and, on a short screen, for
    # the summary too, so that the plot has rows enough to read).
    DEFAULT_CSS = """
    CompareScreen #compare-plot {
        display: none;
    }
    CompareScreen.-plot #compare-plot {
        display: block;
    }
    CompareScreen.-plot #compare-table {
        display: none;
    }
    CompareScreen.-plot.-short #compare-summary {
        display: none;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        *WorkbenchScreen.BINDINGS,  # Esc cancels a running job first
        CLOSE_EXPLAIN,
        Binding("ctrl+r", "compare", "Compare", id="compare.run"),
        Binding("slash", "focus_runs", "Runs", id="compare.runs"),
        Binding("p", "toggle_plot", "Board plot", id="compare.plot"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.result: Comparison | None = None
        self.titles: dict[str, str] = {}
        self.diffs: list[BoardDifferences] = []

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="compare-form"):
            with Vertical(id="compare-runs-field"):
                yield Label("Runs (first = baseline)")
                yield Input(
                    placeholder="e.g. 3 5 8  (mark runs on Runs, press m)",
                    id="compare-runs",
                    validators=[Function(_ids_ok, "two or more run ids")],
                    validate_on=["changed", "submitted"],
                )
            with Vertical(classes="compare-small"):
                yield Label("Cutoff k")
                yield Input("10", id="compare-k", type="integer", validators=[Integer(minimum=1)])
            with Vertical(classes="compare-small"):
                yield Label("RBO p")
                yield Input(
                    "0.9",
                    id="compare-p",
                    type="number",
                    validators=[Number(minimum=0.01, maximum=0.999)],
                )
            with Vertical(id="compare-query-field"):
                yield Label("Query")
                yield Select([], prompt="first shared", id="compare-query")
            yield Button("Compare", variant="primary", id="compare-go")
        yield Label(classes="field-error", id="compare-error")
        with Vertical(classes="body"):
            summary = RowsTable(id="compare-summary", classes="panel")
            summary.border_title = "Summary"
            yield summary
            table = RowsTable(id="compare-table", classes="panel")
            table.border_title = "Aligned by pin"
            yield table
            plot = BoardDiffPlot(id="compare-plot", classes="panel")
            plot.border_title = "Per-board differences"
            yield plot
            yield Static(id="compare-notes")

    def on_mount(self) -> None:
        # The dataset first: runs sent before the screen was first shown win over the recalled.
        self.watch(self.app, "dataset", self._dataset_in_use)
        self.watch(self.app, "compare_request", self._requested)

    def _dataset_in_use(self, dataset: str | None) -> None:
        """Runs belong to a dataset: a switch brings back the runs field typed for the new one,
        clears the comparison and closes its explanation (a pin of an old run)."""
        ExplainPanel.close_on(self)
        runs = self.query_one("#compare-runs", Input)
        with runs.prevent(Input.Changed):  # a recalled (or empty) field is not an error yet
            runs.value = self.workbench.recall("compare.runs", "")
        self.query_one("#compare-error", Label).update("")
        self.result, self.titles = None, {}
        self._set_diffs([])
        for name, title in (("summary", "Summary"), ("table", "Aligned by pin")):
            table = self.query_one(f"#compare-{name}", RowsTable)
            table.run_id = None
            table.set_columns()
            table.border_title = title
        self.query_one("#compare-query", Select).clear()
        self.query_one("#compare-notes", Static).update("")

    @on(Input.Changed, "#compare-runs")
    def _remember_runs(self, event: Input.Changed) -> None:
        self.workbench.remember("compare.runs", event.value)

    def _requested(self, run_ids: tuple[int, ...]) -> None:
        if run_ids:
            self.query_one("#compare-runs", Input).value = " ".join(map(str, run_ids))
            self.query_one("#compare-query", Select).clear()
            self.action_compare()

    def action_focus_runs(self) -> None:
        self.query_one("#compare-runs", Input).focus()

    @on(Input.Changed)
    def _validate(self, event: Input.Changed) -> None:
        result = event.validation_result
        error = "; ".join(result.failure_descriptions) if result and not result.is_valid else ""
        self.query_one("#compare-error", Label).update(error)

    @on(Input.Submitted)
    @on(Button.Pressed, "#compare-go")
    def action_compare(self) -> None:
        inputs = [self.query_one(f"#compare-{n}", Input) for n in ("runs", "k", "p")]
        for field in inputs:
            result = field.validate(field.value)
            if result is not None and not result.is_valid:
                self.query_one("#compare-error", Label).update(
                    f"{field.id.removeprefix('compare-')}: {'; '.join(result.failure_descriptions)}"
                    if field.id
                    else ""
                )
                return
        run_ids = parse_run_ids(inputs[0].value.replace(";", " "))
        k, p = int(inputs[1].value), float(inputs[2].value)
        query_value = self.query_one("#compare-query", Select).value
        query = query_value if isinstance(query_value, str) else None
        store = self.workbench.store

        def run(
            ctx: JobContext,
        ) -> tuple[Comparison, dict[str, str], list[BoardDifferences]]:
            from workbench.services import compare as service

            request = service.CompareRequest(tuple(run_ids), k=k, p=p, query=query)
            result = service.run(store, request, Reporter(ctx.progress, lambda: ctx.cancelled))
            if isinstance(result, service.RankingsComparison):
                return result, service.titles(store, result), []
            return result, {}, service.board_differences(store, result)

        dataset = self.workbench.dataset

        def done(found: tuple[Comparison, dict[str, str], list[BoardDifferences]]) -> None:
            if self.workbench.dataset == dataset:  # else the dataset was switched meanwhile
                self._show(found)

        self.query_one("#compare-error", Label).update("")
        self.run_job(
            Job(
                "compare",
                f"Comparing runs {', '.join(map(str, run_ids))}",
                run,
                done,
                on_error=self._failed,
            )
        )

    def _failed(self, error: Exception) -> None:
        self.query_one("#compare-error", Label).update(str(error))

    def _show(self, found: tuple[Comparison, dict[str, str], list[BoardDifferences]]) -> None:
        result, self.titles, diffs = found
        self.result = result
        self._set_diffs(diffs)
        labels = run_labels(result)
        if result.kind == "rankings":
            self._show_rankings(result, labels)  # type: ignore[arg-type]
        else:
            self._show_evaluations(result, labels)  # type: ignore[arg-type]
        self.query_one("#compare-table", RowsTable).focus()

    def _set_diffs(self, diffs: list[BoardDifferences]) -> None:
        """Draw the per-board differences (none: rankings, or no comparison) and show the table."""
        self.diffs = diffs
        plot = self.query_one("#compare-plot", BoardDiffPlot)
        plot.show(diffs)
        if diffs:
            plot.border_title = (
                f"Per-board Δ {diffs[0].metric} against {diffs[0].baseline.label} "
                "(p: back to the tests)"
            )
        self.remove_class("-plot")
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "toggle_plot":
            return bool(self.diffs)  # evaluations only: rankings have no per-board values
        return super().check_action(action, parameters)

    def action_toggle_plot(self) -> None:
        """Swap the paired-tests table for the per-board difference plot, and back."""
        self.toggle_class("-plot")
        shown = "#compare-plot" if self.has_class("-plot") else "#compare-table"
        self.query_one(shown).focus()

    def _show_rankings(self, result: RankingsComparison, labels: dict[int, str]) -> None:
        k = result.k
        summary = self.query_one("#compare-summary", RowsTable)
        summary.border_title = f"Against {labels[result.runs[0].run_id]} at k={k}"
        summary.set_columns(
            "Run", "Queries", f"Overlap@{k}", "Jaccard", f"RBO p={result.p}", "Kendall τ (items)"
        )
        summary.set_rows(
            [
                (
                    str(c.run_b),
                    [
                        labels[c.run_b],
                        Text(str(c.queries), justify="right"),
                        Text(f"{c.overlap:.1f}/{k}", justify="right"),
                        Text(_number(c.jaccard, 3), justify="right"),
                        Text(_number(c.rbo, 3), justify="right"),
                        Text(
                            f"{_number(c.kendall_tau, 3)} ({c.kendall_items})"
                            if c.kendall_tau is not None
                            else "— (<2 shared)",
                            justify="right",
                        ),
                    ],
                )
                for c in result.comparisons
            ]
        )
        queries = [q.query for q in result.comparisons[0].per_query]
        select = self.query_one("#compare-query", Select)
        chosen = (
            select.value
            if isinstance(select.value, str) and select.value in queries
            else queries[0]
        )
        with select.prevent(Select.Changed):
            select.set_options([(q, q) for q in queries])
            select.value = chosen
        self._show_aligned(result, labels, chosen)

    def _show_aligned(self, result: RankingsComparison, labels: dict[int, str], query: str) -> None:
        k = result.k
        base = result.runs[0].run_id
        rows: dict[str, dict[Any, Any]] = {}
        for comparison in result.comparisons:
            per = next(q for q in comparison.per_query if q.query == query)
            for shift in per.shifts:
                row = rows.setdefault(shift.pin, {"base": shift.rank_a})
                row[comparison.run_b] = shift
        others = [c.run_b for c in result.comparisons]
        table = self.query_one("#compare-table", RowsTable)
        table.run_id = base  # ``e`` explains a pin's rank in the baseline run
        table.border_title = f"Top {k} of query {query}, aligned by pin"
        table.set_columns("Pin", "Title", labels[base], *(labels[o] for o in others))
        order = sorted(
            rows,
            key=lambda pin: (
                rows[pin]["base"] is None or rows[pin]["base"] > k,
                rows[pin]["base"] or 10**9,
                pin,
            ),
        )
        table.set_rows(
            [
                (
                    pin,
                    [
                        pin,
                        self.titles.get(pin) or "",
                        Text(str(rows[pin]["base"] or "—"), justify="right"),
                        *(
                            shift_cell(rows[pin][o], k) if o in rows[pin] else MISSING
                            for o in others
                        ),
                    ],
                )
                for pin in order
            ]
        )
        self.query_one("#compare-notes", Static).update(
            Text(
                "▲ up / ▼ down: places moved against the baseline · new: entered the top k · "
                "out: left it" + "".join(f"\nnote: {n}" for n in result.notes)
            )
        )

    @on(Select.Changed, "#compare-query")
    def _query_changed(self, event: Select.Changed) -> None:
        if self.result and self.result.kind == "rankings" and isinstance(event.value, str):
            self._show_aligned(self.result, run_labels(self.result), event.value)  # type: ignore[arg-type]

    def _show_evaluations(self, result: EvaluationsComparison, labels: dict[int, str]) -> None:
        metrics = list(result.table[0].metrics)
        summary = self.query_one("#compare-summary", RowsTable)
        summary.border_title = f"Metrics at k={result.k} (± 95% interval), Δ against the first run"
        summary.set_columns("Run", *metrics)

        def cell(row: Any, m: str, i: int) -> Text:
            half = row.ci95.get(m)
            text = _number(row.metrics[m]) + (f" ±{half:.3f}" if half is not None else "")
            if i and row.delta[m]:
                text += f" ({row.delta[m]:+.4f})"
            return Text(text, justify="right")

        summary.set_rows(
            [
                (str(row.run_id), [labels[row.run_id], *(cell(row, m, i) for m in metrics)])
                for i, row in enumerate(result.table)
            ]
        )
        table = self.query_one("#compare-table", RowsTable)
        table.run_id = None
        table.border_title = "Paired tests over boards (bold: p < 0.05)"
        table.set_columns(
            "Metric",
            "Run",
            "Boards",
            "Δ mean",
            "Δ 95% CI",
            "p (t)",
            "p (t, Holm)",
            "p (perm.)",
            "p (perm., Holm)",
        )
        table.set_rows(
            [
                (
                    f"{metric}:{t.run_b}",
                    [
                        metric,
                        labels[t.run_b or 0],
                        Text(str(t.n), justify="right"),
                        Text(f"{t.delta:+.4f}", justify="right"),
                        Text(
                            f"[{t.ci95[0]:+.4f}, {t.ci95[1]:+.4f}]" if t.ci95 else "—",
                            justify="right",
                        ),
                        _p(t.p_t),
                        _p(t.p_t_holm),
                        _p(t.p_permutation),
                        _p(t.p_permutation_holm),
                    ],
                )
                for metric, tests in result.tests.items()
                for t in tests
            ]
        )
        self.query_one("#compare-notes", Static).update(
            Text("\n".join(f"note: {n}" for n in result.notes))
        )
