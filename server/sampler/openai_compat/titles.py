"""Titles from an OpenAI-compatible model: the request, and the answer made presentable."""

from __future__ import annotations

import re
from collections.abc import Sequence

from grove_explorer.server.sampler.base import PathMessage
from grove_explorer.server.sampler.openai_compat.chunks import ROLES

_TITLE_INSTRUCTION = (
    "Write a title of at most six words for this conversation. Answer with the title only."
)
_TITLE_MAX_MESSAGES = 12
_TITLE_MESSAGE_CHARS = 2000
_TITLE_MAX_CHARS = 80
TITLE_TEMPERATURE = 0.3
TITLE_MAX_TOKENS = 24
_THINK_RE = re.compile(r"<think>.*?(?:</think>|$)", re.DOTALL | re.IGNORECASE)
_TITLE_PREFIX_RE = re.compile(r"^\s*title\s*:\s*", re.IGNORECASE)
# Markdown and quoting a model may wrap its title in. A trailing "?" is kept: a question
# makes a fine title.
_TITLE_EDGE_CHARS = "\"'`*_#>~“”\u2018\u2019«»「」 "
_TITLE_TRAILING = ".,;:!…-\u2013— "


def title_messages(path: Sequence[PathMessage]) -> list[dict[str, str]] | None:
    """The request asking for a title of the path's recent turns; None for an empty path.

    The conversation is quoted in one user message, rather than replayed turn by turn,
    so the model titles it instead of answering its last question.
    """
    recent = path[-_TITLE_MAX_MESSAGES:]
    if not recent:
        return None
    transcript = "\n\n".join(
        f"{ROLES.get(m.sender, 'user').capitalize()}: {m.text[:_TITLE_MESSAGE_CHARS]}"
        for m in recent
    )
    return [
        {"role": "system", "content": _TITLE_INSTRUCTION},
        {"role": "user", "content": f"{transcript}\n\n{_TITLE_INSTRUCTION}"},
    ]


def clean_title(raw: str | None) -> str | None:
    """A model's title answer made presentable, or None when nothing is left.

    Models wrap titles in quotes or Markdown, prefix them with "Title:", end them with a
    full stop, or think aloud first; all of that is removed, whitespace collapsed, and the
    result cut to 80 characters at a word boundary.
    """
    if not raw:
        return None
    text = _THINK_RE.sub("", raw)
    line = next((ln for ln in text.splitlines() if ln.strip(_TITLE_EDGE_CHARS)), "")
    line = _TITLE_PREFIX_RE.sub("", line.replace("**", ""))
    title = " ".join(line.split())
    previous = None
    while title != previous:
        previous = title
        title = title.strip(_TITLE_EDGE_CHARS).rstrip(_TITLE_TRAILING)
    if len(title) > _TITLE_MAX_CHARS:
        cut = title[: _TITLE_MAX_CHARS + 1]
        title = cut.rsplit(" ", 1)[0] if " " in cut else cut[:_TITLE_MAX_CHARS]
        title = title.rstrip(_TITLE_TRAILING).strip(_TITLE_EDGE_CHARS)
    return title or None
