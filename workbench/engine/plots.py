"""PNG plots: a sweep's metric against a parameter (a line per value of a second one), metric@k
curves of evaluation runs, a study's metrics with intervals, and a rank-against-rank scatter of
two rankings. Matplotlib's object API only (no pyplot state), so plots can be drawn from worker
threads."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from workbench.engine.atomic import atomic_write


def _save(fig: Figure, path: Path) -> Path:
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110), overwrite=True)


def _as_number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def sweep_axes(
    trials: Sequence[tuple[Mapping[str, Any], float]], swept: Sequence[str]
) -> tuple[str, str | None]:
    """The parameter to put on the x axis (the swept one with the most values) and the one to
    draw a line per value of (the next; None with one swept parameter)."""
    varied = [k for k in swept if len({str(p.get(k)) for p, _ in trials}) > 1] or list(swept)[:1]
    varied.sort(key=lambda k: -len({str(p.get(k)) for p, _ in trials}))
    return (varied[0] if varied else "", varied[1] if len(varied) > 1 else None)


def sweep_series(
    trials: Sequence[tuple[Mapping[str, Any], float]], x: str, line: str | None
) -> tuple[list[str], bool, dict[str, list[tuple[float, float]]]]:
    """The points of a sweep plot: x labels (sorted), whether x is numeric, and for each value of
    ``line`` (or one series ``""``) the (x position, best metric there) points, best over any
    other parameter. Shared by the PNG and the TUI's plot."""
    raw = [str(p.get(x)) for p, _ in trials]
    numeric = all(_as_number(v) is not None for v in raw)
    labels = sorted(set(raw), key=lambda v: (_as_number(v) or 0.0, v) if numeric else (0.0, v))
    series: dict[str, dict[float, float]] = {}
    for (params, value), xv in zip(trials, raw, strict=True):
        if not math.isfinite(value):
            continue
        pos = _as_number(xv) if numeric else float(labels.index(xv))
        assert pos is not None
        name = str(params.get(line)) if line else ""
        points = series.setdefault(name, {})
        points[pos] = max(points.get(pos, -math.inf), value)
    return labels, numeric, {k: sorted(v.items()) for k, v in sorted(series.items())}


def sweep_plot(
    trials: Sequence[tuple[Mapping[str, Any], float]],
    swept: Sequence[str],
    metric: str,
    path: Path,
    title: str = "",
) -> Path:
    """``metric`` against the swept parameter with the most values, one line per value of a
    second swept parameter (other parameters: the best value at each point), best trial
    starred, both axes labelled."""
    x, line = sweep_axes(trials, swept)
    labels, numeric, series = sweep_series(trials, x, line)
    fig = Figure(figsize=(6.0, 4.0))
    ax = fig.add_subplot(1, 1, 1)
    for name, points in series.items():
        if not points:
            continue
        xs, ys = zip(*points, strict=True)
        ax.plot(xs, ys, marker="o", label=f"{line}={name}" if line else metric)
    finite = [(p, v) for p, v in trials if math.isfinite(v)]
    if finite:
        bp, bv = max(finite, key=lambda t: t[1])
        bx = _as_number(bp.get(x)) if numeric else float(labels.index(str(bp.get(x))))
        ax.scatter([bx], [bv], s=140, marker="*", color="tab:red", zorder=3, label="best")
    if numeric:
        values = [_as_number(v) or 0.0 for v in labels]
        if values and min(values) > 0 and max(values) / min(values) >= 100:
            ax.set_xscale("log")
    else:
        ax.set_xticks(range(len(labels)), labels, rotation=30)
    ax.set_xlabel(x or "setting")
    ax.set_ylabel(f"{metric} (validation)")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    if title:
        ax.set_title(title, fontsize=9)
    return _save(fig, path)


