"""The user's TUI settings from a TOML file: key remapping, theme and the image renderer.

The file is ``$WORKBENCH_CONFIG`` or ``$XDG_CONFIG_HOME/workbench/config.toml`` (by default
``~/.config/workbench/config.toml``)::

    theme = "gruvbox"          # any Textual theme name
    images = "auto"            # auto (Kitty/Sixel if the terminal has it), halfcell, unicode, none

    [keys]                     # binding id = key(s); F1 lists the ids
    commands = "ctrl+k"
    "screen.explore" = "f3,2"

A broken file never stops the app: its problems are shown as a toast and the defaults are used.
``$WORKBENCH_IMAGES`` overrides ``images`` (the tests force ``halfcell``).

What the app remembers by itself (the dataset in use per store, the theme chosen with ctrl+t) is
kept apart from the user's settings, in ``state.json`` beside the config file
(``$WORKBENCH_STATE`` overrides the path); a missing or broken state file means a fresh start.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from workbench.services.state import Remembered, load_remembered

IMAGE_MODES = ("auto", "halfcell", "unicode", "none")


@dataclass(frozen=True)
class TuiConfig:
    keys: dict[str, str] = field(default_factory=dict)
    theme: str | None = None
    images: str = "auto"
    path: Path | None = None
    problems: tuple[str, ...] = ()


def config_path() -> Path:
    if explicit := os.environ.get("WORKBENCH_CONFIG"):
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "workbench" / "config.toml"


def load_config(path: Path | None = None) -> TuiConfig:
    """Read the settings file; a missing file means defaults, a broken one lists problems."""
    path = path or config_path()
    problems: list[str] = []
    data: dict[str, object] = {}
    if path.exists():
        try:
            data = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            problems.append(f"{path}: {exc}")
    keys: dict[str, str] = {}
    raw_keys = data.get("keys", {})
    if isinstance(raw_keys, dict):
        for binding_id, key in raw_keys.items():
            if isinstance(key, str) and key.strip():
                keys[str(binding_id)] = key.strip()
            else:
                problems.append(f"{path}: [keys] {binding_id}: expected a key string like 'ctrl+k'")
    else:
        problems.append(f"{path}: 'keys' must be a table")
    theme = data.get("theme")
    if theme is not None and not isinstance(theme, str):
        problems.append(f"{path}: 'theme' must be a string")
        theme = None
    images = os.environ.get("WORKBENCH_IMAGES") or data.get("images", "auto")
    if images not in IMAGE_MODES:
        problems.append(f"images = {images!r}: expected one of {', '.join(IMAGE_MODES)}")
        images = "auto"
    return TuiConfig(
        keys=keys, theme=theme, images=str(images), path=path, problems=tuple(problems)
    )


def state_path() -> Path:
    """Where the app keeps what it remembers between runs (beside the config file)."""
    if explicit := os.environ.get("WORKBENCH_STATE"):
        return Path(explicit)
    return config_path().with_name("state.json")


TuiState = Remembered


def load_state(path: Path | None = None) -> TuiState:
    """What the app remembered from its last runs (nothing if the file is missing or broken)."""
    return load_remembered(path or state_path())
