"""How the app words an error for a notification."""

from __future__ import annotations

from app.safe_text import clean
from client.errors import GroveError


def describe_error(error: BaseException) -> str:
    """The sentence to show for an error: the server's own words where there are some."""
    if isinstance(error, GroveError):
        return error.message
    text = str(error) or type(error).__name__
    return clean(text)
