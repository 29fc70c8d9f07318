"""The command palette's workbench entries: every key-bound action in reach, and dataset switching.

Entries come from the same ``Binding`` objects as the footer and the F1 help, so an action that
has a key is always in the palette too (with the key the user's keymap gives it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider

SKIPPED_ACTIONS = {"command_palette", "app.command_palette"}


class WorkbenchCommands(Provider):
    """Actions of the current screen, its focused widget and the App; 'Use dataset <name>'."""

    def _commands(self) -> Iterator[tuple[str, str, Callable[[], Any]]]:
        seen: set[tuple[int, str]] = set()
        for key, active in self.screen.active_bindings.items():
            binding = active.binding
            if not binding.description or not active.enabled or binding.action in SKIPPED_ACTIONS:
                continue
            if (id(active.node), binding.action) in seen:
                continue
            seen.add((id(active.node), binding.action))
            where = type(active.node).__name__.removesuffix("Screen").removesuffix("App")
            shown = self.app.get_key_display(Binding(key, ""))
            help_text = binding.tooltip or f"{where or 'Workbench'} ({shown})"
            yield (
                binding.description,
                help_text,
                partial(self.app.run_action, binding.action, active.node),
            )
        app: Any = self.app
        for info in getattr(app, "datasets", ()):
            yield (
                f"Use dataset {info.name}",
                f"{info.pins:,} pins, {info.boards:,} boards, {info.edges:,} edges",
                partial(setattr, app, "dataset", info.name),
            )

    async def discover(self) -> Hits:
        for title, help_text, callback in self._commands():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, callback in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)
