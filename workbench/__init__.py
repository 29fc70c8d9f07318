"""Pinboard workbench: Pixie random walks, baselines and visual search over board/pin graphs.

The notebook API (:mod:`workbench.api`) is available from the package itself, imported on first
use so that the CLI and the TUI start fast::

    import workbench as wb
    store = wb.open_store("workbench.duckdb")
    wb.datasets(store)
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    api = importlib.import_module("workbench.api")
    if name in api.__all__:
        return getattr(api, name)
    raise AttributeError(f"module 'workbench' has no attribute {name!r}")


def __dir__() -> list[str]:
    return ["__version__", *importlib.import_module("workbench.api").__all__]
