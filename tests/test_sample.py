"""The shipped sample dataset: loads cleanly, is the default on first start, has structure."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from workbench.engine.store import Store


def test_sample_loads_with_images_and_topics(sample_store: Store) -> None:
    info = sample_store.dataset("sample")
    assert info.pins >= 1000 and info.boards >= 100 and info.edges >= 10_000
    assert info.images == info.pins and info.missing_images == 0
    assert {"topic", "color"} <= set(info.pin_attributes)
    # boards mostly hold pins of their own topic: the walks have structure to find
    (share,) = sample_store.query(
        'SELECT avg((p.topic = b.topic)::INT) FROM "sample".edges e '
        'JOIN "sample".pins p ON p.idx = e.pin_idx JOIN "sample".boards b ON b.idx = e.board_idx'
    )[0]
    assert share > 0.6


def test_first_start_fills_a_new_store_with_the_sample(tmp_path: Path) -> None:
    # only the default store (./workbench.duckdb) is created implicitly, with the sample
    env = {k: v for k, v in os.environ.items() if k not in ("WORKBENCH_NO_SAMPLE", "WORKBENCH_DB")}
    exe = Path(sys.executable).parent / "workbench"
    proc = subprocess.run([str(exe), "datasets", "--json"], env=env, cwd=tmp_path,
                          capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert '"name": "sample"' in proc.stdout
    assert "created" in proc.stderr
    assert (tmp_path / "workbench.duckdb").exists()
