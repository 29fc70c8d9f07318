"""What every sub-command shares: --db and --json options, store opening, output, progress."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from workbench.engine.errors import WorkbenchError
from workbench.engine.store import Store, default_db_path

F = TypeVar("F", bound=Callable[..., Any])


def _remember_db(ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is not None:
        ctx.find_root().ensure_object(dict)["db"] = value
    return value


def db_option(f: F) -> F:
    """``--db PATH`` on every sub-command (and on the group); ``WORKBENCH_DB`` otherwise."""
    return click.option(
        "--db",
        "db",
        metavar="PATH",
        expose_value=False,
        callback=_remember_db,
        is_eager=True,
        help="Store file (default ./workbench.duckdb or $WORKBENCH_DB).",
    )(f)


def json_option(f: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")(f)


def sample_dir() -> Path | None:
    """The shipped sample dataset: next to the package in a checkout, inside it in a wheel."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here.parent / "sample_data", here / "sample_data"):
        if (candidate / "pins.csv").exists():
            return candidate
    return None


def get_store(ctx: click.Context | None = None) -> Store:
    """The store named by --db / $WORKBENCH_DB; a new store is filled with the sample dataset."""
    ctx = ctx or click.get_current_context()
    path = Path((ctx.find_root().obj or {}).get("db") or default_db_path())
    store = Store(path)
    if not path.exists() and not os.environ.get("WORKBENCH_NO_SAMPLE"):
        from workbench.engine.ingest import load_dataset

        sample = sample_dir()
        if sample is not None:
            load_dataset(store, [sample], "sample")
            click.echo(f"created {path} with the sample dataset 'sample'", err=True)
    return store


def emit_json(obj: Any) -> None:
    click.echo(json.dumps(obj, indent=2, default=str))


def show_progress(as_json: bool) -> bool:
    return not as_json and sys.stderr.isatty()


class Progress:
    """A one-line progress bar with ETA on stderr; silent when not a terminal or with --json."""

    def __init__(self, label: str, enabled: bool):
        self.label = label
        self.enabled = enabled
        self.started = time.monotonic()
        self._last = 0.0

    def __call__(self, done: int, total: int, stage: str | None = None) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < 0.1 and done < total:
            return
        self._last = now
        frac = done / total if total else 1.0
        elapsed = now - self.started
        eta = f"ETA {elapsed / frac - elapsed:5.0f}s" if 0 < frac < 1 else f"{elapsed:5.1f}s"
        width = 30
        bar = "#" * int(frac * width) + "-" * (width - int(frac * width))
        text = f"\r{self.label}{' ' + stage if stage else ''} [{bar}] {frac:4.0%} {eta}"
        click.echo(text.ljust(79), err=True, nl=False)

    def close(self) -> None:
        if self.enabled:
            click.echo("\r" + " " * 79 + "\r", err=True, nl=False)


def parse_key_values(items: tuple[str, ...], option: str) -> dict[str, str]:
    """``KEY=VALUE`` pairs from repeated options, with a one-line error for a malformed one."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise WorkbenchError(f"{option} {item!r}: expected KEY=VALUE")
        out[key.strip()] = value.strip()
    return out
