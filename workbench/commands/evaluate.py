"""The eval and sweep commands: options become an evaluation request (defaults from the evaluate
service), the result becomes text or JSON."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

import click

from workbench.commands._common import (
    Progress,
    db_option,
    emit_json,
    get_store,
    json_option,
    show_progress,
)
from workbench.engine.progress import Reporter
from workbench.services import evaluate as ev
from workbench.services import sweep as sw
from workbench.services.parsing import check_seed, parse_grid, parse_int_list, parse_key_values

F = TypeVar("F", bound=Callable[..., Any])

_DEFAULTS = {f.name: f.default for f in dataclasses.fields(ev.EvalRequest)}
EVAL_OPTIONS = (
    "protocol",
    "negatives",
    "ks",
    "seed",
    "split_seed",
    "repeats",
    "boards",
    "keep_short",
    "holdout",
    "holdout_fraction",
    "holdout_method",
    "diversity",
)
"""The request fields the shared options fill (eval and sweep)."""


def protocol_options(f: F) -> F:
    """The options that say how to evaluate (shared by eval and sweep)."""
    d = _DEFAULTS
    options = [
        click.option(
            "--protocol",
            type=click.Choice(ev.PROTOCOLS),
            default=d["protocol"],
            show_default=True,
            help="sampled: rank held-out pins among negatives (accuracy only); full: "
            "among all pins (also coverage, Gini, popularity, novelty, diversity).",
        ),
        click.option(
            "--negatives",
            type=int,
            default=d["negatives"],
            show_default=True,
            help="Sampled negatives per board (when the dataset has none).",
        ),
        click.option(
            "--k",
            "ks",
            default=",".join(map(str, d["ks"])),
            show_default=True,
            help="Cutoffs, comma separated (capped at the number of candidates).",
        ),
        click.option(
            "--seed",
            type=int,
            default=d["seed"],
            show_default=True,
            help="Seed of negatives, tie-breaking and the algorithm.",
        ),
        click.option(
            "--split-seed",
            type=int,
            default=d["split_seed"],
            show_default=True,
            help="Seed of the held-out pins and the board sample.",
        ),
        click.option(
            "--repeats",
            type=int,
            default=d["repeats"],
            show_default=True,
            help="Evaluate seeds SEED..SEED+N-1 on one split: means and 95% intervals.",
        ),
        click.option(
            "--boards",
            type=int,
            default=d["boards"],
            help="Evaluate a seeded sample of this many boards.",
        ),
        click.option(
            "--keep-short",
            is_flag=True,
            default=d["keep_short"],
            help="Keep boards with fewer candidate negatives than asked (flagged).",
        ),
        click.option(
            "--holdout",
            type=int,
            default=d["holdout"],
            show_default=True,
            help="Pins held out per board (no test split / validation).",
        ),
        click.option(
            "--holdout-fraction",
            type=float,
            default=d["holdout_fraction"],
            help="Hold out this fraction of each board instead.",
        ),
        click.option(
            "--holdout-method",
            type=click.Choice(ev.HOLDOUT_METHODS),
            default=d["holdout_method"],
            show_default=True,
            help="random, or time: each board's latest pins.",
        ),
        click.option(
            "--diversity",
            default=d["diversity"],
            metavar="ATTR",
            help="Pin attribute for intra-list diversity (default: topic).",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def eval_fields(options: dict[str, Any]) -> dict[str, Any]:
    """The shared evaluation options as request fields (text parsed, seeds checked)."""
    out = {name: options[name] for name in EVAL_OPTIONS}
    out["ks"] = parse_int_list(options["ks"], "--k")
    out["seed"] = check_seed(options["seed"], "--seed")
    out["split_seed"] = check_seed(options["split_seed"], "--split-seed")
    return out


def reporter(label: str, as_json: bool) -> tuple[Reporter, Progress]:
    bar = Progress(label, enabled=show_progress(as_json))
    return Reporter(on_progress=lambda done, total, stage: bar(done, total or 0, stage)), bar


def metrics_table(
    metrics: dict[str, Any], ks: list[int], ci95: dict[str, Any] | None = None
) -> list[str]:
    """Lines of a metric x cutoff table (with ``± half-width`` when intervals are given)."""
    names = [m for m in ev.METRICS if any(f"{m}@{k}" in metrics for k in ks)]
    width = 18 if ci95 else 10
    lines = [f"{'':<12}" + "".join(f"{'@' + str(k):>{width}}" for k in ks)]
    for m in names:
        cells = []
        for k in ks:
            v = metrics.get(f"{m}@{k}")
            digits = 1 if m == "popularity" else 4
            text = f"{v:.{digits}f}" if isinstance(v, int | float) else "-"
            h = (ci95 or {}).get(f"{m}@{k}")
            if ci95 is not None and isinstance(v, int | float):
                text += f" ±{h:.{digits}f}" if isinstance(h, int | float) else "      "
            cells.append(f"{text:>{width}}")
        lines.append(f"{m:<12}" + "".join(cells))
    return lines


@click.command("eval")
@click.option("--dataset", required=True)
@click.option(
    "--algo", "algorithm", required=True, help="Algorithm (pixie, popular, itemknn, p3alpha, ...)."
)
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="KEY=VALUE",
    help="Algorithm parameter (repeatable).",
)
@click.option(
    "--split",
    type=click.Choice(ev.SPLITS),
    default=_DEFAULTS["split"],
    show_default=True,
    help="test, or validation (carved from training; for tuning).",
)
@protocol_options
@click.option("--name", default=None, help="Name the stored run.")
@click.option("--plot", is_flag=True, help="Write a metric@k plot to exports/.")
@db_option
@json_option
def eval_command(as_json: bool, **options: Any) -> None:
    """Evaluate ALGO on held-out pins of DATASET and store the run (kind 'eval')."""
    store = get_store()
    request = ev.EvalRequest(
        dataset=options["dataset"],
        algorithm=options["algorithm"],
        params=parse_key_values(options["params"], "--param"),
        split=options["split"],
        name=options["name"],
        plot=options["plot"],
        **eval_fields(options),
    )
    rep, bar = reporter(f"evaluating {request.algorithm}", as_json)
    try:
        result = ev.run(store, request, rep)
    finally:
        bar.close()
    if as_json:
        emit_json(result.to_json())
        return
    seeds = (
        f"seeds {result.seeds[0]}..{result.seeds[-1]}"
        if len(result.seeds) > 1
        else f"seed {result.seed}"
    )
    click.echo(
        f"run {result.run_id}: {result.algorithm} on {result.dataset}, {result.protocol} "
        f"protocol, {result.split} split ({result.split_source}; split seed "
        f"{result.split_seed}), {seeds}, {result.boards:,} boards, {result.elapsed_s:.1f}s "
        f"(fit {result.fit_s:.1f}s, {result.ms_per_query:.2f} ms per board)"
    )
    if result.negatives:
        click.echo(f"negatives: {result.negatives}")
    for line in metrics_table(result.metrics, result.ks, result.ci95):
        click.echo(line)
    click.echo(
        "± : half-width of the 95% interval over boards"
        + (f" ({len(result.seeds)} seeds averaged per board)" if len(result.seeds) > 1 else "")
    )
    click.echo(f"{ev.TIE_RULE}; {result.tied_positives:.1%} of held-out pins were tied")
    for note in result.notes:
        click.echo(f"note: {note}")
    if result.plot:
        click.echo(f"plot: {result.plot}")


@click.command()
@click.option("--dataset", default=None, help="Dataset (not needed with --resume).")
@click.option("--algo", "algorithm", default=None, help="Algorithm (not needed with --resume).")
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
    type=int,
    default=None,
    help="Try this many settings of the grid, drawn at random (seeded).",
)
@click.option("--metric", default=sw.DEFAULT_METRIC, show_default=True, help="Metric to maximise.")
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
    type=click.Choice(sw.EXECUTORS),
    default="local",
    show_default=True,
    help="Run trials here one after another, or as Ray tasks in parallel.",
)
@click.option("--workers", type=int, default=None, help="Cores (local) or Ray CPUs.")
@click.option("--ray-address", default=None, help="An existing Ray cluster ('auto', ray://...).")
@click.option(
    "--ray-shared-files/--no-ray-shared-files",
    default=None,
    help="Ship the graph to Ray nodes as paths of its memory-mapped files (the store's cache "
    "directory must be at the same path on every node); default: $WORKBENCH_RAY_SHARED_FILES.",
)
@db_option
@json_option
def sweep(as_json: bool, **options: Any) -> None:
    """Evaluate every setting of a grid on the validation split (each stored as a run), print
    them sorted by the metric and plot the metric against the parameters (exports/)."""
    store = get_store()
    grid = parse_grid(options["grid"], "--grid")
    run_on = sw.RunOn(
        options["executor"],
        options["workers"],
        options["ray_address"],
        options["ray_shared_files"],
    )
    request: sw.SweepRequest | sw.ResumeRequest
    if options["resume"] is not None:
        request = sw.ResumeRequest(
            sweep_id=options["resume"],
            grid=grid or None,
            best_to_test=options["best_to_test"],
            run_on=run_on,
        )
        sweep_id = request.sweep_id
    else:
        if options["dataset"] is None or options["algorithm"] is None or not grid:
            raise click.UsageError(
                "give --dataset, --algo and at least one --grid (or --resume ID)"
            )
        request = sw.SweepRequest(
            evaluation=ev.EvalRequest(
                dataset=options["dataset"],
                algorithm=options["algorithm"],
                params=parse_key_values(options["params"], "--param"),
                **eval_fields(options),
            ),
            grid=grid,
            metric=options["metric"],
            random=options["random"],
            best_to_test=options["best_to_test"],
            run_on=run_on,
        )
        sweep_id = request.sweep_id
    bar = Progress(f"sweep {sweep_id}", enabled=show_progress(as_json))

    def progress(done: float, total: float | None, stage: str) -> None:
        bar.label = f"sweep {sweep_id} {stage}"
        bar(int(done), int(total or 0))

    try:
        result = sw.run(store, request, Reporter(on_progress=progress))
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


def _print_sweep(result: sw.SweepResult) -> None:
    click.echo(
        f"sweep {result.sweep_id}: {result.algorithm} on {result.dataset}, validation "
        f"split, {len(result.trials)} trials"
        + (f" ({result.skipped} already stored)" if result.skipped else "")
    )
    first = result.trials[0].metrics if result.trials else {}
    shown = [
        m for m in dict.fromkeys((result.metric, "hr@10", "ndcg@10", "coverage@10")) if m in first
    ]
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
