"""The command palette's workbench entries: every key-bound action of every screen, and dataset
switching.

Entries come from the same ``Binding`` objects (with ids) as the footer and the F1 help, so an
action that has a key is always in the palette too, with the key the user's keymap gives it.
Actions in reach now (the current screen, its focused widget, the App) come first; then the
actions of every other screen, which switch to that screen and run there.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider

SKIPPED_ACTIONS = {"command_palette", "app.command_palette", "search", "back"}


def screen_bindings(mode: str, title: str) -> list[Binding]:
    """The described bindings of the screen class of ``mode`` (its module imported if needed)."""
    module = importlib.import_module(f"workbench.tui.screens.{mode}")
    cls = getattr(module, f"{title}Screen")
    out: list[Binding] = []
    for base in reversed(cls.__mro__):
        for item in base.__dict__.get("BINDINGS", ()):
            if isinstance(item, Binding):
                out.append(item)
    return [b for b in out if b.description and b.id and b.action != "cancel_job"]


class WorkbenchCommands(Provider):
    """Actions in reach, every screen's actions (switching to it), 'Use dataset <name>'."""

    def _commands(self) -> Iterator[tuple[str, str, Callable[[], Any]]]:
        app: Any = self.app
        seen: set[tuple[int, str]] = set()
        here_ids: set[str] = set()
        for key, active in self.screen.active_bindings.items():
            binding = active.binding
            if not binding.description or not active.enabled or binding.action in SKIPPED_ACTIONS:
                continue
            if (id(active.node), binding.action) in seen:
                continue
            seen.add((id(active.node), binding.action))
            if binding.id:
                here_ids.add(binding.id)
            where = type(active.node).__name__.removesuffix("Screen").removesuffix("App")
            shown = self.app.get_key_display(Binding(key, ""))
            help_text = binding.tooltip or f"{where or 'Workbench'} ({shown})"
            yield (
                binding.description,
                help_text,
                partial(self.app.run_action, binding.action, active.node),
            )
        from workbench.tui.app import SCREENS

        current = getattr(app, "current_mode", None)
        for mode, title, _key in SCREENS:
            if mode == current:
                continue
            for binding in screen_bindings(mode, title):
                if binding.id in here_ids:
                    continue
                key = app.key_for(binding.id, binding.key) if binding.id else binding.key
                yield (
                    f"{title}: {binding.description}",
                    f"on the {title} screen ({key})",
                    partial(self._run_on, mode, binding.action),
                )
        for info in getattr(app, "datasets", ()):
            yield (
                f"Use dataset {info.name}",
                f"{info.pins:,} pins, {info.boards:,} boards, {info.edges:,} edges",
                partial(setattr, app, "dataset", info.name),
            )

    def _run_on(self, mode: str, action: str) -> None:
        """Switch to ``mode``'s screen, then run ``action`` there once it is shown."""
        app: Any = self.app
        app.action_go(mode)

        def run() -> None:
            app.call_later(app.run_action, action, app.screen)

        app.call_after_refresh(run)

    async def discover(self) -> Hits:
        for title, help_text, callback in self._commands():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, callback in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)
