"""Backend failures as `SamplerError`s whose sentences say what to check.

Error sentences name the backend, its URL or its key's environment variable, and never
the key itself: upstream messages are scrubbed of it before they are quoted.
"""

from __future__ import annotations

import email.utils
import math
import os
import time
from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

import httpx2
import openai

from grove_explorer.server.sampler.base import SamplerError, SamplerErrorKind
from grove_explorer.server.sampler.openai_compat.settings import OpenAIBackendSettings

# Upstream error text quoted in messages is cut to this many characters.
_UPSTREAM_TEXT_LIMIT = 300
# A 404's upstream text is quoted only when this short (a long one is usually an HTML page).
_SHORT_UPSTREAM_TEXT = 160


def backend_error(
    settings: OpenAIBackendSettings, exc: BaseException, *, started: bool, yielded: int
) -> SamplerError:
    """Turns a library (or any) exception into a SamplerError with a helpful sentence.

    `started` says whether the stream had opened (HTTP 200): a failure after that is a
    broken stream, except a read timeout, which keeps its own kind so the person knows
    to look at the timeout or the backend's load.
    """
    s = settings
    url = display_url(s.base_url)
    name = s.name
    if isinstance(exc, openai.APITimeoutError):
        if started and yielded:
            message = (
                f"Backend '{name}' stopped sending after {_count(yielded)}: no next chunk "
                f"within {s.timeout_seconds:g} s."
            )
        elif isinstance(exc.__cause__, httpx2.ConnectTimeout):
            message = (
                f"Cannot reach backend '{name}' at {url}: no connection within "
                f"{s.connect_timeout_seconds:g} s."
            )
        else:
            message = f"Backend '{name}' did not answer within {s.timeout_seconds:g} s."
        return SamplerError(SamplerErrorKind.TIMEOUT, message)
    detail = _detail(settings, exc)
    if started:
        return SamplerError(
            SamplerErrorKind.STREAM_BROKEN,
            f"Backend '{name}' stream broke off after {_count(yielded)}: {detail}.",
        )
    if isinstance(exc, openai.APIStatusError):
        return _status_error(settings, exc, detail)
    if isinstance(exc, openai.APIConnectionError):
        return SamplerError(
            SamplerErrorKind.UNAVAILABLE,
            f"Cannot reach backend '{name}' at {url}: {detail}.",
        )
    if isinstance(exc, openai.APIError):
        return SamplerError(
            SamplerErrorKind.UNAVAILABLE, f"Backend '{name}' reported an error: {detail}."
        )
    return SamplerError(
        SamplerErrorKind.UNAVAILABLE,
        f"Backend '{name}' failed unexpectedly ({type(exc).__name__}): {detail}.",
    )


def _status_error(
    settings: OpenAIBackendSettings, exc: openai.APIStatusError, detail: str
) -> SamplerError:
    """Maps an HTTP error status onto a kind and a sentence saying what to check."""
    s = settings
    url = display_url(s.base_url)
    name, status = s.name, exc.status_code
    if status in (401, 403):
        if not s.api_key_env:
            message = (
                f"Backend '{name}' requires an API key (HTTP {status}); set api_key_env in "
                "the backend's config to the environment variable that holds it."
            )
        elif s.api_key is None:
            message = (
                f"Backend '{name}' rejected the request (HTTP {status}): {s.api_key_env} "
                "is not set where the Grove server runs."
            )
        elif status == 401:
            message = (
                f"Backend '{name}' rejected the server's API key (HTTP 401). "
                f"Check {s.api_key_env} where the Grove server runs."
            )
        else:
            message = (
                f"Backend '{name}' refused access (HTTP 403): {detail}. Check that the "
                f"key in {s.api_key_env} may use model '{s.model}'."
            )
        return SamplerError(SamplerErrorKind.AUTH, message)
    if status == 404 or (status == 400 and names_unknown_model(exc)):
        quoted = f": {detail}" if len(detail) <= _SHORT_UPSTREAM_TEXT else ""
        return SamplerError(
            SamplerErrorKind.MODEL_NOT_FOUND,
            f"Backend '{name}' has no model '{s.model}' (HTTP {status}) at {url}{quoted}. "
            "Check the model and base_url in the backend's config.",
        )
    if status == 429:
        retry_after = _retry_after_seconds(exc.response.headers)
        when = f"; retry in {math.ceil(retry_after)} s" if retry_after is not None else ""
        return SamplerError(
            SamplerErrorKind.RATE_LIMITED,
            f"Backend '{name}' is rate limiting the server (HTTP 429){when}: {detail}.",
            retry_after_seconds=retry_after,
        )
    if status in (400, 422):
        return SamplerError(
            SamplerErrorKind.BAD_REQUEST,
            f"Backend '{name}' refused the request (HTTP {status}): {detail}.",
        )
    if status >= 500:
        return SamplerError(
            SamplerErrorKind.UNAVAILABLE,
            f"Backend '{name}' failed with HTTP {status}: {detail}.",
        )
    return SamplerError(
        SamplerErrorKind.UNAVAILABLE, f"Backend '{name}' answered HTTP {status}: {detail}."
    )


