"""What was given to a load: the files behind the paths, their format, and the column aliases."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from workbench.engine.errors import InputError

FORMATS = ("auto", "csv", "parquet", "jsonl", "ncf", "movielens")

PIN_ALIASES = ("pin", "pin_id", "pinid", "item", "item_id", "itemid", "movie_id", "movieid")
BOARD_ALIASES = ("board", "board_id", "boardid", "user", "user_id", "userid")
WEIGHT_ALIASES = ("weight", "rating", "count")
TIMESTAMP_ALIASES = ("timestamp", "ts", "time")
TITLE_ALIASES = ("title",)
NAME_ALIASES = ("name", "title")
IMAGE_ALIASES = ("image", "image_path", "img", "path")

TABULAR_EXTENSIONS = {
    ".csv": "csv", ".tsv": "csv", ".txt": "csv",
    ".parquet": "parquet", ".pq": "parquet",
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
}  # fmt: skip
NCF_SUFFIXES = (".train.rating", ".test.rating", ".test.negative")


def ncf_prefix_of(path: Path) -> bool:
    """True when ``path`` names no file but is the common prefix of an NCF file set."""
    return not path.exists() and Path(str(path) + ".train.rating").is_file()


def expand(paths: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """The given paths, each checked to exist (or to be an NCF prefix)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if not p.exists() and not ncf_prefix_of(p):
            raise InputError(f"{p}: no such file or directory")
        out.append(p)
    if not out:
        raise InputError("no input files given")
    return out


def detect_format(paths: Sequence[Path]) -> str:
    """Guess the format of the given files or directories (``--format auto``)."""
    names: list[str] = []
    for p in paths:
        if ncf_prefix_of(p):
            return "ncf"
        names += [c.name for c in p.iterdir()] if p.is_dir() else [p.name]
    if any(n.endswith(NCF_SUFFIXES) for n in names):
        return "ncf"
    if "u.data" in names:
        return "movielens"
    kinds = {TABULAR_EXTENSIONS[Path(n).suffix.lower()] for n in names
             if Path(n).suffix.lower() in TABULAR_EXTENSIONS}  # fmt: skip
    if len(kinds) == 1:
        return kinds.pop()
    if not kinds:
        raise InputError(
            f"{paths[0]}: cannot tell the format (expected .csv, .parquet, .jsonl files, "
            "NCF *.train.rating or MovieLens u.data); pass --format"
        )
    raise InputError(f"{paths[0]}: mixed file types {sorted(kinds)}; load one format at a time")


def tabular_files(paths: Sequence[Path], fmt: str) -> list[Path]:
    """The csv/parquet/jsonl files named by ``paths`` (a directory gives its files of ``fmt``)."""
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files += sorted(c for c in p.iterdir()
                            if TABULAR_EXTENSIONS.get(c.suffix.lower()) == fmt)  # fmt: skip
        else:
            files.append(p)
    if not files:
        raise InputError(f"{paths[0]}: no {fmt} files found")
    return files


def ncf_files(paths: Sequence[Path]) -> tuple[Path, Path | None, Path | None]:
    """NCF's train file and optional test and negatives, from a directory, prefix or any file."""
    prefix: str | None = None
    for p in paths:
        if p.is_dir():
            trains = sorted(p.glob("*.train.rating"))
            if len(trains) != 1:
                raise InputError(
                    f"{p}: expected exactly one *.train.rating file, found {len(trains)}"
                )
            prefix = str(trains[0])[: -len(".train.rating")]
        else:
            prefix = next((str(p)[: -len(s)] for s in NCF_SUFFIXES if p.name.endswith(s)), str(p))
    assert prefix is not None
    train = Path(prefix + ".train.rating")
    if not train.exists():
        raise InputError(f"{train}: NCF train file not found (give a directory, prefix or file)")
    test, neg = Path(prefix + ".test.rating"), Path(prefix + ".test.negative")
    return train, (test if test.exists() else None), (neg if neg.exists() else None)


def find_column(cols: Sequence[str], aliases: Sequence[str]) -> str | None:
    """The first of ``cols`` matching one of ``aliases`` (case and spaces ignored)."""
    lower = {c.lower().strip(): c for c in cols}
    for a in aliases:
        if a in lower:
            return lower[a]
    return None


def kind_of(path: Path, cols: Sequence[str]) -> str:
    """Which staged table a tabular file feeds, from its id columns and name."""
    has_pin = find_column(cols, PIN_ALIASES) is not None
    has_board = find_column(cols, BOARD_ALIASES) is not None
    if has_pin and has_board:
        name = path.name.lower()
        if "negative" in name:
            return "negatives"
        if "test" in name:
            return "test"
        return "edges"
    if has_pin:
        return "pins"
    if has_board:
        return "boards"
    raise InputError(
        f"{path}: no id column: expected 'pin' (or {', '.join(PIN_ALIASES[1:])}) and/or 'board' "
        f"(or {', '.join(BOARD_ALIASES[1:])}); found {', '.join(cols)}"
    )


def one_line(exc: BaseException) -> str:
    """The first non-empty line of an exception's message."""
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
    return lines[0] if lines else type(exc).__name__
