"""Pinboard workbench: Pixie random walks, baselines and visual search over board/pin graphs.

The notebook API lives in :mod:`workbench.api` and is re-exported here::

    import workbench
    store = workbench.open_store("workbench.duckdb")
    workbench.datasets(store)
"""

__version__ = "0.1.0"
