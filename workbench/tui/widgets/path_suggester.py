"""Completes file and directory paths as they are typed in an Input (the Right key accepts)."""

from __future__ import annotations

import os
from pathlib import Path

from textual.suggester import Suggester


class PathSuggester(Suggester):
    """Suggests the first directory entry that starts with what was typed after the last '/'."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)

    async def get_suggestion(self, value: str) -> str | None:
        if not value:
            return None
        typed = Path(os.path.expanduser(value))
        parent, stem = (typed, "") if value.endswith("/") else (typed.parent, typed.name)
        try:
            names = sorted(e.name for e in os.scandir(parent) if not e.name.startswith("."))
        except OSError:
            return None
        for name in names:
            if name.startswith(stem) and name != stem:
                suffix = "/" if (parent / name).is_dir() else ""
                return value + name[len(stem) :] + suffix
        return None
