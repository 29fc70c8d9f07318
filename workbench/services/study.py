"""Declared experiments: ``workbench study FILE.toml`` runs what the file declares (datasets, the
evaluation protocol, split and seeds, algorithms with grids tuned on validation, repeats,
metrics), stores every run, and writes a markdown report with 95% intervals and a plot next to
the file.

Every run is tagged with a key of what produced it (study, dataset version, algorithm,
parameters, settings), so running the file again on the same store reuses the stored runs and
reports the same numbers; an interrupted study goes on where it stopped (sweeps resume trial by
trial).

The file (all keys but ``datasets`` and ``algorithms`` optional)::

    name = "walks"                        # tags the runs (default: the file's stem)
    description = "..."                   # the report's first paragraph
    findings = "..."                      # optional: the report's last section (what it shows)
    metrics = ["hr@10", "ndcg@10"]        # reported, with intervals
    repeats = 5                           # test runs: seeds seed .. seed + repeats - 1
    baseline = "rp3beta"                  # label the others are compared with (paired)

    [evaluation]                          # how test runs are done (eval's options)
    protocol = "sampled"                  # negatives, ks, seed, split_seed, boards, holdout...
    negatives = 99

    [tuning]                              # validation sweeps: metric, and overrides
    metric = "ndcg@10"
    boards = 5000

    [catalogue]                           # optional: full-protocol test runs for coverage
    metrics = ["coverage@10"]
    boards = 2000

    [[datasets]]
    name = "pinterest-20"
    load = ["../data/pinterest-20"]       # optional: loaded when missing (relative to the file)
    format = "ncf"

    [[algorithms]]
    label = "pixie"                       # default: the algorithm's name
    algorithm = "pixie"
    datasets = ["pinterest-20"]           # optional: only on these datasets
    repeats = 2                           # optional: test seeds for this one
    params = { steps = "100000" }         # fixed
    grid = { alpha = ["0.5", "0.9"] }     # tuned on validation by `tuning.metric`
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from workbench.engine import plots
from workbench.engine.atomic import atomic_write
from workbench.engine.compare import compare_evaluations
from workbench.engine.errors import InputError, NotFoundError, WorkbenchError
from workbench.engine.evaluate import EvalSettings, evaluate
from workbench.engine.progress import SILENT, Reporter
from workbench.engine.runs import Run, list_runs
from workbench.engine.store import Store
from workbench.services.evaluate import EvalRequest
from workbench.services.sweep import ResumeRequest, SweepRequest, sweep_runs
from workbench.services.sweep import run as run_sweep

__all__ = ["StudyRequest", "StudyResult", "StudyRow", "StudySpec", "read_study", "run"]

_EVAL_KEYS = {
    f.name
    for f in dataclasses.fields(EvalRequest)
    if f.name not in ("dataset", "algorithm", "params", "name", "plot", "plot_dir", "split")
}


@dataclass(frozen=True)
class AlgorithmSpec:
    label: str
    algorithm: str
    params: dict[str, str] = field(default_factory=dict)
    grid: dict[str, list[str]] = field(default_factory=dict)
    datasets: tuple[str, ...] = ()
    """Run on these datasets only (empty: on all)."""
    repeats: int | None = None
    """Test seeds for this algorithm (None: the study's ``repeats``), e.g. fewer for costly
    settings; its per-board values are still paired with the others' on the same boards."""


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    load: tuple[Path, ...] = ()
    format: str = "auto"


@dataclass(frozen=True)
class StudySpec:
    """A study file, checked."""

    path: Path
    name: str
    description: str
    findings: str
    datasets: tuple[DatasetSpec, ...]
    algorithms: tuple[AlgorithmSpec, ...]
    evaluation: dict[str, Any]
    tuning: dict[str, Any]
    tune_metric: str
    metrics: tuple[str, ...]
    repeats: int
    catalogue: dict[str, Any] | None
    catalogue_metrics: tuple[str, ...]
    baseline: str | None

    def settings(self, role: str, algo: AlgorithmSpec | None = None) -> EvalSettings:
        """The evaluation settings of ``role``: test, validation (tuning) or catalogue (for
        ``algo``, which may ask for its own number of test repeats)."""
        fields = dict(self.evaluation)
        if role == "validation":
            fields = {**fields, "repeats": 1, **self.tuning}
        elif role == "catalogue":
            fields = {**fields, "repeats": 1, **(self.catalogue or {}), "protocol": "full"}
        else:
            repeats = algo.repeats if algo is not None and algo.repeats else self.repeats
            fields = {**fields, "repeats": repeats}
        request = EvalRequest(dataset="-", algorithm="-", split="test", **fields)
        settings = request.settings()
        return replace(settings, split="validation" if role == "validation" else "test")


def _fail(path: Path, what: str) -> InputError:
    return InputError(f"{path}: {what}")


def _strings(path: Path, where: str, value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise _fail(path, f"{where}: expected a table of parameter = value")
    return {str(k): str(v) for k, v in value.items()}


def _table(path: Path, doc: Mapping[str, Any], key: str, allowed: set[str]) -> dict[str, Any]:
    value = doc.get(key, {})
    if not isinstance(value, dict):
        raise _fail(path, f"[{key}]: expected a table")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise _fail(
            path, f"[{key}]: unknown key {unknown[0]!r} (known: {', '.join(sorted(allowed))})"
        )
    if "ks" in value:
        value = {**value, "ks": tuple(int(k) for k in value["ks"])}
    return dict(value)


def read_study(path: str | Path) -> StudySpec:
    """Read and check a study file; a problem is one line naming the file and the key."""
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotFoundError(f"no study file {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise _fail(path, f"not valid TOML: {exc}") from None
    known = {
        "name",
        "findings",
        "description",
        "metrics",
        "repeats",
        "baseline",
        "evaluation",
        "tuning",
        "catalogue",
        "datasets",
        "algorithms",
    }
    unknown = sorted(set(doc) - known)
    if unknown:
        raise _fail(path, f"unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})")
    datasets = []
    for i, d in enumerate(doc.get("datasets") or []):
        if isinstance(d, str):
            d = {"name": d}
        if not isinstance(d, dict) or "name" not in d:
            raise _fail(
                path, f"datasets[{i}]: expected a name (or a table with name, load, format)"
            )
        load = d.get("load") or []
        load = [load] if isinstance(load, str) else load
        datasets.append(
            DatasetSpec(
                str(d["name"]),
                tuple((path.parent / str(p)).resolve() for p in load),
                str(d.get("format", "auto")),
            )
        )
    if not datasets:
        raise _fail(path, "datasets: expected at least one dataset")
    algorithms = []
    for i, a in enumerate(doc.get("algorithms") or []):
        if not isinstance(a, dict) or "algorithm" not in a:
            raise _fail(path, f"algorithms[{i}]: expected a table with algorithm = NAME")
        extra = sorted(set(a) - {"label", "algorithm", "params", "grid", "datasets", "repeats"})
        if extra:
            raise _fail(
                path,
                f"algorithms[{i}]: unknown key {extra[0]!r} (a key after the last "
                "[[algorithms]] belongs to it: put study keys at the top)",
            )
        grid = a.get("grid") or {}
        if not isinstance(grid, dict) or not all(isinstance(v, list) and v for v in grid.values()):
            raise _fail(path, f"algorithms[{i}].grid: expected parameter = [values, ...]")
        spec = AlgorithmSpec(
            label=str(a.get("label") or a["algorithm"]),
            algorithm=str(a["algorithm"]),
            params=_strings(path, f"algorithms[{i}].params", a.get("params") or {}),
            grid={str(k): [str(v) for v in vs] for k, vs in grid.items()},
            datasets=tuple(str(d) for d in a.get("datasets") or ()),
            repeats=int(a["repeats"]) if "repeats" in a else None,
        )
        algorithms.append(spec)
    if not algorithms:
        raise _fail(path, "algorithms: expected at least one algorithm")
    labels = [a.label for a in algorithms]
    if len(set(labels)) != len(labels):
        raise _fail(path, "algorithms: two have the same label (give each a label)")
    evaluation = _table(path, doc, "evaluation", _EVAL_KEYS - {"repeats"})
    tuning = _table(path, doc, "tuning", _EVAL_KEYS | {"metric"})
    tune_metric = str(tuning.pop("metric", "ndcg@10"))
    catalogue = (
        _table(path, doc, "catalogue", _EVAL_KEYS | {"metrics"}) if "catalogue" in doc else None
    )
    catalogue_metrics = tuple(str(m) for m in (catalogue or {}).pop("metrics", ["coverage@10"]))
    baseline = doc.get("baseline")
    if baseline is not None and baseline not in labels:
        raise _fail(path, f"baseline {baseline!r} is not the label of an algorithm")
    spec = StudySpec(
        path=path,
        name=str(doc.get("name") or path.stem),
        description=str(doc.get("description") or ""),
        findings=str(doc.get("findings") or ""),
        datasets=tuple(datasets),
        algorithms=tuple(algorithms),
        evaluation=evaluation,
        tuning=tuning,
        tune_metric=tune_metric,
        metrics=tuple(str(m) for m in doc.get("metrics") or ["hr@10", "ndcg@10"]),
        repeats=int(doc.get("repeats", 1)),
        catalogue=catalogue,
        catalogue_metrics=catalogue_metrics,
        baseline=str(baseline) if baseline is not None else None,
    )
    for role in ("test", "validation") + (("catalogue",) if catalogue is not None else ()):
        try:
            spec.settings(role)
        except WorkbenchError as exc:
            raise _fail(path, f"[{'tuning' if role == 'validation' else role}]: {exc}") from None
        except TypeError as exc:
            raise _fail(path, f"[evaluation]: {exc}") from None
    return spec


@dataclass(frozen=True)
class StudyRequest:
    """Run the study in ``path``; ``report`` writes ``<stem>.md`` and plots beside it."""

    path: Path
    report: bool = True
    permutations: int = 2_000


@dataclass
class StudyRow:
    """One algorithm on one dataset: tuned setting, test run (with repeats), catalogue run."""

    dataset: str
    label: str
    algorithm: str
    params: dict[str, Any]
    sweep_id: str | None
    trials: int
    tuned_value: float | None
    test_run: int
    metrics: dict[str, float]
    ci95: dict[str, float | None]
    ms_per_query: float
    catalogue_run: int | None = None
    catalogue: dict[str, float] = field(default_factory=dict)
    catalogue_ci95: dict[str, float | None] = field(default_factory=dict)
    versus: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Paired comparison with the baseline per metric: delta, ci95 [low, high], p, p_holm."""

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class StudyResult:
    name: str
    path: Path
    rows: list[StudyRow]
    fingerprints: dict[str, str]
    report: Path | None = None
    plots: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": str(self.path),
            "rows": [r.to_json() for r in self.rows],
            "fingerprints": self.fingerprints,
            "report": str(self.report) if self.report else None,
            "plots": [str(p) for p in self.plots],
            "notes": self.notes,
        }


def _key(*parts: Any) -> str:
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _stored(store: Store, dataset: str, key: str) -> Run | None:
    for r in list_runs(store, dataset=dataset, kind="eval"):
        if r.info.get("study", {}).get("key") == key:
            return r
    return None


def _ensure_loaded(store: Store, spec: DatasetSpec, notes: list[str]) -> str:
    try:
        return store.dataset(spec.name).fingerprint
    except NotFoundError:
        if not spec.load:
            raise
    from workbench.engine.ingest import load_dataset

    load_dataset(store, [str(p) for p in spec.load], spec.name, fmt=spec.format)
    notes.append(f"dataset {spec.name!r} loaded from {', '.join(map(str, spec.load))}")
    return store.dataset(spec.name).fingerprint


def _tune(
    store: Store,
    spec: StudySpec,
    dataset: str,
    fingerprint: str,
    algo: AlgorithmSpec,
    reporter: Reporter,
) -> tuple[dict[str, Any], str | None, int, float | None]:
    if not algo.grid:
        return dict(algo.params), None, 0, None
    settings = spec.settings("validation")
    sweep_id = _key(
        spec.name,
        dataset,
        fingerprint,
        algo.algorithm,
        algo.params,
        algo.grid,
        settings.to_info(),
        spec.tune_metric,
    )[:8]
    fields = {k: v for k, v in spec.evaluation.items()} | spec.tuning
    evaluation = EvalRequest(
        dataset, algo.algorithm, params=algo.params, **(fields | {"repeats": 1})
    )
    if sweep_runs(store, sweep_id):
        result = run_sweep(store, ResumeRequest(sweep_id, plot=False), reporter)
    else:
        request = SweepRequest(
            evaluation, algo.grid, metric=spec.tune_metric, sweep_id=sweep_id, plot=False
        )
        result = run_sweep(store, request, reporter)
    if result.cancelled or result.best is None:
        reporter.check("the study")
        raise WorkbenchError(f"the sweep of {algo.label} on {dataset} found no setting")
    best = result.best
    return dict(best.params), sweep_id, len(result.trials), best.metrics.get(spec.tune_metric)


def _evaluate_once(
    store: Store,
    spec: StudySpec,
    dataset: str,
    fingerprint: str,
    algo: AlgorithmSpec,
    params: Mapping[str, Any],
    role: str,
    reporter: Reporter,
) -> Run:
    settings = spec.settings(role, algo)
    key = _key(spec.name, dataset, fingerprint, algo.algorithm, params, settings.to_info(), role)
    found = _stored(store, dataset, key)
    if found is not None:
        return found
    tag = {"study": {"name": spec.name, "key": key, "label": algo.label, "role": role}}
    text = {k: str(v) for k, v in params.items()}
    run_id, _, _ = evaluate(
        store,
        dataset,
        algo.algorithm,
        text,
        settings,
        reporter=reporter,
        info=tag,
        name=f"{spec.name}: {algo.label} ({role})",
    )
    found = _stored(store, dataset, key)
    assert found is not None and found.run_id == run_id
    return found


def run(store: Store, request: StudyRequest, reporter: Reporter = SILENT) -> StudyResult:
    """Run (or finish) the study in ``request.path`` and write its report."""
    spec = read_study(request.path)
    notes: list[str] = []
    rows: list[StudyRow] = []
    fingerprints: dict[str, str] = {}
    units = len(spec.datasets) * len(spec.algorithms)
    for d_index, dataset in enumerate(spec.datasets):
        fingerprint = _ensure_loaded(store, dataset, notes)
        fingerprints[dataset.name] = fingerprint
        test_runs: dict[str, Run] = {}
        for a_index, algo in enumerate(spec.algorithms):
            if algo.datasets and dataset.name not in algo.datasets:
                continue
            unit = d_index * len(spec.algorithms) + a_index
            part = reporter.scaled(unit, 1, units, f"{algo.label} on {dataset.name}")
            steps = 3 if spec.catalogue is not None else 2
            params, sweep_id, trials, tuned = _tune(
                store, spec, dataset.name, fingerprint, algo, part.scaled(0, 1, steps, "tuning")
            )
            test = _evaluate_once(
                store,
                spec,
                dataset.name,
                fingerprint,
                algo,
                params,
                "test",
                part.scaled(1, 1, steps, "testing"),
            )
            test_runs[algo.label] = test
            row = StudyRow(
                dataset=dataset.name,
                label=algo.label,
                algorithm=algo.algorithm,
                params={k: params[k] for k in sorted(params)},
                sweep_id=sweep_id,
                trials=trials,
                tuned_value=tuned,
                test_run=test.run_id,
                metrics=dict(test.metrics),
                ci95=dict(test.info.get("ci95") or {}),
                ms_per_query=float(test.info.get("ms_per_query") or 0.0),
            )
            if spec.catalogue is not None:
                cat = _evaluate_once(
                    store,
                    spec,
                    dataset.name,
                    fingerprint,
                    algo,
                    params,
                    "catalogue",
                    part.scaled(2, 1, steps, "catalogue"),
                )
                row.catalogue_run = cat.run_id
                row.catalogue = {
                    m: cat.metrics[m] for m in spec.catalogue_metrics if m in cat.metrics
                }
                row.catalogue_ci95 = {
                    m: (cat.info.get("ci95") or {}).get(m) for m in spec.catalogue_metrics
                }
            rows.append(row)
        if spec.baseline is not None and len(test_runs) > 1:
            _versus(store, spec, rows, test_runs, request.permutations, reporter)
    result = StudyResult(spec.name, spec.path, rows, fingerprints, notes=notes)
    if request.report:
        write_report(spec, result)
    return result


def _versus(
    store: Store,
    spec: StudySpec,
    rows: list[StudyRow],
    test_runs: dict[str, Run],
    permutations: int,
    reporter: Reporter,
) -> None:
    assert spec.baseline is not None
    base = test_runs[spec.baseline]
    others = [label for label in test_runs if label != spec.baseline]
    ks = sorted({int(m.split("@")[1]) for m in spec.metrics})
    by_label = {r.label: r for r in rows if r.dataset == base.dataset}
    for k in ks:
        out = compare_evaluations(
            store,
            [base.run_id, *(test_runs[o].run_id for o in others)],
            k=k,
            permutations=permutations,
            reporter=reporter,
        )
        for m, tests in out.tests.items():
            if m not in spec.metrics:
                continue
            for label, t in zip(others, tests, strict=True):
                by_label[label].versus[m] = {
                    "baseline": spec.baseline,
                    "delta": t.delta,
                    "ci95": list(t.ci95) if t.ci95 else None,
                    "boards": t.n,
                    "p": t.p_permutation,
                    "p_holm": t.p_permutation_holm,
                }


# -- the report ------------------------------------------------------------------------------


def _cell(value: float | None, half: float | None, digits: int = 4) -> str:
    if value is None:
        return "–"
    return f"{value:.{digits}f}" + (f" ± {half:.{digits}f}" if half is not None else "")


def _verdict(low: float, high: float, p_holm: float) -> str:
    """Higher or lower only when the interval excludes 0 and the Holm-corrected p is < 0.05."""
    if p_holm < 0.05 and (low > 0 or high < 0):
        return "higher" if low > 0 else "lower"
    if low > 0 or high < 0:
        return "tied after Holm (its own interval excludes 0)"
    return "tied"


def _settings_line(settings: EvalSettings) -> str:
    parts = [f"{settings.protocol} protocol", f"split seed {settings.split_seed}"]
    if settings.protocol == "sampled":
        parts.append(f"{settings.negatives} negatives per board")
    if settings.boards:
        parts.append(f"a seeded sample of {settings.boards:,} boards")
    seeds = settings.seeds
    parts.append(f"seeds {seeds[0]}..{seeds[-1]}" if len(seeds) > 1 else f"seed {seeds[0]}")
    return ", ".join(parts)


def render_report(spec: StudySpec, result: StudyResult, plot_names: Mapping[str, str]) -> str:
    """The markdown report of ``result``."""
    test, val = spec.settings("test"), spec.settings("validation")
    lines = [f"# Study: {spec.name}", ""]
    if spec.description:
        lines += [spec.description.strip(), ""]
    lines += [
        f"Regenerate with `workbench study {spec.path} --db STORE` (the same file on the same "
        "store reuses the stored runs and gives the same numbers; on a fresh store it recomputes "
        "them with the same seeds: the metrics repeat, the timings are measured again).",
        "",
        f"- Test: {_settings_line(test)}.",
        f"- Tuning: each grid evaluated on the validation split (carved from training), "
        f"{_settings_line(val)}; best by {spec.tune_metric}. The test split is used once, "
        "with the tuned setting.",
        "- ± is the half-width of the 95% interval of the mean over boards (Student's t; per-board "
        f"values averaged over the {spec.repeats} seed(s)). Δ intervals are paired over boards "
        "(each on its own, not corrected); p is the randomisation test, Holm-corrected over the "
        "algorithms compared with the baseline; a verdict says higher or lower only when both "
        "agree.",
    ]
    if spec.catalogue is not None:
        lines.append(f"- Catalogue measures: {_settings_line(spec.settings('catalogue'))}.")
    lines.append(
        "- ms/query: the algorithm's own time per query (scoring one board's candidates, after a "
        "warm-up call; mean over the seeds), on the machine that ran the study."
    )
    lines += ["", "## Grids", ""]
    for a in spec.algorithms:
        fixed = ", ".join(f"{k}={v}" for k, v in a.params.items()) or "defaults"
        grid = "; ".join(f"{k} ∈ {{{', '.join(v)}}}" for k, v in a.grid.items()) or "not tuned"
        only = f" (only on {', '.join(a.datasets)})" if a.datasets else ""
        only += f" ({a.repeats} test seeds)" if a.repeats else ""
        lines.append(f"- **{a.label}** (`{a.algorithm}`){only}: {fixed}; grid: {grid}")
    for dataset, fingerprint in result.fingerprints.items():
        rows = [r for r in result.rows if r.dataset == dataset]
        lines += ["", f"## {dataset}", "", f"Dataset fingerprint `{fingerprint[:16]}`.", ""]
        heads = ["algorithm", "tuned setting", *spec.metrics]
        heads += [f"{m} (full)" for m in spec.catalogue_metrics] if spec.catalogue else []
        heads += ["ms/query", "runs"]
        lines += ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
        for r in rows:
            grid_keys = next(a.grid for a in spec.algorithms if a.label == r.label)
            tuned = ", ".join(f"{k}={r.params.get(k)}" for k in grid_keys) or "–"
            cells = [f"**{r.label}**", tuned]
            cells += [_cell(r.metrics.get(m), r.ci95.get(m)) for m in spec.metrics]
            if spec.catalogue:
                cells += [
                    _cell(r.catalogue.get(m), r.catalogue_ci95.get(m))
                    for m in spec.catalogue_metrics
                ]
            runs = f"test {r.test_run}" + (f", full {r.catalogue_run}" if r.catalogue_run else "")
            runs += f", sweep {r.sweep_id} ({r.trials} trials)" if r.sweep_id else ""
            cells += [f"{r.ms_per_query:.2f}", runs]
            lines.append("| " + " | ".join(cells) + " |")
        versus = [r for r in rows if r.versus]
        if versus:
            lines += ["", f"Paired against **{spec.baseline}** (test split):", ""]
            heads = ["algorithm", *(f"Δ {m} [95% CI]" for m in spec.metrics), "verdict"]
            lines += ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
            for r in versus:
                cells, verdicts = [f"**{r.label}**"], []
                for m in spec.metrics:
                    v = r.versus.get(m)
                    if v is None or v["ci95"] is None:
                        cells.append("–")
                        continue
                    low, high = v["ci95"]
                    cells.append(f"{v['delta']:+.4f} [{low:+.4f}, {high:+.4f}] p={v['p_holm']:.2g}")
                    verdicts.append(f"{m} {_verdict(low, high, v['p_holm'])}")
                cells.append(", ".join(verdicts))
                lines.append("| " + " | ".join(cells) + " |")
        if dataset in plot_names:
            lines += ["", f"![{spec.metrics[0]} on {dataset}]({plot_names[dataset]})"]
    if spec.findings:
        lines += ["", "## Findings", "", spec.findings.strip()]
    return "\n".join(lines) + "\n"


def write_report(spec: StudySpec, result: StudyResult) -> None:
    """Write ``<stem>.md`` and one interval chart per dataset beside the study file."""
    names: dict[str, str] = {}
    metric = spec.metrics[0]
    for dataset in result.fingerprints:
        rows = [r for r in result.rows if r.dataset == dataset and metric in r.metrics]
        if not rows:
            continue
        path = spec.path.with_name(f"{spec.path.stem}-{dataset}.png")
        plots.interval_chart(
            [(r.label, r.metrics[metric], r.ci95.get(metric)) for r in rows],
            metric,
            path,
            title=f"{spec.name}: {dataset}, test split",
        )
        names[dataset] = path.name
        result.plots.append(path)
    report = spec.path.with_suffix(".md")
    text = render_report(spec, result, names)
    result.report = atomic_write(
        report, lambda tmp: tmp.write_text(text, encoding="utf-8"), overwrite=True
    )
