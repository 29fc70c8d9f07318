"""Pinboard workbench: Pixie random walks, baselines and visual search over board/pin graphs.

The notebook API (:mod:`workbench.api`) is re-exported here::

    import workbench as wb
    store = wb.open_store("workbench.duckdb")
    wb.datasets(store)
"""

__version__ = "0.1.0"

from workbench.api import (
    boards,
    datasets,
    edges,
    get_run,
    info,
    load,
    open_store,
    pins,
    run_board_metrics,
    run_results,
    runs,
)

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
