"""A sampler for any OpenAI-compatible chat-completions endpoint.

xAI, OpenAI, Ollama, vLLM, llama.cpp's server and LM Studio all speak the same
`/v1/chat/completions` protocol, so one sampler built on the `openai` package's `AsyncOpenAI`
covers them all: the library does the HTTP, SSE parsing, retries and timeouts, and this
module maps Grove's path and parameters onto a request, the streamed chunks onto
`SampledToken`s, and the library's exceptions onto `SamplerError`s whose sentences tell the
person at the terminal what to check.

Points of care, and why:

- Log-probabilities are optional in the wild. In "auto" mode the first request asks for
  them; a server that refuses the parameter (HTTP 400/422 mentioning logprobs) is asked
  again once without, and the sampler remembers not to ask again. A token whose probability
  is unknown gets `logprob=None`, never a fake certainty.
- A delta may hold several tokens. When the logprob entries spell the delta exactly, each
  entry becomes its own token; otherwise the whole delta is one token, so the text the user
  sees is always exactly what the backend sent.
- Closing matters: a reply the user abandons must stop costing upstream tokens, so the HTTP
  stream is closed whenever the consumer stops early (`aclose()` or cancellation).
- Error sentences name the backend, its URL or its key's environment variable, and never the
  key itself: upstream messages are scrubbed of it before they are quoted.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import math
import os
import re
import secrets
import time
from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast
from urllib.parse import urlsplit, urlunsplit

import httpx2
import openai
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletionChunk, ChatCompletionMessageParam

from grove_explorer.server.sampler.base import (
    InvalidParamsError,
    ModelDescription,
    PathMessage,
    RequestedParams,
    ResolvedParams,
    SampledToken,
    SampleEvent,
    SamplerError,
    SamplerErrorKind,
    Usage,
    check_integer,
    check_number,
)

log = logging.getLogger(__name__)

MAX_TEMPERATURE = 2.0
MAX_SEED = 2**63 - 1
# OpenAI's documented maximum for top_logprobs; compatible servers accept at most as many.
MAX_TOP_LOGPROBS = 20
# Sent as the bearer key when none is configured: local servers need none, but the library
# insists on some value (and would otherwise read OPENAI_API_KEY, which is not ours to use).
PLACEHOLDER_API_KEY = "not-needed"

_ROLES: Mapping[str, str] = {"human": "user", "model": "assistant"}
# Upstream error text quoted in messages is cut to this many characters.
_UPSTREAM_TEXT_LIMIT = 300
# A 404's upstream text is quoted only when this short (a long one is usually an HTML page).
_SHORT_UPSTREAM_TEXT = 160
# Even when the network hands over many chunks at once, the stream yields to the event
# loop this often, so concurrent streams make progress.
_YIELD_EVERY = 16

_TITLE_INSTRUCTION = (
    "Write a title of at most six words for this conversation. Answer with the title only."
)
_TITLE_MAX_MESSAGES = 12
_TITLE_MESSAGE_CHARS = 2000
_TITLE_MAX_CHARS = 80
_TITLE_TEMPERATURE = 0.3
_TITLE_MAX_TOKENS = 24
_THINK_RE = re.compile(r"<think>.*?(?:</think>|$)", re.DOTALL | re.IGNORECASE)
_TITLE_PREFIX_RE = re.compile(r"^\s*title\s*:\s*", re.IGNORECASE)
# Markdown and quoting a model may wrap its title in. A trailing "?" is kept: a question
# makes a fine title.
_TITLE_EDGE_CHARS = "\"'`*_#>~“”\u2018\u2019«»「」 "
_TITLE_TRAILING = ".,;:!…-\u2013— "


@dataclass(frozen=True, slots=True)
class OpenAIBackendSettings:
    """One OpenAI-compatible backend, as the server's configuration describes it.

    `api_key` has already been read from the environment by the caller; `api_key_env` only
    names that variable in error messages, so a rejected key can be traced to its source.
    """

    name: str  # Grove's name for the backend, recorded on responses (model_name)
    base_url: str  # e.g. "https://api.x.ai/v1", "http://localhost:11434/v1"
    model: str  # upstream model id, e.g. "grok-4", "llama3.2"
    api_key: str | None = None
    api_key_env: str = ""
    description: str = ""
    temperature: float = 0.7  # defaults for unset request parameters
    top_p: float = 1.0
    max_tokens: int = 1024
    max_tokens_limit: int = 32768  # upper bound for a requested max_tokens
    timeout_seconds: float = 60.0  # read timeout, per chunk
    connect_timeout_seconds: float = 10.0
    max_retries: int = 2  # library retries, only before streaming starts
    logprobs: Literal["auto", "on", "off"] = "auto"
    send_seed: bool = True
    extra_headers: Mapping[str, str] = field(default_factory=dict)
    # How to continue a given prefix (a branch from a token): "none" (cannot),
    # "continue_final_message" (vLLM: a trailing assistant message plus that flag) or
    # "trailing_assistant" (endpoints that continue a trailing assistant message as is).
    prefill: Literal["none", "continue_final_message", "trailing_assistant"] = "none"


class OpenAICompatibleSampler:
    """Samples replies from an OpenAI-compatible chat-completions endpoint.

    One instance per configured backend; it holds one `AsyncOpenAI` client (and so one
    connection pool) for the life of the server.
    """

    def __init__(self, settings: OpenAIBackendSettings) -> None:
        self._settings = settings
        # What "auto" mode has learned about logprobs: None until a reply tells.
        self._supports_logprobs: bool | None = None
        self._client = AsyncOpenAI(
            api_key=settings.api_key or PLACEHOLDER_API_KEY,
            base_url=settings.base_url,
            timeout=openai.Timeout(
                settings.timeout_seconds, connect=settings.connect_timeout_seconds
            ),
            max_retries=settings.max_retries,
            default_headers=dict(settings.extra_headers),
        )

    @property
    def model_name(self) -> str:
        """Grove's name for this backend, recorded on every response."""
        return self._settings.name

    @property
    def settings(self) -> OpenAIBackendSettings:
        """The backend's settings (read-only)."""
        return self._settings

    @property
    def supports_prefix(self) -> bool:
        """Whether this endpoint was configured to continue an assistant prefill."""
        return self._settings.prefill != "none"

    def describe(self) -> ModelDescription:
        """Name, defaults and (when known) whether replies carry log-probabilities."""
        s = self._settings
        return ModelDescription(
            name=s.name,
            backend="openai",
            upstream_model=s.model,
            description=s.description,
            default_temperature=s.temperature,
            default_top_p=s.top_p,
            default_max_tokens=s.max_tokens,
            supports_logprobs=self._logprobs_known(),
        )

    def resolve_params(self, requested: RequestedParams) -> ResolvedParams:
        """Fills the backend's defaults (a fresh random seed when none is given) and validates.

        Ranges are checked here rather than left to the backend so that a bad value gets the
        same clear sentence whichever server is behind the name.
        """
        s = self._settings
        temperature = check_number(
            "temperature", requested.temperature, s.temperature, 0.0, MAX_TEMPERATURE
        )
        top_p = check_number("top_p", requested.top_p, s.top_p, 0.0, 1.0)
        if top_p <= 0.0:
            raise InvalidParamsError(f"top_p must be greater than 0 and at most 1, got {top_p}.")
        max_tokens = check_integer(
            "max_tokens", requested.max_tokens, s.max_tokens, 1, s.max_tokens_limit
        )
        seed = requested.seed if requested.seed is not None else secrets.randbits(63)
        seed = check_integer("seed", seed, 0, 0, MAX_SEED)
        return ResolvedParams(
            temperature=temperature, top_p=top_p, max_tokens=max_tokens, seed=seed
        )

    def count_tokens(self, path: Sequence[PathMessage]) -> int:
        """A cheap estimate (about four characters a token); the backend's usage is exact."""
        return sum(math.ceil(len(message.text) / 4) for message in path)

    async def sample(
        self,
        path: Sequence[PathMessage],
        params: ResolvedParams,
        *,
        top_logprobs: int = 5,
        system_prompt_name: str = "",
        system_prompt: str | None = None,
        prefix: str = "",
    ) -> AsyncGenerator[SampleEvent, None]:
        """Streams the reply; at most `params.max_tokens` tokens, then the backend's usage.

        `system_prompt_name` is not sent: the backend only sees the prompt's text. A
        `prefix` travels as a trailing assistant message (see `prefill`).
        Raises SamplerError when the backend fails; closing the iterator early closes the
        HTTP stream, so the backend stops generating.
        """
        messages = _messages(path, system_prompt)
        if prefix:
            if not self.supports_prefix:
                raise SamplerError(
                    SamplerErrorKind.BAD_REQUEST,
                    f"Backend '{self._settings.name}' cannot continue from a given prefix; "
                    "set prefill in its config if the endpoint supports assistant prefill.",
                )
            messages.append({"role": "assistant", "content": prefix})
        stream = await self._open_stream(
            messages, params, top_logprobs, self._wants_logprobs(), prefilled=bool(prefix)
        )
        chunks, asked_logprobs = stream.chunks, stream.asked_logprobs
        yielded = 0
        usage: Usage | None = None
        saw_logprobs = False
        try:
            read = 0
            while True:
                try:
                    chunk = await chunks.__anext__()
                    tokens, chunk_usage, has_logprobs = _read_chunk(chunk)
                except StopAsyncIteration:
                    break
                except Exception as exc:
                    raise self._error(exc, started=True, yielded=yielded) from exc
                read += 1
                if read % _YIELD_EVERY == 0:
                    await asyncio.sleep(0)
                usage = chunk_usage or usage
                saw_logprobs = saw_logprobs or has_logprobs
                if tokens and yielded >= params.max_tokens:
                    # The backend ignored max_tokens; stop reading (closing the stream below).
                    break
                for token in tokens[: params.max_tokens - yielded]:
                    yielded += 1
                    yield token
            if asked_logprobs and self._settings.logprobs == "auto":
                self._learn_logprobs(saw_logprobs, yielded)
            if usage is not None:
                yield usage
        finally:
            try:
                await chunks.close()
            except Exception:  # closing must never hide the reason we stopped
                log.debug("closing the stream of backend %r failed", self._settings.name)

    async def generate_title(self, path: Sequence[PathMessage]) -> str | None:
        """Asks the backend for a title of at most six words; None when it gives none.

        The conversation is quoted in one user message, rather than replayed turn by turn,
        so the model titles it instead of answering its last question.
        """
        recent = path[-_TITLE_MAX_MESSAGES:]
        if not recent:
            return None
        transcript = "\n\n".join(
            f"{_ROLES.get(m.sender, 'user').capitalize()}: {m.text[:_TITLE_MESSAGE_CHARS]}"
            for m in recent
        )
        try:
            completion = await self._client.chat.completions.create(
                model=self._settings.model,
                messages=[
                    {"role": "system", "content": _TITLE_INSTRUCTION},
                    {"role": "user", "content": f"{transcript}\n\n{_TITLE_INSTRUCTION}"},
                ],
                temperature=_TITLE_TEMPERATURE,
                max_tokens=_TITLE_MAX_TOKENS,
                stream=False,
            )
            content = completion.choices[0].message.content if completion.choices else None
        except Exception as exc:
            raise self._error(exc, started=False, yielded=0) from exc
        return clean_title(content)

    async def aclose(self) -> None:
        """Closes the client's connection pool."""
        await self._client.close()

    # Logprobs policy.

    def _logprobs_known(self) -> bool | None:
        """True/False when configured or learned, None while "auto" has not found out."""
        mode = self._settings.logprobs
        if mode == "on":
            return True
        if mode == "off":
            return False
        return self._supports_logprobs

    def _wants_logprobs(self) -> bool:
        """Whether the next request asks for logprobs."""
        return self._logprobs_known() is not False

    def _learn_logprobs(self, saw_logprobs: bool, yielded: int) -> None:
        """Remembers what a complete reply showed about logprobs ("auto" mode only).

        A reply that carried logprobs proves support. A complete reply with tokens but no
        logprobs means the server silently ignores the parameter (older Ollama does), which
        is as good as unsupported; a "yes" once learned is never taken back.
        """
        if saw_logprobs:
            self._supports_logprobs = True
        elif yielded and self._supports_logprobs is None:
            self._supports_logprobs = False

    # Requests.

    async def _open_stream(
        self,
        messages: list[dict[str, str]],
        params: ResolvedParams,
        top_logprobs: int,
        logprobs: bool,
        *,
        prefilled: bool = False,
    ) -> _OpenStream:
        """Starts the streaming request, retrying once without logprobs if they are refused.

        Raises SamplerError: nothing from the library leaves this method.
        """
        try:
            return _OpenStream(
                await self._create(messages, params, top_logprobs, logprobs, prefilled=prefilled),
                logprobs,
            )
        except (openai.BadRequestError, openai.UnprocessableEntityError) as exc:
            if not (logprobs and self._settings.logprobs == "auto" and _mentions_logprobs(exc)):
                raise self._error(exc, started=False, yielded=0) from exc
            log.info(
                "backend %r refused logprobs (%s); asking without them from now on",
                self._settings.name,
                exc.status_code,
            )
            self._supports_logprobs = False
        except Exception as exc:
            raise self._error(exc, started=False, yielded=0) from exc
        try:
            return _OpenStream(
                await self._create(messages, params, top_logprobs, False, prefilled=prefilled),
                False,
            )
        except Exception as exc:
            raise self._error(exc, started=False, yielded=0) from exc

    async def _create(
        self,
        messages: list[dict[str, str]],
        params: ResolvedParams,
        top_logprobs: int,
        logprobs: bool,
        *,
        prefilled: bool = False,
    ) -> openai.AsyncStream[ChatCompletionChunk]:
        """Sends one streaming chat-completions request; returns once the headers arrive.

        `prefilled`: the last message is a given prefix to continue. Only then, not whenever
        the path ends with a model reply (a reply sampled under a reply), does vLLM get
        continue_final_message, which would extend that earlier reply instead of answering.
        """
        extra: dict[str, Any] = {}
        if prefilled and self._settings.prefill == "continue_final_message":
            extra["extra_body"] = {
                "continue_final_message": True,
                "add_generation_prompt": False,
            }
        if self._settings.send_seed:
            extra["seed"] = params.seed
        if logprobs:
            extra["logprobs"] = True
            if top_logprobs > 0:
                extra["top_logprobs"] = min(top_logprobs, MAX_TOP_LOGPROBS)
        stream: openai.AsyncStream[
            ChatCompletionChunk
        ] = await self._client.chat.completions.create(
            model=self._settings.model,
            messages=cast("list[ChatCompletionMessageParam]", messages),
            stream=True,
            stream_options={"include_usage": True},
            temperature=params.temperature,
            top_p=params.top_p,
            max_tokens=params.max_tokens,
            **extra,
        )
        return stream

    # Errors.

    def _error(self, exc: BaseException, *, started: bool, yielded: int) -> SamplerError:
        """Turns a library (or any) exception into a SamplerError with a helpful sentence.

        `started` says whether the stream had opened (HTTP 200): a failure after that is a
        broken stream, except a read timeout, which keeps its own kind so the person knows
        to look at the timeout or the backend's load.
        """
        s = self._settings
        name = s.name
        if isinstance(exc, openai.APITimeoutError):
            if started and yielded:
                message = (
                    f"Backend '{name}' stopped sending after {_count(yielded)}: no next chunk "
                    f"within {s.timeout_seconds:g} s."
                )
            elif isinstance(exc.__cause__, httpx2.ConnectTimeout):
                message = (
                    f"Cannot reach backend '{name}' at {self._url}: no connection within "
                    f"{s.connect_timeout_seconds:g} s."
                )
            else:
                message = f"Backend '{name}' did not answer within {s.timeout_seconds:g} s."
            return SamplerError(SamplerErrorKind.TIMEOUT, message)
        detail = self._detail(exc)
        if started:
            return SamplerError(
                SamplerErrorKind.STREAM_BROKEN,
                f"Backend '{name}' stream broke off after {_count(yielded)}: {detail}.",
            )
        if isinstance(exc, openai.APIStatusError):
            return self._status_error(exc, detail)
        if isinstance(exc, openai.APIConnectionError):
            return SamplerError(
                SamplerErrorKind.UNAVAILABLE,
                f"Cannot reach backend '{name}' at {self._url}: {detail}.",
            )
        if isinstance(exc, openai.APIError):
            return SamplerError(
                SamplerErrorKind.UNAVAILABLE, f"Backend '{name}' reported an error: {detail}."
            )
        return SamplerError(
            SamplerErrorKind.UNAVAILABLE,
            f"Backend '{name}' failed unexpectedly ({type(exc).__name__}): {detail}.",
        )

    def _status_error(self, exc: openai.APIStatusError, detail: str) -> SamplerError:
        """Maps an HTTP error status onto a kind and a sentence saying what to check."""
        s = self._settings
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
        if status == 404:
            quoted = f": {detail}" if len(detail) <= _SHORT_UPSTREAM_TEXT else ""
            return SamplerError(
                SamplerErrorKind.MODEL_NOT_FOUND,
                f"Backend '{name}' has no model '{s.model}' (HTTP 404) at {self._url}{quoted}. "
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

    def _detail(self, exc: BaseException) -> str:
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
        key = self._settings.api_key
        if key:
            text = text.replace(key, "[redacted]")
        text = " ".join(text.split())
        if len(text) > _UPSTREAM_TEXT_LIMIT:
            text = text[: _UPSTREAM_TEXT_LIMIT - 1].rstrip() + "…"
        return text.rstrip(". ") or type(exc).__name__

    @property
    def _url(self) -> str:
        """The base URL as shown in messages, without any credentials in it."""
        return _display_url(self._settings.base_url)


@dataclass(frozen=True, slots=True)
class _OpenStream:
    """An opened stream and whether its request asked for logprobs (after any fallback)."""

    chunks: openai.AsyncStream[ChatCompletionChunk]
    asked_logprobs: bool


def _messages(path: Sequence[PathMessage], system_prompt: str | None) -> list[dict[str, str]]:
    """The chat messages for a path: the system prompt (if any), then user/assistant turns."""
    messages: list[dict[str, str]] = []
    if system_prompt:
        messages.append({"role": "system", "content": system_prompt})
    messages.extend({"role": _ROLES.get(m.sender, "user"), "content": m.text} for m in path)
    return messages


def _read_chunk(chunk: Any) -> tuple[list[SampledToken], Usage | None, bool]:
    """The tokens, usage and whether logprobs were present in one streamed chunk.

    Chunks without choices (the usage chunk) and deltas without content (the opening role
    chunk, the finish chunk, reasoning or tool-call deltas) give no tokens.
    """
    usage = _usage(getattr(chunk, "usage", None))
    choices = getattr(chunk, "choices", None) or []
    if not choices:
        return [], usage, False
    choice = choices[0]
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


def _mentions_logprobs(exc: openai.APIStatusError) -> bool:
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


def _display_url(url: str) -> str:
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
