"""The explorer screen, one module per concern (see `screen.py` for how they combine)."""

from grove_explorer.app.screens.main.screen import MainScreen

__all__ = ["MainScreen"]
