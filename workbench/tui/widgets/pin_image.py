"""A pin's image in the terminal: Kitty/Sixel where supported, half-block cells otherwise.

The renderer follows the ``images`` setting (``auto``, ``halfcell``, ``unicode`` or ``none``);
a pin without an image, or whose file is missing, shows a short note instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from textual.app import ComposeResult
from textual.containers import Container
from textual.widget import Widget
from textual.widgets import Static

if TYPE_CHECKING:
    from PIL import Image as PILImage

    from workbench.tui.app import WorkbenchApp


def _image_widget(mode: str) -> Widget | None:
    if mode == "none":
        return None
    from textual_image import widget

    cls: Any = {"halfcell": widget.HalfcellImage, "unicode": widget.UnicodeImage}.get(
        mode, widget.Image
    )
    image: Widget = cls(classes="pin-image-picture")
    return image


class PinImage(Container):
    """Shows the image at ``path``; ``caption`` is written under it."""

    def __init__(
        self,
        path: str | None = None,
        caption: str = "",
        *,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self._path = path
        self._caption = caption

    def compose(self) -> ComposeResult:
        picture = _image_widget(cast("WorkbenchApp", self.app).config.images)
        if picture is not None:
            yield picture
        yield Static(classes="pin-image-note")
        yield Static(classes="pin-image-caption")

    def on_mount(self) -> None:
        self.show(self._path, self._caption)

    def show(self, path: str | None, caption: str = "") -> None:
        """Display another image file (``None``: none) with a caption."""
        self._path, self._caption = path, caption
        if not path:
            self.show_picture(None, caption, "no image")
        elif not Path(path).is_file():
            self.show_picture(None, caption, "image file missing")
        else:
            self.show_picture(path, caption)

    def show_picture(
        self, picture: str | PILImage.Image | None, caption: str = "", problem: str = ""
    ) -> None:
        """Display an image file or a decoded image; ``problem`` (shown instead) says why not."""
        pictures = self.query(".pin-image-picture")
        if picture is None and not problem:
            problem = "no image"
        elif not pictures and not problem:
            problem = "images off"
        for widget in pictures:
            widget.image = picture if not problem else None  # type: ignore[attr-defined]
            widget.display = not problem
        note = self.query_one(".pin-image-note", Static)
        note.update(problem)
        note.display = bool(problem)
        caption_widget = self.query_one(".pin-image-caption", Static)
        caption_widget.update(caption)
        caption_widget.display = bool(caption)
