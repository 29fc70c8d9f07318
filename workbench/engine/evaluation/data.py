"""What an evaluation reads from the store, once: the split, each board's candidates, the ids.

:func:`prepare` reads one version of a dataset (it refuses to go on when the dataset is replaced
while it reads) into an :class:`EvalData`, a picklable value that trials are pure functions of;
:func:`reseed` draws the negatives of another seed over the same split (for repeats).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from workbench.engine.dataset import id_map
from workbench.engine.errors import WorkbenchError
from workbench.engine.evaluation.settings import STORED_DEPTH, EvalSettings
from workbench.engine.graph import Graph, load_graph
from workbench.engine.splits import Split, make_split, sample_boards, sample_negatives
from workbench.engine.store import Store, table


class DatasetChangedError(WorkbenchError):
    """The dataset was replaced while an operation read it: its results would mix two versions."""


@dataclass(frozen=True, eq=False)
class EvalData:
    """Everything a trial needs, read from the store once; holds no connection (picklable).

    ``cand_indptr``/``cand`` list each evaluated board's candidates (held-out pins first for the
    sampled protocol; None for the full protocol, where candidates are all pins the board does
    not hold outside the evaluated split). ``short_boards``: boards with fewer candidate negatives
    than asked for (left out unless the settings keep them).
    """

    dataset: str
    fingerprint: str
    settings: EvalSettings
    split: Split
    cand_indptr: np.ndarray | None
    cand: np.ndarray | None
    negatives_source: str
    pin_ids: np.ndarray
    board_ids: np.ndarray
    notes: tuple[str, ...] = ()
    short_boards: int = 0
    table_negatives: dict[int, np.ndarray] | None = None
    depth: int = 0
    """How deep rankings go: the largest cutoff, or the most candidates a board has if fewer."""

    @property
    def graph(self) -> Graph:
        """The graph models are fitted on (training minus held-out edges)."""
        return self.split.train

    def full_candidates(self, lo: int, hi: int) -> list[np.ndarray]:
        """Candidates of boards ``lo:hi`` under the full protocol: every pin except those the
        board holds in training or in another split (on validation, its test pins are not
        negatives)."""
        split, everything = self.split, np.arange(self.graph.n_pins, dtype=np.int32)
        out = []
        for i in range(lo, hi):
            b = int(split.boards[i])
            touched = split.touched[split.touched_indptr[b] : split.touched_indptr[b + 1]]
            held = np.setdiff1d(touched, split.relevant_of(i), assume_unique=True)
            out.append(np.setdiff1d(everything, held, assume_unique=True))
        return out


def _test_pairs(store: Store, dataset: str) -> tuple[np.ndarray, np.ndarray] | None:
    with store.connect(read_only=True) as con:
        arr = con.execute(f"SELECT board_idx, pin_idx FROM {table(dataset, 'test')}").fetchnumpy()
    if not len(arr["board_idx"]):
        return None
    return np.asarray(arr["board_idx"], np.int32), np.asarray(arr["pin_idx"], np.int32)


def _table_negatives(store: Store, dataset: str, split: Split) -> tuple[dict[int, np.ndarray], int]:
    """The dataset's negatives per board, minus any pin the board touched (and how many)."""
    with store.connect(read_only=True) as con:
        arr = con.execute(
            f"SELECT board_idx, pin_idx FROM {table(dataset, 'negatives')} ORDER BY ALL"
        ).fetchnumpy()
    boards = np.asarray(arr["board_idx"], np.int32)
    pins = np.asarray(arr["pin_idx"], np.int32)
    starts = np.searchsorted(boards, split.boards, side="left")
    ends = np.searchsorted(boards, split.boards, side="right")
    out: dict[int, np.ndarray] = {}
    dropped = 0
    for i, b in enumerate(split.boards):
        neg = pins[starts[i] : ends[i]]
        touched = split.touched[split.touched_indptr[b] : split.touched_indptr[b + 1]]
        keep = ~np.isin(neg, touched)
        dropped += int((~keep).sum())
        if neg.size:
            out[int(b)] = neg[keep]
    return out, dropped


def check_version(store: Store, dataset: str, fingerprint: str, doing: str) -> None:
    """Refuse to go on if ``dataset`` is no longer at ``fingerprint`` (replaced meanwhile)."""
    now = store.dataset(dataset).fingerprint
    if now != fingerprint:
        raise DatasetChangedError(
            f"dataset {dataset!r} was replaced while {doing} (fingerprint {fingerprint[:12]} "
            f"became {now[:12]}): nothing was stored, run it again"
        )


