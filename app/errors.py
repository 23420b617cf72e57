"""How the app words an error for a notification."""

from __future__ import annotations

from app.safe_text import clean
from client.errors import BackendError, GroveError

BACKEND_FAILED = "Model backend failed"
"""Notification title when a model backend (not Grove itself) failed."""


def describe_error(error: BaseException) -> str:
    """The sentence to show for an error: the server's own words where there are some."""
    if isinstance(error, GroveError):
        return error.message
    text = str(error) or type(error).__name__
    return clean(text)


def error_title(error: BaseException, default: str) -> str:
    """The notification title: says when the model's backend failed rather than Grove."""
    return BACKEND_FAILED if isinstance(error, BackendError) else default
