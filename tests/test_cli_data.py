"""The dataset commands as a script uses them: --json shapes, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from tests.conftest import write
from workbench.cli import main


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_load_datasets_info_drop_json(tmp_path: Path, tiny_dir: Path) -> None:
    db = str(tmp_path / "wb.duckdb")
    code, out, _ = run("load", str(tiny_dir), "--dataset", "tiny", "--db", db, "--json")
    assert code == 0 and json.loads(out)["edges"] == 7
    code, out, _ = run("--db", db, "datasets", "--json")
    assert json.loads(out) == [
        {"name": "tiny", "pins": 5, "boards": 3, "edges": 7, "has_split": False,
         "has_images": False, "format": "csv", "fingerprint": json.loads(out)[0]["fingerprint"]}
    ]  # fmt: skip
    code, out, _ = run("info", "--dataset", "tiny", "--db", db, "--json")
    info = json.loads(out)
    assert info["pin_degree"]["max"] == 2 and info["board_degree"]["max"] == 3
    assert info["pin_attributes"] == {"topic": "VARCHAR", "score": "BIGINT"}
    code, out, _ = run("drop", "--dataset", "tiny", "--db", db, "--json")
    assert code == 0 and json.loads(out) == {"dropped": "tiny"}
    assert json.loads(run("datasets", "--db", db, "--json")[1]) == []


def test_errors_are_one_line_with_exit_2(tmp_path: Path) -> None:
    db = str(tmp_path / "wb.duckdb")
    bad = write(tmp_path / "edges.csv", "board,pin,weight\n1,2,x\n")
    code, out, err = run("load", str(bad), "--dataset", "b", "--db", db)
    assert code == 2 and out == ""
    assert err.strip().count("\n") == 0
    assert err.startswith("error: ") and "edges.csv: line 2: column weight" in err
    code, _, err = run("info", "--dataset", "nope", "--db", db)
    assert code == 2 and err.strip() == "error: unknown dataset 'nope' (known: none loaded)"


def test_real_entry_point_prints_no_traceback(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "workbench"
    bad = write(tmp_path / "e.csv", "")
    proc = subprocess.run([str(exe), "--db", str(tmp_path / "w.duckdb"), "load", str(bad),
                           "--dataset", "x"], capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1


def test_drop_and_replace_remove_the_derived_files_of_old_versions(
    tmp_path: Path, tiny_dir: Path
) -> None:
    from workbench.engine.store import Store

    db = tmp_path / "wb.duckdb"
    assert run("load", str(tiny_dir), "--dataset", "tiny", "--db", str(db))[0] == 0
    store = Store(db)
    old = store.cache_dir("tiny", store.dataset("tiny").fingerprint)
    (old / "graph.npz").write_text("derived")
    write(tiny_dir / "edges.csv", "board,pin\nB1,a\nB1,b\nB2,a\n")
    assert run("load", str(tiny_dir), "--dataset", "tiny", "--replace", "--db", str(db))[0] == 0
    assert not old.exists()
    new = store.cache_dir("tiny", store.dataset("tiny").fingerprint)
    (new / "graph.npz").write_text("derived")
    code, _, err = run("drop", "--dataset", "tiny", "--yes", "--db", str(db))
    assert code == 0, err
    assert not store.artifacts_root("tiny").exists()
