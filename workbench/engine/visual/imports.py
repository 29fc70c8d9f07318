"""Import precomputed embeddings (.npy + ids file, or parquet) as a named embedding space.

Every problem is reported as one line naming the file, the row or id, and what was expected:
wrong shape or dtype, a different number of ids and rows, duplicate or empty ids, NaN or
infinite values, all-zero rows, ragged or mismatching dimensions, ids that are not pins of
the dataset.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Collection, Sequence
from pathlib import Path

import numpy as np

from workbench.engine.visual.errors import EmbeddingImportError
from workbench.engine.visual.index import EXACT_THRESHOLD
from workbench.engine.visual.storage import BuildReport, write_space

__all__ = ["import_embeddings", "read_embeddings", "read_ids"]

_ID_NAMES = ("id", "pin_id", "pin", "pinid", "item", "item_id")


def _preview(values: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(repr(v) for v in values[:limit])
    return shown + (f", … ({len(values) - limit} more)" if len(values) > limit else "")


def read_ids(path: str | os.PathLike[str]) -> list[str]:
    """Ids from a text file (one per line), a .csv (an id column or the first) or a .json list."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise EmbeddingImportError(f"{p}: no such file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise EmbeddingImportError(f"{p}: cannot read ids ({exc})") from exc
    suffix = p.suffix.lower()
    ids: list[str]
    if suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise EmbeddingImportError(
                f"{p}: not valid JSON ({exc.msg}, line {exc.lineno})"
            ) from exc
        if isinstance(data, dict) and "ids" in data:
            data = data["ids"]
        if not isinstance(data, list) or not all(
            isinstance(v, str | int) and not isinstance(v, bool) for v in data
        ):
            raise EmbeddingImportError(f'{p}: expected a JSON list of ids or {{"ids": [...]}}')
        ids = [str(v) for v in data]
        first_line = 1
    elif suffix in (".csv", ".tsv"):
        rows = list(csv.reader(text.splitlines(), delimiter="\t" if suffix == ".tsv" else ","))
        while rows and not any(c.strip() for c in rows[-1]):
            rows.pop()
        col = 0
        first_line = 1
        if rows and any(c.strip().lower() in _ID_NAMES for c in rows[0]):
            header = [c.strip().lower() for c in rows[0]]
            col = next(header.index(n) for n in _ID_NAMES if n in header)
            rows = rows[1:]
            first_line = 2
        ids = []
        for i, row in enumerate(rows):
            if len(row) <= col:
                raise EmbeddingImportError(f"{p}: line {i + first_line} has no id column")
            ids.append(row[col].strip())
    else:
        lines = text.splitlines()
        while lines and not lines[-1].strip():
            lines.pop()
        ids = [line.strip() for line in lines]
        first_line = 1
    for i, v in enumerate(ids):
        if not v:
            raise EmbeddingImportError(f"{p}: line {i + first_line} has an empty id")
    seen: dict[str, int] = {}
    for i, v in enumerate(ids):
        if v in seen:
            raise EmbeddingImportError(
                f"{p}: id {v!r} appears twice (entries {seen[v] + 1} and {i + 1})"
            )
        seen[v] = i
    return ids


def _read_npy(p: Path) -> np.ndarray:
    try:
        arr = np.load(p, allow_pickle=False)
    except FileNotFoundError as exc:
        raise EmbeddingImportError(f"{p}: no such file") from exc
    except (OSError, ValueError, EOFError) as exc:
        raise EmbeddingImportError(f"{p}: not a readable .npy array ({exc})") from exc
    if isinstance(arr, np.lib.npyio.NpzFile):  # pragma: no cover - np.load on .npz
        raise EmbeddingImportError(f"{p}: expected a .npy file, got an .npz archive")
    if arr.ndim != 2:
        raise EmbeddingImportError(f"{p}: expected a 2-D array [n, dim], got shape {arr.shape}")
    if arr.dtype.kind not in "fiu":
        raise EmbeddingImportError(f"{p}: expected numbers, got dtype {arr.dtype}")
    return arr.astype(np.float32)


