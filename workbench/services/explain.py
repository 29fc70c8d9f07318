"""Explain a recommendation: why a pin stands where it does in a stored walk or graph ranking.

For a walk (Pixie, pixie-dn) the run is re-walked with its own seed, parameters and graph
version, counting only the chosen pin's visits: which query pin's walk and which board each visit
came through. For P3alpha, RP3beta, ItemKNN and exact PPR the score is split exactly over the
query pins and the boards on the pin -> board -> pin paths. For a visual run the stored cosine
and query (crop box) are shown; a crop search's score is recomputed with its parts: the matched
region and, when the crop shows an object, the best object proposal's cosine and box. A fusion's
score is split over the fused runs; a batch run is explained board by board. Every explanation
carries the pin's degree and popularity rank, so popularity bias is visible. Nothing large is
stored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from workbench.engine.errors import NotFoundError, WorkbenchError
from workbench.engine.progress import SILENT, Reporter

if TYPE_CHECKING:
    from workbench.engine.explain import RegionMatch
    from workbench.engine.graph import Graph
    from workbench.engine.recommenders import Query
    from workbench.engine.runs import Run
    from workbench.engine.store import DatasetInfo, Store

# The engine (numba, scipy) is imported inside the functions that use it, so a face that only
# needs the dataclasses above (the TUI's panel, the CLI's --help) does not pay for it.

METHODS = ("walk", "exact", "visual", "popularity", "fusion")
"""How an explanation was obtained: ``walk`` (visits re-counted by re-walking the run),
``exact`` (the score split over query pins and 3-step paths), ``visual`` (the stored image
similarity), ``popularity`` (the score is the pin's number of boards), ``fusion`` (the score
split over the fused runs)."""


@dataclass(frozen=True)
class ExplainRequest:
    """Explain pin ``pin`` (original id) of run ``run_id``; list at most ``top`` query pins and
    ``top`` boards (the rest summed in one row). For a batch run, ``board`` names the board
    whose ranking holds the pin."""

    run_id: int
    pin: str
    top: int = 10
    board: str | None = None


@dataclass(frozen=True)
class QueryPinPart:
    """What one query pin contributed. ``visits``: walk visits before boosting (``walk``), or
    the exact contribution to the score (``exact``, ``visual``). A row with ``pin`` None sums
    the ``others`` query pins not listed."""

    pin: str | int | None
    title: str | None
    weight: float | None
    visits: float
    share: float
    others: int = 0


@dataclass(frozen=True)
class BoardPart:
    """What one board contributed: the walks reached the pin through it ``visits`` times (or its
    paths' exact contribution). A row with ``board`` None sums the ``others`` boards not listed."""

    board: str | int | None
    name: str | None
    visits: float
    share: float
    others: int = 0


@dataclass(frozen=True)
class RunPart:
    """What one fused run gave a fusion's score: the pin's rank and score there (None when it
    did not rank the pin), its contribution (weight / (rrf_k + rank), or weight x the min-max
    normalised score) and share."""

    run_id: int
    algorithm: str
    rank: int | None
    score: float | None
    contribution: float
    share: float


@dataclass(frozen=True)
class VisualMatch:
    """A visual run's evidence: cosine similarity (for a crop: with the pin's best-matching
    region), distance (1 - cosine), the query's crop box (x, y, w, h) and the pin's best-matching
    region (None when it could not be recomputed). When the crop shows an object, the score adds
    ``object_weight`` x ``object_cosine``, the cosine of the pin's best object proposal, found at
    ``object_box`` (x, y, w, h) in the pin's image; None otherwise."""

    similarity: float
    distance: float
    embedding: str
    crop: tuple[int, int, int, int] | None
    matched_region: tuple[int, int, int, int] | None
    object_weight: float | None = None
    object_cosine: float | None = None
    object_box: tuple[int, int, int, int] | None = None


@dataclass
class Explanation:
    """Why ``pin`` has ``score`` (rank ``rank``) in run ``run_id``."""

    run_id: int
    dataset: str
    algorithm: str
    method: str  # one of METHODS
    pin: str | int
    title: str | None
    rank: int
    score: float
    degree: int  # number of boards of the pin in the dataset
    popularity_rank: int  # 1 = on the most boards; ties share the best rank
    n_pins: int
    total: float  # walk: the pin's visits from all query pins; exact: the score being split
    steps: int  # walk: steps re-walked (equal to the run's); 0 otherwise
    by_query_pin: list[QueryPinPart] = field(default_factory=list)
    via_boards: list[BoardPart] = field(default_factory=list)
    n_boards: int = 0  # boards through which the pin was reached (before ``top``)
    visual: VisualMatch | None = None
    notes: list[str] = field(default_factory=list)
    board: str | int | None = None  # batch runs: the board whose ranking was explained
    by_run: list[RunPart] = field(default_factory=list)  # fusion runs: the fused runs

    @property
    def unit(self) -> str:
        """What the ``visits`` column holds: "visits" for walks, else "contribution"."""
        return "visits" if self.method == "walk" else "contribution"

    def to_json(self) -> dict[str, Any]:
        def query_row(q: QueryPinPart) -> dict[str, Any]:
            row: dict[str, Any] = {"pin": q.pin, "title": q.title, "weight": q.weight,
                                   "visits": q.visits, "share": q.share}  # fmt: skip
            if q.pin is None:
                row["others"] = q.others
            return row

        def board_row(b: BoardPart) -> dict[str, Any]:
            row: dict[str, Any] = {"board": b.board, "name": b.name, "visits": b.visits,
                                   "share": b.share}  # fmt: skip
            if b.board is None:
                row["others"] = b.others
            return row

        doc: dict[str, Any] = {
            "run_id": self.run_id,
            "pin": self.pin,
            "score": self.score,
            "algorithm": self.algorithm,
            "by_query_pin": [query_row(q) for q in self.by_query_pin],
            "via_boards": [board_row(b) for b in self.via_boards],
            "degree": self.degree,
            "popularity_rank": self.popularity_rank,
            "dataset": self.dataset,
            "method": self.method,
            "unit": self.unit,
            "title": self.title,
            "rank": self.rank,
            "n_pins": self.n_pins,
            "total": self.total,
            "steps": self.steps,
            "n_boards": self.n_boards,
            "notes": list(self.notes),
            "board": self.board,
            "by_run": [
                {"run_id": r.run_id, "algorithm": r.algorithm, "rank": r.rank, "score": r.score,
                 "contribution": r.contribution, "share": r.share}
                for r in self.by_run
            ],
        }  # fmt: skip
        if self.visual is not None:
            v = self.visual
            doc["visual"] = {
                "similarity": v.similarity,
                "distance": v.distance,
                "embedding": v.embedding,
                "crop": list(v.crop) if v.crop else None,
                "matched_region": list(v.matched_region) if v.matched_region else None,
                "object_weight": v.object_weight,
                "object_cosine": v.object_cosine,
                "object_box": list(v.object_box) if v.object_box else None,
            }
        return doc


def explain(store: Store, request: ExplainRequest, reporter: Reporter = SILENT) -> Explanation:
    """Why ``request.pin`` is in run ``request.run_id``'s ranking (see the module docstring).

    Refused in one line: an unknown run or pin, a pin the run did not rank, an evaluation (no
    ranking), a batch run without a board, a dataset changed since the run (other fingerprint),
    parameters the re-computation does not know, or a re-computed score that differs from the
    stored one (the algorithm changed since the run).
    """
    from workbench.engine.explain import popularity
    from workbench.engine.graph import load_graph
    from workbench.engine.runs import get_run

    if request.top < 1:
        raise WorkbenchError(f"the number of rows to list must be at least 1, got {request.top}")
    with store.open(read_only=True):  # the look-ups see one version of the data
        run = get_run(store, request.run_id)
        out, info, dense, batch_board = _locate(store, request, run)
    # The graph, the re-walk and the power iterations do not hold the store: other processes
    # may write meanwhile. What they read is checked to be the run's version of the dataset.
    reporter.progress(0, 2, "explaining")
    graph = load_graph(store, run.dataset)
    if graph.fingerprint != run.fingerprint:
        raise WorkbenchError(
            f"dataset {run.dataset!r} changed while run {run.run_id} was being explained"
        )
    out.degree, out.popularity_rank = popularity(graph, dense)
    out.n_pins = graph.n_pins
    if run.kind == "visual":
        _explain_visual(store, run, str(out.pin), out.score, info.pin_id_type, out)
    elif run.kind == "fusion":
        _explain_fusion(store, run, str(out.pin), out)
    else:
        _explain_recommendation(store, run, dense, batch_board, request.top, info, out, reporter)
    reporter.progress(2, 2, "explaining")
    return out


def _locate(
    store: Store, request: ExplainRequest, run: Run
) -> tuple[Explanation, DatasetInfo, int, int | None]:
    """The pin in the run's ranking: the explanation's head (degree and popularity still 0),
    the dataset, the pin's dense id and, for a batch run, the board's dense id."""
    from workbench.engine.dataset import output_id, resolve_board, resolve_pins
    from workbench.engine.explain_queries import batch_ranked_pin, names, ranked_pin

    if run.kind not in EXPLAINABLE_KINDS:
        raise WorkbenchError(f"run {run.run_id} {_UNRANKED.get(run.kind, 'stores no ranking')}")
    info = store.dataset(run.dataset)
    if info.fingerprint != run.fingerprint:
        raise WorkbenchError(
            f"dataset {run.dataset!r} changed since run {run.run_id} (fingerprint "
            f"{run.fingerprint[:12]} then, {info.fingerprint[:12]} now): its ranking cannot be "
            "reproduced"
        )
    dense = int(resolve_pins(store, run.dataset, [request.pin])[0])
    pin_names, _ = names(store, run.dataset, [dense], [])
    original, title = pin_names[dense]
    board: tuple[int, str] | None = None
    if run.kind == "batch":
        if request.board is None:
            raise WorkbenchError(
                f"run {run.run_id} is a batch run: name the board whose ranking holds the pin"
            )
        dense_board = resolve_board(store, run.dataset, request.board)
        board = (dense_board, names(store, run.dataset, [], [dense_board])[1][dense_board][0])
        found = batch_ranked_pin(str(run.info.get("out", "")), board[1], original)
        where = f"board {board[1]!r}'s ranking in run {run.run_id}"
    else:
        if request.board is not None:
            raise WorkbenchError(f"run {run.run_id} holds one ranking: it takes no board")
        found = ranked_pin(store, run.run_id, original)
        where = f"run {run.run_id}'s ranking"
    if found is None:
        raise NotFoundError(f"pin {original!r} is not in {where}")
    rank, score = found
    out = Explanation(
        run_id=run.run_id, dataset=run.dataset, algorithm=run.algorithm, method="exact",
        pin=output_id(original, info.pin_id_type), title=title, rank=rank, score=score,
        degree=0, popularity_rank=0, n_pins=0, total=score, steps=0,
        board=output_id(board[1], info.board_id_type) if board is not None else None,
    )  # fmt: skip
    return out, info, dense, board[0] if board is not None else None


EXPLAINABLE_KINDS = ("recommend", "visual", "batch", "fusion")
_UNRANKED = {"eval": "is an evaluation: it stores metrics, not a ranking to explain"}


def _explain_recommendation(
    store: Store,
    run: Run,
    dense: int,
    batch_board: int | None,
    top: int,
    info: DatasetInfo,
    out: Explanation,
    reporter: Reporter,
) -> None:
    import numpy as np

    from workbench.engine.dataset import output_id
    from workbench.engine.explain import SCORE_RTOL, explain_pin, seeded, unsupported_params
    from workbench.engine.explain_queries import names
    from workbench.engine.recommend import load_model
    from workbench.engine.recommenders import board_query

    unsupported = unsupported_params(run.algorithm, run.params)
    if unsupported is not None:
        raise WorkbenchError(
            f"run {run.run_id} used {run.algorithm} with {unsupported}, which explain cannot "
            "reproduce yet"
        )
    model = load_model(store, run.dataset, run.algorithm, run.params)
    if model.graph.fingerprint != run.fingerprint:
        raise WorkbenchError(
            f"dataset {run.dataset!r} changed while run {run.run_id} was being explained"
        )
    index = 0
    if batch_board is None:
        query = _run_query(store, run, model.graph)
    else:
        # Board i of a batch walks as query i: known for a batch over all boards (i = the
        # board's dense id); a chosen list's order is not stored.
        if seeded(run.algorithm) and run.query.get("boards") != model.graph.n_boards:
            raise WorkbenchError(
                f"run {run.run_id} ranked a chosen list of boards, whose order (which seeded each "
                "board's walks) is not stored: its walks cannot be re-run"
            )
        query = board_query(model.graph, batch_board, str(run.query.get("weighting", "equal")))
        index = batch_board
    reporter.progress(1, 2, "explaining")
    found = explain_pin(model, query, int(run.seed or 0), dense, reporter, index)
    if found is None:
        out.method = "popularity"
        out.notes.append(
            f"{run.algorithm} ranks every pin by its number of boards alone: no query pin or "
            "board contributes"
        )
        return
    if not math.isclose(found.score, out.score, rel_tol=SCORE_RTOL, abs_tol=0.0):
        raise WorkbenchError(
            f"run {run.run_id} cannot be reproduced: pin {out.pin!r} scored {out.score!r} then "
            f"and {found.score!r} now ({run.algorithm} has changed since the run)"
        )
    if found.method == "walk" and run.steps is not None and found.steps != run.steps:
        raise WorkbenchError(
            f"run {run.run_id} cannot be reproduced: it walked {run.steps} steps, the re-walk "
            f"{found.steps}"
        )
    out.method = found.method
    out.steps = found.steps
    out.total = float(found.query_parts.sum()) if found.method == "walk" else out.score
    out.n_boards = int(found.boards.shape[0])
    shown_q = np.lexsort((np.arange(found.query_pins.shape[0]), -found.query_parts))[:top]
    shown_b = np.arange(min(top, found.boards.shape[0]))
    pin_rows, board_rows = names(
        store, run.dataset, found.query_pins[shown_q].tolist(), found.boards[shown_b].tolist()
    )
    pid, bid = info.pin_id_type, info.board_id_type
    for n in shown_q:
        p = int(found.query_pins[n])
        out.by_query_pin.append(
            QueryPinPart(
                pin=output_id(pin_rows[p][0], pid), title=pin_rows[p][1],
                weight=float(found.query_weights[n]), visits=float(found.query_parts[n]),
                share=float(found.query_shares[n]),
            )
        )  # fmt: skip
    rest = np.setdiff1d(np.arange(found.query_pins.shape[0]), shown_q)
    if rest.size:
        out.by_query_pin.append(
            QueryPinPart(
                pin=None, title=None, weight=None, visits=float(found.query_parts[rest].sum()),
                share=float(found.query_shares[rest].sum()), others=int(rest.size),
            )
        )  # fmt: skip
    board_total = float(found.board_parts.sum())
    for n in shown_b:
        b = int(found.boards[n])
        out.via_boards.append(
            BoardPart(
                board=output_id(board_rows[b][0], bid), name=board_rows[b][1],
                visits=float(found.board_parts[n]), share=float(found.board_parts[n]) / board_total,
            )
        )  # fmt: skip
    if found.boards.shape[0] > shown_b.shape[0]:
        rest_parts = found.board_parts[shown_b.shape[0] :]
        out.via_boards.append(
            BoardPart(
                board=None, name=None, visits=float(rest_parts.sum()),
                share=float(rest_parts.sum()) / board_total, others=int(rest_parts.shape[0]),
            )
        )  # fmt: skip
    out.notes.append(_METHOD_NOTES.get(run.algorithm, _METHOD_NOTES[found.method]))
    if found.method == "walk":
        boosted = bool(run.params.get("boost", True))
        out.notes.append(
            "shares of the score: each query pin's sqrt(visits) over their sum (multi-hit boosting)"
            if boosted
            else "shares of the score: each query pin's visits over all"
        )


_METHOD_NOTES = {
    "walk": "visits: the run's walks re-walked with its seed, counting this pin only; a board "
    "is the one the walker stood on just before it stepped onto the pin",
    "exact": "contribution: the query pin's weight x W[query pin, pin]; a board's: its share of "
    "the query pin -> board -> pin paths",
    "ppr": "contribution: the query pin's restart probability x its personalised PageRank of the "
    "pin; a board's: the probability flowing into the pin through it on the last step",
}


def _run_query(store: Store, run: Run, graph: Graph) -> Query:
    """The query a stored recommend run answered, as ``engine.recommend`` built it."""
    from workbench.engine.dataset import resolve_board, resolve_pins
    from workbench.engine.recommenders import Query, board_query

    q = run.query
    if "board" in q:
        board = resolve_board(store, run.dataset, q["board"])
        return board_query(graph, board, str(q.get("weighting", "equal")))
    pins = [str(p) for p in q.get("pins", [])]
    if not pins:
        raise WorkbenchError(f"run {run.run_id} stores no query to re-run")
    return Query(resolve_pins(store, run.dataset, pins), q.get("weights"))


def _explain_visual(
    store: Store, run: Run, pin: str, score: float, pin_id_type: str, out: Explanation
) -> None:
    from workbench.engine.dataset import output_id

    query, params = run.query, run.params
    out.method = "visual"
    crop = query.get("crop")
    box = (int(crop[0]), int(crop[1]), int(crop[2]), int(crop[3])) if crop else None
    match = None
    if box is not None:
        match, why = _matched_region(store, run, pin, box, score)
        out.notes.append(_crop_note(match, why, params.get("objects")))
    similarity = match.cosine if match is not None else score
    out.visual = VisualMatch(
        similarity=similarity, distance=1.0 - similarity,
        embedding=str(params.get("embedding", "")), crop=box,
        matched_region=match.box if match is not None else None,
        object_weight=match.object_weight if match is not None else None,
        object_cosine=match.object_cosine if match is not None else None,
        object_box=match.object_box if match is not None else None,
    )  # fmt: skip
    if "pin" in query:
        source = QueryPinPart(
            pin=output_id(str(query["pin"]), pin_id_type), title=None, weight=1.0,
            visits=score, share=1.0,
        )  # fmt: skip
    else:
        source = QueryPinPart(
            pin=str(query.get("image", "")), title="(image file)", weight=1.0, visits=score,
            share=1.0,
        )  # fmt: skip
    out.by_query_pin.append(source)


def _crop_note(match: RegionMatch | None, why: str, objects: float | None) -> str:
    """What a crop run's score is made of, as recomputed (or why it could not be)."""
    if match is None:
        what = "the cosine of the crop with the pin's best-matching region"
        if objects is not None:
            what += f", plus {objects:g} x the best object proposal's cosine if the crop shows one"
        return (
            f"the score is {what}; the run did not store which region matched, and it could "
            f"not be recomputed: {why}"
        )
    region = f"region {match.region} of its image (cosine {match.cosine:.4f})"
    if match.object_cosine is None:
        return (
            f"the score is the cosine of the crop with the pin's best-matching region: {region}, "
            "recomputed (the run stores the score only)"
        )
    at = ",".join(map(str, match.object_box)) if match.object_box else "none"
    return (
        f"the crop shows an object: the score is the cosine of its best-matching region, "
        f"{region}, plus {match.object_weight:g} x the cosine of the pin's best object proposal "
        f"({match.object_cosine:.4f}, box {at}), recomputed (the run stores the score only)"
    )


SCORE_ATOL = 1e-4
"""How closely a recomputed crop score must equal the stored (float32) one."""


def _matched_region(
    store: Store, run: Run, pin: str, box: tuple[int, int, int, int], score: float
) -> tuple[RegionMatch | None, str]:
    """How the crop search of ``run`` scored ``pin`` (its best region, and its best object
    proposal when the crop shows an object and the run weighed objects), recomputed from the
    embedding space, or None and why not. A run stored before object proposals has no
    ``objects`` parameter: it is recomputed from regions only, as it was made."""
    from workbench.engine.explain import matched_region
    from workbench.engine.visual.foreground import BACKGROUND_WEIGHT
    from workbench.engine.visual.service import dataset_version, open_dataset_space
    from workbench.engine.visual.storage import BUILTIN

    query, params = run.query, run.params
    if "pin" not in query and query.get("image") is None:
        return None, "the query image is not recorded"
    objects = params.get("objects")
    try:
        space = open_dataset_space(
            store, dataset_version(store, run.dataset), str(params.get("embedding", BUILTIN))
        )
        found = matched_region(
            space, box, pin,
            pin_id=str(query["pin"]) if "pin" in query else None,
            path=None if "pin" in query else str(query["image"]),
            background=params.get("background", BACKGROUND_WEIGHT),
            objects=float(objects) if objects is not None else None,
        )  # fmt: skip
    except (WorkbenchError, OSError) as exc:
        return None, str(exc)
    if found is None:
        return None, "the embedding space has no regions for the pin"
    if abs(found.score - score) > SCORE_ATOL:
        return None, f"the pin now scores {found.score:.4f}, not {score:.4f}"
    return found, ""


def _explain_fusion(store: Store, run: Run, pin: str, out: Explanation) -> None:
    """The fused score split over the fused runs, as ``services.visual.fuse`` computed it:
    reciprocal rank fusion, sum of w / (rrf_k + rank), or weighted min-max scores."""
    from workbench.engine.runs import get_run, run_results

    params = run.params
    method = str(params.get("method", ""))
    ids = [int(r) for r in params.get("runs", [])]
    weights = params.get("weights") or [1.0] * len(ids)
    if method not in ("rrf", "weighted") or len(weights) != len(ids):
        raise WorkbenchError(f"run {run.run_id} fused with {method!r}, which explain cannot split")
    parts: list[tuple[int, str, int | None, float | None, float]] = []
    for rid, weight in zip(ids, weights, strict=True):
        ranked = run_results(store, rid)
        pins, scores = ranked["pin"].to_list(), ranked["score"].to_list()
        at = pins.index(pin) if pin in pins else None
        value = 0.0
        if at is not None and method == "rrf":
            value = float(weight) / (float(params.get("rrf_k", 60)) + at + 1)
        elif at is not None:
            lo, hi = min(scores), max(scores)
            value = float(weight) * (1.0 if hi == lo else (scores[at] - lo) / (hi - lo))
        score = float(scores[at]) if at is not None else None
        parts.append((rid, get_run(store, rid).algorithm, at, score, value))
    total = sum(p[4] for p in parts)
    if not math.isclose(total, out.score, rel_tol=1e-9):
        raise WorkbenchError(
            f"run {run.run_id} cannot be reproduced: the fused runs give pin {out.pin!r} "
            f"{total!r}, the run stored {out.score!r}"
        )
    out.method = "fusion"
    for rid, algo, at, score, value in parts:
        out.by_run.append(
            RunPart(run_id=rid, algorithm=algo, rank=None if at is None else at + 1, score=score,
                    contribution=value, share=value / total if total > 0 else 0.0)
        )  # fmt: skip
    out.notes.append(
        "fusion: reciprocal rank fusion, each run's weight / (rrf_k + the pin's rank there)"
        if method == "rrf"
        else "fusion: each run's weight x the pin's score there, min-max normalised over its list"
    )
