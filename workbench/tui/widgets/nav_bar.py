"""The bar on top of every screen: the screens as tabs (click or key) and the current dataset."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label, Tab, Tabs

if TYPE_CHECKING:
    from workbench.tui.app import WorkbenchApp


class NavBar(Horizontal):
    """Tabs for the screens (``mode`` is the active one) and a label naming the dataset."""

    def __init__(self, mode: str) -> None:
        super().__init__()
        self.mode = mode

    def compose(self) -> ComposeResult:
        from workbench.tui.app import SCREENS

        app = cast("WorkbenchApp", self.app)
        tabs = [
            Tab(f"{app.key_for(f'screen.{mode}', key)} {title}", id=f"tab-{mode}")
            for mode, title, key in SCREENS
        ]
        yield Label("Pinboard", id="nav-title")
        yield Tabs(*tabs, active=f"tab-{self.mode}", id="nav-tabs")
        yield Label(id="nav-dataset")

    def on_mount(self) -> None:
        self.query_one(Tabs).can_focus = False
        self.watch(self.app, "dataset", self._show_dataset)

    def _show_dataset(self, dataset: str | None) -> None:
        text = f"dataset [b]{dataset}[/b]" if dataset else "no dataset: load one (1 Datasets)"
        self.query_one("#nav-dataset", Label).update(text)

    @on(Tabs.TabActivated)
    def _go(self, event: Tabs.TabActivated) -> None:
        event.stop()
        mode = (event.tab.id or "").removeprefix("tab-")
        if mode and mode != self.mode:
            self.query_one(Tabs).active = f"tab-{self.mode}"
            cast("WorkbenchApp", self.app).action_go(mode)
