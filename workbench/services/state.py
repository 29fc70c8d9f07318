"""What the workbench remembers between runs: the dataset last used on each store, and the theme
chosen in the TUI. One small JSON file (the TUI keeps it beside its config file), written
atomically; a missing or broken file means a fresh start, never an error.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.engine.atomic import atomic_write

__all__ = ["Remembered", "load_remembered"]


@dataclass
class Remembered:
    """The dataset last in use on each store (by the store file's absolute path), the theme."""

    datasets: dict[str, str] = field(default_factory=dict)
    theme: str | None = None
    path: Path | None = None

    def dataset_for(self, store_path: Path) -> str | None:
        return self.datasets.get(str(Path(store_path).resolve()))

    def remember_dataset(self, store_path: Path, dataset: str | None) -> None:
        key = str(Path(store_path).resolve())
        if dataset is None:
            self.datasets.pop(key, None)
        else:
            self.datasets[key] = dataset

    def save(self) -> None:
        """Write the file atomically; a place that cannot be written is not an error."""
        if self.path is None:
            return
        data: dict[str, Any] = {"datasets": self.datasets}
        if self.theme:
            data["theme"] = self.theme
        text = json.dumps(data, indent=2, sort_keys=True) + "\n"
        with contextlib.suppress(OSError):
            atomic_write(self.path, lambda tmp: tmp.write_text(text), overwrite=True)


def load_remembered(path: Path) -> Remembered:
    """Read the file at ``path``; anything missing or unreadable is simply not remembered."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return Remembered(path=path)
    if not isinstance(data, dict):
        return Remembered(path=path)
    raw = data.get("datasets")
    datasets = (
        {str(k): str(v) for k, v in raw.items() if isinstance(v, str)}
        if isinstance(raw, dict)
        else {}
    )
    theme = data["theme"] if isinstance(data.get("theme"), str) else None
    return Remembered(datasets=datasets, theme=theme, path=path)
