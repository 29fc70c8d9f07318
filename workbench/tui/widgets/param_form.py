"""A form for an algorithm's parameters, generated from its ``Params`` dataclass fields: defaults
shown, ranges and types checked as you type, help under each field.

Every edit re-checks the field and posts :class:`ParamForm.Changed` with the form's current
problems, so a screen clears an error line as soon as the value is fixed (a stale message
never stays)."""

from __future__ import annotations

from typing import Any, Literal

from textual import on
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.validation import Integer, Number, Validator
from textual.widget import Widget
from textual.widgets import Input, Label, Select, Static, Switch


def field_hint(field: Any) -> str:
    """A parameter's help, range and default on one line."""
    parts = [field.help] if field.help else []
    if field.range is not None:
        parts.append(f"range {field.range[0]:g} to {field.range[1]:g}")
    parts.append(f"default {field.default!r}" if field.type is str else f"default {field.default}")
    return " · ".join(parts)


class ParamForm(VerticalScroll):
    """One row per parameter (``ParamField``s from ``recommenders.param_fields``)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.fields: list[Any] = []

    async def show(self, fields: list[Any]) -> None:
        """Replace the form with inputs for ``fields``, each holding its default."""
        self.fields = fields
        await self.remove_children()
        rows: list[Widget] = []
        for f in fields:
            rows.append(Horizontal(Label(f.name, classes="param-name"), self._editor(f),
                                   classes="param-row"))  # fmt: skip
            rows.append(
                Static(field_hint(f), classes="param-hint", id=f"hint-{f.name}", markup=False)
            )
        if not fields:
            rows.append(Static("This algorithm has no parameters.", classes="param-hint"))
        await self.mount_all(rows)

    def _editor(self, f: Any) -> Widget:
        wid = f"param-{f.name}"
        if f.type is bool:
            return Switch(value=bool(f.default), id=wid)
        if f.choices:
            return Select(
                [(c, c) for c in f.choices],
                value=f.default,
                allow_blank=False,
                id=wid,
                compact=True,
            )
        validators: list[Validator] = []
        kind: Literal["integer", "number", "text"] = "text"
        low, high = f.range if f.range is not None else (None, None)
        if f.type is int:
            kind = "integer"
            validators.append(Integer(minimum=low, maximum=high))
        elif f.type is float:
            kind = "number"
            validators.append(Number(minimum=low, maximum=high))
        return Input(str(f.default), id=wid, type=kind, validators=validators, compact=True,
                     validate_on=["changed", "submitted"])  # fmt: skip

    class Changed(Message):
        """A parameter was edited; ``problems`` are the form's remaining errors (empty: valid)."""

        def __init__(self, form: ParamForm, problems: list[str]) -> None:
            super().__init__()
            self.form = form
            self.problems = problems

    @on(Input.Changed)
    def _check(self, event: Input.Changed) -> None:
        name = (event.input.id or "").removeprefix("param-")
        field = next((f for f in self.fields if f.name == name), None)
        if field is None:
            return
        result = event.input.validate(event.input.value)
        hint = self.query_one(f"#hint-{name}", Static)
        bad = result is not None and not result.is_valid
        hint.update("; ".join(result.failure_descriptions) if bad and result else field_hint(field))
        hint.set_class(bad, "-invalid")
        self.post_message(self.Changed(self, self.errors()))

    @on(Select.Changed)
    @on(Switch.Changed)
    def _choice_changed(self) -> None:
        self.post_message(self.Changed(self, self.errors()))

    def errors(self) -> list[str]:
        """One message per parameter whose text is not valid."""
        out = []
        for box in self.query(Input):
            result = box.validate(box.value)
            if result is not None and not result.is_valid:
                name = (box.id or "").removeprefix("param-")
                out.append(f"{name}: {'; '.join(result.failure_descriptions)}")
        return out

    def values(self) -> dict[str, str]:
        """The parameters that differ from their defaults, as text (``parse_params`` reads it)."""
        out: dict[str, str] = {}
        for f in self.fields:
            editor = self.query_one(f"#param-{f.name}")
            if isinstance(editor, Switch):
                value: Any = editor.value
            elif isinstance(editor, Select):
                value = editor.value
            else:
                value = editor.value.strip()  # type: ignore[attr-defined]
            if str(value) != str(f.default):
                out[f.name] = str(value).lower() if isinstance(value, bool) else str(value)
        return out
