"""The F1 help: every key of the current screen with its binding id, and how to remap.

Keys in reach from the focused widget come first; then the keys of the screen's other widgets
(e.g. the crop box's arrows on Visual, the row keys of its tables), which work once that widget
has the focus."""

from __future__ import annotations

import re
from typing import ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widget import Widget
from textual.widgets import DataTable, Input, Select, Static, TextArea

from workbench.tui.config import config_path

NARROW = 110
"""Below this many columns the help leaves out the Where column (the app's -narrow class)."""


def where(node: DOMNode) -> str:
    """Where a key works, in a user's words: this screen, the app, or the widget by its
    border title (a panel's own, or the one of the panel it sits in) or its kind."""
    if isinstance(node, Screen):
        return "this screen"
    if not isinstance(node, Widget):
        return "the app"
    for widget in node.ancestors_with_self:
        if isinstance(widget, Screen):
            break
        if isinstance(widget, Widget) and widget.border_title:
            return str(widget.border_title).split(" (")[0]
    kinds = ((DataTable, "the table"), ((Input, TextArea), "the text box"), (Select, "the list"))
    for kind, text in kinds:
        if isinstance(node, kind):
            return text
    words = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", type(node).__name__).lower()
    return f"the {words}"


class HelpScreen(ModalScreen[None]):
    """The remappable keys (those with a binding id) of the screen below; F1 or Esc closes."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,f1,q", "dismiss", "Close", id="help.close"),
    ]

    def __init__(self, below: Screen[object]) -> None:
        super().__init__()
        self.rows: list[tuple[str, str, str, str]] = []
        """``(key, action, binding id, where)`` for every key in reach on ``below``."""
        self.columns: list[str] = []
        """The table's column headers as shown (Where only at 110 columns or more)."""
        app = below.app
        focused = below.focused
        chain = list(focused.ancestors_with_self) if focused is not None else [below, app]
        others = [n for n in below.walk_children(with_self=False) if n not in chain]
        seen: set[str] = set()
        for node in [*chain, *others]:
            # Every binding in reach, also keys a focused text box would take as typing; the
            # keymap applied as Textual applies it.
            bindings = node._bindings.copy()
            bindings.apply_keymap(app._keymap)
            for _key, binding in bindings:
                if not binding.id or not binding.description or binding.id in seen:
                    continue
                seen.add(binding.id)
                keys = [k for k, b in bindings if b.id == binding.id]
                shown = ", ".join(app.get_key_display(Binding(k, "")) for k in keys)
                # A footer label is short; its tooltip, when it has one, says it all.
                action = binding.tooltip or binding.description
                self.rows.append((shown, action, binding.id, where(node)))

    def compose(self) -> ComposeResult:
        # Narrow terminals (the app's -narrow breakpoint) leave out the Where column.
        wide = self.app.size.width >= NARROW
        table = Table(box=None, expand=True, padding=(0, 1))
        table.add_column("Key", style="bold", no_wrap=True)
        table.add_column("Action", ratio=1)
        table.add_column("Binding id", style="dim", no_wrap=True)
        if wide:
            table.add_column("Where", style="dim", no_wrap=True, overflow="ellipsis", max_width=24)
        for row in self.rows:
            table.add_row(*(row if wide else row[:3]))
        self.columns = [str(c.header) for c in table.columns]
        with VerticalScroll(classes="dialog", id="help-dialog") as box:
            box.border_title = "Keys (F1)"
            yield Static(table)
            yield Static(
                f"Remap keys in [b]{config_path()}[/b] ($WORKBENCH_CONFIG) with a [b]\\[keys][/b] "
                'table of binding id = key, e.g. [i]commands = "ctrl+k"[/i]. Every action is also '
                "in the command palette (ctrl+p). Mouse: click tabs, rows and buttons.",
                classes="help-note",
            )
