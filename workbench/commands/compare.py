"""The compare command: ranking runs side by side, evaluation runs with paired tests and
intervals, and the seed-to-seed stability of a Monte-Carlo ranking. Options become a request of
the compare service; the result becomes text or JSON."""

from __future__ import annotations

from typing import Any

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
from workbench.services import compare as cmp
from workbench.services.parsing import parse_int_list, parse_key_values, parse_run_ids

_STABILITY = cmp.StabilityRequest("", ())


@click.command()
@click.argument("run_ids", nargs=-1)
@click.option(
    "--k",
    "k",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="Cutoff for overlap, Jaccard, shifts and the tested metrics.",
)
@click.option(
    "--p",
    "p",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.9,
    show_default=True,
    help="RBO persistence.",
)
@click.option("--query", default=None, help="Compare this query only (ranking runs).")
@click.option(
    "--permutations",
    type=click.IntRange(min=100),
    default=10_000,
    show_default=True,
    help="Sign flips of the randomisation test.",
)
@click.option("--plot", is_flag=True, help="Write PNGs to exports/.")
@click.option(
    "--stability",
    is_flag=True,
    help="Instead of runs: how a Monte-Carlo ranking changes between seeds (stored as a run).",
)
@click.option("--dataset", default=None, help="Dataset (with --stability).")
@click.option("--pin", "pins", multiple=True, help="Query pin (with --stability; repeatable).")
@click.option(
    "--algo", default=_STABILITY.algorithm, show_default=True, help="Algorithm (with --stability)."
)
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="KEY=VALUE",
    help="Algorithm parameter (with --stability).",
)
@click.option(
    "--steps",
    "steps",
    default=",".join(map(str, _STABILITY.steps)),
    show_default=True,
    help="Step budgets (with --stability).",
)
@click.option(
    "--seeds",
    type=click.IntRange(min=2),
    default=_STABILITY.seeds,
    show_default=True,
    help="Seeds per budget (with --stability).",
)
@db_option
@json_option
def compare(run_ids: tuple[str, ...], as_json: bool, **options: Any) -> None:
    """Compare RUN RUN [RUN...] against the first, or (--stability) measure seed-to-seed change.

    Ranking runs (of one dataset): overlap@k, Jaccard@k, rank-biased overlap, Kendall tau-b over
    the shared items of queries with two or more, rank shifts. Evaluation runs (same dataset,
    split, split seed, protocol and negatives, or refused): metrics with deltas, paired
    t-test and randomisation test per board with the 95% interval of each delta,
    Holm-corrected over the runs compared with the first.
    """
    store = get_store()
    bar = Progress("comparing", enabled=show_progress(as_json))
    reporter = Reporter(on_progress=lambda d, t, s: bar(int(d), int(t or 0), s))
    if options["stability"]:
        if options["dataset"] is None or not options["pins"]:
            raise click.UsageError("--stability needs --dataset and at least one --pin")
        request = cmp.StabilityRequest(
            dataset=options["dataset"],
            pins=tuple(options["pins"]),
            algorithm=options["algo"],
            params=parse_key_values(options["params"], "--param"),
            steps=parse_int_list(options["steps"], "--steps"),
            seeds=options["seeds"],
            k=options["k"],
            p=options["p"],
        )
        try:
            result = cmp.stability(store, request, reporter)
        finally:
            bar.close()
        _print_stability(result, as_json)
        return
    ids = parse_run_ids(run_ids, "runs") if run_ids else []
    if len(ids) < 2:
        raise click.UsageError("give at least two runs to compare (or --stability)")
    try:
        out = cmp.run(
            store,
            cmp.CompareRequest(
                tuple(ids),
                k=options["k"],
                p=options["p"],
                permutations=options["permutations"],
                query=options["query"],
                plot=options["plot"],
            ),
            reporter,
        )
    finally:
        bar.close()
    if as_json:
        emit_json(out.to_json())
        return
    if isinstance(out, cmp.EvaluationsComparison):
        _print_evaluations(out)
    else:
        _print_rankings(out)
    for note in out.notes:
        click.echo(f"note: {note}")
    for f in out.plots:
        click.echo(f"plot: {f}")


