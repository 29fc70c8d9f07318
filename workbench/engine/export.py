"""Exporting a run's ranked lists (csv, parquet, jsonl, TREC run + qrels, PNG contact sheet) with a
provenance sidecar; every file is written under a temporary name and renamed into place.

:func:`export_run` is the one entry point, used by both ``workbench export`` and the TUI.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from workbench import __version__
from workbench.engine.dataset import pins_frame
from workbench.engine.errors import NotFoundError, WorkbenchError
from workbench.engine.runs import Run, get_run, run_results
from workbench.engine.store import Store

FORMATS = ("csv", "parquet", "jsonl", "trec", "sheet")
EXTENSIONS = {"csv": "csv", "parquet": "parquet", "jsonl": "jsonl", "trec": "trec", "sheet": "png"}
DEFAULT_DIR = Path("exports")
SHEET_K = 20
PROVENANCE_SUFFIX = ".provenance.json"


def write_atomic(path: Path, write: Callable[[Path], Any], force: bool = False) -> Path:
    """Write ``path`` through ``write(tmp)`` on a temporary file in the same directory, then
    rename it into place (``os.replace``), so the final name never holds a partial file."""
    path = Path(path)
    if path.exists() and not force:
        raise WorkbenchError(f"{path} exists; pass --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    # Created like any new file (mode 0o666 less the umask), unlike mkstemp's private 0o600.
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def default_name(run: Run, fmt: str) -> str:
    """``run-12-pixie.csv``: the run id and its algorithm, safe as a file name."""
    algo = re.sub(r"[^A-Za-z0-9_.-]+", "-", run.algorithm).strip("-") or "run"
    return f"run-{run.run_id}-{algo}.{EXTENSIONS[fmt]}"


def _target(run: Run, fmt: str, out: str | os.PathLike[str] | None) -> Path:
    if out is None:
        return DEFAULT_DIR / default_name(run, fmt)
    path = Path(out)
    if path.is_dir() or str(out).endswith(os.sep):
        return path / default_name(run, fmt)
    return path


def ranked_rows(store: Store, run: Run) -> tuple[pl.DataFrame, list[str]]:
    """The run's ranked lists with each pin's title and attributes when the dataset is still the
    one the run was made on; also returns notes on anything left out."""
    rows = run_results(store, run.run_id)
    notes: list[str] = []
    try:
        info = store.dataset(run.dataset)
    except NotFoundError:
        return rows, [f"dataset {run.dataset!r} is no longer in the store: no pin titles"]
    if info.fingerprint != run.fingerprint:
        notes.append(
            f"dataset {run.dataset!r} changed since the run (fingerprint differs): "
            "titles and attributes are today's"
        )
    pins = pins_frame(store, run.dataset, rows["pin"].unique().to_list())
    pins = pins.drop([c for c in ("description", "image") if c in pins.columns])
    return rows.join(pins, on="pin", how="left").sort(["query", "rank"]), notes


def provenance(
    store: Store, run: Run, fmt: str, files: list[Path], rows: int, notes: list[str]
) -> dict[str, Any]:
    """What the sidecar holds: the run's provenance, the dataset, the workbench and the export."""
    try:
        current = store.dataset(run.dataset).fingerprint
    except NotFoundError:
        current = None
    return {
        "run": run.to_json(),
        "algorithm": run.algorithm,
        "params": run.params,
        "seed": run.seed,
        "dataset": {
            "name": run.dataset,
            "fingerprint": run.fingerprint,
            "fingerprint_now": current,
        },
        "workbench_version": __version__,
        "exported_at": datetime.now().isoformat(timespec="seconds"),
        "format": fmt,
        "files": [p.name for p in files],
        "rows": rows,
        "notes": notes,
    }


def _trec_scores(df: pl.DataFrame) -> list[float]:
    """Scores made strictly decreasing within each query by one-ulp steps where they tie, so
    tools that break ties their own way (trec_eval, ranx) see our order."""
    out: list[float] = []
    prev_query: Any = None
    prev = 0.0
    for query, score in zip(df["query"].to_list(), df["score"].to_list(), strict=True):
        s = float(score) if score is not None else 0.0
        if query == prev_query and s >= prev:
            s = float(np.nextafter(prev, -np.inf))
        out.append(s)
        prev_query, prev = query, s
    return out


def _write_trec(df: pl.DataFrame, tag: str, path: Path) -> None:
    scores = _trec_scores(df)
    with path.open("w") as f:
        for q, r, pin, s in zip(
            df["query"].to_list(), df["rank"].to_list(), df["pin"].to_list(), scores, strict=True
        ):
            f.write(f"{q} Q0 {pin} {r} {s!r} {tag}\n")


def _write_qrels(pairs: pl.DataFrame, path: Path) -> None:
    with path.open("w") as f:
        for q, pin in zip(pairs["query"].to_list(), pairs["pin"].to_list(), strict=True):
            f.write(f"{q} 0 {pin} 1\n")


