"""The eval and sweep commands: offline evaluation of one setting, and parameter sweeps on the
validation split."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from workbench.commands._common import (
    Progress,
    db_option,
    emit_json,
    get_store,
    json_option,
    parse_key_values,
    show_progress,
)
from workbench.engine import plots
from workbench.engine.evaluate import (
    DEFAULT_KS,
    PROTOCOLS,
    TIE_RULE,
    EvalSettings,
    evaluate,
)
from workbench.engine.executors import EXECUTORS, make_executor
from workbench.engine.export import DEFAULT_DIR
from workbench.engine.metrics import ACCURACY, CATALOGUE, PER_BOARD_BEYOND
from workbench.engine.splits import HOLDOUT_METHODS, SPLITS, SplitSpec
from workbench.engine.sweep import new_sweep_id, parse_grid, run_sweep

F = TypeVar("F", bound=Callable[..., Any])


def _ks(text: str) -> tuple[int, ...]:
    try:
        ks = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise click.UsageError(f"--k {text!r}: expected integers such as 1,5,10,20") from None
    if not ks or min(ks) < 1:
        raise click.UsageError(f"--k {text!r}: expected positive integers")
    return ks


def protocol_options(f: F) -> F:
    """The options that say how to evaluate (shared by eval and sweep)."""
    options = [
        click.option(
            "--protocol",
            type=click.Choice(PROTOCOLS),
            default="sampled",
            show_default=True,
            help="sampled: rank held-out pins among negatives; full: among all pins.",
        ),
        click.option(
            "--negatives",
            type=click.IntRange(min=1),
            default=99,
            show_default=True,
            help="Sampled negatives per board (when the dataset has none).",
        ),
        click.option(
            "--k",
            "ks",
            default=",".join(map(str, DEFAULT_KS)),
            show_default=True,
            help="Cutoffs, comma separated.",
        ),
        click.option(
            "--seed",
            type=int,
            default=0,
            show_default=True,
            help="Seed of split, negatives, tie-breaking and the algorithm.",
        ),
        click.option(
            "--boards",
            type=click.IntRange(min=1),
            default=None,
            help="Evaluate a seeded sample of this many boards.",
        ),
        click.option(
            "--holdout",
            type=click.IntRange(min=1),
            default=1,
            show_default=True,
            help="Pins held out per board (no test split / validation).",
        ),
        click.option(
            "--holdout-fraction",
            type=click.FloatRange(0, 1, max_open=True),
            default=0.0,
            help="Hold out this fraction of each board instead.",
        ),
        click.option(
            "--holdout-method",
            type=click.Choice(HOLDOUT_METHODS),
            default="random",
            show_default=True,
            help="random, or time: each board's latest pins.",
        ),
        click.option(
            "--diversity",
            default=None,
            metavar="ATTR",
            help="Pin attribute for intra-list diversity (default: topic).",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _settings(
    protocol: str,
    split: str,
    negatives: int,
    ks: str,
    seed: int,
    boards: int | None,
    holdout: int,
    holdout_fraction: float,
    holdout_method: str,
    diversity: str | None,
) -> EvalSettings:
    spec = SplitSpec(method=holdout_method, holdout=holdout, fraction=holdout_fraction)
    return EvalSettings(
        protocol=protocol,
        split=split,
        negatives=negatives,
        ks=_ks(ks),
        seed=seed,
        holdout=spec,
        boards=boards,
        diversity=diversity,
    )


def metrics_table(metrics: dict[str, Any], ks: list[int]) -> list[str]:
    """Lines of a metric x cutoff table."""
    names = [
        m
        for m in (*ACCURACY, *PER_BOARD_BEYOND, *CATALOGUE)
        if any(f"{m}@{k}" in metrics for k in ks)
    ]
    lines = [f"{'':<12}" + "".join(f"{'@' + str(k):>10}" for k in ks)]
    for m in names:
        cells = []
        for k in ks:
            v = metrics.get(f"{m}@{k}")
            cells.append(
                f"{v:>10.4f}"
                if isinstance(v, int | float) and m != "popularity"
                else f"{v:>10.1f}"
                if isinstance(v, int | float)
                else f"{'-':>10}"
            )
        lines.append(f"{m:<12}" + "".join(cells))
    return lines


@click.command("eval")
@click.option("--dataset", required=True)
@click.option("--algo", required=True, help="Algorithm (pixie, popular, itemknn, p3alpha, ...).")
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="KEY=VALUE",
    help="Algorithm parameter (repeatable).",
)
@click.option(
    "--split",
    type=click.Choice(SPLITS),
    default="test",
    show_default=True,
    help="test, or validation (carved from training; for tuning).",
)
@protocol_options
@click.option("--name", default=None, help="Name the stored run.")
@click.option("--plot", is_flag=True, help="Write a metric@k plot to exports/.")
@db_option
@json_option
def eval_command(
    dataset: str,
    algo: str,
    params: tuple[str, ...],
    split: str,
    protocol: str,
    negatives: int,
    ks: str,
    seed: int,
    boards: int | None,
    holdout: int,
    holdout_fraction: float,
    holdout_method: str,
    diversity: str | None,
    name: str | None,
    plot: bool,
    as_json: bool,
) -> None:
    """Evaluate ALGO on held-out pins of DATASET and store the run (kind 'eval')."""
    store = get_store()
    settings = _settings(
        protocol,
        split,
        negatives,
        ks,
        seed,
        boards,
        holdout,
        holdout_fraction,
        holdout_method,
        diversity,
    )
    bar = Progress(f"evaluating {algo}", enabled=show_progress(as_json))
    try:
        run_id, result, data = evaluate(
            store,
            dataset,
            algo,
            parse_key_values(params, "--param"),
            settings,
            progress=bar,
            name=name,
        )
    finally:
        bar.close()
    plot_path = None
    if plot:
        plot_path = plots.metric_curves(
            [(f"run {run_id} {algo}", result.metrics)],
            DEFAULT_DIR / f"eval-run-{run_id}-{algo}.png",
        )
    if as_json:
        emit_json(
            {
                "run_id": run_id,
                "dataset": dataset,
                "algorithm": algo,
                "params": result.params,
                "protocol": protocol,
                "split": split,
                "boards": int(result.boards.size),
                "negatives": data.negatives_source if protocol == "sampled" else None,
                "elapsed_s": round(result.elapsed_s, 3),
                "fit_s": round(result.fit_s, 3),
                "steps": result.steps,
                "tied_positives": result.tied_positives,
                "ties": TIE_RULE,
                "metrics": result.metrics,
                "notes": list(data.notes),
                "plot": str(plot_path) if plot_path else None,
            }
        )
        return
    click.echo(
        f"run {run_id}: {algo} on {dataset}, {protocol} protocol, {split} split "
        f"({data.split.source}), {result.boards.size:,} boards, "
        f"{result.elapsed_s:.1f}s (fit {result.fit_s:.1f}s)"
    )
    if protocol == "sampled":
        click.echo(f"negatives: {data.negatives_source}")
    for line in metrics_table(result.metrics, list(settings.ks)):
        click.echo(line)
    click.echo(f"{TIE_RULE}; {result.tied_positives:.1%} of held-out pins were tied")
    for note in data.notes:
        click.echo(f"note: {note}")
    if plot_path:
        click.echo(f"plot: {plot_path}")


@click.command()
@click.option("--dataset", default=None, help="Dataset (not needed with --resume).")
@click.option("--algo", default=None, help="Algorithm (not needed with --resume).")
@click.option(
    "--grid",
    "grid",
    multiple=True,
    metavar="KEY=V1,V2,...",
    help="Values of one parameter to try (repeatable).",
)
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="KEY=VALUE",
    help="A parameter fixed for every trial (repeatable).",
)
@click.option(
    "--random",
    "random",
    type=click.IntRange(min=1),
    default=None,
    help="Try this many settings of the grid, drawn at random (seeded).",
)
@click.option("--metric", default="ndcg@10", show_default=True, help="Metric to maximise.")
@protocol_options
@click.option(
    "--best-to-test",
    is_flag=True,
    help="Evaluate the best setting once on the test split (all boards).",
)
@click.option(
    "--resume",
    default=None,
    metavar="SWEEP_ID",
    help="Continue a stored sweep, skipping finished trials.",
)
@click.option(
    "--executor",
    type=click.Choice(EXECUTORS),
    default="local",
    show_default=True,
    help="Run trials here one after another, or as Ray tasks in parallel.",
)
@click.option("--workers", type=int, default=None, help="Cores (local) or Ray CPUs.")
@click.option("--ray-address", default=None, help="An existing Ray cluster ('auto', ray://...).")
@db_option
@json_option
def sweep(
    dataset: str | None,
    algo: str | None,
    grid: tuple[str, ...],
    params: tuple[str, ...],
    random: int | None,
    metric: str,
    protocol: str,
    negatives: int,
    ks: str,
    seed: int,
    boards: int | None,
    holdout: int,
    holdout_fraction: float,
    holdout_method: str,
    diversity: str | None,
    best_to_test: bool,
    resume: str | None,
    executor: str,
    workers: int | None,
    ray_address: str | None,
    as_json: bool,
) -> None:
    """Evaluate every setting of a grid on the validation split (each stored as a run), print
    them sorted by the metric and plot the metric against each parameter (exports/)."""
    store = get_store()
    values = parse_grid(grid)
    for key, value in parse_key_values(params, "--param").items():
        values.setdefault(key, [value])
    if resume is None and (dataset is None or algo is None or not grid):
        raise click.UsageError("give --dataset, --algo and at least one --grid (or --resume ID)")
    settings = _settings(
        protocol,
        "validation",
        negatives,
        ks,
        seed,
        boards,
        holdout,
        holdout_fraction,
        holdout_method,
        diversity,
    )
    bar = Progress("sweep", enabled=show_progress(as_json))
    sweep_id = resume or new_sweep_id()

    def progress(trial: int, trials: int, done: int, total: int) -> None:
        bar.label = f"sweep {sweep_id} trial {trial + 1}/{trials}"
        bar(done, total)

    try:
        result = run_sweep(
            store,
            dataset,
            algo,
            values or None,
            settings,
            metric=metric,
            random=random,
            resume=resume,
            sweep_id=sweep_id,
            best_to_test=best_to_test,
            progress=progress,
            executor=make_executor(executor, workers, ray_address),
        )
    except KeyboardInterrupt:
        bar.close()
        click.echo(
            f"interrupted: finished trials are stored; continue with "
            f"`workbench sweep --resume {sweep_id}`",
            err=True,
        )
        raise SystemExit(130) from None
    bar.close()
    if as_json:
        emit_json(result.to_json())
        return
    _print_sweep(result)


def _print_sweep(result: Any) -> None:
    click.echo(
        f"sweep {result.sweep_id}: {result.algorithm} on {result.dataset}, validation "
        f"split, {len(result.trials)} trials"
        + (f" ({result.skipped} already stored)" if result.skipped else "")
    )
    shown = [
        m
        for m in (result.metric, "hr@10", "ndcg@10", "coverage@10")
        if m in (result.trials[0].metrics if result.trials else {})
    ]
    shown = list(dict.fromkeys(shown))
    click.echo(f"{'run':>5}  " + "".join(f"{m:>12}" for m in shown) + "  params")
    for t in result.trials:
        setting = ", ".join(f"{k}={t.params.get(k)}" for k in result.swept)
        click.echo(
            f"{t.run_id:>5}  "
            + "".join(f"{t.metrics.get(m, float('nan')):>12.4f}" for m in shown)
            + f"  {setting}"
        )
    if result.cancelled:
        click.echo(f"cancelled: continue with `workbench sweep --resume {result.sweep_id}`")
    if result.best is not None:
        best = ", ".join(f"{k}={result.best.params.get(k)}" for k in result.swept)
        click.echo(f"best ({result.metric}): {best} (run {result.best.run_id})")
    if result.test is not None:
        click.echo(
            f"test (run {result.test.run_id}): "
            + "  ".join(
                f"{m} {result.test.metrics[m]:.4f}" for m in shown if m in result.test.metrics
            )
        )
    if result.plot is not None:
        click.echo(f"plot: {result.plot}")
