"""Pixie (Eksombatchai et al., WWW 2018): random walks with restart from the query pins.

Alg. 3 of the paper with its options: step budgets per query pin, multi-hit boosting, early
stopping, biased (topic-personalised) walks and graph pruning. Variants that are not in the paper,
each off by default: ``degree_beta`` > 0 divides visit counts by deg(p)^beta to favour less popular
pins; ``allocation=equal`` gives every query pin the same steps instead of the paper's
degree-based budget; ``credit=expected`` credits every pin of the board a step stands on with its
transition probability instead of the one pin sampled (the same expected visits, less variance).
``steps`` is the query's total whatever its pins' weights (the paper's formula, with weights
outside its normalisation, would take more or fewer). The kernels are in
:mod:`workbench.engine.walks`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from workbench.engine.errors import WorkbenchError
from workbench.engine.graph import Graph, PruneReport, prune
from workbench.engine.recommenders.base import (
    BatchOutput,
    QueryBatch,
    Recommender,
    param,
    register,
)
from workbench.engine.walks import (
    ALLOCATIONS,
    CREDITS,
    ScratchPool,
    WalkGraph,
    pixie_batch,
    walk_graph,
    walk_params,
)


@dataclass(frozen=True)
class PixieParams:
    steps: int = param(
        100_000,
        "walk steps N per query, all query pins together: split among them by `allocation` "
        "(times their weights) and adding up to exactly N, fewer only with early stopping",
        (1, 1_000_000_000),
    )
    # Default chosen on validation splits (eval/defaults.md): higher restart probabilities win on
    # Pinterest and MovieLens alike; 0.9 is within 0.003 NDCG@10 of the best (0.99) on both.
    alpha: float = param(0.9, "restart probability before each pin->board->pin step", (0.001, 1.0))
    n_p: int = param(
        0, "early stopping: stop once n_p pins have n_v visits (0 = never)", (0, 100_000_000)
    )
    n_v: int = param(4, "early stopping: visits that make a pin count towards n_p", (1, 1_000_000))
    boost: bool = param(True, "multi-hit boosting: V = (sum over query pins of sqrt V_q)^2")
    degree_beta: float = param(
        0.0,
        "variant, not in the paper: divide visit counts by "
        "deg(p)^degree_beta (0 = Pixie as published)",
        (0.0, 2.0),
    )
    bias: float = param(
        0.0,
        "biased walks: probability of choosing among the neighbours whose "
        "topic matches the query's",
        (0.0, 1.0),
    )
    bias_side: str = param(
        "board", "where biased walks prefer matching topics", choices=("board", "pin", "both")
    )
    bias_value: str = param(
        "", "topic value biased walks prefer (empty: the query pins' most common topic)"
    )
    topic: str = param("topic", "pin attribute used as topic by biased walks and pruning")
    prune_entropy: float = param(
        0.0,
        "pruning: drop boards whose topic entropy (bits) exceeds this (0 = keep all)",
        (0.0, 64.0),
    )
    prune_delta: float = param(
        1.0, "pruning: a pin of degree d keeps ceil(d^delta) edges (1 = keep all)", (0.01, 1.0)
    )
    prune_seed: int = param(
        0,
        "pruning: seed of the random choice when edges have neither topics nor timestamps",
        (0, 2**63 - 1),
    )
    allocation: str = param(
        "paper",
        "how the steps are split among the query pins: paper = Pixie's degree-based budget "
        "deg(q) (C - log deg(q)), equal = the same for each pin (both times the pin's weight)",
        choices=ALLOCATIONS,
    )
    credit: str = param(
        "sample",
        "what a step credits: sample = the pin it lands on (as published), expected = every pin "
        "of the board it stands on, by its transition probability (less variance, same mean)",
        choices=CREDITS,
    )


@register
class Pixie(Recommender):
    name = "pixie"
    Params = PixieParams
    description = "Pixie random walks with restart (Eksombatchai et al., WWW 2018)"

    prune_report: PruneReport | None = None

    def _fit(self, graph: Graph) -> None:
        p: PixieParams = self.params
        has_topic = p.topic in graph.pin_attributes
        if (p.bias > 0 or p.prune_entropy > 0) and not has_topic:
            graph.pin_attribute(p.topic)  # raises: the dataset has no such attribute
        self.prune_report = None
        if p.prune_entropy > 0 or p.prune_delta < 1:
            graph, self.prune_report = prune(
                graph,
                topic=p.topic if has_topic else None,
                max_entropy=p.prune_entropy if p.prune_entropy > 0 else None,
                delta=p.prune_delta,
                seed=p.prune_seed,
            )
        self.walk_graph: WalkGraph = walk_graph(graph, p.topic if p.bias > 0 else None)
        self.walk_params = walk_params(
            p.steps,
            p.alpha,
            p.n_p,
            p.n_v,
            p.boost,
            p.degree_beta,
            p.bias,
            p.bias_side,
            p.allocation,
            p.credit,
        )
        self._pin_topic = graph.pin_attribute(p.topic).codes if p.bias > 0 else None
        self._fixed_topic = -1
        if p.bias > 0 and p.bias_value:
            self._fixed_topic = graph.pin_attribute(p.topic).code(p.bias_value)
            if self._fixed_topic < 0:
                raise WorkbenchError(f"pixie: no pin has {p.topic} = {p.bias_value!r}")
        self._scratch = ScratchPool(graph.n_pins, graph.n_boards if p.credit == "expected" else 0)

    def run_info(self) -> dict[str, Any]:
        """The pruning report (what pruning removed), when the graph was pruned."""
        if self.prune_report is None:
            return {}
        return {"pruning": dataclasses.asdict(self.prune_report)}

    def query_topics(self, batch: QueryBatch) -> np.ndarray:
        """The topic code each query's walks prefer: ``bias_value``, else the weighted most
        common topic of its pins; -1 (no preference) without bias or known topics."""
        topics = np.full(batch.size, -1, dtype=np.int32)
        if self._pin_topic is None:
            return topics
        if self._fixed_topic >= 0:
            topics[:] = self._fixed_topic
            return topics
        codes = self._pin_topic[batch.q_pins]
        for i in range(batch.size):
            lo, hi = batch.q_indptr[i], batch.q_indptr[i + 1]
            known = codes[lo:hi] >= 0
            if known.any():
                votes = np.bincount(codes[lo:hi][known], weights=batch.q_weights[lo:hi][known])
                topics[i] = int(np.argmax(votes))
        return topics

    def _run(self, batch: QueryBatch, k: int, seeds: np.ndarray) -> BatchOutput:
        out = BatchOutput.empty(batch, k)
        with self._scratch.borrow() as scratch:
            pixie_batch(
                *batch,
                self.query_topics(batch),
                seeds,
                self.walk_graph,
                self.walk_params,
                scratch,
                *out,
            )
        return out


@dataclass(frozen=True)
class PixieDegreeNormalisedParams(PixieParams):
    """Pixie's parameters with the variant's defaults, chosen on validation splits only and then
    tested once with 5 seeds (eval/walks.md): 10,000 steps shared equally among the query pins,
    each step crediting its board's pins by their transition probability, matches RP3beta's
    test HR@10 within the 95% intervals on Pinterest-20 and MovieLens 100K at 3-5 ms a query."""

    steps: int = param(
        10_000,
        "walk steps N per query, all query pins together: split among them by `allocation` "
        "(times their weights) and adding up to exactly N, fewer only with early stopping",
        (1, 1_000_000_000),
    )
    alpha: float = param(0.99, "restart probability before each pin->board->pin step", (0.001, 1.0))
    degree_beta: float = param(
        0.8, "divide visit counts by deg(p)^degree_beta (0 = Pixie as published)", (0.0, 2.0)
    )
    allocation: str = param(
        "equal",
        "how the steps are split among the query pins: paper = Pixie's degree-based budget "
        "deg(q) (C - log deg(q)), equal = the same for each pin (both times the pin's weight)",
        choices=ALLOCATIONS,
    )
    credit: str = param(
        "expected",
        "what a step credits: sample = the pin it lands on (as published), expected = every pin "
        "of the board it stands on, by its transition probability (less variance, same mean)",
        choices=CREDITS,
    )


@register
class PixieDegreeNormalised(Pixie):
    """A variant, not in the paper: Pixie whose visit counts are divided by deg(p)^0.8, the
    popularity correction of RP3beta applied to the walk (eval/pinterest.md, section 2)."""

    name = "pixie-dn"
    Params = PixieDegreeNormalisedParams
    description = (
        "variant of Pixie (not in the paper): visit counts divided by degree^0.8, equal steps "
        "per query pin, expected-visit credit"
    )
