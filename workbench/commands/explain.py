"""The `workbench explain` command: why a pin is in a stored ranking."""

from __future__ import annotations

import textwrap

import click

from workbench.commands._common import db_option, emit_json, get_store, json_option
from workbench.services.explain import ExplainRequest, Explanation
from workbench.services.explain import explain as explain_pin

WIDTH = 80
"""Text output fits this many columns."""


@click.command()
@click.argument("run_id", metavar="RUN", type=int)
@click.option("--pin", required=True, metavar="ID", help="The ranked pin to explain.")
@click.option("--top", type=int, default=ExplainRequest.top, show_default=True,
              help="Query pins and boards to list (the rest in one row).")  # fmt: skip
@click.option("--board", default=None, metavar="ID",
              help="For a batch run: the board whose ranking holds the pin.")  # fmt: skip
@db_option
@json_option
def explain(run_id: int, pin: str, top: int, board: str | None, as_json: bool) -> None:
    """Why pin --pin ID is in run RUN's ranking: the visits (walks) or contributions (exact
    algorithms) of each query pin and of the boards the pin was reached through, its degree and
    popularity rank. Walks are re-run with the run's seed, nothing large is stored."""
    request = ExplainRequest(run_id=run_id, pin=pin, top=top, board=board)
    result = explain_pin(get_store(), request)
    if as_json:
        emit_json(result.to_json())
        return
    for line in render(result):
        click.echo(line)


def render(e: Explanation) -> list[str]:
    """The explanation as lines of at most :data:`WIDTH` characters."""
    head = f"pin {e.pin}" + (f" {e.title}" if e.title else "")
    where = (
        f"board {e.board}'s list in run {e.run_id}" if e.board is not None else f"run {e.run_id}"
    )
    lines = [
        _cut(head, WIDTH),
        *textwrap.wrap(
            f"rank {e.rank} in {where} ({e.algorithm}, dataset {e.dataset}), score {_num(e.score)}",
            WIDTH,
        ),
    ]
    if e.method == "walk":
        lines.append(f"{_num(e.total)} visits in {e.steps:,} steps, re-walked with the run's seed")
    top_pct = 100.0 * e.popularity_rank / max(e.n_pins, 1)
    lines.append(
        f"popularity: on {e.degree:,} boards, rank {e.popularity_rank:,} of {e.n_pins:,} pins "
        f"(top {top_pct:.1f}%)"
    )
    unit = e.unit
    if e.visual is not None:
        v = e.visual
        cosine = "region cosine" if v.matched_region is not None else "cosine"
        lines.append(
            f"visual: {cosine} {v.similarity:.4f}, distance {v.distance:.4f}, "
            f"embedding {v.embedding}"
        )
        if v.crop is not None:
            region = ",".join(map(str, v.matched_region)) if v.matched_region else "not stored"
            lines.append(f"crop {','.join(map(str, v.crop))}, matched region {region}")
        if v.object_cosine is not None:
            found = ",".join(map(str, v.object_box)) if v.object_box else "none"
            lines.append(
                f"object cosine {v.object_cosine:.4f} (x {v.object_weight:g} in the score), "
                f"matched object {found}"
            )
    if e.by_run:
        lines += ["", f"{'from run':<20}  {'rank':>6}  {'contribution':>12}  {'share':>6}"]
        for r in e.by_run:
            rank = f"{r.rank:,}" if r.rank is not None else "–"
            label = _cut(f"{r.run_id} {r.algorithm}", 20)
            lines.append(f"{label:<20}  {rank:>6}  {_num(r.contribution):>12}  {r.share:>6.1%}")
    if e.by_query_pin:
        lines += ["", *_table("query pin", unit, [
            (_label(q.pin, q.others, "query pins"), q.visits, q.share, q.title or "")
            for q in e.by_query_pin
        ])]  # fmt: skip
    if e.via_boards:
        lines += ["", *_table("via board", unit, [
            (_label(b.board, b.others, "boards"), b.visits, b.share, b.name or "")
            for b in e.via_boards
        ])]  # fmt: skip
    if e.notes:
        lines.append("")
        for note in e.notes:
            lines += textwrap.wrap(
                f"note: {note}", WIDTH, subsequent_indent="      ", break_on_hyphens=False
            )
    return lines


def _label(ident: str | int | None, others: int, what: str) -> str:
    return str(ident) if ident is not None else f"({others:,} other {what})"


def _table(what: str, unit: str, rows: list[tuple[str, float, float, str]]) -> list[str]:
    width = max(len(what), *(len(r[0]) for r in rows))
    width = min(width, 28)
    out = [f"{what:<{width}}  {unit:>12}  {'share':>6}  {'title' if 'pin' in what else 'name'}"]
    for label, value, share, text in rows:
        line = f"{_cut(label, width):<{width}}  {_num(value):>12}  {share:>6.1%}  {text}"
        out.append(_cut(line.rstrip(), WIDTH))
    return out


def _num(v: float) -> str:
    """Counts with thousands separators, other numbers with 4 significant digits, no exponent
    for ordinary magnitudes."""
    if float(v).is_integer() and abs(v) < 1e15:
        return f"{int(v):,}"
    if abs(v) >= 1:
        return f"{v:,.2f}"
    if abs(v) >= 1e-4:
        return f"{v:.4g}"
    return f"{v:.3e}"


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
