"""Which asyncio event loop `grove serve` runs on: uvloop where it is installed.

The server's CPU per streamed token is mostly event-loop machinery around gRPC's own
(waking tasks, timers, callbacks): uvloop's loop, written in Cython over libuv, does that
work for less. Measured with instruction counts (`bench.load --callgrind`, 50 streams of
42 tokens): the event-loop thread ran 18 % fewer instructions, the whole server 15 %
fewer, while it sent more messages. gRPC's asyncio stack runs on any asyncio loop.

uvloop has no Windows build (the dependency is marked so); there, and with
`--event-loop asyncio`, the standard loop runs. The app's embedded server shares the
Textual app's loop and is not affected.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Coroutine
from typing import Any, Literal, TypeVar

T = TypeVar("T")

EventLoopChoice = Literal["auto", "uvloop", "asyncio"]
EVENT_LOOP_CHOICES: tuple[EventLoopChoice, ...] = ("auto", "uvloop", "asyncio")


class EventLoopUnavailableError(RuntimeError):
    """`--event-loop uvloop` was asked for where uvloop is not installed."""


def uvloop_available() -> bool:
    """True when the uvloop package can be imported here."""
    return importlib.util.find_spec("uvloop") is not None


def resolved(choice: EventLoopChoice) -> Literal["uvloop", "asyncio"]:
    """The loop `choice` stands for here ("auto": uvloop when installed)."""
    if choice == "asyncio":
        return "asyncio"
    if uvloop_available():
        return "uvloop"
    if choice == "uvloop":
        raise EventLoopUnavailableError(
            "--event-loop uvloop needs the uvloop package (pip install uvloop; it has no "
            "Windows build); --event-loop asyncio runs on the standard loop."
        )
    return "asyncio"


def run(main: Coroutine[Any, Any, T], choice: EventLoopChoice = "auto") -> T:
    """Runs `main` to its end on the chosen loop, as `asyncio.run` does."""
    if resolved(choice) == "uvloop":
        import uvloop

        return uvloop.run(main)
    import asyncio  # here: `grove --help` declares --event-loop without running a loop

    return asyncio.run(main)
