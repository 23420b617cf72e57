"""How the app words an error for a notification."""

from __future__ import annotations

from grove_explorer.app.safe_text import clean
from grove_explorer.client.errors import BackendError, GroveError, ServerUnavailableError

BACKEND_FAILED = "Model backend failed"
"""Notification title when a model backend (not Grove itself) failed."""
SERVER_GONE = "Server unavailable"
"""Notification title when the Grove server itself cannot be reached."""
RELOAD_HINT = "Press F5 to reload once it is back; nothing stored is lost."


def describe_error(error: BaseException) -> str:
    """The sentence to show for an error: the server's own words where there are some.

    When the Grove server itself went away (it died or restarts) the sentence offers the
    reload, which brings back everything it stored, partial replies included.
    """
    if isinstance(error, ServerUnavailableError):
        return f"{error.message} {RELOAD_HINT}"
    if isinstance(error, GroveError):
        return error.message
    text = str(error) or type(error).__name__
    return clean(text)


def error_title(error: BaseException, default: str) -> str:
    """The notification title: says when the model's backend failed rather than Grove."""
    if isinstance(error, BackendError):
        return BACKEND_FAILED
    if isinstance(error, ServerUnavailableError):
        return SERVER_GONE
    return default
