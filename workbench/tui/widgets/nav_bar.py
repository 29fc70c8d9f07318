"""The line on top of every screen: the screens with their keys (click or press), the current one
highlighted, and the dataset in use. One line, and it fits: titles shorten as the terminal
narrows (``3 Recommend`` -> ``3 Rec``), so every screen's key is always visible at 80 columns."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from rich.cells import cell_len
from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.widgets import Static

if TYPE_CHECKING:
    from workbench.tui.app import WorkbenchApp

SHORT = {"datasets": "Data", "recommend": "Rec", "compare": "Comp", "explore": "Expl"}
"""Titles used when the full ones do not fit."""
MAX_DATASET = 24
"""Columns of the dataset's name (with its padding) at most."""
MIN_DATASET = 8
"""Columns the dataset's name keeps however narrow the terminal (the rest of it is cut)."""


class NavBar(Horizontal):
    """The screens (``mode`` is the active one) and a label naming the dataset."""

    def __init__(self, mode: str) -> None:
        super().__init__()
        self.mode = mode

    def compose(self) -> ComposeResult:
        yield Static(id="nav-tabs", markup=False)
        yield Static(id="nav-dataset", markup=False)

    def on_mount(self) -> None:
        self.watch(self.app, "dataset", self._show_dataset)

    @property
    def workbench(self) -> WorkbenchApp:
        return cast("WorkbenchApp", self.app)

    def labels(self, width: int) -> tuple[list[tuple[str, str]], int]:
        """``(mode, label)`` per screen and the gap between them, as long as fits."""
        from workbench.tui.app import SCREENS

        keys = [(m, self.workbench.key_for(f"screen.{m}", k), t) for m, t, k in SCREENS]
        for shorten, gap in ((False, 2), (True, 2), (False, 1), (True, 1)):
            out = [(m, f"{k} {SHORT.get(m, t) if shorten else t}") for m, k, t in keys]
            if sum(cell_len(label) for _, label in out) + gap * len(out) <= width:
                return out, gap
        labels = [(m, f"{k} {SHORT.get(m, t)}" if m == self.mode else k) for m, k, t in keys]
        return labels, 1

    def switcher_width(self) -> int:
        """Columns the switcher needs with every screen named (short titles, one space apart)."""
        from workbench.tui.app import SCREENS

        named = [
            f"{self.workbench.key_for(f'screen.{m}', k)} {SHORT.get(m, t)}" for m, t, k in SCREENS
        ]
        return sum(cell_len(label) for label in named) + len(named) + 1

    def _render_tabs(self) -> None:
        tabs = self.query_one("#nav-tabs", Static)
        dataset = self.app.dataset if hasattr(self.app, "dataset") else None
        # The dataset's name gives way first (cut with an ellipsis): the switcher stays named.
        wanted = min(cell_len(str(dataset or "no dataset")) + 2, MAX_DATASET)
        room = max(self.size.width - self.switcher_width(), MIN_DATASET)
        shown = min(wanted, room)
        self.query_one("#nav-dataset", Static).styles.width = shown
        labels, gap = self.labels(max(self.size.width - shown, 1))
        parts = []
        for mode, label in labels:
            style = "reverse bold " if mode == self.mode else ""
            parts.append(f"[{style}@click=app.go('{mode}')]{label}[/]")
        tabs.update(Content.from_markup(" " + (" " * gap).join(parts)))

    def on_resize(self, _event: events.Resize) -> None:
        self.call_after_refresh(self._render_tabs)

    def _show_dataset(self, dataset: str | None) -> None:
        text = f"{dataset}" if dataset else "no dataset"
        self.query_one("#nav-dataset", Static).update(text)
        self.call_after_refresh(self._render_tabs)
