"""Exporting a run's ranked lists (csv, parquet, jsonl, TREC run + qrels, PNG contact sheet) with a
provenance sidecar; the set of files (main, qrels, sidecar) is written all or nothing through
:mod:`workbench.engine.atomic`.

:func:`write_export` is the one entry point, behind :mod:`workbench.services.export`.
"""

from __future__ import annotations

import json
import os
import re
import stat
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from workbench import __version__
from workbench.engine.atomic import atomic_write_many
from workbench.engine.dataset import pins_frame
from workbench.engine.errors import NotFoundError, OutputExistsError, WorkbenchError
from workbench.engine.progress import SILENT, Reporter
from workbench.engine.runs import Run, get_run, run_results
from workbench.engine.store import Store

FORMATS = ("csv", "parquet", "jsonl", "trec", "sheet")
EXTENSIONS = {"csv": "csv", "parquet": "parquet", "jsonl": "jsonl", "trec": "trec", "sheet": "png"}
DEFAULT_DIR = Path("exports")
SHEET_K = 20
PROVENANCE_SUFFIX = ".provenance.json"


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


@dataclass(frozen=True)
class Exported:
    """What an export wrote: the main file, the qrels (TREC exports of evaluations), the
    provenance sidecar, how many rows, and notes (e.g. images that could not be read)."""

    path: Path
    sidecar: Path
    rows: int
    qrels: Path | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def files(self) -> list[Path]:
        """The data files (main, then qrels), without the sidecar."""
        return [self.path] + ([self.qrels] if self.qrels is not None else [])


def _name_max(directory: Path) -> int:
    try:
        return os.pathconf(directory if directory.is_dir() else ".", "PC_NAME_MAX")
    except (OSError, ValueError):
        return 255


def _check_names(paths: list[Path]) -> None:
    """Refuse, before anything is written, names the file system cannot hold (the temporary
    name adds ``.`` + 35 characters) and names that collide."""
    for p in paths:
        room = _name_max(p.parent) - 36
        if len(p.name.encode()) > room:
            raise WorkbenchError(
                f"the output name {p.name[:40]}... is too long ({len(p.name.encode())} bytes; "
                f"at most {room} here, with room for {PROVENANCE_SUFFIX})"
            )
    if len({p.resolve() for p in paths}) != len(paths):
        raise OutputExistsError(
            "the export would write two of its files under one name "
            f"({', '.join(p.name for p in paths)}); choose another output name"
        )


