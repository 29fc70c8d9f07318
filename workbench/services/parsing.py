"""The user's text that every face accepts, parsed once: crop boxes, filters, run-id and k lists,
``K=V`` parameters, grids, weighted query pins, seeds and fusion weights.

Each parser raises :class:`ParseError` naming ``what`` (the CLI passes its option name, the TUI its
field's label) and the expected form; none of them knows which face called it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence

from workbench.engine.errors import WorkbenchError

Box = tuple[int, int, int, int]

MAX_SEED = 2**63 - 1
"""Seeds are stored as BIGINT."""


class ParseError(WorkbenchError):
    """Text typed by the user that is not of the expected form."""


def _items(text: str | Iterable[str], sep: str = ",") -> list[str]:
    """Non-empty stripped parts of ``text`` split on ``sep``, or of repeated options."""
    parts = text.split(sep) if isinstance(text, str) else list(text)
    return [p.strip() for p in parts if p.strip()]


def parse_key_values(items: str | Iterable[str], what: str = "parameter") -> dict[str, str]:
    """``KEY=VALUE`` pairs (repeated options, or one comma-separated text) as a dict."""
    out: dict[str, str] = {}
    for item in _items(items):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ParseError(f"{what} {item!r}: expected KEY=VALUE")
        out[key.strip()] = value.strip()
    return out


def parse_where(items: str | Iterable[str], what: str = "filter") -> dict[str, str]:
    """Attribute filters ``topic=food, color=red`` as ``{attribute: value}``."""
    out: dict[str, str] = {}
    for item in _items(items):
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ParseError(f"{what} {item!r}: expected attribute=value, e.g. topic=food")
        out[key.strip()] = value.strip()
    return out


def parse_crop(text: str | None, what: str = "crop box") -> Box | None:
    """``X,Y,W,H`` in whole pixels (commas or spaces); empty text is no box."""
    parts = [p for p in re.split(r"[\s,]+", (text or "").strip()) if p]
    if not parts:
        return None
    if len(parts) != 4 or not all(p.isdigit() for p in parts):
        raise ParseError(
            f"{what} {text!r}: expected four whole numbers X,Y,W,H in pixels, e.g. 10,20,40,40"
        )
    x, y, w, h = (int(p) for p in parts)
    return x, y, w, h


def format_crop(box: Box | None) -> str:
    """The text :func:`parse_crop` reads back as ``box``."""
    return ",".join(map(str, box)) if box else ""


def parse_int_list(text: str | Iterable[str], what: str = "list",
                   minimum: int = 1) -> tuple[int, ...]:  # fmt: skip
    """``1,5,10,20`` as distinct integers >= ``minimum``, in the order given."""
    items = _items(text)
    try:
        values = [int(v) for v in items]
    except ValueError:
        raise ParseError(f"{what} {_show(text)}: expected whole numbers such as 1,5,10") from None
    if not values:
        raise ParseError(f"{what}: expected at least one number")
    if min(values) < minimum:
        raise ParseError(f"{what} {_show(text)}: every number must be at least {minimum}")
    return tuple(dict.fromkeys(values))


def parse_run_ids(text: str | Iterable[str | int], what: str = "runs") -> list[int]:
    """Run ids as typed: ``12 14``, ``12,14`` or repeated arguments."""
    if isinstance(text, str):
        text = re.split(r"[\s,]+", text)
    return list(parse_int_list([str(t) for t in text], what))


def parse_grid(items: str | Iterable[str], what: str = "grid") -> dict[str, list[str]]:
    """``KEY=V1,V2,...`` lines (repeated options or one text with a line per key) as
    ``{key: [distinct values]}``; a key given twice is an error."""
    lines = items.splitlines() if isinstance(items, str) else list(items)
    grid: dict[str, list[str]] = {}
    for item in (line.strip() for line in lines):
        if not item:
            continue
        key, sep, values = item.partition("=")
        key = key.strip()
        vals = list(dict.fromkeys(_items(values)))
        if not sep or not key or not vals:
            raise ParseError(f"{what} {item!r}: expected KEY=V1,V2,...")
        if key in grid:
            raise ParseError(f"{what}: {key} given twice")
        grid[key] = vals
    return grid


def parse_pin_specs(specs: str | Sequence[str], what: str = "pin") -> tuple[list[str], list[float]]:
    """``ID[:WEIGHT]`` query pins (repeated, or one text separated by spaces or commas) as ids and
    weights (1 when absent). A suffix that is not a number belongs to the id, so ids may contain
    ':'."""
    if isinstance(specs, str):
        specs = [s for s in re.split(r"[\s,]+", specs) if s]
    ids, weights = [], []
    for spec in specs:
        pin, sep, tail = str(spec).rpartition(":")
        weight = 1.0
        if sep:
            try:
                weight = float(tail)
            except ValueError:
                pin = str(spec)
            else:
                if not (math.isfinite(weight) and weight > 0):
                    raise ParseError(f"{what} {spec!r}: the weight must be a number > 0")
        else:
            pin = tail
        if not pin.strip():
            raise ParseError(f"{what} {spec!r}: expected ID or ID:WEIGHT")
        ids.append(pin.strip())
        weights.append(weight)
    return ids, weights


def parse_weights(text: str | Iterable[str], what: str = "weights") -> list[float]:
    """Fusion weights ``0.7,0.3``: finite numbers >= 0, not all zero."""
    items = _items(text)
    try:
        values = [float(v) for v in items]
    except ValueError:
        raise ParseError(f"{what} {_show(text)}: expected numbers like 0.7,0.3") from None
    if not values:
        raise ParseError(f"{what}: expected at least one number")
    if not all(math.isfinite(v) and v >= 0 for v in values):
        raise ParseError(f"{what} {_show(text)}: weights must be finite numbers >= 0")
    if not any(values):
        raise ParseError(f"{what} {_show(text)}: at least one weight must be > 0")
    return values


def check_seed(seed: int, what: str = "seed") -> int:
    """A seed the store can keep (0 .. 2**63-1), checked before any work."""
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= MAX_SEED:
        raise ParseError(f"{what} {seed!r}: expected a whole number from 0 to {MAX_SEED}")
    return seed


def _show(text: str | Iterable[str]) -> str:
    return repr(text if isinstance(text, str) else ",".join(map(str, text)))
