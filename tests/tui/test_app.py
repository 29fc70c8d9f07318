"""App-wide behaviour: keymap from the settings file, F1 help, command palette, errors never end
the app, a locked store is retried, NO_COLOR, and a light start-up path."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.command import CommandPalette
from textual.widgets._footer import FooterKey

from tests.tui.conftest import poll_until, settle
from workbench.engine.store import Store
from workbench.tui.app import SCREENS, WorkbenchApp
from workbench.tui.config import load_config
from workbench.tui.jobs import Job
from workbench.tui.screens.confirm import ConfirmScreen
from workbench.tui.screens.help import HelpScreen

MakeApp = Callable[[Store], WorkbenchApp]


async def test_keymap_from_settings_file(mini_store: Store, tmp_path: Path) -> None:
    settings = tmp_path / "config.toml"
    settings.write_text('theme = "nord"\n[keys]\n"screen.explore" = "f3"\nhelp = "f2"\n')
    app = WorkbenchApp(mini_store, config=load_config(settings))
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        assert app.theme == "nord"
        await pilot.press("f3")
        await settle(pilot)
        assert app.current_mode == "explore"
        await pilot.press("f2")
        assert isinstance(app.screen, HelpScreen)
        assert ("f3", "Go to Explore", "screen.explore", "the app") in app.screen.rows
        assert ("⌫", "Back", "explore.back", "this screen") in app.screen.rows


async def test_bad_settings_are_reported_not_fatal(mini_store: Store, tmp_path: Path) -> None:
    settings = tmp_path / "config.toml"
    settings.write_text("[keys\n")
    app = WorkbenchApp(mini_store, config=load_config(settings))
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        assert any("config.toml" in n.message for n in app._notifications)
        assert app.current_mode == "datasets"


async def test_command_palette_runs_screen_actions(mini_store: Store, make_app: MakeApp) -> None:
    app = make_app(mini_store)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"drop")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)


async def test_errors_become_toasts(mini_store: Store, make_app: MakeApp) -> None:
    app = make_app(mini_store)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)

        def broken(_ctx: object) -> None:
            raise ZeroDivisionError("division by zero")

        app.screen.run_job(Job("test", "Broken", broken))  # type: ignore[attr-defined]
        await settle(pilot)
        assert app.is_running
        assert any("internal error: ZeroDivisionError" in n.message for n in app._notifications)
        assert not app.screen.query_one("JobBar").display


async def test_locked_store_is_retried(mini_store: Store, make_app: MakeApp) -> None:
    """Another process holds the store until the app has said so; once it lets go, the app reads
    the store without being asked again. (Released on cue, not after a fixed delay, so a slow
    machine cannot let the lock go before the app has even tried.)"""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
        import duckdb, sys
        con = duckdb.connect({str(mini_store.path)!r})
        print("locked", flush=True)
        sys.stdin.readline()
        con.close()
    """),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    assert holder.stdin is not None
    app = make_app(mini_store)
    try:
        async with app.run_test(size=(120, 36)) as pilot:
            await poll_until(
                pilot, lambda: any(n.title == "Store locked" for n in app._notifications)
            )
            assert app.dataset != "mini"
            holder.stdin.write("go\n")
            holder.stdin.flush()
            await poll_until(pilot, lambda: app.dataset == "mini", timeout=20)
    finally:
        holder.kill()
        holder.wait(timeout=10)


async def test_no_color(mini_store: Store, make_app: MakeApp, monkeypatch: object) -> None:
    monkeypatch.setenv("NO_COLOR", "1")  # type: ignore[attr-defined]
    app = make_app(mini_store)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        assert app.no_color


def test_startup_imports_no_heavy_engine_modules() -> None:
    """The App and its screens (imported on the UI thread when first shown) import no
    compiled-kernel or plotting library: engines are imported inside the workers."""
    screens = ", ".join(f"workbench.tui.screens.{mode}" for mode, _, _ in SCREENS)
    code = (
        f"import sys, workbench.tui.app, {screens}\n"
        "print(sorted({'numba', 'faiss', 'matplotlib', 'scipy'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


async def test_every_footer_fits(
    mini_store: Store, make_app: MakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No screen's key list runs off the footer at 80x24 or 120x36 (at 80 columns the app-wide
    Quit and Commands give way; F1 Help stays and lists them), also on a pin page with more rows
    to read."""
    from textual.widgets import Input

    from workbench.services import explore
    from workbench.tui.screens.base import WorkbenchFooter

    pin_page = explore.pin_page
    monkeypatch.setattr(explore, "pin_page", lambda s, d, p, offset=0: pin_page(s, d, p, offset, 1))

    def check(where: str, width: int) -> None:
        footer = app.screen.query_one(WorkbenchFooter)
        shown = [k.description for k in footer.query(FooterKey) if k.display]
        assert footer.max_scroll_x == 0, f"{where} at width {width}: {shown}"
        assert "Help" in shown
        assert ("Quit" in shown) == (width >= 110)

    app = make_app(mini_store)
    async with app.run_test(size=(80, 24)) as pilot:
        for size in [(80, 24), (120, 36)]:
            await pilot.resize_terminal(*size)
            await settle(pilot)
            for mode, _title, key in SCREENS:
                await pilot.press("escape", key)
                await settle(pilot)
                check(mode, size[0])
            await pilot.press("escape", "2")
            await settle(pilot)
            search = app.screen.query_one("#explore-search", Input)
            search.focus()
            search.value = "p04"
            await settle(pilot)
            await pilot.press("enter", "enter")  # the pin page of p04: 1 of 2 boards shown
            await settle(pilot)
            assert app.screen.check_action("more", ()) is True
            check("explore pin page", size[0])
            await pilot.press("o")  # back to the overview for the next size
            await settle(pilot)