def export_run(
    store: Store,
    run_id: int,
    fmt: str = "csv",
    out: str | os.PathLike[str] | None = None,
    force: bool = False,
    query: str | None = None,
    k: int | None = None,
) -> Path:
    """Write run ``run_id`` as ``fmt`` to ``out`` (a file, or a directory for the default name;
    default ``exports/run-<id>-<algorithm>.<ext>``) plus ``<file>.provenance.json``; returns the
    main file's path. ``trec`` also writes ``<stem>.qrels`` for evaluation runs. ``sheet`` draws
    the top ``k`` (default 20) pins of ``query`` (default: the run's first query). ``k`` limits
    every format to each query's top k. Nothing is overwritten unless ``force``."""
    if fmt not in FORMATS:
        raise WorkbenchError(f"unknown export format {fmt!r} (one of {', '.join(FORMATS)})")
    run = get_run(store, run_id)
    path = _target(run, fmt, out)
    sidecar = path.with_name(path.name + PROVENANCE_SUFFIX)
    qrels = path.with_suffix(".qrels") if fmt == "trec" and run.kind == "eval" else None
    targets = [p for p in (path, qrels, sidecar) if p is not None]
    if not force:
        for p in targets:
            if p.exists():
                raise WorkbenchError(f"{p} exists; pass --force to overwrite it")
    df, notes = ranked_rows(store, run)
    if df.height == 0:
        raise WorkbenchError(f"run {run_id} has no ranked results to export")
    if query is not None:
        df = df.filter(pl.col("query") == str(query))
        if df.height == 0:
            raise NotFoundError(f"run {run_id} has no query {query!r}")
    if fmt == "sheet":
        first = df["query"][0]
        df = df.filter(pl.col("query") == first)
        k = k or SHEET_K
    if k is not None:
        df = df.filter(pl.col("rank") <= k)
    written: list[Path] = []
    if fmt == "csv":
        written.append(write_atomic(path, lambda t: df.write_csv(t), force))
    elif fmt == "parquet":
        written.append(write_atomic(path, lambda t: df.write_parquet(t), force))
    elif fmt == "jsonl":
        written.append(write_atomic(path, lambda t: df.write_ndjson(t), force))
    elif fmt == "trec":
        tag = path.stem.replace(" ", "_")
        written.append(write_atomic(path, lambda t: _write_trec(df, tag, t), force))
        if qrels is not None:
            from workbench.engine.evaluate import heldout_pairs

            pairs = heldout_pairs(store, run)
            if query is not None:
                pairs = pairs.filter(pl.col("query") == str(query))
            written.append(write_atomic(qrels, lambda t: _write_qrels(pairs, t), force))
    else:
        images = _images(store, run, df["pin"].to_list())
        title = f"run {run.run_id} {run.algorithm} - query {df['query'][0]}"
        written.append(write_atomic(path, lambda t: _contact_sheet(df, images, title, t), force))
    meta = provenance(store, run, fmt, written, df.height, notes)
    write_atomic(sidecar, lambda t: t.write_text(json.dumps(meta, indent=2, default=str)), force)
    return path


def _images(store: Store, run: Run, pins: list[str]) -> dict[str, str]:
    try:
        frame = pins_frame(store, run.dataset, pins)
    except NotFoundError:
        return {}
    if "image" not in frame.columns:
        return {}
    return {
        p: img
        for p, img in zip(frame["pin"].to_list(), frame["image"].to_list(), strict=True)
        if img
    }


def _contact_sheet(
    df: pl.DataFrame,
    images: dict[str, str],
    title: str,
    path: Path,
    tile: int = 160,
    columns: int = 5,
) -> None:
    """A grid of the pins' images with rank, pin id and score under each; a labelled grey
    placeholder stands in for a pin without a readable image."""
    from PIL import Image, ImageDraw, ImageFont, ImageOps

    font = ImageFont.load_default()
    caption, header, pad = 30, 24, 8
    n = df.height
    columns = max(1, min(columns, n))
    rows = max(1, -(-n // columns))
    width = columns * (tile + pad) + pad
    height = header + rows * (tile + caption + pad) + pad
    sheet = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(sheet)
    draw.text((pad, 6), title, fill="black", font=font)
    for i, (rank, pin, score) in enumerate(
        zip(df["rank"].to_list(), df["pin"].to_list(), df["score"].to_list(), strict=True)
    ):
        x = pad + (i % columns) * (tile + pad)
        y = header + (i // columns) * (tile + caption + pad)
        thumb = None
        if pin in images:
            try:
                with Image.open(images[pin]) as im:
                    im.draft("RGB", (tile, tile))
                    thumb = ImageOps.contain(im.convert("RGB"), (tile, tile))
            except (OSError, ValueError):
                thumb = None
        if thumb is None:
            draw.rectangle(
                [x, y, x + tile - 1, y + tile - 1], fill=(215, 215, 215), outline=(150, 150, 150)
            )
            draw.text(
                (x + tile // 2, y + tile // 2),
                "no image",
                fill=(90, 90, 90),
                font=font,
                anchor="mm",
            )
        else:
            sheet.paste(thumb, (x + (tile - thumb.width) // 2, y + (tile - thumb.height) // 2))
        label = f"#{rank} {pin}"
        draw.text((x, y + tile + 2), label[:26], fill="black", font=font)
        draw.text(
            (x, y + tile + 15),
            f"score {score:.4g}" if score is not None else "",
            fill=(60, 60, 60),
            font=font,
        )
    sheet.save(path, format="PNG")
