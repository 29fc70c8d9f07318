"""How an evaluation is done: protocol, split and its seed, negatives, cutoffs, repeats.

The defaults written here are the workbench's defaults for every face (the evaluate service's
request takes them from :class:`EvalSettings`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from workbench.engine.errors import WorkbenchError
from workbench.engine.splits import SPLITS, SplitSpec

PROTOCOLS = ("sampled", "full")
"""``sampled``: each held-out pin ranked among sampled negatives; ``full``: among every pin."""

DEFAULT_KS = (1, 5, 10, 20)
DEFAULT_NEGATIVES = 99
MAX_REPEATS = 100
STORED_DEPTH = 1000
"""Rankings are kept (and stored) this deep at most; metrics at deeper cutoffs use the whole
lists, batch by batch."""

TIE_RULE = (
    "ties broken at random (seeded hash of board and pin), never by candidate position: "
    "the held-out pin gains nothing from a tie"
)


@dataclass(frozen=True)
class EvalSettings:
    """How to evaluate.

    ``split_seed`` fixes the held-out pins (a random holdout and the validation carving) and the
    board sample, so runs with different ``seed`` are fitted on the same pins. ``seed`` drives
    the sampled negatives, tie-breaking and the algorithm; ``repeats`` evaluates seeds ``seed``,
    ``seed + 1``, ... over the same split and reports means with 95% intervals.
    ``negatives``: sampled negatives per board (sampled protocol; the dataset's own negatives
    table is used instead for its test split when it has one). ``boards``: a seeded sample of this
    many boards (None: all). ``keep_short``: keep boards that have fewer candidate negatives than
    asked for (flagged in the run; by default they are left out and counted). ``diversity``: the
    pin attribute for intra-list diversity (None: ``topic`` when the dataset has it).
    ``batch``: boards scored per call.
    """

    protocol: str = "sampled"
    split: str = "test"
    negatives: int = DEFAULT_NEGATIVES
    ks: tuple[int, ...] = DEFAULT_KS
    seed: int = 0
    split_seed: int = 0
    repeats: int = 1
    holdout: SplitSpec = field(default_factory=SplitSpec)
    boards: int | None = None
    keep_short: bool = False
    diversity: str | None = None
    batch: int = 2048

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise WorkbenchError(f"unknown protocol {self.protocol!r} (sampled or full)")
        if self.split not in SPLITS:
            raise WorkbenchError(f"unknown split {self.split!r} (test or validation)")
        if not self.ks or min(self.ks) < 1:
            raise WorkbenchError("cutoffs k must be positive integers")
        if self.negatives < 1:
            raise WorkbenchError("the number of negatives must be at least 1")
        if self.boards is not None and self.boards < 1:
            raise WorkbenchError("the board sample must hold at least one board")
        if not 1 <= self.repeats <= MAX_REPEATS:
            raise WorkbenchError(f"repeats must be from 1 to {MAX_REPEATS}, got {self.repeats}")
        for name in ("seed", "split_seed"):
            value = getattr(self, name)
            if not 0 <= value < 2**63:
                raise WorkbenchError(f"{name.replace('_', ' ')} {value} is outside 0 .. 2^63-1")
        object.__setattr__(self, "ks", tuple(sorted(set(int(k) for k in self.ks))))

    @property
    def depth(self) -> int:
        return max(self.ks)

    @property
    def seeds(self) -> list[int]:
        """The seeds of the repeats."""
        return [(self.seed + i) % 2**63 for i in range(self.repeats)]

    def to_info(self) -> dict[str, Any]:
        """The settings as stored in a run's ``info`` (and read back by :meth:`from_info`)."""
        d = asdict(self)
        d["ks"] = list(self.ks)
        d["holdout"] = asdict(self.holdout)
        return d

    @classmethod
    def from_info(cls, info: Mapping[str, Any]) -> EvalSettings:
        """The settings of a stored run (runs from before split seeds split with ``seed``)."""
        s = dict(info["settings"])
        spec = {f.name: s["holdout"][f.name] for f in fields(SplitSpec) if f.name in s["holdout"]}
        s.setdefault("split_seed", s.get("seed", 0))
        known = {f.name for f in fields(cls)}
        return cls(
            **{k: v for k, v in s.items() if k in known}
            | {"ks": tuple(s["ks"]), "holdout": SplitSpec(**spec)}
        )
