"""A degree histogram drawn in the terminal with plotext (pins per board, boards per pin)."""

from __future__ import annotations

from collections import Counter

from textual_plotext import PlotextPlot

BINS = 24


def histogram(values: list[int], bins: int = BINS) -> tuple[list[str], list[int]]:
    """Counts of ``values`` in up to ``bins`` equal-width integer bins (labels like ``4-7``)."""
    if not values:
        return [], []
    lo, hi = min(values), max(values)
    width = max(1, -(-(hi - lo + 1) // bins))
    counts = Counter((v - lo) // width for v in values)
    n = (hi - lo) // width + 1
    labels = [
        str(lo + i * width) if width == 1 else f"{lo + i * width}-{lo + (i + 1) * width - 1}"
        for i in range(n)
    ]
    return labels, [counts.get(i, 0) for i in range(n)]


class DegreeHistogram(PlotextPlot):
    """Bars of how many pins (or boards) have each degree, in up to 24 bins."""

    def show(self, values: list[int], title: str, xlabel: str) -> None:
        labels, counts = histogram(values)
        plt = self.plt
        plt.clear_figure()
        plt.title(title)
        plt.xlabel(xlabel)
        plt.ylabel("count")
        if counts:
            plt.bar(list(range(len(counts))), counts, width=0.8, marker="hd")
            step = max(1, len(labels) // 6)
            ticks = list(range(0, len(labels), step))
            plt.xticks([float(t) for t in ticks], [labels[i] for i in ticks])
        self.refresh()