def _fmt(v: Any, digits: int = 4) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def _setup_value(value: Any) -> str:
    if isinstance(value, dict):  # a holdout: method and amount
        amount = (
            f"{value.get('fraction')} of each board"
            if value.get("fraction")
            else f"{value.get('holdout')} per board"
        )
        return f"({value.get('method')}, {amount})"
    return str(value)


def _print_evaluations(out: cmp.EvaluationsComparison) -> None:
    heads = [f"run {row.run_id} {row.algorithm}"[:16] for row in out.table]
    width = 24 if any(any(v is not None for v in row.ci95.values()) for row in out.table) else 17
    click.echo(
        f"{'metric':<15}"
        + "".join(
            f"{h:>{width}}" + ("" if i == 0 else f"{'delta':>10}") for i, h in enumerate(heads)
        )
    )
    for m in out.table[0].metrics:
        cells = []
        for i, row in enumerate(out.table):
            half = row.ci95.get(m)
            text = _fmt(row.metrics[m]) + (f" ±{half:.4f}" if half is not None else "")
            cells.append(f"{text:>{width}}")
            if i > 0:
                d = row.delta[m]
                cells.append(f"{d:>+10.4f}" if d is not None else f"{'-':>10}")
        click.echo(f"{m:<15}" + "".join(cells))
    setup = ", ".join(f"{k} {_setup_value(v)}" for k, v in out.setup.items() if v is not None)
    click.echo(f"\nall on: {setup}")
    click.echo(
        f"paired tests per board against run {out.table[0].run_id} (delta with its 95% "
        "interval; p-values, Holm-corrected in brackets):"
    )
    for m, tests in out.tests.items():
        for t in tests:
            perm = "exact" if t.permutations == 0 else f"{t.permutations} flips"
            ci = f" [{t.ci95[0]:+.4f}, {t.ci95[1]:+.4f}]" if t.ci95 else ""
            click.echo(
                f"  {m:<14} run {t.run_b:>4}: delta {t.delta:+.4f}{ci} over {t.n} boards  "
                f"t-test p={t.p_t:.3g} [{t.p_t_holm:.3g}]  randomisation ({perm}) "
                f"p={t.p_permutation:.3g} [{t.p_permutation_holm:.3g}]"
            )


def _print_rankings(out: cmp.RankingsComparison) -> None:
    for comp in out.comparisons:
        tau = (
            f"kendall tau-b {comp.kendall_tau:.3f} ({comp.kendall_items} shared items over "
            f"{comp.kendall_queries} quer{'y' if comp.kendall_queries == 1 else 'ies'})"
            if comp.kendall_tau is not None
            else "kendall tau-b - (no query shares two items)"
        )
        click.echo(
            f"run {comp.run_a} vs run {comp.run_b} over {comp.queries} "
            f"quer{'y' if comp.queries == 1 else 'ies'}: overlap@{out.k} {comp.overlap:.2f}  "
            f"jaccard {comp.jaccard:.3f}  rbo(p={out.p}) {comp.rbo:.3f}  {tau}"
        )
        first = comp.per_query[0]
        click.echo(f"  rank shifts for query {first.query}:")
        click.echo(
            f"  {'pin':<16} {'change':<8} {'rank a':>6} {'rank b':>6} {'score a':>10} "
            f"{'score b':>10}"
        )
        for s in first.shifts:
            click.echo(
                f"  {s.pin:<16} {s.change:<8} {_fmt(s.rank_a):>6} {_fmt(s.rank_b):>6} "
                f"{_fmt(s.score_a):>10} {_fmt(s.score_b):>10}"
            )


def _print_stability(result: cmp.StabilityResult, as_json: bool) -> None:
    if as_json:
        emit_json(result.to_json())
        return
    stored = f" (run {result.run_id})" if result.run_id is not None else ""
    click.echo(
        f"{result.algorithm} on {result.dataset}, pins {', '.join(result.pins)}: agreement "
        f"between {result.seeds} seeds (RBO p={result.p}, top-{result.k} overlap){stored}"
    )
    click.echo(f"{'steps':>10} {'rbo mean':>9} {'rbo min':>8} {'overlap':>8} {'min':>6}")
    for row in result.table:
        click.echo(
            f"{row['steps']:>10,} {row['rbo_mean']:>9.3f} {row['rbo_min']:>8.3f} "
            f"{row['overlap_mean']:>8.2f} {row['overlap_min']:>6.2f}"
        )
    for note in result.notes:
        click.echo(f"note: {note}")
