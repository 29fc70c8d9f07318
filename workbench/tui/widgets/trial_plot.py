"""A sweep's metric for each trial, in the order the trials ran, drawn with plotext; the best
trial is marked."""

from __future__ import annotations

import math

from textual_plotext import PlotextPlot


class TrialPlot(PlotextPlot):
    """Points (joined by a line) of the metric per trial number; the best one in green."""

    def show(self, values: list[float], metric: str, best: int | None) -> None:
        """``values[i]`` is trial ``i + 1``'s metric (NaN: not measured); ``best`` an index."""
        plt = self.plt
        plt.clear_figure()
        plt.title(f"{metric} per trial" if values else "No trials yet")
        plt.xlabel("trial")
        points = [(i + 1, v) for i, v in enumerate(values) if math.isfinite(v)]
        if points:
            xs, ys = zip(*points, strict=True)
            if len(points) > 1:
                plt.plot(xs, ys, marker="braille", color="blue")
            plt.scatter(xs, ys, marker="●", color="blue")
            if best is not None and math.isfinite(values[best]):
                plt.scatter([best + 1], [values[best]], marker="★", color="green")
            step = max(1, -(-len(values) // 8))
            ticks = range(1, len(values) + 1, step)
            plt.xticks([float(t) for t in ticks], [str(t) for t in ticks])
            plt.xlim(0.5, len(values) + 0.9)  # room for the last tick's label
        self.refresh()