def _read_parquet(
    p: Path, id_column: str | None, vector_column: str | None
) -> tuple[list[str], np.ndarray]:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(p)
    except FileNotFoundError as exc:
        raise EmbeddingImportError(f"{p}: no such file") from exc
    except (OSError, pa.ArrowException) as exc:
        raise EmbeddingImportError(f"{p}: not a readable parquet file ({exc})") from exc
    names = table.column_names
    if id_column is None:
        id_column = next((n for n in names if n.lower() in _ID_NAMES), None)
        if id_column is None:
            raise EmbeddingImportError(
                f"{p}: no id column (looked for {', '.join(_ID_NAMES)}; columns: "
                f"{', '.join(names)})"
            )
    elif id_column not in names:
        raise EmbeddingImportError(f"{p}: no column {id_column!r} (columns: {', '.join(names)})")
    if vector_column is None:
        lists = [
            n
            for n in names
            if n != id_column
            and (
                pa.types.is_list(table.schema.field(n).type)
                or pa.types.is_large_list(table.schema.field(n).type)
                or pa.types.is_fixed_size_list(table.schema.field(n).type)
            )
        ]
        if len(lists) != 1:
            raise EmbeddingImportError(
                f"{p}: expected exactly one list/array column for the vectors, found "
                f"{len(lists)} ({', '.join(lists) or 'none'}); name it with vector_column"
            )
        vector_column = lists[0]
    elif vector_column not in names:
        raise EmbeddingImportError(
            f"{p}: no column {vector_column!r} (columns: {', '.join(names)})"
        )
    id_col = table.column(id_column)
    if id_col.null_count:
        row = int(np.flatnonzero(np.asarray(id_col.is_null()))[0])
        raise EmbeddingImportError(f"{p}: row {row} has no id")
    ids = [str(v) for v in id_col.to_pylist()]
    col = table.column(vector_column).combine_chunks()
    ftype = col.type
    if not (
        pa.types.is_list(ftype)
        or pa.types.is_large_list(ftype)
        or pa.types.is_fixed_size_list(ftype)
    ):
        raise EmbeddingImportError(
            f"{p}: column {vector_column!r} is {ftype}, expected a list of numbers"
        )
    if not (pa.types.is_floating(ftype.value_type) or pa.types.is_integer(ftype.value_type)):
        raise EmbeddingImportError(
            f"{p}: column {vector_column!r} holds {ftype.value_type}, expected numbers"
        )
    if col.null_count:
        row = int(np.flatnonzero(np.asarray(col.is_null()))[0])
        raise EmbeddingImportError(f"{p}: row {row} (id {ids[row]!r}) has no vector")
    lengths = np.asarray(pc.list_value_length(col), dtype=np.int64)
    if lengths.size and (lengths != lengths[0]).any():
        row = int(np.flatnonzero(lengths != lengths[0])[0])
        raise EmbeddingImportError(
            f"{p}: row {row} (id {ids[row]!r}) has {lengths[row]} values, expected "
            f"{lengths[0]} like row 0"
        )
    dim = int(lengths[0]) if lengths.size else 0
    flat = col.flatten()
    if flat.null_count:
        pos = int(np.flatnonzero(np.asarray(flat.is_null()))[0])
        row = pos // max(dim, 1)
        raise EmbeddingImportError(f"{p}: row {row} (id {ids[row]!r}) has a null value")
    values = np.asarray(flat.to_numpy(zero_copy_only=False), dtype=np.float32)
    return ids, values.reshape(len(ids), dim)


