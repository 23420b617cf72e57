"""Background service calls: the one helper every screen runs them through.

A call to `ConversationService` runs in a Textual worker, so the UI never waits on the
network. Whatever goes wrong becomes a notification carrying the server's sentence (see
`app.errors`), never a traceback: a `GroveError` is the server (or SDK) speaking, anything
else is a bug, logged with its traceback and reported in one line.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from textual.dom import DOMNode
from textual.worker import Worker

from grove_explorer.app.errors import describe_error, error_title
from grove_explorer.client.errors import GroveError

log = logging.getLogger(__name__)

T = TypeVar("T")

NOTIFY_SECONDS = 8
"""How long an error notification of a failed call stays up."""


def run_service_call(
    owner: DOMNode,
    call: Awaitable[T],
    *,
    done: Callable[[T], object] | None = None,
    always: Callable[[], object] | None = None,
    name: str = "",
    group: str = "service",
    detached: bool = False,
) -> Worker[None]:
    """Runs `call` in a worker; errors become notifications, never tracebacks.

    `done` gets the result when the call succeeded; `always` runs afterwards whatever
    happened (after the notification of a failure). The worker belongs to `owner`, so it
    is cancelled when `owner` goes away; `detached` gives it to the app instead, for work
    that must outlive the screen that started it (samples keep streaming after Compare
    closes).
    """

    async def guarded() -> None:
        try:
            result = await call
        except GroveError as error:
            owner.app.notify(
                describe_error(error),
                title=error_title(error, "Server"),
                severity="error",
                timeout=NOTIFY_SECONDS,
                markup=False,
            )
            return
        except Exception as error:  # never a traceback: say what went wrong
            log.exception("unexpected error in a service call %r", name)
            owner.app.notify(
                describe_error(error), severity="error", timeout=NOTIFY_SECONDS, markup=False
            )
            return
        finally:
            if always is not None:
                always()
        if done is not None:
            done(result)

    runner = owner.app if detached else owner
    return runner.run_worker(guarded(), name=name, group=group, exit_on_error=False)
