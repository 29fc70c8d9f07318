"""What every sub-command shares: --db and --json options, opening the store, output, progress."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from workbench.engine.progress import Reporter
from workbench.services.parsing import parse_key_values

__all__ = ["Progress", "db_option", "emit_json", "get_store", "json_option", "parse_key_values",
           "show_progress"]  # fmt: skip

if TYPE_CHECKING:
    from workbench.services.datasets import Store

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


def get_store(ctx: click.Context | None = None, *, create: bool = False) -> Store:
    """The store named by --db / $WORKBENCH_DB, which must exist unless ``create`` (a load); the
    default store is created with the sample dataset on first use."""
    from workbench.services.datasets import open_store

    ctx = ctx or click.get_current_context()
    opened = open_store((ctx.find_root().obj or {}).get("db"), create=create)
    if opened.created_with_sample:
        click.echo(f"created {opened.store.path} with the sample dataset 'sample'", err=True)
    return opened.store


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

    def __call__(self, done: float, total: float | None, stage: str | None = None) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < 0.1 and (total is None or done < total):
            return
        self._last = now
        frac = done / total if total else 1.0
        elapsed = now - self.started
        eta = f"ETA {elapsed / frac - elapsed:5.0f}s" if 0 < frac < 1 else f"{elapsed:5.1f}s"
        width = 30
        bar = "#" * int(frac * width) + "-" * (width - int(frac * width))
        text = f"\r{self.label}{' ' + stage if stage else ''} [{bar}] {frac:4.0%} {eta}"
        click.echo(text.ljust(79), err=True, nl=False)

    @property
    def reporter(self) -> Reporter:
        """The reporter that draws this bar."""
        return Reporter(on_progress=self)

    def close(self) -> None:
        if self.enabled:
            click.echo("\r" + " " * 79 + "\r", err=True, nl=False)