def read_embeddings(
    path: str | os.PathLike[str],
    ids_path: str | os.PathLike[str] | None = None,
    id_column: str | None = None,
    vector_column: str | None = None,
) -> tuple[list[str], np.ndarray]:
    """Read and validate ``(ids, vectors float32 [n, dim])`` from .npy + ids, or parquet."""
    p = Path(path)
    if p.suffix.lower() == ".parquet":
        ids, vectors = _read_parquet(p, id_column, vector_column)
        seen: dict[str, int] = {}
        for i, v in enumerate(ids):
            if v in seen:
                raise EmbeddingImportError(f"{p}: id {v!r} appears twice (rows {seen[v]}, {i})")
            seen[v] = i
        source = p.name
    elif p.suffix.lower() == ".npy":
        if ids_path is None:
            raise EmbeddingImportError(f"{p}: a .npy file needs an ids file (one id per row)")
        vectors = _read_npy(p)
        ids = read_ids(ids_path)
        if len(ids) != vectors.shape[0]:
            raise EmbeddingImportError(
                f"{Path(ids_path).name} has {len(ids)} ids but {p.name} has {vectors.shape[0]} rows"
            )
        source = p.name
    else:
        raise EmbeddingImportError(f"{p}: expected a .npy (with an ids file) or a .parquet file")
    if vectors.shape[0] == 0:
        raise EmbeddingImportError(f"{source}: no vectors")
    if vectors.shape[1] == 0:
        raise EmbeddingImportError(f"{source}: vectors have dimension 0")
    finite = np.isfinite(vectors).all(axis=1)
    if not finite.all():
        bad = np.flatnonzero(~finite)
        raise EmbeddingImportError(
            f"{source}: {bad.size} row(s) have NaN or infinite values, first row {bad[0]} "
            f"(id {ids[bad[0]]!r})"
        )
    zero = ~np.any(vectors != 0, axis=1)
    if zero.any():
        bad = np.flatnonzero(zero)
        raise EmbeddingImportError(
            f"{source}: {bad.size} row(s) are all zeros, first row {bad[0]} (id {ids[bad[0]]!r})"
        )
    return ids, vectors


def import_embeddings(
    cache_dir: Path,
    name: str,
    path: str | os.PathLike[str],
    ids_path: str | os.PathLike[str] | None = None,
    known_ids: Collection[object] | None = None,
    on_unknown: str = "error",
    expected_dim: int | None = None,
    id_column: str | None = None,
    vector_column: str | None = None,
    exact_threshold: int = EXACT_THRESHOLD,
    fingerprint: str | None = None,
) -> BuildReport:
    """Validate precomputed embeddings and store them as the space ``name``.

    ``known_ids`` are the dataset's pin ids: ids outside it raise (``on_unknown="error"``)
    or are dropped (``"skip"``); ``report.missing`` counts pins without a vector.
    ``expected_dim`` rejects vectors of another dimension.
    """
    if on_unknown not in ("error", "skip"):
        raise ValueError("on_unknown must be 'error' or 'skip'")
    ids, vectors = read_embeddings(path, ids_path, id_column, vector_column)
    source = Path(path).name
    if expected_dim is not None and vectors.shape[1] != expected_dim:
        raise EmbeddingImportError(
            f"{source}: vectors have dimension {vectors.shape[1]}, expected {expected_dim}"
        )
    missing = 0
    if known_ids is not None:
        known = {str(v) for v in known_ids}
        unknown = [v for v in ids if v not in known]
        if unknown and on_unknown == "error":
            raise EmbeddingImportError(
                f"{source}: {len(unknown)} id(s) are not pins of this dataset: {_preview(unknown)}"
            )
        if unknown:
            keep = np.array([v in known for v in ids])
            ids = [v for v in ids if v in known]
            vectors = vectors[keep]
            if not ids:
                raise EmbeddingImportError(f"{source}: none of the ids are pins of this dataset")
        missing = len(known) - len(ids)
    return write_space(
        Path(cache_dir),
        name,
        ids,
        vectors,
        source=str(Path(path).resolve()),
        exact_threshold=exact_threshold,
        missing=missing,
        fingerprint=fingerprint,
    )
