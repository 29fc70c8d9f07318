"""The use cases of the workbench, one module each, shared by the CLI, the TUI and the notebook.

Every use case is a frozen request dataclass (its defaults are defined there and nowhere else), a
result dataclass, and one function ``run(store, request, reporter=SILENT) -> result``. Faces only
translate: the CLI from options, the TUI from widgets, the notebook from keyword arguments, and
each back again. Services hold no SQL and import no face; user text that several faces accept is
parsed once, in :mod:`workbench.services.parsing`. Errors speak the domain and carry a ``hint``
key that each face words its own way (:func:`workbench.engine.errors.user_message`).
"""

from workbench.engine.errors import Cancelled, WorkbenchError
from workbench.engine.progress import SILENT, Reporter

__all__ = ["SILENT", "Cancelled", "Reporter", "WorkbenchError"]
