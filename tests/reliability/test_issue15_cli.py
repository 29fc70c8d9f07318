"""Issue 15, the CLI's own items: a reader that goes away and a usage error."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_output_into_a_closed_pipe_exits_quietly(tmp_path: Path) -> None:
    """`workbench ... | head` used to print 'error: Broken pipe' and exit 2: now it stops quietly
    with status 0, as Unix tools do."""
    env = {**os.environ, "WORKBENCH_DB": str(tmp_path / "wb.duckdb")}
    code = (
        "import sys\n"
        "from workbench.cli import main\n"
        "sys.argv = ['workbench', 'recommend', '--dataset', 'sample', '--pin', 'p00042',\n"
        "            '--algo', 'rp3beta', '--top', '1000', '--json']\n"
        "main()\n"
    )
    load = "from workbench.cli import main; main()"
    subprocess.run([sys.executable, "-c", load, "load", str(ROOT / "sample_data"), "--dataset",
                    "sample"], env=env, capture_output=True, check=True, timeout=300)  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.read(10)  # read a little, then go away like `head -c 10`
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == 0, err
    assert "Broken pipe" not in err and "Traceback" not in err


def test_a_usage_error_is_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "WORKBENCH_DB": str(tmp_path / "wb.duckdb"), "WORKBENCH_NO_SAMPLE": "1"}
    cli = [sys.executable, "-c", "from workbench.cli import main; main()"]
    proc = subprocess.run([*cli, "compare", "1"], env=env, capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), lines
