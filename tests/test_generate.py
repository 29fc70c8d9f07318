"""The synthetic graph generator: deterministic, skewed, topical, streamed, loadable."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import workbench.engine.generate as gen
from workbench.cli import main
from workbench.engine.errors import OutputExistsError, WorkbenchError
from workbench.engine.ingest import load_dataset
from workbench.engine.store import Store
from workbench.services.generate import GenerateRequest, generate
from workbench.services.parsing import ParseError


def _read(path: Path) -> tuple[np.ndarray, np.ndarray]:
    t = pq.read_table(path)
    return t.column("board").to_numpy(), t.column("pin").to_numpy()


def test_same_request_same_bytes_other_seed_other_rows(tmp_path: Path) -> None:
    a = generate(GenerateRequest(edges=20_000, out=str(tmp_path / "a.parquet"), seed=3))
    b = generate(GenerateRequest(edges=20_000, out=str(tmp_path / "b.parquet"), seed=3))
    c = generate(GenerateRequest(edges=20_000, out=str(tmp_path / "c.parquet"), seed=4))
    assert Path(a.path).read_bytes() == Path(b.path).read_bytes()
    assert not np.array_equal(_read(Path(a.path))[1], _read(Path(c.path))[1])
    assert pq.read_metadata(a.path).num_rows == 20_000


def test_rows_do_not_depend_on_the_chunk_size_beyond_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # chunks are seeded by (seed, index): a longer file starts with the shorter one's rows
    monkeypatch.setattr(gen, "CHUNK_ROWS", 1000)
    short = generate(GenerateRequest(edges=2_500, out=str(tmp_path / "s.parquet"), boards=50,
                                     pins=500, topics=5))  # fmt: skip
    long = generate(GenerateRequest(edges=4_000, out=str(tmp_path / "l.parquet"), boards=50,
                                    pins=500, topics=5))  # fmt: skip
    assert pq.ParquetFile(long.path).metadata.num_row_groups == 4
    sb, sp = _read(Path(short.path))
    lb, lp = _read(Path(long.path))
    assert np.array_equal(sb, lb[:2_500]) and np.array_equal(sp, lp[:2_500])


def test_degrees_are_skewed_and_ids_in_range(tmp_path: Path) -> None:
    r = generate(GenerateRequest(edges=200_000, out=str(tmp_path / "g.parquet"), boards=2_000,
                                 pins=20_000, pin_skew=1.0, board_skew=0.8, topics=10))  # fmt: skip
    boards, pins = _read(Path(r.path))
    assert boards.min() >= 0 and boards.max() < 2_000 and pins.min() >= 0 and pins.max() < 20_000
    pin_deg = np.sort(np.bincount(pins, minlength=20_000))[::-1]
    board_deg = np.sort(np.bincount(boards, minlength=2_000))[::-1]
    # heavy heads: the top 1% of pins take far more than 1% of the rows, and so do boards
    assert pin_deg[:200].sum() > 0.15 * len(pins)
    assert board_deg[:20].sum() > 0.05 * len(boards)
    assert pin_deg[0] > 20 * np.median(pin_deg)
    # uniform (skew 0) is flat by comparison
    u = generate(GenerateRequest(edges=200_000, out=str(tmp_path / "u.parquet"), boards=2_000,
                                 pins=20_000, pin_skew=0.0, board_skew=0.0, topics=10))  # fmt: skip
    _, upins = _read(Path(u.path))
    assert np.sort(np.bincount(upins, minlength=20_000))[::-1][:200].sum() < 0.03 * len(upins)


def test_boards_mostly_hold_one_topic(tmp_path: Path) -> None:
    spec = GenerateRequest(edges=100_000, out=str(tmp_path / "t.parquet"), boards=1_000,
                           pins=10_000, topics=10).spec()  # fmt: skip
    boards, pins = gen.draw_chunk(spec, 0)
    # invert the id scattering to recover each row's board and pin topic
    inv_b = pow(gen._scatter_factor(spec.boards), -1, spec.boards)
    inv_p = pow(gen._scatter_factor(spec.pins), -1, spec.pins)
    board_topic = ((boards - 1) * inv_b % spec.boards) % spec.topics
    pin_topic = ((pins - 1) * inv_p % spec.pins) % spec.topics
    share = float(np.mean(board_topic == pin_topic))
    assert 0.85 < share < 0.95  # topic_focus 0.9, plus strays that land on the same topic


def test_generated_file_loads(tmp_path: Path) -> None:
    r = generate(GenerateRequest(edges=30_000, out=str(tmp_path / "g.parquet")))
    report = load_dataset(Store(tmp_path / "wb.duckdb"), [r.path], "syn")
    assert report.edges + report.duplicate_edges == 30_000
    assert report.boards <= r.spec.boards and report.pins <= r.spec.pins
    assert report.boards > 0.9 * r.spec.boards


def test_bad_requests_are_one_line_and_write_nothing(tmp_path: Path) -> None:
    out = tmp_path / "x.parquet"
    for bad in (dict(edges=0), dict(edges=10, boards=0), dict(edges=10, pin_skew=float("nan")),
                dict(edges=100, topics=1000, boards=10, pins=10)):  # fmt: skip
        with pytest.raises(WorkbenchError):
            generate(GenerateRequest(out=str(out), **bad))  # type: ignore[arg-type]
    with pytest.raises(ParseError):
        generate(GenerateRequest(edges=10, out=str(out), seed=-1))
    with pytest.raises(WorkbenchError, match=r"\.parquet"):
        generate(GenerateRequest(edges=10, out=str(tmp_path / "x.csv")))
    assert list(tmp_path.iterdir()) == []
    generate(GenerateRequest(edges=10, out=str(out)))
    with pytest.raises(OutputExistsError):
        generate(GenerateRequest(edges=10, out=str(out)))


def test_cli_generate_then_load(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "g.parquet"
    res = runner.invoke(main, ["generate", "--edges", "5000", "--pins", "800", "--seed", "7",
                               "--out", str(out)])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "5,000 edge rows" in res.output and "800 pins" in res.output
    again = runner.invoke(main, ["generate", "--edges", "5000", "--out", str(out)])
    assert again.exit_code == 2 and "--force" in again.output
    db = tmp_path / "wb.duckdb"
    res = runner.invoke(main, ["--db", str(db), "load", str(out), "--dataset", "g"])
    assert res.exit_code == 0, res.output
