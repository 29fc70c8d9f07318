"""The compare command: ranking runs side by side, evaluation runs with significance tests, and the
seed-to-seed stability of a Monte-Carlo ranking."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
from workbench.engine.compare import compare_runs
from workbench.engine.export import DEFAULT_DIR
from workbench.engine.progress import Reporter
from workbench.engine.runs import get_run, run_results
from workbench.engine.store import Store


def _int_list(text: str, option: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise click.UsageError(
            f"{option} {text!r}: expected integers separated by commas"
        ) from None
    if not values or min(values) < 1:
        raise click.UsageError(f"{option} {text!r}: expected positive integers")
    return values


@click.command()
@click.argument("run_ids", nargs=-1, type=int)
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
    help="Instead of runs: how a Monte-Carlo ranking changes between seeds.",
)
@click.option("--dataset", default=None, help="Dataset (with --stability).")
@click.option("--pin", "pins", multiple=True, help="Query pin (with --stability; repeatable).")
@click.option("--algo", default="pixie", show_default=True, help="Algorithm (with --stability).")
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
    default="1000,10000,100000",
    show_default=True,
    help="Step budgets (with --stability).",
)
@click.option(
    "--seeds",
    type=click.IntRange(min=2),
    default=5,
    show_default=True,
    help="Seeds per budget (with --stability).",
)
@db_option
@json_option
def compare(
    run_ids: tuple[int, ...],
    k: int,
    p: float,
    query: str | None,
    permutations: int,
    plot: bool,
    stability: bool,
    dataset: str | None,
    pins: tuple[str, ...],
    algo: str,
    params: tuple[str, ...],
    steps: str,
    seeds: int,
    as_json: bool,
) -> None:
    """Compare RUN RUN [RUN...] against the first, or (--stability) measure seed-to-seed change.

    Ranking runs: overlap@k, Jaccard@k, rank-biased overlap, Kendall tau-b, rank shifts.
    Evaluation runs: metrics with deltas, paired t-test and randomisation test per board,
    Holm-corrected over the runs compared with the first.
    """
    store = get_store()
    if stability:
        _stability(
            store,
            dataset,
            pins,
            algo,
            parse_key_values(params, "--param"),
            _int_list(steps, "--steps"),
            seeds,
            k,
            p,
            as_json,
        )
        return
    if len(run_ids) < 2:
        raise click.UsageError("give at least two runs to compare (or --stability)")
    out = compare_runs(store, list(run_ids), k=k, p=p, permutations=permutations, query=query)
    if plot:
        out["plots"] = [str(f) for f in _plots(store, out, list(run_ids))]
    if as_json:
        emit_json(out)
        return
    if out["kind"] == "evaluations":
        _print_evaluations(out)
    else:
        _print_rankings(out)
    for f in out.get("plots", []):
        click.echo(f"plot: {f}")


def _plots(store: Store, out: dict[str, Any], run_ids: list[int]) -> list[Path]:
    stem = "compare-" + "-".join(str(r) for r in run_ids)
    if out["kind"] == "evaluations":
        runs = [get_run(store, r) for r in run_ids]
        curves = [
            (
                f"{r.run_id} {r.algorithm}",
                {m: v for m, v in r.metrics.items() if isinstance(v, int | float)},
            )
            for r in runs
        ]
        return [plots.metric_curves(curves, DEFAULT_DIR / f"{stem}.png")]
    files = []
    for comp in out["comparisons"]:
        first = comp["per_query"][0]
        a = run_results(store, comp["run_a"]).filter(query=first["query"])
        b = run_results(store, comp["run_b"]).filter(query=first["query"])
        rank_b = dict(zip(b["pin"].to_list(), b["rank"].to_list(), strict=True))
        shared = [
            (pin, r, rank_b[pin])
            for pin, r in zip(a["pin"].to_list(), a["rank"].to_list(), strict=True)
            if pin in rank_b
        ]
        path = DEFAULT_DIR / f"compare-{comp['run_a']}-{comp['run_b']}-ranks.png"
        files.append(
            plots.rank_scatter(f"run {comp['run_a']}", f"run {comp['run_b']}", shared, path)
        )
    return files


def _fmt(v: Any, digits: int = 4) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def _print_evaluations(out: dict[str, Any]) -> None:
    table = out["table"]
    heads = [f"run {row['run_id']} {row['algorithm']}"[:16] for row in table]
    click.echo(
        f"{'metric':<15}"
        + "".join(f"{h:>17}" + ("" if i == 0 else f"{'delta':>10}") for i, h in enumerate(heads))
    )
    for m in table[0]["metrics"]:
        cells = []
        for i, row in enumerate(table):
            cells.append(f"{_fmt(row['metrics'][m]):>17}")
            if i > 0:
                d = row["delta"][m]
                cells.append(f"{d:>+10.4f}" if d is not None else f"{'-':>10}")
        click.echo(f"{m:<15}" + "".join(cells))
    click.echo("")
    click.echo(
        "paired tests per board against run "
        f"{table[0]['run_id']} (p-values; Holm-corrected in brackets):"
    )
    for m, tests in out["tests"].items():
        for t in tests:
            perm = "exact" if t["permutations"] == 0 else f"{t['permutations']} flips"
            click.echo(
                f"  {m:<14} run {t['run_b']:>4}: delta {t['delta']:+.4f} over {t['n']} "
                f"boards  t-test p={t['p_t']:.3g} [{t['p_t_holm']:.3g}]  "
                f"randomisation ({perm}) p={t['p_permutation']:.3g} "
                f"[{t['p_permutation_holm']:.3g}]"
            )
    for n in out["notes"]:
        click.echo(f"note: {n}")


def _print_rankings(out: dict[str, Any]) -> None:
    for comp in out["comparisons"]:
        mean = comp["mean"]
        click.echo(
            f"run {comp['run_a']} vs run {comp['run_b']} over {comp['queries']} "
            f"quer{'y' if comp['queries'] == 1 else 'ies'}: overlap@{out['k']} "
            f"{mean['overlap']:.2f}  jaccard {mean['jaccard']:.3f}  "
            f"rbo(p={out['p']}) {mean['rbo']:.3f}  "
            f"kendall tau-b {_fmt(mean['kendall_tau'], 3)}"
        )
        first = comp["per_query"][0]
        click.echo(f"  rank shifts for query {first['query']}:")
        click.echo(
            f"  {'pin':<16} {'change':<8} {'rank a':>6} {'rank b':>6} {'score a':>10} "
            f"{'score b':>10}"
        )
        for s in first["shifts"]:
            click.echo(
                f"  {s['pin']:<16} {s['change']:<8} {_fmt(s['rank_a']):>6} "
                f"{_fmt(s['rank_b']):>6} {_fmt(s['score_a']):>10} "
                f"{_fmt(s['score_b']):>10}"
            )


def _stability(
    store: Store,
    dataset: str | None,
    pins: tuple[str, ...],
    algo: str,
    params: dict[str, str],
    steps: list[int],
    seeds: int,
    k: int,
    p: float,
    as_json: bool,
) -> None:
    from workbench.engine.evaluate import ranking_stability

    if dataset is None or not pins:
        raise click.UsageError("--stability needs --dataset and at least one --pin")
    bar = Progress("stability", enabled=show_progress(as_json))
    try:
        out = ranking_stability(
            store,
            dataset,
            list(pins),
            algo,
            params,
            steps,
            seeds,
            k,
            p,
            reporter=Reporter(on_progress=lambda d, t, s: bar(int(d), int(t or 0), s)),
        ).to_json()
    finally:
        bar.close()
    if as_json:
        emit_json(out)
        return
    click.echo(
        f"{algo} on {dataset}, pins {', '.join(pins)}: agreement between {seeds} seeds "
        f"(RBO p={p}, top-{k} overlap)"
    )
    click.echo(f"{'steps':>10} {'rbo mean':>9} {'rbo min':>8} {'overlap':>8} {'min':>6}")
    for row in out["table"]:
        click.echo(
            f"{row['steps']:>10,} {row['rbo_mean']:>9.3f} {row['rbo_min']:>8.3f} "
            f"{row['overlap_mean']:>8.2f} {row['overlap_min']:>6.2f}"
        )
