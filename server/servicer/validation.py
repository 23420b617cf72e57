"""Checks of request fields that need no store: sizes, NUL characters, annotations.

Each check answers bad input with INVALID_ARGUMENT and a sentence naming what was wrong,
before anything is stored.
"""

from __future__ import annotations

import grpc

from grove_explorer.protos import chat_pb2
from grove_explorer.server.convert import MODE_FROM_WIRE
from grove_explorer.server.sampler.base import Sampler, SamplingMode
from grove_explorer.server.servicer.status import abort, quote
from grove_explorer.server.store import AnnotationRecord

MAX_TAGS = 32
MAX_TAG_CHARS = 64
MAX_NOTE_CHARS = 20_000


async def check_message(
    message: str, max_bytes: int, context: grpc.aio.ServicerContext, *, allow_empty: bool
) -> None:
    """A live message: at most `max_bytes`, no NUL, not blank (empty only if allowed)."""
    size = len(message.encode("utf-8"))
    if size > max_bytes:
        await abort(
            context,
            grpc.StatusCode.INVALID_ARGUMENT,
            f"The message is {size} bytes; the limit is {max_bytes} bytes.",
        )
    if not message and not allow_empty:
        await abort(context, grpc.StatusCode.INVALID_ARGUMENT, "The message is empty.")
    if "\x00" in message:
        await abort(
            context,
            grpc.StatusCode.INVALID_ARGUMENT,
            f"The message contains a NUL character at position {message.index(chr(0))}; "
            "Grove stores text, not binary data.",
        )
    if message and not message.strip():
        await abort(
            context,
            grpc.StatusCode.INVALID_ARGUMENT,
            "The message is only whitespace; send text, or an empty message to sample "
            "a model reply alone.",
        )


async def check_text(
    name: str, text: str, max_bytes: int, context: grpc.aio.ServicerContext
) -> None:
    """Bounded size and no NUL, for texts other than the live message."""
    size = len(text.encode("utf-8"))
    if size > max_bytes:
        await abort(
            context,
            grpc.StatusCode.INVALID_ARGUMENT,
            f"{name} is {size} bytes; the limit is {max_bytes} bytes.",
        )
    if "\x00" in text:
        await abort(context, grpc.StatusCode.INVALID_ARGUMENT, f"{name} contains a NUL character.")


async def check_title(title: str, max_chars: int, context: grpc.aio.ServicerContext) -> None:
    """A conversation title: at most `max_chars`, no NUL."""
    if len(title) > max_chars:
        await abort(
            context,
            grpc.StatusCode.INVALID_ARGUMENT,
            f"The title is {len(title)} characters long; the limit is {max_chars}.",
        )
    if "\x00" in title:
        await abort(
            context, grpc.StatusCode.INVALID_ARGUMENT, "The title contains a NUL character."
        )


async def annotation_from_wire(
    wire: chat_pb2.Annotation, context: grpc.aio.ServicerContext
) -> AnnotationRecord:
    """Validates an annotation: rating -1/0/+1, bounded tags and note, no NUL."""
    if wire.rating not in (-1, 0, 1):
        await abort(
            context,
            grpc.StatusCode.INVALID_ARGUMENT,
            f"rating must be -1, 0 or +1, not {wire.rating}.",
        )
    tags: list[str] = []
    for raw in wire.tags:
        tag = raw.strip()
        if not tag:
            await abort(context, grpc.StatusCode.INVALID_ARGUMENT, "A tag is empty.")
        if len(tag) > MAX_TAG_CHARS or "\x00" in tag or any(c.isspace() for c in tag):
            await abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"Tag {quote(tag)} is not usable: tags are single words of at most "
                f"{MAX_TAG_CHARS} characters.",
            )
        if tag not in tags:
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        await abort(
            context,
            grpc.StatusCode.INVALID_ARGUMENT,
            f"A response may have at most {MAX_TAGS} tags, not {len(tags)}.",
        )
    if len(wire.note) > MAX_NOTE_CHARS:
        await abort(
            context,
            grpc.StatusCode.INVALID_ARGUMENT,
            f"The note is {len(wire.note)} characters long; the limit is {MAX_NOTE_CHARS}.",
        )
    if "\x00" in wire.note:
        await abort(context, grpc.StatusCode.INVALID_ARGUMENT, "The note contains a NUL character.")
    return AnnotationRecord(wire.bookmarked, tuple(tags), wire.rating, wire.note)


def requested_mode(sampler: Sampler, wire: int) -> SamplingMode | None:
    """The mode a request asks of `sampler`; None when unknown or not offered.

    Unspecified (0) is the model's default, its first mode.
    """
    if wire == chat_pb2.SAMPLING_MODE_UNSPECIFIED:
        return sampler.modes[0]
    mode = MODE_FROM_WIRE.get(wire)
    return mode if mode in sampler.modes else None


async def sampling_mode_or_abort(
    sampler: Sampler, wire: int, context: grpc.aio.ServicerContext
) -> SamplingMode:
    """The request's sampling mode, or FAILED_PRECONDITION naming what the model offers."""
    mode = requested_mode(sampler, wire)
    if mode is None:
        if wire not in MODE_FROM_WIRE:
            await abort(context, grpc.StatusCode.INVALID_ARGUMENT, f"Unknown sampling mode {wire}.")
        offered = " and ".join(m.value for m in sampler.modes)
        asked = MODE_FROM_WIRE[wire].value
        await abort(
            context,
            grpc.StatusCode.FAILED_PRECONDITION,
            f"Model {sampler.model_name!r} has no {asked} mode (it offers {offered}). "
            + (
                "Continuing text needs a text-completion endpoint (completion_endpoint or "
                'mode = "completion" in its config) or a local model.'
                if asked == "completion"
                else "It is a base model: it continues text, it does not chat."
            ),
        )
    assert mode is not None
    return mode
