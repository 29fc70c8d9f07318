"""Does Pixie's step budget cost accuracy? Pixie vs the same walks with equal steps per query pin.

Pixie (Eksombatchai et al., WWW 2018, section 3.2) gives query pin q the share
s_q / sum_r s_r of the steps, s_q = deg(q) (C - log deg(q)) with C the largest pin degree: about
proportional to the pin's degree. Query weights w_q scale that share, so w_q = mean_r(s_r) / s_q
gives every query pin the same number of steps. This script evaluates both on the validation
split (the same seeded sample of boards as the sweeps in eval/pinterest.md) and prints HR@10,
NDCG@10 and the average popularity of the top 10.

    python eval/pixie_budget.py --db pinterest.duckdb --dataset pinterest-20 --boards 10000
"""

from __future__ import annotations

import argparse

import numpy as np

import workbench.engine.evaluate as ev
import workbench.engine.evaluation.trial as trial
from workbench.engine.graph import Graph
from workbench.engine.recommenders import Query, board_query
from workbench.engine.store import Store


def equal_budget_query(graph: Graph, board: int) -> Query:
    """The board's query with weights that cancel Pixie's degree-based step shares."""
    q = board_query(graph, board)
    degree = graph.pin_degree[q.pins].astype(np.float64)
    c = float(graph.pin_degree.max())
    share = np.where(degree > 0, degree * (c - np.log(np.maximum(degree, 1.0))), 0.0)
    weights = np.where(share > 0, share.mean() / np.maximum(share, 1e-300), 1.0)
    return Query(pins=q.pins, weights=weights, board=board, exclude=q.exclude)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--dataset", default="pinterest-20")
    parser.add_argument("--boards", type=int, default=10000)
    args = parser.parse_args()
    data = ev.prepare(
        Store(args.db), args.dataset, ev.EvalSettings(split="validation", boards=args.boards)
    )
    for params in ({"alpha": "0.99"}, {"alpha": "0.99", "degree_beta": "0.8"}):
        for name, make in (("paper budget", board_query), ("equal budget", equal_budget_query)):
            trial.board_query = make  # type: ignore[assignment]  # the builder run_trial uses
            m = ev.run_trial(data, "pixie", params).metrics
            print(
                f"{params}  {name}: hr@10 {m['hr@10']:.4f}  ndcg@10 {m['ndcg@10']:.4f}  "
                f"popularity@10 {m.get('popularity@10', float('nan')):.1f} (full protocol only)",
                flush=True,
            )


if __name__ == "__main__":
    main()