def prepare(store: Store, dataset: str, settings: EvalSettings) -> EvalData:
    """Read ``dataset`` and build the split and candidates that ``settings`` ask for."""
    info = store.dataset(dataset)
    graph = load_graph(store, dataset)
    if graph.fingerprint != info.fingerprint:
        check_version(store, dataset, graph.fingerprint, "it was being read")
    if settings.diversity is not None:
        graph.pin_attribute(settings.diversity)  # an unknown attribute fails before any work
    split = make_split(
        graph, _test_pairs(store, dataset), settings.split, settings.holdout, settings.split_seed
    )
    notes = list(split.notes)
    if split.boards.size == 0:
        raise WorkbenchError(
            f"dataset {dataset!r} has no held-out pins for the {settings.split} "
            "split (are boards large enough to hold pins out?)"
        )
    if settings.boards is not None and settings.boards < split.boards.size:
        split = split.restrict(sample_boards(split.boards, settings.boards, settings.split_seed))
        notes.append(f"a seeded sample of {split.boards.size} boards (split seed)")
    table_neg: dict[int, np.ndarray] | None = None
    if settings.protocol == "sampled" and settings.split == "test" and info.negatives > 0:
        table_neg, dropped = _table_negatives(store, dataset, split)
        if dropped:
            notes.append(f"{dropped} of the dataset's negatives were on their board: dropped")
    ids = id_map(store, dataset)
    check_version(store, dataset, info.fingerprint, "it was being read")
    data = EvalData(
        dataset=dataset,
        fingerprint=info.fingerprint,
        settings=settings,
        split=split,
        cand_indptr=None,
        cand=None,
        negatives_source="all pins not on the board",
        pin_ids=ids.pins,
        board_ids=ids.boards,
        notes=tuple(notes),
        table_negatives=table_neg,
    )
    return _cap_depth(_exclude_short(_with_candidates(data, settings.seed)))


def reseed(data: EvalData, seed: int) -> EvalData:
    """The same split evaluated with ``seed``: new sampled negatives and tie-breaking."""
    if seed == data.settings.seed:
        return data
    settings = replace(data.settings, seed=seed)
    return _with_candidates(replace(data, settings=settings), seed)


def _with_candidates(data: EvalData, seed: int) -> EvalData:
    settings, split = data.settings, data.split
    if settings.protocol != "sampled":
        return data
    wanted = settings.negatives
    notes = [n for n in data.notes if "had no negatives in the dataset" not in n]
    if data.table_negatives is not None:
        table_neg = dict(data.table_negatives)
        missing = [int(b) for b in split.boards if int(b) not in table_neg]
        if missing:
            keep = np.flatnonzero(np.isin(split.boards, missing))
            sampled = sample_negatives(split.restrict(keep), wanted, seed)
            table_neg |= {b: row[row >= 0] for b, row in zip(missing, sampled, strict=True)}
            notes.append(
                f"{len(missing)} boards had no negatives in the dataset: {wanted} sampled for each"
            )
        negatives = [table_neg[int(b)] for b in split.boards]
        source = "the dataset's negatives table"
    else:
        negatives = [row[row >= 0] for row in sample_negatives(split, wanted, seed)]
        source = f"{wanted} sampled uniformly per board from pins it never touched (seed {seed})"
    parts = [np.concatenate([split.relevant_of(i), negatives[i]]) for i in range(split.boards.size)]
    indptr = np.concatenate(([0], np.cumsum([p.size for p in parts]))).astype(np.int64)
    return replace(
        data,
        cand_indptr=indptr,
        cand=np.concatenate(parts).astype(np.int32),
        negatives_source=source,
        notes=tuple(notes),
    )


def _negatives_wanted(data: EvalData) -> int:
    """How many negatives a board should have: the asked number, or for the dataset's own
    negatives table the most any board has there."""
    if data.table_negatives is not None and data.table_negatives:
        return max(int(v.size) for v in data.table_negatives.values())
    return data.settings.negatives


def _exclude_short(data: EvalData) -> EvalData:
    """Flag boards with fewer candidate negatives than wanted (an easier ranking); leave them
    out unless the settings keep them."""
    if data.cand_indptr is None:
        return data
    wanted = _negatives_wanted(data)
    negatives = np.diff(data.cand_indptr) - np.diff(data.split.relevant_indptr)
    short = negatives < wanted
    n_short = int(short.sum())
    if not n_short:
        return data
    if data.settings.keep_short:
        note = (
            f"{n_short} of {short.size} boards have fewer than {wanted} candidate negatives: "
            "kept (flagged)"
        )
        return replace(data, short_boards=n_short, notes=(*data.notes, note))
    if n_short == data.split.boards.size:
        raise WorkbenchError(
            f"every board has fewer than {wanted} candidate negatives: ask for fewer negatives "
            "or keep short boards"
        )
    keep = np.flatnonzero(~short)
    note = (
        f"{n_short} of {short.size} boards have fewer than {wanted} candidate negatives: left out"
    )
    narrowed = replace(
        data, split=data.split.restrict(keep), short_boards=n_short, notes=(*data.notes, note)
    )
    return _with_candidates(narrowed, data.settings.seed)


def candidate_counts(data: EvalData) -> np.ndarray:
    """How many candidates each evaluated board ranks."""
    if data.cand_indptr is not None:
        return np.diff(data.cand_indptr)
    split = data.split
    touched = np.diff(split.touched_indptr)[split.boards]
    return data.graph.n_pins - touched + np.diff(split.relevant_indptr)


def _cap_depth(data: EvalData) -> EvalData:
    """Rankings go no deeper than the most candidates any board has (a list cannot be longer
    than what it ranks, and the ranking matrices grow with the depth); a cutoff above that is
    measured on the whole list, with a note."""
    most = int(candidate_counts(data).max())
    ks = data.settings.ks
    notes = data.notes
    if min(max(ks), most) > STORED_DEPTH:
        notes = (*notes, f"rankings stored to depth {STORED_DEPTH:,}; metrics use whole lists")
    if max(ks) <= most:
        return replace(data, depth=max(ks), notes=notes)
    over = ", ".join(str(k) for k in ks if k > most)
    note = (
        f"k {over} above the {most:,} candidates a board has at most: rankings capped at "
        f"{most:,} pins"
    )
    return replace(data, depth=most, notes=(*notes, note))
