"""Why a model reply ended: the finish reasons of `protos/chat.proto`, read and described.

The vocabulary is the proto's `FinishReason` enum; clients keep it as lower-case words
("stop", "length", …, and "" when unknown: human messages, manual replies, replies stored
before the server recorded it), which is also how export files write it. `reply_marker`
is the one wording of a reply's ending for the thread, Compare, `grove show` and exports,
so a reply cut at max_tokens reads the same everywhere.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from grove_explorer.protos import chat_pb2

_FROM_WIRE: dict[int, str] = dict(
    enumerate(
        (
            "",  # FINISH_REASON_UNSPECIFIED
            "stop",
            "length",
            "content_filter",
            "tool_calls",
            "stopped",
            "cancelled",
            "shutdown",
            "error",
            "interrupted",
        )
    )
)
"""The proto's `FinishReason` numbers and their words (`FINISH_REASON_STOP` = 1 is "stop"):
written out rather than read from `chat_pb2`, which the app would otherwise load before
its first frame; `tests/client/test_finish_words.py` checks them against the proto."""
_TO_WIRE: dict[str, int] = {word: number for number, word in _FROM_WIRE.items()}

FINISH_REASONS: tuple[str, ...] = tuple(word for word in _TO_WIRE if word)
"""Every known finish reason, in the proto's order ("stop", "length", …)."""

NOTES: dict[str, str] = {
    "stop": "",  # the model ended its reply: nothing unusual to say
    "length": "cut at max tokens",
    "content_filter": "cut by the content filter",
    "tool_calls": "ended for a tool call",
    "stopped": "stopped by you",
    "cancelled": "cancelled",
    "shutdown": "server shut down",
    "error": "backend failed",
    "interrupted": "server crashed",
}
"""What each reason means to a reader, "" where nothing needs saying."""


def finish_reason_from_proto(value: int) -> str:
    """The word for a wire finish reason ("" for UNSPECIFIED or a number this SDK lacks)."""
    return _FROM_WIRE.get(value, "")


def finish_reason_to_proto(reason: str) -> chat_pb2.FinishReason:
    """The wire value of a finish reason word; ValueError naming the known ones otherwise."""
    if reason not in _TO_WIRE:
        known = ", ".join(repr(word) for word in FINISH_REASONS)
        raise ValueError(f'must be "" or one of {known}, not {reason!r}.')
    return cast("chat_pb2.FinishReason", _TO_WIRE[reason])


def reply_marker(partial: bool, finish_reason: str) -> str:
    """How a reply's ending is shown: "cut at max tokens", "partial: stopped by you", "".

    A reply that ended normally, or whose reason is unknown, gets no words (a partial one
    still says "partial").
    """
    note = NOTES.get(finish_reason, "")
    if partial:
        return f"partial: {note}" if note else "partial"
    return note
