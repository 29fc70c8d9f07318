"""README's notebook example runs as written (against the shipped sample)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def notebook_example() -> str:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Notebook API") :]
    found = re.search(r"```python\n(.*?)```", section, re.S)
    assert found, "README's notebook section has no python example"
    return found.group(1)


def test_readme_notebook_example_runs(tmp_path: Path) -> None:
    (tmp_path / "sample_data").symlink_to(ROOT / "sample_data")
    code = notebook_example()
    assert "wb.recommend" in code and "wb.explain" in code and "wb.evaluate" in code
    env = {**os.environ, "WORKBENCH_NO_SAMPLE": "1"}
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=600, env=env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "walk.parquet").exists()
    assert (tmp_path / "walk.parquet.provenance.json").exists()
    # the printed ranking has the columns the README promises
    assert "rank" in proc.stdout and "score" in proc.stdout and "title" in proc.stdout
