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


def __getattr__(name: str) -> Any:
    from workbench import api

    if name in api.__all__:
        return getattr(api, name)
    raise AttributeError(f"module 'workbench' has no attribute {name!r}")


def __dir__() -> list[str]:
    from workbench import api

    return ["__version__", *api.__all__]