def write_export(
    store: Store,
    run_id: int,
    fmt: str,
    out: str | os.PathLike[str] | None,
    *,
    overwrite: bool,
    query: str | None,
    k: int | None,
    reporter: Reporter = SILENT,
) -> Exported:
    """Write run ``run_id`` as ``fmt`` to ``out`` (a file, or a directory for the default name;
    default ``exports/run-<id>-<algorithm>.<ext>``) plus ``<file>.provenance.json``. ``trec`` also
    writes ``<stem>.qrels`` for evaluation runs. ``sheet`` draws the top ``k`` (default 20) pins
    of ``query`` (default: the run's first query). ``k`` limits every format to each query's top
    k. Nothing is overwritten unless ``overwrite``; the files appear together or not at all."""
    if fmt not in FORMATS:
        raise WorkbenchError(f"unknown export format {fmt!r} (one of {', '.join(FORMATS)})")
    run = get_run(store, run_id)
    path = _target(run, fmt, out)
    sidecar = path.with_name(path.name + PROVENANCE_SUFFIX)
    qrels = path.with_suffix(".qrels") if fmt == "trec" and run.kind == "eval" else None
    targets = [p for p in (path, qrels, sidecar) if p is not None]
    _check_names(targets)
    if not overwrite:
        for p in targets:
            if p.exists():
                raise OutputExistsError(f"the output file {p} exists", path=p)
    reporter.progress(0, 3, "reading the run")
    df, notes = ranked_rows(store, run)
    if df.height == 0:
        raise WorkbenchError(f"run {run_id} has no ranked results to export")
    if query is not None:
        df = df.filter(pl.col("query") == str(query))
        if df.height == 0:
            raise NotFoundError(f"run {run_id} has no query {query!r}")
    if fmt == "sheet":
        df = df.filter(pl.col("query") == df["query"][0])
        k = k or SHEET_K
    if k is not None:
        df = df.filter(pl.col("rank") <= k)
    pairs = None
    if qrels is not None:
        from workbench.engine.evaluate import heldout_pairs

        pairs = heldout_pairs(store, run)
        if query is not None:
            pairs = pairs.filter(pl.col("query") == str(query))
    images: dict[str, str] = {}
    if fmt == "sheet":
        images = _images(store, run, df["pin"].to_list())
    reporter.progress(1, 3, "writing")

    def write(tmps: list[Path]) -> None:
        main = tmps[0]
        if fmt == "csv":
            df.write_csv(main)
        elif fmt == "parquet":
            df.write_parquet(main)
        elif fmt == "jsonl":
            df.write_ndjson(main)
        elif fmt == "trec":
            _write_trec(df, path.stem.replace(" ", "_"), main)
            if pairs is not None:
                _write_qrels(pairs, tmps[1])
        else:
            title = f"run {run.run_id} {run.algorithm} - query {df['query'][0]}"
            unreadable = _contact_sheet(df, images, title, main, reporter)
            if unreadable:
                notes.append(f"{unreadable} image(s) could not be read: drawn as placeholders")
        reporter.check("export")
        files = [p for p in (path, qrels) if p is not None]
        meta = provenance(store, run, fmt, files, df.height, notes)
        tmps[-1].write_text(json.dumps(meta, indent=2, default=str))

    atomic_write_many(targets, write, overwrite=overwrite)
    reporter.progress(3, 3, "done")
    return Exported(path=path, sidecar=sidecar, rows=df.height, qrels=qrels, notes=notes)


def export_run(
    store: Store,
    run_id: int,
    fmt: str = "csv",
    out: str | os.PathLike[str] | None = None,
    force: bool = False,
    query: str | None = None,
    k: int | None = None,
) -> Path:
    """:func:`write_export`, returning the main file's path (for engine callers and tests)."""
    return write_export(store, run_id, fmt, out, overwrite=force, query=query, k=k).path


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


MAX_IMAGE_PIXELS = 100_000_000
"""Images larger than this (decompression bombs: a 40000x40000 PNG is 190 KB) are not drawn."""


def _thumbnail(path: str, tile: int) -> Any:
    """The image at ``path`` scaled into a ``tile`` square, or None when it is not a regular
    file (a FIFO would block forever), too large, or unreadable."""
    from PIL import Image, ImageOps

    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None
        with Image.open(path) as im:
            if im.width * im.height > MAX_IMAGE_PIXELS:
                return None
            im.draft("RGB", (tile, tile))
            return ImageOps.contain(im.convert("RGB"), (tile, tile))
    except (OSError, ValueError, Image.DecompressionBombError):
        return None


def _contact_sheet(
    df: pl.DataFrame,
    images: dict[str, str],
    title: str,
    path: Path,
    reporter: Reporter = SILENT,
    tile: int = 160,
    columns: int = 5,
) -> int:
    """A grid of the pins' images with rank, pin id and score under each; a labelled grey
    placeholder stands in for a pin without a readable image. Returns how many of the pins'
    images could not be read."""
    from PIL import Image, ImageDraw, ImageFont

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
    unreadable = 0
    for i, (rank, pin, score) in enumerate(
        zip(df["rank"].to_list(), df["pin"].to_list(), df["score"].to_list(), strict=True)
    ):
        x = pad + (i % columns) * (tile + pad)
        y = header + (i // columns) * (tile + caption + pad)
        reporter.check("export")
        thumb = _thumbnail(images[pin], tile) if pin in images else None
        unreadable += int(pin in images and thumb is None)
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
    return unreadable
