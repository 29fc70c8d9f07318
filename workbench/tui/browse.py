"""Moved to :mod:`workbench.services.explore`; these names stay only until the widgets and the
pin page import from there (then this module goes)."""

from workbench.services.explore import BoardPage as BoardDetail
from workbench.services.explore import PinPage as PinDetail
from workbench.services.explore import board_page as board_detail
from workbench.services.explore import pin_page as pin_detail

__all__ = ["BoardDetail", "PinDetail", "board_detail", "pin_detail"]
