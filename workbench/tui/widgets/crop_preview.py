"""The Visual screen's query image with its crop box drawn on it (outside dimmed, box outlined);
when focused, arrow keys move the box and shift+arrows resize it."""

from __future__ import annotations

from typing import ClassVar

from PIL import Image, ImageDraw
from textual.binding import Binding, BindingType
from textual.message import Message

from workbench.tui.widgets.pin_image import PinImage

Box = tuple[int, int, int, int]
"""``(x, y, w, h)`` in pixels of the full-size image (after EXIF orientation)."""

THUMBNAIL = 320
"""Longest side of the decoded copy the box is drawn on (the terminal shows far fewer pixels)."""
OUTLINE = (255, 196, 0)


def draw_box(image: Image.Image, size: tuple[int, int], box: Box) -> Image.Image:
    """A copy of ``image`` (a thumbnail of an image of ``size`` pixels) with everything outside
    ``box`` dimmed and the box outlined."""
    sx, sy = image.width / size[0], image.height / size[1]
    x0, y0 = round(box[0] * sx), round(box[1] * sy)
    x1 = max(x0 + 1, round((box[0] + box[2]) * sx))
    y1 = max(y0 + 1, round((box[1] + box[3]) * sy))
    out = Image.blend(image, Image.new("RGB", image.size), 0.6)
    out.paste(image.crop((x0, y0, x1, y1)), (x0, y0))
    width = max(1, round(max(image.size) / 48))
    ImageDraw.Draw(out).rectangle((x0, y0, x1 - 1, y1 - 1), outline=OUTLINE, width=width)
    return out


class CropPreview(PinImage, can_focus=True):
    """Shows ``set_image``'s picture with ``box`` drawn; key moves post :class:`BoxChanged`."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left", "move(-1, 0)", "Move crop left", id="crop.left", show=False),
        Binding("right", "move(1, 0)", "Move crop right", id="crop.right", show=False),
        Binding("up", "move(0, -1)", "Move crop up", id="crop.up", show=False),
        Binding("down", "move(0, 1)", "Move crop down", id="crop.down", show=False),
        Binding("shift+left", "resize(-1, 0)", "Narrower crop", id="crop.narrower", show=False),
        Binding("shift+right", "resize(1, 0)", "Wider crop", id="crop.wider", show=False),
        Binding("shift+up", "resize(0, -1)", "Shorter crop", id="crop.shorter", show=False),
        Binding("shift+down", "resize(0, 1)", "Taller crop", id="crop.taller", show=False),
        Binding("delete,backspace", "clear_box", "Whole image", id="crop.clear"),
    ]

    class BoxChanged(Message):
        """The user moved, resized or cleared the box with the keys."""

        def __init__(self, box: Box | None) -> None:
            super().__init__()
            self.box = box

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.thumbnail: Image.Image | None = None
        self.image_size: tuple[int, int] | None = None
        """Width and height of the full-size image, when one is shown."""
        self.box: Box | None = None
        self.caption = ""

    def set_image(self, thumbnail: Image.Image, size: tuple[int, int], caption: str) -> None:
        self.thumbnail, self.image_size, self.caption = thumbnail, size, caption
        self._draw()

    def set_problem(self, problem: str) -> None:
        """No image: say why (no query yet, unknown pin, unreadable file)."""
        self.thumbnail = self.image_size = None
        self.show_picture(None, "", problem)

    def set_box(self, box: Box | None) -> None:
        if box != self.box:
            self.box = box
            self._draw()

    def _draw(self) -> None:
        if self.thumbnail is None or self.image_size is None:
            return
        picture = self.thumbnail
        if self.box is not None and _inside(self.box, self.image_size):
            picture = draw_box(self.thumbnail, self.image_size, self.box)
        self.show_picture(picture, self.caption)

    def _step(self) -> int:
        assert self.image_size is not None
        return max(1, round(min(self.image_size) / 20))

    def _start_box(self) -> Box:
        assert self.image_size is not None
        w, h = self.image_size
        return w // 4, h // 4, max(2, w // 2), max(2, h // 2)

    def action_move(self, dx: int, dy: int) -> None:
        if self.image_size is None:
            return
        x, y, w, h = self.box if self.box is not None else self._start_box()
        step = self._step()
        x = min(max(0, x + dx * step), max(0, self.image_size[0] - w))
        y = min(max(0, y + dy * step), max(0, self.image_size[1] - h))
        self._changed((x, y, w, h))

    def action_resize(self, dw: int, dh: int) -> None:
        if self.image_size is None:
            return
        x, y, w, h = self.box if self.box is not None else self._start_box()
        step = self._step()
        w = min(max(2, w + dw * step), self.image_size[0] - x)
        h = min(max(2, h + dh * step), self.image_size[1] - y)
        self._changed((x, y, w, h))

    def action_clear_box(self) -> None:
        self._changed(None)

    def _changed(self, box: Box | None) -> None:
        self.set_box(box)
        self.post_message(self.BoxChanged(box))


def _inside(box: Box, size: tuple[int, int]) -> bool:
    x, y, w, h = box
    return x >= 0 and y >= 0 and w > 0 and h > 0 and x + w <= size[0] and y + h <= size[1]
