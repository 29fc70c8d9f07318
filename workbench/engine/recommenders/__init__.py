"""Recommenders with one interface: Pixie walks and the baselines it is compared with.

Importing the package registers every algorithm in :data:`ALGORITHMS`.
"""

from workbench.engine.recommenders import itemknn, p3alpha, pixie, popular, ppr, rp3beta
from workbench.engine.recommenders.base import (
    ALGORITHMS,
    ParamField,
    Query,
    Ranking,
    Recommender,
    algorithm,
    board_query,
    create,
    param_fields,
    params_dict,
    parse_params,
)

__all__ = [
    "ALGORITHMS",
    "ParamField",
    "Query",
    "Ranking",
    "Recommender",
    "algorithm",
    "board_query",
    "create",
    "itemknn",
    "p3alpha",
    "param_fields",
    "params_dict",
    "parse_params",
    "pixie",
    "popular",
    "ppr",
    "rp3beta",
]
