"""Synthetic board/pin graphs for tests and benchmarks: power-law degrees and topic structure.

Each edge row is drawn independently: a board by a bounded power law over board ranks (exponent
``board_skew``), then a topic (the board's own with probability ``topic_focus``, else any topic
uniformly), then a pin of that topic by a bounded power law over the topic's pin ranks (exponent
``pin_skew``). Ranks are scattered over the id ranges by a fixed affine bijection so popularity is
not visible in the ids. Rows are drawn in fixed-size chunks, each from its own generator seeded by
``(seed, chunk index)``, so a file depends only on the parameters and memory only on the chunk size.
Rows may repeat a board-pin pair (a popular pin on a big board); a load merges them.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from workbench.engine.atomic import atomic_path
from workbench.engine.errors import WorkbenchError
from workbench.engine.progress import SILENT, Reporter

CHUNK_ROWS = 1 << 20  # rows drawn and written per step: fixes the memory, not the output


@dataclass(frozen=True)
class GraphSpec:
    """The parameters of a synthetic graph (the same spec gives the same file, byte for byte).
    Defaults for users live in the generate service's request."""

    edges: int  # rows written (repeated board-pin pairs included)
    boards: int
    pins: int
    pin_skew: float  # power-law exponent of pin popularity within a topic
    board_skew: float  # power-law exponent of board sizes
    topics: int
    topic_focus: float  # share of a board's rows drawn from its own topic
    seed: int

    def check(self) -> None:
        """Refuse parameters that cannot make a graph, one line each."""
        for name in ("edges", "boards", "pins", "topics"):
            if getattr(self, name) < 1:
                raise WorkbenchError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.boards >= 2**31 or self.pins >= 2**31:
            raise WorkbenchError("boards and pins must each be fewer than 2^31")
        if self.topics > min(self.pins, self.boards):
            raise WorkbenchError(
                f"topics ({self.topics}) cannot exceed the number of pins or boards"
            )
        for name in ("pin_skew", "board_skew"):
            v = getattr(self, name)
            if not (math.isfinite(v) and 0.0 <= v <= 4.0):
                raise WorkbenchError(f"{name.replace('_', ' ')} must be from 0 to 4, got {v}")
        if not 0.0 <= self.topic_focus <= 1.0:
            raise WorkbenchError(f"topic focus must be from 0 to 1, got {self.topic_focus}")
        if not 0 <= self.seed < 2**63:
            raise WorkbenchError(f"seed must be from 0 to 2^63-1, got {self.seed}")


def power_law_ranks(u: np.ndarray, n: np.ndarray | int, s: float) -> np.ndarray:
    """Ranks in ``[0, n)`` with P(rank r) roughly proportional to (r + 1) ** -s, by inverting the
    continuous power law's CDF on ``[1, n + 1)`` (O(1) memory, vectorised over ``u`` and ``n``)."""
    n1 = np.asarray(n, dtype=np.float64) + 1.0
    if abs(s - 1.0) < 1e-9:
        x = np.exp(u * np.log(n1))
    else:
        a = 1.0 - s
        x = (1.0 + u * (n1**a - 1.0)) ** (1.0 / a)
    r = np.floor(x).astype(np.int64) - 1
    return np.minimum(np.maximum(r, 0), np.asarray(n, dtype=np.int64) - 1)


def _scatter_factor(n: int) -> int:
    """A multiplier coprime to ``n`` near n * 0.618: x -> (x * a + 1) mod n is a bijection."""
    a = max(int(n * 0.6180339887) | 1, 1)
    while math.gcd(a, n) != 1:
        a += 2
    return a


def draw_chunk(spec: GraphSpec, index: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``index``-th chunk of rows: (board ids, pin ids), int64."""
    rows = min(CHUNK_ROWS, spec.edges - index * CHUNK_ROWS)
    rng = np.random.default_rng([spec.seed, index])
    # a whole chunk's draws, then cut: a file's rows are a prefix of a longer file's rows
    board_rank = power_law_ranks(rng.random(CHUNK_ROWS), spec.boards, spec.board_skew)
    t = spec.topics
    # board rank r belongs to topic r % T; a focused row keeps it, the rest pick any topic
    topic = board_rank % t
    stray = rng.random(CHUNK_ROWS) >= spec.topic_focus
    topic[stray] = rng.integers(0, t, int(stray.sum()))
    # pins of topic k are ranks k, k + T, k + 2T, ... below P
    in_topic = (spec.pins - 1 - topic) // t + 1
    pin_rank = topic + t * power_law_ranks(rng.random(CHUNK_ROWS), in_topic, spec.pin_skew)
    boards = (board_rank[:rows] * _scatter_factor(spec.boards) + 1) % spec.boards
    pins = (pin_rank[:rows] * _scatter_factor(spec.pins) + 1) % spec.pins
    return boards, pins


def generate_edges(spec: GraphSpec, out: str | os.PathLike[str], *, overwrite: bool = False,
                   reporter: Reporter = SILENT) -> Path:  # fmt: skip
    """Write the spec's rows to ``out`` as parquet (columns ``board``, ``pin``: int64), streamed
    chunk by chunk and renamed into place only when complete."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    spec.check()
    target = Path(out)
    if target.suffix.lower() not in (".parquet", ".pq"):
        raise WorkbenchError(f"{target}: the output must be a .parquet file")
    schema = pa.schema([("board", pa.int64()), ("pin", pa.int64())])
    n_chunks = -(-spec.edges // CHUNK_ROWS)
    with atomic_path(target, overwrite=overwrite) as tmp:
        with pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
            for i in range(n_chunks):
                reporter.progress(i, n_chunks, "generating edges")
                boards, pins = draw_chunk(spec, i)
                writer.write_table(
                    pa.table({"board": boards, "pin": pins}, schema=schema),
                    row_group_size=CHUNK_ROWS,
                )
        reporter.progress(n_chunks, n_chunks, "generating edges")
    return target
