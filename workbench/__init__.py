"""Pinboard workbench: Pixie random walks, baselines and visual search over board/pin graphs.

The notebook API (:mod:`workbench.api`) is available from the package itself, imported on first
use so that the CLI and the TUI start fast::

    import workbench as wb
    store = wb.open_store("workbench.duckdb")
    wb.datasets(store)
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "boards",
    "datasets",
    "edges",
    "get_run",
    "info",
    "load",
    "open_store",
    "pins",
    "run_board_metrics",
    "run_results",
    "runs",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from workbench import api

        return getattr(api, name)
    raise AttributeError(f"module 'workbench' has no attribute {name!r}")
