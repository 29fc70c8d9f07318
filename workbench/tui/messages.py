"""Messages that screens and widgets post for the App to route: actions on a pin shown in any
table (open its page, add it to the query, find similar images, explain it).

Any widget may post :class:`PinAction`; it bubbles to the App, which decides where it goes, so a
screen gets the behaviour without code of its own. A screen that wants to handle one itself
(e.g. Explore opening pages in place) handles it and calls ``message.stop()``.
"""

from __future__ import annotations

from typing import Literal

from textual.message import Message

PinVerb = Literal["open", "add", "similar", "explain"]
NOTHING_TO_EXPLAIN = "this list is not a stored run: nothing to explain"
"""What ``explain`` says where no run's ranking is on screen (Explore, a pin page, SQL results)."""


class PinAction(Message):
    """Do ``verb`` with ``pin``: ``open`` its page, ``add`` it to the query pins, find
    ``similar`` images, ``explain`` why run ``run_id`` ranked it."""

    def __init__(self, verb: PinVerb, pin: str, run_id: int | None = None) -> None:
        super().__init__()
        self.verb: PinVerb = verb
        self.pin = pin
        self.run_id = run_id
