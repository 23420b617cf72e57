"""The chat-completions wire: a path as request messages, a streamed chunk as tokens.

A delta may hold several tokens. When the logprob entries spell the delta exactly, each
entry becomes its own token; otherwise the whole delta is one token, so the text the user
sees is always exactly what the backend sent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from grove_explorer.server.sampler.base import FinishReason, PathMessage, SampledToken, Usage

ROLES: Mapping[str, str] = {"human": "user", "model": "assistant"}

FINISH_REASONS: Mapping[str, FinishReason] = {
    "stop": FinishReason.STOP,
    "length": FinishReason.LENGTH,
    "content_filter": FinishReason.CONTENT_FILTER,
    "tool_calls": FinishReason.TOOL_CALLS,
    "function_call": FinishReason.TOOL_CALLS,  # the deprecated name of tool calls
    # What some OpenAI-compatible servers say for the same things.
    "eos": FinishReason.STOP,
    "end_turn": FinishReason.STOP,
    "stop_sequence": FinishReason.STOP,
    "max_tokens": FinishReason.LENGTH,
}
"""OpenAI's `finish_reason` values (and look-alikes) as ours; others are not guessed at."""


def request_messages(
    path: Sequence[PathMessage], system_prompt: str | None
) -> list[dict[str, str]]:
    """The chat messages for a path: the system prompt (if any), then user/assistant turns."""
    messages: list[dict[str, str]] = []
    if system_prompt:
        messages.append({"role": "system", "content": system_prompt})
    messages.extend({"role": ROLES.get(m.sender, "user"), "content": m.text} for m in path)
    return messages


def read_chunk(chunk: Any) -> tuple[list[SampledToken], Usage | None, bool]:
    """The tokens, usage and whether logprobs were present in one streamed chunk.

    Chunks without choices (the usage chunk) and deltas without content (the opening role
    chunk, the finish chunk, reasoning or tool-call deltas) give no tokens.
    """
    usage = _usage(getattr(chunk, "usage", None))
    choices = getattr(chunk, "choices", None) or []
    if not choices:
        return [], usage, False
    choice = choices[0]
    if getattr(choice, "delta", None) is None and hasattr(choice, "text"):
        tokens, has_logprobs = _completion_tokens(choice)  # a text-completion chunk
        return tokens, usage, has_logprobs
    content = getattr(getattr(choice, "delta", None), "content", None)
    entries = list(getattr(getattr(choice, "logprobs", None), "content", None) or [])
    if not isinstance(content, str) or not content:
        return [], usage, bool(entries)
    if entries and "".join(str(getattr(e, "token", "")) for e in entries) == content:
        tokens = [
            SampledToken(text=str(e.token), logprob=_logprob(e), top=_alternatives(e))
            for e in entries
        ]
        return tokens, usage, True
    logprobs = [_logprob(e) for e in entries]
    total = sum(lp for lp in logprobs if lp is not None) if logprobs else None
    if total is not None and None in logprobs:
        total = None  # a partial sum would overstate the delta's probability
    top = _alternatives(entries[0]) if entries else ()
    return [SampledToken(text=content, logprob=total, top=top)], usage, bool(entries)


def _completion_tokens(choice: Any) -> tuple[list[SampledToken], bool]:
    """The tokens of a /v1/completions chunk (its legacy logprobs: parallel lists)."""
    text = getattr(choice, "text", None)
    if not isinstance(text, str) or not text:
        return [], False
    logprobs = getattr(choice, "logprobs", None)
    pieces = list(getattr(logprobs, "tokens", None) or [])
    values = list(getattr(logprobs, "token_logprobs", None) or [])
    tops = list(getattr(logprobs, "top_logprobs", None) or [])
    if not pieces:
        return [SampledToken(text=text, logprob=None)], False
    if "".join(str(p) for p in pieces) == text and len(values) == len(pieces):
        return [
            SampledToken(
                text=str(piece),
                logprob=_number(values[i]),
                top=_legacy_alternatives(tops[i] if i < len(tops) else None),
            )
            for i, piece in enumerate(pieces)
        ], True
    numbers = [_number(v) for v in values]
    total = None if not numbers or None in numbers else sum(n for n in numbers if n is not None)
    top = _legacy_alternatives(tops[0] if tops else None)
    return [SampledToken(text=text, logprob=total, top=top)], True


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _legacy_alternatives(entry: Any) -> tuple[tuple[str, float], ...]:
    """A legacy `top_logprobs` entry ({token: logprob}) as pairs, most likely first."""
    if not isinstance(entry, dict):
        return ()
    pairs = [(str(t), float(v)) for t, v in entry.items() if _number(v) is not None]
    return tuple(sorted(pairs, key=lambda pair: -pair[1]))


def finish_reason(chunk: Any) -> FinishReason | None:
    """The reason a chunk says the reply ended, None when it says none (or one we don't know).

    OpenAI sends it on the last choice chunk ("stop", "length", "content_filter",
    "tool_calls"); None on every other chunk.
    """
    choices = getattr(chunk, "choices", None) or []
    raw = getattr(choices[0], "finish_reason", None) if choices else None
    return FINISH_REASONS.get(raw) if isinstance(raw, str) else None


def _logprob(entry: Any) -> float | None:
    """An entry's logprob as a float, or None when the server sent something else."""
    value = getattr(entry, "logprob", None)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _alternatives(entry: Any) -> tuple[tuple[str, float], ...]:
    """An entry's top alternatives as (text, logprob) pairs, skipping malformed ones."""
    pairs: list[tuple[str, float]] = []
    for alt in getattr(entry, "top_logprobs", None) or []:
        logprob = _logprob(alt)
        token = getattr(alt, "token", None)
        if isinstance(token, str) and logprob is not None:
            pairs.append((token, logprob))
    return tuple(pairs)


def _usage(raw: Any) -> Usage | None:
    """Usage counts when both are present as integers."""
    prompt = getattr(raw, "prompt_tokens", None)
    completion = getattr(raw, "completion_tokens", None)
    if isinstance(prompt, int) and isinstance(completion, int):
        return Usage(prompt_tokens=prompt, completion_tokens=completion)
    return None
