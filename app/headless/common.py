"""What every headless command shares: its result, its errors, ids, text and lookups."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grove_explorer.app.safe_text import clean
from grove_explorer.client import ids
from grove_explorer.client.ids import AmbiguousIdError

if TYPE_CHECKING:
    # Types only: this module is imported to build `grove`'s parser, for every command
    # and every --help, and the SDK's classes load gRPC and pydantic (issue 13: start-up).
    from grove_explorer.client import AsyncGrok, Conversation, Response

HEADLESS_COMMANDS = (
    "ls",
    "show",
    "search",
    "sample",
    "judge",
    "fuse",
    "sweep",
    "replay",
    "arena",
    "share",
    "stats",
    "select",
    "export",
    "import",
)
MIN_PREFIX = ids.MIN_PREFIX
"""Shortest id prefix accepted for a conversation or response (fewer would rarely be unique)."""
SHORT_ID = 12
"""Id characters shown in text output: unique in practice and accepted back as a prefix."""
MAX_SAMPLES = 64
"""Upper bound of `grove sample --n`, well under the server's concurrent-stream limit."""
MAX_SEARCH_HITS = 10_000
"""Upper bound of `grove search --limit`: the most hits the server answers at once."""


class CommandError(Exception):
    """A runtime failure with a sentence for stderr (exit code 1)."""


class UsageError(Exception):
    """Flags that argparse accepts but that contradict each other (exit code 2)."""


@dataclass
class Outcome:
    """What a command produced: text for stdout, sentences for stderr, an exit code."""

    stdout: str = ""
    errors: list[str] = field(default_factory=list)
    code: int = 0
    output_file: Path | None = None
    raw_text: bool = False
    """True for document formats (Markdown, DOT) that keep exact text unless on a tty."""


def sentence(text: str) -> str:
    """One line, ending with a full stop, without control characters."""
    text = " ".join(clean(text).split())
    return text if text.endswith((".", "!", "?")) else text + "."


def short_id(identifier: str | None) -> str:
    """The first `SHORT_ID` characters of an id ("-" for none), accepted back as a prefix."""
    return (identifier or "-")[:SHORT_ID]


def one_line(text: str, limit: int = 200) -> str:
    """Cleaned text on a single line (titles, snippets)."""
    line = " ".join(clean(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


async def open_conversation(grok: AsyncGrok, ref: str) -> Conversation:
    """The conversation `ref` names: an id, a unique id prefix, an exact title, or a link.

    A link (a URL: ShareConversation's, of a conversation shared with you) is resolved by
    the server, which answers NOT_FOUND when you may not read what it names.
    """
    if "/" in ref or ":" in ref:
        return await grok.get_conversation(ref.strip())
    listed = await grok.list_conversations()
    wanted = ref.strip()
    matches = [c for c in listed if c.conversation_id == wanted]
    if not matches and len(wanted) >= MIN_PREFIX:
        matches = [c for c in listed if c.conversation_id.startswith(wanted.lower())]
    if not matches:
        matches = [c for c in listed if c.title == ref]
    if len(matches) > 1:
        candidates = "; ".join(
            f"{c.conversation_id} ({one_line(c.title, 40) or 'untitled'})" for c in matches[:10]
        )
        more = f" and {len(matches) - 10} more" if len(matches) > 10 else ""
        raise CommandError(
            f"{one_line(ref, 60)!r} matches {len(matches)} conversations: "
            f"{candidates}{more}. Give more of the id."
        )
    if not matches:
        hint = (
            f" (an id prefix needs at least {MIN_PREFIX} characters)"
            if len(wanted) < MIN_PREFIX
            else ""
        )
        raise CommandError(
            f"no conversation matches {one_line(ref, 60)!r}{hint}; `grove ls` lists them."
        )
    return await grok.get_conversation(matches[0].conversation_id)


def find_leaf(conversation: Conversation, ref: str | None) -> Response | None:
    """The response `--leaf` names (id or unique prefix), else the user's stored place.

    The place is the leaf the server keeps (`grove select`, or where the explorer was
    left); a conversation whose user never chose one ends at its newest response, and
    None means no leaf (an empty conversation, or a new root chosen).
    """
    if ref is None:
        place = conversation.leaf_response_id
        return conversation.get_response(place) if place is not None else None
    try:
        # The SDK's rule: the whole id or a unique prefix (client.ids), so the 8 characters
        # a thread header shows work here as in a script.
        return conversation.get_response(ref)
    except AmbiguousIdError as error:
        raise CommandError(error.message) from None
    except KeyError:
        raise CommandError(
            f"conversation {conversation.conversation_id} has no response {one_line(ref, 60)!r}."
        ) from None


def local_time(iso: str | None) -> str:
    """An ISO time from the server, in the local time zone to the minute ("-" for none)."""
    if not iso:
        return "-"
    moment = datetime.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: set[int]) -> str:
    """Columns padded to their widest cell; the last column is left free (long text)."""
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]
    lines = []
    for row in [headers, *rows]:
        cells = []
        for i, cell in enumerate(row):
            if i == len(row) - 1:
                cells.append(str(cell))
            elif i in right:
                cells.append(str(cell).rjust(widths[i]))
            else:
                cells.append(str(cell).ljust(widths[i]))
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


def wire_time(message: Any, name: str) -> str | None:
    """A proto Timestamp field as ISO text, or None when the message does not set it."""
    if not message.HasField(name):
        return None
    moment = getattr(message, name).ToDatetime(tzinfo=datetime.UTC)
    return moment.isoformat().replace("+00:00", "Z")
