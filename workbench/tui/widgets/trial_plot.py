"""A sweep's metric against the swept parameter with the most values, one line per value of a
second swept parameter, drawn with plotext; the best trial is starred."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from textual_plotext import PlotextPlot

COLORS = ("blue", "orange", "cyan", "magenta", "yellow", "red", "white")


class TrialPlot(PlotextPlot):
    """Metric (y) against a parameter (x); a line per value of a second parameter. The title
    is the widget's border title (give it a border, e.g. the ``panel`` class)."""

    def show(
        self, trials: Sequence[tuple[dict[str, Any], float]], swept: Sequence[str], metric: str
    ) -> None:
        """``trials``: each trial's (params, metric value; NaN when not measured)."""
        plt = self.plt
        plt.clear_figure()
        finite = [(p, v) for p, v in trials if math.isfinite(v)]
        if not finite or not swept:
            self.border_title = "No trials yet"
            self.refresh()
            return
        from workbench.services.sweep import sweep_axes, sweep_series  # loads the engine

        x, line = sweep_axes(finite, swept)
        labels, numeric, series = sweep_series(finite, x, line)
        # The title goes on the panel's border: at 80x24 every row of the plot counts.
        self.border_title = f"{metric} against {x}" + (f", a line per {line}" if line else "")
        plt.xlabel(x)
        plt.ylabel(metric)
        for i, (name, points) in enumerate(series.items()):
            xs, ys = zip(*points, strict=True)
            color = COLORS[i % len(COLORS)]
            label = f"{line}={name}" if line else None
            if len(points) > 1:
                plt.plot(xs, ys, marker="braille", color=color, label=label)
                label = None
            plt.scatter(xs, ys, marker="●", color=color, label=label)
        best_params, best_value = max(finite, key=lambda t: t[1])
        bx = float(best_params.get(x)) if numeric else float(labels.index(str(best_params.get(x))))
        plt.scatter([bx], [best_value], marker="★", color="green")
        if not numeric:
            plt.xticks([float(i) for i in range(len(labels))], labels)
        self.refresh()
