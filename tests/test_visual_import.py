"""Importing precomputed embeddings: .npy + ids (txt/csv/json) and parquet, good and bad."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from workbench.engine.errors import InputError
from workbench.engine.visual import (
    EmbeddingImportError,
    import_embeddings,
    list_spaces,
    open_space,
    read_ids,
    search_crop,
    search_image,
    search_pin,
)

IDS = [f"p{i}" for i in range(20)]


def _vectors(n: int = 20, d: int = 8, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)


def test_npy_with_text_csv_and_json_ids(tmp_path: Path) -> None:
    vec = _vectors()
    np.save(tmp_path / "v.npy", vec)
    (tmp_path / "ids.txt").write_text("\n".join(IDS) + "\n\n")
    (tmp_path / "ids.csv").write_text("score,pin_id\n" + "".join(f"1,{i}\n" for i in IDS))
    (tmp_path / "ids.json").write_text(json.dumps({"ids": IDS}))
    for ids_file in ["ids.txt", "ids.csv", "ids.json"]:
        assert read_ids(tmp_path / ids_file) == IDS
    report = import_embeddings(
        tmp_path / "cache", "clip", tmp_path / "v.npy", tmp_path / "ids.txt", known_ids=[*IDS, "x"]
    )
    assert (report.count, report.dim, report.missing) == (20, 8, 1)
    space = open_space(tmp_path / "cache", "clip")
    assert list(space.ids) == IDS
    np.testing.assert_allclose(np.linalg.norm(space.vectors, axis=1), 1.0, atol=1e-5)
    normed = vec / np.linalg.norm(vec, axis=1, keepdims=True)
    expected = [IDS[i] for i in np.argsort(-(normed @ normed[3]))[1:4]]
    assert search_pin(space, "p3", k=3).ids == expected
    # Imported spaces cannot embed new pictures; the message says what to do instead.
    with pytest.raises(InputError, match="by pin id"):
        search_image(space, tmp_path / "v.npy")
    with pytest.raises(InputError, match="region index"):
        search_crop(space, (0, 0, 4, 4), pin_id="p1")
    # Integer ids in JSON become strings; several named spaces live side by side.
    (tmp_path / "int.json").write_text(json.dumps(list(range(20))))
    import_embeddings(tmp_path / "cache", "other", tmp_path / "v.npy", tmp_path / "int.json")
    assert {s["name"] for s in list_spaces(tmp_path / "cache")} == {"clip", "other"}
    assert open_space(tmp_path / "cache", "other").ids[5] == "5"


def test_parquet_list_and_fixed_size_columns(tmp_path: Path) -> None:
    vec = _vectors()
    table = pa.table({"id": IDS, "emb": pa.array(list(vec), type=pa.list_(pa.float32()))})
    pq.write_table(table, tmp_path / "e.parquet")
    report = import_embeddings(tmp_path / "cache", "a", tmp_path / "e.parquet", known_ids=IDS)
    assert (report.count, report.dim, report.missing) == (20, 8, 0)
    fixed = pa.FixedSizeListArray.from_arrays(pa.array(vec.ravel()), 8)
    pq.write_table(
        pa.table({"pin_id": pa.array(range(20)), "v": fixed, "note": ["x"] * 20}),
        tmp_path / "f.parquet",
    )
    report = import_embeddings(tmp_path / "cache", "b", tmp_path / "f.parquet")
    assert report.count == 20
    np.testing.assert_allclose(
        open_space(tmp_path / "cache", "b").vectors,
        open_space(tmp_path / "cache", "a").vectors,
        atol=1e-6,
    )


def _err(tmp_path: Path, *args: object, **kwargs: object) -> str:
    with pytest.raises(EmbeddingImportError) as info:
        import_embeddings(tmp_path / "cache", "x", *args, **kwargs)  # type: ignore[arg-type]
    message = str(info.value)
    assert "\n" not in message and isinstance(info.value, ValueError)
    return message


def test_bad_npy_inputs(tmp_path: Path) -> None:
    vec = _vectors()
    np.save(tmp_path / "v.npy", vec)
    (tmp_path / "ids.txt").write_text("\n".join(IDS))
    (tmp_path / "short.txt").write_text("\n".join(IDS[:-1]))
    assert "19 ids but v.npy has 20 rows" in _err(
        tmp_path, tmp_path / "v.npy", tmp_path / "short.txt"
    )
    nan = vec.copy()
    nan[4, 2] = np.nan
    np.save(tmp_path / "nan.npy", nan)
    assert "row 4 (id 'p4')" in _err(tmp_path, tmp_path / "nan.npy", tmp_path / "ids.txt")
    zero = vec.copy()
    zero[7] = 0
    np.save(tmp_path / "zero.npy", zero)
    assert "all zeros" in _err(tmp_path, tmp_path / "zero.npy", tmp_path / "ids.txt")
    np.save(tmp_path / "flat.npy", vec.ravel())
    assert "2-D" in _err(tmp_path, tmp_path / "flat.npy", tmp_path / "ids.txt")
    np.save(tmp_path / "str.npy", np.array([["a"]] * 20))
    assert "numbers" in _err(tmp_path, tmp_path / "str.npy", tmp_path / "ids.txt")
    (tmp_path / "junk.npy").write_bytes(b"not numpy")
    assert "readable" in _err(tmp_path, tmp_path / "junk.npy", tmp_path / "ids.txt")
    assert "ids file" in _err(tmp_path, tmp_path / "v.npy")
    msg = _err(tmp_path, tmp_path / "v.npy", tmp_path / "ids.txt", known_ids=IDS[:17])
    assert "3 id(s) are not pins of this dataset: 'p17', 'p18', 'p19'" in msg
    assert "dimension 8, expected 16" in _err(
        tmp_path, tmp_path / "v.npy", tmp_path / "ids.txt", expected_dim=16
    )
    (tmp_path / "dup.txt").write_text("\n".join([*IDS[:-1], "p0"]))
    assert "'p0' appears twice" in _err(tmp_path, tmp_path / "v.npy", tmp_path / "dup.txt")
    (tmp_path / "gap.txt").write_text("\n".join([*IDS[:5], "", *IDS[6:]]))
    assert "line 6 has an empty id" in _err(tmp_path, tmp_path / "v.npy", tmp_path / "gap.txt")
    assert "no such file" in _err(tmp_path, tmp_path / "missing.npy", tmp_path / "ids.txt")
    assert "expected a .npy" in _err(tmp_path, tmp_path / "ids.txt")
    # Unknown ids can be dropped instead; the rest is imported.
    report = import_embeddings(
        tmp_path / "cache",
        "ok",
        tmp_path / "v.npy",
        tmp_path / "ids.txt",
        known_ids=IDS[:17],
        on_unknown="skip",
    )
    assert report.count == 17 and report.missing == 0
    with pytest.raises(InputError, match="reserved"):
        import_embeddings(tmp_path / "cache", "builtin", tmp_path / "v.npy", tmp_path / "ids.txt")
    with pytest.raises(InputError, match="bad embedding name"):
        import_embeddings(tmp_path / "cache", "../up", tmp_path / "v.npy", tmp_path / "ids.txt")


def test_bad_parquet_inputs(tmp_path: Path) -> None:
    ragged = pa.table({"id": ["a", "b", "c"], "emb": [[1.0, 2.0], [1.0, 2.0], [1.0]]})
    pq.write_table(ragged, tmp_path / "ragged.parquet")
    assert "row 2 (id 'c') has 1 values, expected 2" in _err(tmp_path, tmp_path / "ragged.parquet")
    nan = pa.table({"id": ["a", "b"], "emb": [[1.0, float("nan")], [1.0, 2.0]]})
    pq.write_table(nan, tmp_path / "nan.parquet")
    assert "NaN" in _err(tmp_path, tmp_path / "nan.parquet")
    null = pa.table({"id": ["a", "b"], "emb": [[1.0, 2.0], None]})
    pq.write_table(null, tmp_path / "null.parquet")
    assert "row 1 (id 'b') has no vector" in _err(tmp_path, tmp_path / "null.parquet")
    noid = pa.table({"key": ["a"], "emb": [[1.0]]})
    pq.write_table(noid, tmp_path / "noid.parquet")
    assert "no id column" in _err(tmp_path, tmp_path / "noid.parquet")
    two = pa.table({"id": ["a"], "e1": [[1.0]], "e2": [[2.0]]})
    pq.write_table(two, tmp_path / "two.parquet")
    assert "found 2 (e1, e2)" in _err(tmp_path, tmp_path / "two.parquet")
    report = import_embeddings(
        tmp_path / "cache", "e2", tmp_path / "two.parquet", vector_column="e2"
    )
    assert report.count == 1
    dup = pa.table({"id": ["a", "a"], "emb": [[1.0], [2.0]]})
    pq.write_table(dup, tmp_path / "dup.parquet")
    assert "'a' appears twice" in _err(tmp_path, tmp_path / "dup.parquet")
    strs = pa.table({"id": ["a"], "emb": [["x"]]})
    pq.write_table(strs, tmp_path / "strs.parquet")
    assert "expected numbers" in _err(tmp_path, tmp_path / "strs.parquet")
    (tmp_path / "junk.parquet").write_bytes(b"PAR1 nope")
    assert "not a readable parquet" in _err(tmp_path, tmp_path / "junk.parquet")
    unknown = pa.table({"id": ["a", "zz"], "emb": [[1.0], [2.0]]})
    pq.write_table(unknown, tmp_path / "unknown.parquet")
    assert "1 id(s) are not pins" in _err(tmp_path, tmp_path / "unknown.parquet", known_ids=["a"])
