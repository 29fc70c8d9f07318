"""A degree histogram drawn in the terminal with plotext (pins per board, boards per pin).

Degrees follow a power law, so bins double in width (``1``, ``2-3``, ``4-7``, ...): linear bins
would put nearly every node in the first bar. The explore service counts the bins in the
database; raw degree lists (small graphs, tests) are binned the same way here. Counts are whole
numbers, so the y axis has whole-number ticks only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from textual_plotext import PlotextPlot

Y_TICKS = 4


def log_bin(degree: int) -> int:
    """The bin of ``degree``: 0 for 0, 1 for 1, ``b`` for ``2**(b-1) .. 2**b - 1``."""
    return max(0, int(degree)).bit_length()


def bin_label(b: int) -> str:
    if b <= 1:
        return str(b)
    lo, hi = 2 ** (b - 1), 2**b - 1
    return f"{lo}-{hi}"


def histogram(values: Sequence[int]) -> tuple[list[str], list[int]]:
    """Counts of ``values`` in doubling bins from the smallest to the largest one present."""
    if not values:
        return [], []
    counts = Counter(log_bin(v) for v in values)
    bins = range(min(counts), max(counts) + 1)
    return [bin_label(b) for b in bins], [counts.get(b, 0) for b in bins]


def integer_ticks(top: int, n: int = Y_TICKS) -> list[int]:
    """At most ``n + 1`` whole-number ticks from 0 covering ``top``, on a 1-2-5 step."""
    if top <= 0:
        return [0, 1]
    raw = max(1, -(-top // n))
    magnitude = 10 ** (len(str(raw)) - 1)
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    return list(range(0, top + step, step))


class DegreeHistogram(PlotextPlot):
    """Bars of how many pins (or boards) have each degree, in doubling bins."""

    def show(self, values: Sequence[int] | Any, title: str, xlabel: str) -> None:
        """Draw ``values``: raw degrees, or bins already counted (an object with ``labels``
        and ``counts``, like the explore service's ``DegreeHistogram``)."""
        if hasattr(values, "labels") and hasattr(values, "counts"):
            labels, counts = list(values.labels), [int(c) for c in values.counts]
        else:
            labels, counts = histogram(list(values))
        self.labels, self.counts = labels, counts
        plt = self.plt
        plt.clear_figure()
        plt.title(title)
        plt.xlabel(xlabel)
        plt.ylabel("count")
        if counts:
            plt.bar(list(range(len(counts))), counts, width=0.8, marker="hd")
            step = max(1, -(-len(labels) // 6))
            ticks = list(range(0, len(labels), step))
            plt.xticks([float(t) for t in ticks], [labels[i] for i in ticks])
            yticks = integer_ticks(max(counts))
            plt.yticks([float(t) for t in yticks], [f"{t:,}" for t in yticks])
        self.refresh()
