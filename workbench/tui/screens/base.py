"""What every workbench screen shares: navigation bar, job bar, footer, and Esc to cancel."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, cast

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from workbench.tui.jobs import Job
from workbench.tui.widgets.job_bar import JobBar
from workbench.tui.widgets.nav_bar import NavBar

if TYPE_CHECKING:
    from workbench.tui.app import WorkbenchApp


class WorkbenchFooter(Footer):
    """Textual's footer, whose app-wide keys (Quit, Commands) can be hidden by the stylesheet:
    at 80 columns they give their room to the screen's own keys (F1 lists them all)."""

    APP_WIDE: ClassVar[frozenset[str]] = frozenset({"quit", "command_palette"})

    def compose(self) -> ComposeResult:
        for widget in super().compose():
            if isinstance(widget, FooterKey) and widget.action in self.APP_WIDE:
                widget.add_class("-app-wide")
            yield widget


class WorkbenchScreen(Screen[None]):
    """A screen (one App mode): subclasses set ``MODE`` and implement ``compose_body``."""

    MODE: ClassVar[str] = ""
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel_job", "Cancel", id="cancel"),
    ]

    def compose(self) -> ComposeResult:
        yield NavBar(self.MODE)
        yield from self.compose_body()
        yield JobBar()
        yield WorkbenchFooter(show_command_palette=False, compact=True)

    def compose_body(self) -> ComposeResult:
        raise NotImplementedError

    @property
    def workbench(self) -> WorkbenchApp:
        return cast("WorkbenchApp", self.app)

    def run_job(self, job: Job[Any]) -> None:
        self.query_one(JobBar).start(job)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel_job":
            bars = self.query(JobBar)
            return bool(bars) and bars.first().running
        return True

    def action_cancel_job(self) -> None:
        self.query_one(JobBar).cancel()
