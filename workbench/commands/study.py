"""The study command: run a declared experiment (a TOML file) and write its report beside it."""

from __future__ import annotations

from pathlib import Path

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
from workbench.services import study as service


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--no-report", is_flag=True, help="Do not write FILE.md and its plots.")
@db_option
@json_option
def study(file: Path, no_report: bool, as_json: bool) -> None:
    """Run the experiment FILE declares (datasets, protocol, split and seeds, algorithms with
    grids tuned on validation, repeats, metrics): every run is stored, finished runs are reused,
    and a markdown report with 95% intervals and a plot is written next to FILE.

    The file format is described in `workbench.services.study` and README's evaluation section.
    """
    spec = service.read_study(file)  # a bad file fails before the store is opened
    store = get_store(create=any(d.load for d in spec.datasets))  # it may load its datasets
    bar = Progress(f"study {spec.name}", enabled=show_progress(as_json))
    reporter = Reporter(on_progress=lambda d, t, s: bar(int(d * 100), int((t or 0) * 100), s))
    try:
        result = service.run(store, service.StudyRequest(file, report=not no_report), reporter)
    except KeyboardInterrupt:
        bar.close()
        click.echo("interrupted: finished runs are stored; run the study again to go on", err=True)
        raise SystemExit(130) from None
    bar.close()
    if as_json:
        emit_json(result.to_json())
        return
    for dataset in result.fingerprints:
        click.echo(f"{dataset}:")
        for r in (r for r in result.rows if r.dataset == dataset):
            cells = "  ".join(
                f"{m} {r.metrics[m]:.4f}" + (f" ±{r.ci95[m]:.4f}" if r.ci95.get(m) else "")
                for m in spec.metrics
                if m in r.metrics
            )
            click.echo(f"  {r.label:<24} {cells}  (run {r.test_run})")
    for note in result.notes:
        click.echo(f"note: {note}")
    if result.report:
        click.echo(f"report: {result.report}")
