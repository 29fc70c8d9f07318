"""The SQL screen (read-only queries, a page at a time, refusal shown in the screen, export) and
the Eval screen (form defaults from the service, a stored evaluation shown as metric@k, rank
distribution and worst boards, drill-down of a board, stale errors cleared when fixed)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from textual.widgets import Input, Label, TextArea

from tests.tui.conftest import settle, wait_until
from workbench.engine.runs import list_runs
from workbench.engine.store import Store
from workbench.tui.app import WorkbenchApp
from workbench.tui.screens.confirm import ConfirmScreen
from workbench.tui.screens.prompt import PromptScreen
from workbench.tui.widgets.rows_table import RowsTable

MakeApp = Callable[[Store], WorkbenchApp]


def label_text(app: WorkbenchApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Label).render())


async def test_sql_reads_and_refuses_writes(
    mini_store: Store, make_app: MakeApp, tmp_path: Path
) -> None:
    app = make_app(mini_store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("9")
        await settle(pilot)
        assert app.current_mode == "sql"
        tables = app.screen.query_one("#sql-tables", RowsTable)
        assert "mini.pins" in [str(k.value) for k in tables.rows]
        editor = app.screen.query_one("#sql-editor", TextArea)
        assert editor.has_focus
        editor.text = "SELECT pin, title FROM mini.pins ORDER BY pin"
        await pilot.press("ctrl+r")
        await settle(pilot)
        result = app.screen.query_one("#sql-result", RowsTable)
        assert result.row_count == 16 and result.headers == ["pin", "title"]
        assert result.has_focus and result.cursor_pin == "p00"  # pin actions work here too

        editor.text = "SELECT * FROM range(450)"
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert result.row_count == 200 and "page 1/3" in str(result.border_title)
        await pilot.press("right_square_bracket")
        assert "page 2/3" in str(result.border_title)

        editor.text = "DELETE FROM mini.pins"
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert "read-only: DELETE statements are refused" in label_text(app, "#sql-error")

        editor.text = "SELECT pin FROM mini.pins"
        out = tmp_path / "pins.csv"
        out.write_text("old\n")
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, PromptScreen)
        app.screen.query_one(Input).value = str(out)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")  # the file exists: overwrite it
        await wait_until(pilot, lambda: out.read_text().startswith('"pin"'))
        assert len(out.read_text().splitlines()) == 17
        assert any("exported 16 rows" in n.message for n in app._notifications)


async def test_eval_screen_runs_and_drills_down(mini_store: Store, make_app: MakeApp) -> None:
    app = make_app(mini_store)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("8")
        await settle(pilot)
        screen = app.screen
        assert screen.query_one("#eval-ks", Input).value == "1,5,10,20"
        assert screen.query_one("#eval-negatives", Input).value == "99"

        ks = screen.query_one("#eval-ks", Input)
        ks.value = "0,x"
        await pilot.press("ctrl+r")
        assert "k list" in label_text(app, "#eval-error")
        ks.value = "1,5"  # fixed: the error goes at once
        await pilot.pause()
        assert label_text(app, "#eval-error") == ""

        screen.query_one("#eval-negatives", Input).value = "5"
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert label_text(app, "#eval-error") == "", label_text(app, "#eval-error")
        runs = list_runs(mini_store)
        assert len(runs) == 1 and runs[0].kind == "eval"
        metrics = screen.query_one("#eval-metrics", RowsTable)
        assert metrics.headers[:3] == ["Metric", "@1", "@5"]
        assert "hr" in [str(k.value) for k in metrics.rows]
        worst = screen.query_one("#eval-worst", RowsTable)
        assert worst.row_count >= 1
        worst.focus()
        await pilot.press("enter")
        await settle(pilot)
        assert screen.query_one("#eval-board-pins", RowsTable).row_count >= 1
        assert screen.query_one("#eval-held", RowsTable).row_count >= 1
        assert screen.query_one("#eval-top", RowsTable).row_count >= 1


def drawn_colours(editor: TextArea, words: tuple[str, ...]) -> dict[str, str]:
    """The foreground colour that the editor's first line is drawn in, at each word's last
    letter (away from the cursor)."""
    text, colours = "", []
    for segment in editor.render_line(0):
        colour = segment.style.color if segment.style else None
        text += segment.text
        colours += [str(colour.name if colour else "")] * len(segment.text)
    return {word: colours[text.index(word) + len(word) - 1] for word in words}


async def test_sql_editor_highlights_sql(mini_store: Store, make_app: MakeApp) -> None:
    """The editor parses SQL (tree-sitter's grammar, from ``textual[syntax]``): keywords and
    strings are drawn in colours of their own; under a light app theme, a light theme's colours."""
    app = make_app(mini_store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("9")
        await settle(pilot)
        editor = app.screen.query_one("#sql-editor", TextArea)
        assert "sql" in editor.available_languages and editor.language == "sql"
        editor.text = "SELECT pin FROM mini.pins WHERE title = 'x'"
        await pilot.pause()
        words = ("FROM", "WHERE", "title", "'x'")
        dark = drawn_colours(editor, words)
        assert dark["FROM"] == dark["WHERE"]
        assert len({dark["FROM"], dark["title"], dark["'x'"]}) == 3, dark
        assert editor.theme == "css"

        app.theme = "textual-light"
        await pilot.pause()
        light = drawn_colours(editor, words)
        assert editor.theme == "github_light"
        assert len({light["FROM"], light["title"], light["'x'"]}) == 3, light
        assert light["FROM"] != dark["FROM"]
