"""The house rules, as harlequin proves them: the engine and the services import without any face
or UI library (the import contracts in `.importlinter` check the same statically, in make test)."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import importlib, pkgutil, sys
import workbench.engine, workbench.services
for pkg in (workbench.engine, workbench.services):
    for mod in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
        importlib.import_module(mod.name)
loaded = sorted(m for m in ("textual", "click", "workbench.tui", "workbench.commands",
                            "workbench.cli") if m in sys.modules)
print(",".join(loaded))
"""


def test_engine_and_services_import_no_face() -> None:
    proc = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "", f"loaded by the engine or services: {proc.stdout.strip()}"