def metric_curves(
    runs: Sequence[tuple[str, Mapping[str, float]]],
    path: Path,
    families: Sequence[str] = ("hr", "ndcg", "mrr", "recall"),
    ci95: Mapping[str, float | None] | None = None,
) -> Path:
    """metric@k against k, one panel per metric family, one line per run (label, metrics); with
    ``ci95`` (one run) the 95% intervals as error bars."""
    present = [f for f in families if any(key.startswith(f"{f}@") for _, m in runs for key in m)]
    fig = Figure(figsize=(3.8 * max(len(present), 1), 3.4))
    for i, family in enumerate(present):
        ax = fig.add_subplot(1, len(present), i + 1)
        for label, metrics in runs:
            points = sorted(
                (int(key.split("@")[1]), float(v))
                for key, v in metrics.items()
                if key.startswith(f"{family}@")
            )
            if points:
                ks, vs = zip(*points, strict=True)
                err = [(ci95 or {}).get(f"{family}@{k}") or 0.0 for k in ks]
                ax.errorbar(
                    ks, vs, yerr=err if any(err) else None, marker="o", capsize=3, label=label
                )
        ax.set_xlabel("k")
        ax.set_ylabel(f"{family}@k")
        ax.grid(alpha=0.3)
        if i == 0:
            ax.legend(loc="best", fontsize=8)
    return _save(fig, path)


def interval_chart(
    rows: Sequence[tuple[str, float, float | None]], metric: str, path: Path, title: str = ""
) -> Path:
    """One horizontal bar per (label, value, 95% half-width), e.g. a study's algorithms on one
    data set."""
    fig = Figure(figsize=(6.0, 0.45 * max(len(rows), 1) + 1.2))
    ax = fig.add_subplot(1, 1, 1)
    labels = [r[0] for r in rows]
    ax.barh(
        range(len(rows)),
        [r[1] for r in rows],
        xerr=[r[2] or 0.0 for r in rows],
        capsize=3,
        color="tab:blue",
        alpha=0.75,
    )
    ax.set_yticks(range(len(rows)), labels)
    ax.invert_yaxis()
    ax.set_xlabel(f"{metric} (bars: 95% interval)")
    ax.grid(alpha=0.3, axis="x")
    if title:
        ax.set_title(title, fontsize=9)
    return _save(fig, path)


def board_differences(
    diffs: Sequence[tuple[str, Sequence[float]]], metric: str, path: Path, title: str = ""
) -> Path:
    """Per-board differences of ``metric`` against a baseline, one histogram per run (label,
    values), with the mean marked."""
    fig = Figure(figsize=(5.6, 3.6))
    ax = fig.add_subplot(1, 1, 1)
    for label, values in diffs:
        finite = [v for v in values if math.isfinite(v)]
        if finite:
            line = ax.hist(finite, bins=41, alpha=0.5, label=label)
            color = line[2][0].get_facecolor() if len(line[2]) else None
            ax.axvline(sum(finite) / len(finite), color=color, linestyle="--", linewidth=1)
    ax.axvline(0.0, color="grey", linewidth=0.8)
    ax.set_xlabel(f"per-board difference in {metric} (run - baseline)")
    ax.set_ylabel("boards")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    if title:
        ax.set_title(title, fontsize=9)
    return _save(fig, path)


def rank_scatter(
    label_a: str, label_b: str, shared: Sequence[tuple[str, int, int]], path: Path
) -> Path:
    """Rank in ranking a against rank in ranking b of the pins both rank (pin, rank_a, rank_b)."""
    fig = Figure(figsize=(4.6, 4.4))
    ax = fig.add_subplot(1, 1, 1)
    if shared:
        _, ra, rb = zip(*shared, strict=True)
        ax.scatter(ra, rb, s=14, alpha=0.7)
        top = max(max(ra), max(rb))
        ax.plot([1, top], [1, top], color="grey", linewidth=0.8, linestyle="--")
    ax.set_xlabel(f"rank in {label_a}")
    ax.set_ylabel(f"rank in {label_b}")
    ax.set_title(f"{len(shared)} shared pins", fontsize=9)
    ax.grid(alpha=0.3)
    return _save(fig, path)
