"""Generate a synthetic board/pin graph file (power-law degrees, topic structure) to load."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from workbench.engine.generate import GraphSpec, generate_edges
from workbench.engine.progress import SILENT, Reporter
from workbench.services.parsing import check_seed

ROWS_PER_BOARD = 40  # default boards: edges / 40
ROWS_PER_PIN = 10  # default pins: edges / 10
DEFAULT_TOPICS = 100  # at most the number of boards or pins


@dataclass(frozen=True)
class GenerateRequest:
    """What to generate; ``boards``/``pins`` default to edges/40 and edges/10 (Pinterest-like),
    ``topics`` to 100 or the number of boards or pins if smaller."""

    edges: int
    out: str
    boards: int | None = None
    pins: int | None = None
    pin_skew: float = 0.8
    board_skew: float = 0.5
    topics: int | None = None
    topic_focus: float = 0.9
    seed: int = 0
    overwrite: bool = False

    def spec(self) -> GraphSpec:
        """The engine's spec, with the defaults filled in and every value checked."""
        check_seed(self.seed)
        boards = self.boards if self.boards is not None else max(self.edges // ROWS_PER_BOARD, 1)
        pins = self.pins if self.pins is not None else max(self.edges // ROWS_PER_PIN, 1)
        topics = self.topics if self.topics is not None else min(DEFAULT_TOPICS, boards, pins)
        spec = GraphSpec(
            edges=self.edges, boards=boards, pins=pins, pin_skew=self.pin_skew,
            board_skew=self.board_skew, topics=topics, topic_focus=self.topic_focus,
            seed=self.seed,
        )  # fmt: skip
        spec.check()
        return spec


@dataclass(frozen=True)
class GenerateResult:
    """The written file and the spec that made it."""

    path: str
    bytes: int
    elapsed_s: float
    spec: GraphSpec

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "bytes": self.bytes, "elapsed_s": round(self.elapsed_s, 3),
                **asdict(self.spec)}  # fmt: skip


def generate(request: GenerateRequest, reporter: Reporter = SILENT) -> GenerateResult:
    """Write the requested graph as a parquet edge file (``board``, ``pin``), atomically."""
    spec = request.spec()
    started = time.perf_counter()
    path = generate_edges(spec, request.out, overwrite=request.overwrite, reporter=reporter)
    return GenerateResult(
        path=str(Path(path).resolve()), bytes=Path(path).stat().st_size,
        elapsed_s=time.perf_counter() - started, spec=spec,
    )  # fmt: skip
