"""A sweep's grid: one line per parameter of an algorithm with the values to try, comma-separated
(empty keeps the default); every value is checked by the sweep service as it is typed, and the
problem replaces the parameter's hint."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual import on
from textual.containers import Horizontal, VerticalScroll
from textual.widget import Widget
from textual.widgets import Input, Label, Static

from workbench.engine.errors import WorkbenchError
from workbench.services.parsing import parse_grid
from workbench.tui.widgets.param_form import field_hint

CheckValue = Callable[[str, str, str], Any]
"""``(algorithm, parameter, value)``: raises when the value is not valid."""


def grid_values(text: str) -> list[str]:
    """The distinct comma-separated values of a grid line, in the order typed."""
    return parse_grid([f"v={text}"])["v"] if text.strip(" ,") else []


class GridForm(VerticalScroll, can_focus=False):
    """Rows ``name [values]`` with a hint under each; ``grid()`` is a sweep request's grid."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.algo = ""
        self.fields: list[Any] = []
        self._parse: CheckValue | None = None

    async def show(self, algo: str, fields: list[Any], parse: CheckValue) -> None:
        """Replace the rows with empty ones for ``algo``'s ``fields`` (``ParamField``s)."""
        self.algo, self.fields, self._parse = algo, fields, parse
        await self.remove_children()
        rows: list[Widget] = []
        for f in fields:
            default = str(f.default).lower() if f.type is bool else str(f.default)
            editor = Input(placeholder=default or "(empty)", id=f"grid-{f.name}", compact=True)
            rows.append(Horizontal(Label(f.name, classes="param-name"), editor,
                                   classes="param-row"))  # fmt: skip
            rows.append(
                Static(field_hint(f), classes="param-hint", id=f"grid-hint-{f.name}", markup=False)
            )
        if not fields:
            rows.append(Static(f"{algo} has no parameters to sweep.", classes="param-hint"))
        await self.mount_all(rows)

    def problem(self, name: str, text: str) -> str | None:
        """Why a value typed for ``name`` is not valid (the engine's message), if one is not."""
        if self._parse is None:
            return None
        for value in grid_values(text):
            try:
                self._parse(self.algo, name, value)
            except WorkbenchError as exc:
                return str(exc)
        return None

    @on(Input.Changed)
    def _check(self, event: Input.Changed) -> None:
        name = (event.input.id or "").removeprefix("grid-")
        field = next((f for f in self.fields if f.name == name), None)
        if field is None:
            return
        problem = self.problem(name, event.value)
        hint = self.query_one(f"#grid-hint-{name}", Static)
        hint.update(problem or field_hint(field))
        hint.set_class(problem is not None, "-invalid")

    def grid(self) -> dict[str, list[str]]:
        """``{parameter: [values]}`` for every line with values, in the form's order."""
        out: dict[str, list[str]] = {}
        for f in self.fields:
            values = grid_values(self.query_one(f"#grid-{f.name}", Input).value)
            if values:
                out[f.name] = values
        return out

    def errors(self) -> list[str]:
        """One message per line whose values are not valid."""
        out = []
        for f in self.fields:
            problem = self.problem(f.name, self.query_one(f"#grid-{f.name}", Input).value)
            if problem:
                out.append(problem)
        return out
