"""Paired per-board differences of evaluation runs against the baseline, drawn with plotext: a
point per board both runs scored, boards ordered by their difference (smallest first), one
series per compared run, and the zero line (no difference) across the plot."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from textual_plotext import PlotextPlot

if TYPE_CHECKING:
    from workbench.services.compare import BoardDifferences

COLORS = ("blue", "orange", "cyan", "magenta", "yellow", "red", "white")


class BoardDiffPlot(PlotextPlot):
    """Difference (y) of each board, boards sorted by it (x); a series per compared run."""

    DEFAULT_CSS = """
    BoardDiffPlot {
        height: 1fr;
    }
    """

    can_focus = True

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.points: dict[int, int] = {}  # run id -> points drawn

    def show(self, diffs: Sequence[BoardDifferences]) -> None:
        """Draw ``diffs`` (one per compared run; empty clears the plot)."""
        plt = self.plt
        plt.clear_figure()
        self.points = {}
        if not diffs:
            self.refresh()
            return
        metric = diffs[0].metric  # the panel's title names the metric and the baseline
        plt.xlabel("boards, sorted by difference")
        plt.ylabel(f"Δ {metric} (run − baseline)")
        longest = max(len(d.differences) for d in diffs)
        for i, d in enumerate(diffs):
            if not d.differences:
                continue
            xs = list(range(1, len(d.differences) + 1))
            plt.scatter(
                xs,
                list(d.differences),
                marker="●" if longest <= 60 else "dot",
                color=COLORS[i % len(COLORS)],
                label=f"{d.run.label} (n={len(xs)})",
            )
            self.points[d.run.run_id] = len(xs)
        plt.hline(0.0, "gray")
        step = max(1, -(-longest // 6))
        ticks = sorted({1, *range(step, longest + 1, step), longest})
        plt.xticks([float(t) for t in ticks], [str(t) for t in ticks])
        self.refresh()