def _detail(settings: OpenAIBackendSettings, exc: BaseException) -> str:
    """The most telling text of an exception: upstream's message or the network cause.

    The library's own text for connection problems is a bare "Connection error.", so
    the underlying cause (e.g. "connection refused") is preferred. Always scrubbed of
    the API key and trimmed, without a final full stop (callers add one).
    """
    text = ""
    if isinstance(exc, openai.APIStatusError):
        body = exc.body
        if isinstance(body, Mapping) and isinstance(body.get("message"), str):
            text = body["message"]
        elif isinstance(body, str):
            text = body
        else:
            text = exc.message
    elif isinstance(exc, openai.APIConnectionError):
        text = _network_cause(exc)
    if not text:
        text = str(exc) or type(exc).__name__
    key = settings.api_key
    if key:
        text = text.replace(key, "[redacted]")
    text = " ".join(text.split())
    if len(text) > _UPSTREAM_TEXT_LIMIT:
        text = text[: _UPSTREAM_TEXT_LIMIT - 1].rstrip() + "…"
    return text.rstrip(". ") or type(exc).__name__


def _count(tokens: int) -> str:
    """A token count in words: 1 token, 3 tokens."""
    return f"{tokens} token" if tokens == 1 else f"{tokens} tokens"


def _network_cause(exc: BaseException) -> str:
    """The root network error behind a connection failure, e.g. "connection refused".

    The library says only "Connection error." and the HTTP layer "All connection attempts
    failed"; the OS error at the bottom of the chain is what tells the person what is wrong.
    """
    text = ""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno is not None:
            reason = os.strerror(current.errno) if current.errno > 0 else current.strerror
            if reason:
                return reason[:1].lower() + reason[1:]
        if not text and current is not exc:
            text = str(current)
        current = current.__cause__ or current.__context__
    return text


# How proxies word "no such model" when they answer 400 instead of 404: LiteLLM says
# "Invalid model name passed in model=…", others "model … not found" / "does not exist".
_UNKNOWN_MODEL_PHRASES = (
    "invalid model name",
    "model not found",
    "does not exist",
    "unknown model",
)


def names_unknown_model(exc: openai.APIStatusError) -> bool:
    """Whether a 400 says the model is unknown (LiteLLM's proxy answers 400, not 404)."""
    text = f"{exc.message} {exc.body}".lower()
    return "model" in text and any(phrase in text for phrase in _UNKNOWN_MODEL_PHRASES)


def mentions_logprobs(exc: openai.APIStatusError) -> bool:
    """Whether a 400/422 is about the logprobs parameters (so retrying without may work)."""
    text = f"{exc.message} {exc.body}".lower()
    return "logprob" in text


def _retry_after_seconds(headers: httpx2.Headers) -> float | None:
    """Seconds to wait from `retry-after-ms` or `retry-after` (seconds or an HTTP date)."""
    for header, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(header)
        if value is None:
            continue
        try:
            seconds = float(value) / divisor
        except ValueError:
            continue
        if math.isfinite(seconds) and seconds >= 0:
            return seconds
    value = headers.get("retry-after")
    if value:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - time.time())
    return None


def display_url(url: str) -> str:
    """A URL without user:password, which must not appear in messages."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.username is None and parts.password is None:
        return url
    netloc = parts.hostname or ""
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))
