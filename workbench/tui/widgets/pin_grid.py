"""Pins as a scrolling grid of image tiles; arrow keys move between tiles."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll

from workbench.tui.widgets.pin_tile import PinTile

TILE_WIDTH = 20  # cells, keep in step with `.pin-tile` in workbench.tcss


class PinGrid(VerticalScroll, can_focus=False):
    """Tiles for up to ``limit`` pins; the arrow keys move focus by one tile or one row."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left", "move(-1, 0)", show=False),
        Binding("right", "move(1, 0)", show=False),
        Binding("up", "move(0, -1)", show=False),
        Binding("down", "move(0, 1)", show=False),
    ]

    def __init__(self, limit: int = 60, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.limit = limit

    def on_resize(self) -> None:
        self.styles.grid_size_columns = max(1, self.scrollable_content_region.width // TILE_WIDTH)

    async def show(self, pins: list[tuple[str, str | None, str]]) -> None:
        """Replace the tiles: ``(pin, image path, caption)`` each."""
        await self.remove_children()
        await self.mount_all(
            PinTile(pin, path, caption) for pin, path, caption in pins[: self.limit]
        )

    def action_move(self, dx: int, dy: int) -> None:
        tiles = list(self.query(PinTile))
        focused = self.screen.focused
        if not tiles or focused not in tiles:
            return
        per_row = max(1, self.scrollable_content_region.width // TILE_WIDTH)
        index = tiles.index(focused) + dx + dy * per_row  # type: ignore[arg-type]
        if 0 <= index < len(tiles):
            tiles[index].focus()
            tiles[index].scroll_visible()
