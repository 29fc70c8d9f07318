"""PNG plots for exports/: a sweep's metric against each parameter, metric@k curves of evaluation
runs, and a rank-against-rank scatter of two rankings. Matplotlib's object API only (no pyplot
state), so plots can be drawn from worker threads."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from workbench.engine.export import write_atomic


def _save(fig: Figure, path: Path) -> Path:
    fig.tight_layout()
    return write_atomic(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110), force=True)


def _as_number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def sweep_plot(
    trials: Sequence[tuple[dict[str, Any], float]],
    metric: str,
    best: int,
    path: Path,
    title: str = "",
) -> Path:
    """The metric of every trial against each swept parameter (one panel each), best marked."""
    keys = (
        sorted(
            {
                k
                for params, _ in trials
                for k in params
                if len({str(p.get(k)) for p, _ in trials}) > 1
            }
        )
        or sorted({k for params, _ in trials for k in params})[:1]
    )
    fig = Figure(figsize=(4.2 * max(len(keys), 1), 3.6))
    for i, key in enumerate(keys or [""]):
        ax = fig.add_subplot(1, max(len(keys), 1), i + 1)
        raw = [params.get(key) for params, _ in trials]
        values = [v for _, v in trials]
        numbers = [_as_number(v) for v in raw]
        if all(n is not None for n in numbers):
            xs: list[Any] = numbers
            if min(numbers) > 0 and max(numbers) / min(numbers) >= 100:  # type: ignore[type-var,operator]
                ax.set_xscale("log")
        else:
            labels = sorted({str(v) for v in raw})
            xs = [labels.index(str(v)) for v in raw]
            ax.set_xticks(range(len(labels)), labels, rotation=30)
        ax.scatter(xs, values, s=18, color="tab:blue", alpha=0.7, label="trials")
        ax.scatter(
            [xs[best]], [values[best]], s=120, marker="*", color="tab:red", zorder=3, label="best"
        )
        ax.set_xlabel(key or "trial")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        if i == 0:
            ax.legend(loc="best", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def metric_curves(
    runs: Sequence[tuple[str, dict[str, float]]],
    path: Path,
    families: Sequence[str] = ("hr", "ndcg", "mrr", "recall"),
) -> Path:
    """metric@k against k, one panel per metric family, one line per run (label, metrics)."""
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
                ax.plot(ks, vs, marker="o", label=label)
        ax.set_xlabel("k")
        ax.set_ylabel(f"{family}@k")
        ax.grid(alpha=0.3)
        if i == 0:
            ax.legend(loc="best", fontsize=8)
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
