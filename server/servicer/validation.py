"""Checks of request fields that need no store: sizes, NUL characters, annotations.

Each check answers bad input with INVALID_ARGUMENT and a sentence naming what was wrong,
before anything is stored.
"""

from __future__ import annotations

import grpc

from grove_explorer.protos import chat_pb2
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
