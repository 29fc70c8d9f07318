"""One pin in an image grid: its picture and id; focused by keys, opened by Enter or a click."""

from __future__ import annotations

from typing import ClassVar

from textual import events
from textual.binding import Binding, BindingType
from textual.message import Message

from workbench.tui.widgets.pin_image import PinImage


class PinTile(PinImage, can_focus=True):
    """A focusable, clickable pin image that posts :class:`PinTile.Opened`."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open", "Open pin", id="tile.open"),
    ]

    class Opened(Message):
        def __init__(self, pin: str) -> None:
            super().__init__()
            self.pin = pin

    def __init__(self, pin: str, path: str | None, caption: str) -> None:
        super().__init__(path, caption, classes="pin-tile")
        self.pin = pin

    def action_open(self) -> None:
        self.post_message(self.Opened(self.pin))

    def on_click(self, event: events.Click) -> None:
        event.stop()
        self.focus()
        if event.chain >= 2:
            self.action_open()
