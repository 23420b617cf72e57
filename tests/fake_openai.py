"""A small but real OpenAI-compatible chat-completions server for tests.

The OpenAI-compatible sampler is tested against an actual HTTP server on a loopback port
rather than a mocked client, so the `openai` library's real request encoding, SSE parsing,
retries, timeouts and connection handling are all exercised. Behaviour is driven by plain
attributes a test sets before (or between) requests; every request is recorded so tests can
assert on exactly what was sent.

Usage::

    async with FakeOpenAI() as fake:  # or: await fake.start() ... await fake.stop()
        fake.reply_tokens = ["Hi", " there"]
        ... AsyncOpenAI(base_url=fake.base_url, api_key="k") ...
        assert fake.requests[-1]["temperature"] == 0.5
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from aiohttp import web

from grove_explorer.server.sampler.openai_compat.logprobs_cost import PROBE_MESSAGES

DEFAULT_MODEL = "fake-model"
DEFAULT_EMBEDDINGS_MODEL = "fake-embed"
EMBEDDING_DIMS = 16
DEFAULT_REPLY = ["Trees", " grow", " slowly", ",", " then", " all", " at", " once", "."]


def token_logprob(index: int) -> float:
    """The deterministic logprob of the index-th streamed token, so tests can predict it."""
    return round(-0.1 * (index + 1), 6)


def embedding_of(text: str) -> list[float]:
    """The fake's vector of `text`: word counts hashed into `EMBEDDING_DIMS` slots, unit length.

    Deterministic across runs (md5, not Python's salted hash), so tests can predict it.
    """
    vector = [0.0] * EMBEDDING_DIMS
    for word in text.lower().split():
        slot = int(hashlib.md5(word.encode()).hexdigest(), 16) % EMBEDDING_DIMS
        vector[slot] += 1.0
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [x / norm for x in vector]


class FakeOpenAI:
    """An aiohttp server speaking enough of the OpenAI chat-completions API for the sampler.

    Attributes a test may set (all take effect on the next request):

    - `known_models`: other model ids answer 404 like OpenAI ("The model `x` does not exist").
    - `reply_tokens`: tokens of the streamed reply; at most the request's `max_tokens` are sent
      unless `ignore_max_tokens` (a misbehaving server).
    - `tokens_per_chunk`: tokens packed into one delta (servers may batch them).
    - `logprob_tokens_differ`: the logprob entries name tokens differently from the content
      (as servers with byte-level tokens do), so the client cannot split the delta by them.
    - `token_delay`: seconds between chunks.
    - `logprob_token_delay`: extra seconds per chunk when logprobs were asked for (as
      llama-cpp-python's server, which evaluates every position's logits then).
    - `fail_status` / `fail_message` / `fail_times` / `retry_after`: answer with that HTTP
      error and an OpenAI-style error body; `fail_times=None` fails every request, an int
      fails that many requests and then succeeds (so client retries can be tested).
    - `require_key`: a missing or different bearer key answers 401; the message echoes the
      key received, as real servers partly do, so tests can check the client never repeats it.
    - `reject_logprobs`: a request asking for logprobs answers 400 ("logprobs is not supported").
    - `ignore_logprobs`: logprobs are accepted but never sent (as older Ollama does).
    - `break_after`: drop the connection after streaming that many tokens (no final chunk).
    - `stall_after`: stop sending after that many tokens (0: before the first) and wait until
      the client gives up, to test read timeouts.
    - `title_reply`: the message content of non-streaming replies (used for titles).
    - `complete_reply`: when set, the content of a non-streaming reply is this function of
      the request body (judges: answer per reply); `complete_finish` its finish_reason.
    - `reject_response_format`: a request carrying `response_format` answers 400
      ("response_format is not supported"), as many endpoints do.
    - `complete_barrier`: a non-streaming request waits until that many are in flight at
      once before answering (so a test proves calls overlap without sleeping);
      `max_in_flight` records the most seen at once.
    - `finish_gate`: an event the stream waits for after its last token, before the final
      chunk (a model that has finished, its end still on the way); `at_finish_gate` is set
      when a stream reaches it.
    - `finish_reason`: the last chunk's finish_reason (default None: "length" when
      max_tokens cut the reply, else "stop"; "" sends none).

    `/v1/embeddings` answers one deterministic vector per input (`embedding_of`: a hashed
    bag of words, so texts sharing words point alike) for the models in
    `embeddings_models`; other models answer 404, and `fail_status` applies as to chats.
    `embeddings_count_off` answers that many vectors fewer (a misbehaving server). Bodies
    go to `embedding_requests`.

    `/v1/completions` (text completion, for base models) streams `reply_tokens` too, with
    legacy logprobs (parallel lists) when `logprobs` is asked; its bodies go to
    `completion_requests`.

    Observations: `requests` (JSON bodies), `authorizations` (Authorization headers, None when
    absent), `headers` (all request headers, names lowercased), `disconnects` and the
    `disconnected` event (a client went away while a stream was still being sent). The two
    short replies an "auto" sampler asks for to measure what logprobs cost (after a reply
    whose tokens came slowly, as any reply may on a loaded machine) go to `probe_requests`,
    not `requests`: a test counting the requests of its replies is not thrown by them.
    """

    def __init__(self) -> None:
        self.known_models: set[str] = {DEFAULT_MODEL}
        self.reply_tokens: list[str] = list(DEFAULT_REPLY)
        self.ignore_max_tokens = False
        self.tokens_per_chunk = 1
        self.logprob_tokens_differ = False
        self.token_delay = 0.0
        self.logprob_token_delay = 0.0
        self.fail_status: int | None = None
        self.fail_message = "Something went wrong upstream."
        self.fail_times: int | None = None
        self.retry_after: str | None = None
        self.require_key: str | None = None
        self.reject_logprobs = False
        self.ignore_logprobs = False
        self.break_after: int | None = None
        self.stall_after: int | None = None
        self.title_reply = '"Gardens in Winter."'
        self.complete_reply: Callable[[dict[str, Any]], str] | None = None
        self.complete_finish = "stop"
        self.reject_response_format = False
        self.complete_barrier: int | None = None
        self.in_flight = 0
        self.max_in_flight = 0
        self._barrier_reached = asyncio.Event()
        self.finish_reason: str | None = None
        # Set: the streamed usage reports this many completion tokens instead of those
        # sent (endpoints such as LiteLLM estimate their usage).
        self.usage_completion_tokens: int | None = None
        self.finish_gate: asyncio.Event | None = None
        self.at_finish_gate = asyncio.Event()

        self.embeddings_models: set[str] = {DEFAULT_EMBEDDINGS_MODEL}
        self.embeddings_count_off = 0
        self.embedding_requests: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []
        self.probe_requests: list[dict[str, Any]] = []
        self.completion_requests: list[dict[str, Any]] = []
        self.authorizations: list[str | None] = []
        self.headers: list[dict[str, str]] = []
        self.disconnects = 0
        self.disconnected = asyncio.Event()

        self._runner: web.AppRunner | None = None
        self.base_url = ""

    async def start(self) -> str:
        """Starts listening on a free loopback port; returns the base URL (".../v1")."""
        app = web.Application()
        app.router.add_get("/v1/models", self._models)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/completions", self._text_completion)
        app.router.add_post("/v1/embeddings", self._embeddings)
        # handler_cancellation: a client disconnect cancels the handler at once, even while it
        # sleeps between chunks, which is how disconnects are observed promptly. A short
        # shutdown timeout keeps stop() fast when a stalled handler is still waiting.
        self._runner = web.AppRunner(
            app, handler_cancellation=True, shutdown_timeout=0.2, access_log=None
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}/v1"
        return self.base_url

    async def stop(self) -> None:
        """Stops the server and closes every connection (idempotent)."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> FakeOpenAI:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _models(self, request: web.Request) -> web.Response:
        """Lists the known models in OpenAI's format."""
        data = [
            {"id": m, "object": "model", "created": 0, "owned_by": "fake"}
            for m in sorted(self.known_models)
        ]
        return web.json_response({"object": "list", "data": data})

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        """Records the request, applies the configured failures, then replies."""
        body: dict[str, Any] = await request.json()
        is_probe = body.get("messages") == PROBE_MESSAGES
        (self.probe_requests if is_probe else self.requests).append(body)
        self.authorizations.append(request.headers.get("Authorization"))
        self.headers.append({k.lower(): v for k, v in request.headers.items()})

        if self.require_key is not None:
            received = request.headers.get("Authorization", "").removeprefix("Bearer ")
            if received != self.require_key:
                message = f"Incorrect API key provided: {received}."
                return _error(401, message, "invalid_request_error", "invalid_api_key")
        if self.fail_status is not None and (self.fail_times is None or self.fail_times > 0):
            if self.fail_times is not None:
                self.fail_times -= 1
            headers = {"retry-after": self.retry_after} if self.retry_after is not None else {}
            return _error(self.fail_status, self.fail_message, "server_error", None, headers)
        model = str(body.get("model"))
        if model not in self.known_models:
            message = f"The model `{model}` does not exist or you do not have access to it."
            return _error(404, message, "invalid_request_error", "model_not_found")
        if self.reject_logprobs and body.get("logprobs"):
            message = "logprobs is not supported by this model."
            return _error(400, message, "invalid_request_error", "unsupported_parameter")

        if self.reject_response_format and "response_format" in body:
            message = "response_format is not supported by this model."
            return _error(400, message, "invalid_request_error", "unsupported_parameter")

        if body.get("stream"):
            return await self._stream(request, body)
        return await self._complete(model, body)

    async def _complete(self, model: str, body: dict[str, Any]) -> web.Response:
        """A non-streaming reply: `complete_reply(body)` or the title, after the barrier."""
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.complete_barrier is not None:
                if self.in_flight >= self.complete_barrier:
                    self._barrier_reached.set()
                await self._barrier_reached.wait()
            content = self.title_reply
            finish = "stop"
            if self.complete_reply is not None:
                content = self.complete_reply(body)
                finish = self.complete_finish
            return web.json_response(_completion(model, content, finish))
        finally:
            self.in_flight -= 1

    async def _embeddings(self, request: web.Request) -> web.Response:
        """One `embedding_of` vector per input text, in OpenAI's format."""
        body: dict[str, Any] = await request.json()
        self.embedding_requests.append(body)
        if self.fail_status is not None and (self.fail_times is None or self.fail_times > 0):
            if self.fail_times is not None:
                self.fail_times -= 1
            headers = {"retry-after": self.retry_after} if self.retry_after is not None else {}
            return _error(self.fail_status, self.fail_message, "server_error", None, headers)
        model = str(body.get("model"))
        if model not in self.embeddings_models:
            message = f"The model `{model}` does not exist or you do not have access to it."
            return _error(404, message, "invalid_request_error", "model_not_found")
        texts = body.get("input")
        texts = [texts] if isinstance(texts, str) else list(texts or [])
        kept = texts[: max(0, len(texts) - self.embeddings_count_off)]
        data = [
            {"object": "embedding", "index": index, "embedding": embedding_of(str(text))}
            for index, text in enumerate(kept)
        ]
        usage = {"prompt_tokens": len(texts), "total_tokens": len(texts)}
        return web.json_response({"object": "list", "data": data, "model": model, "usage": usage})

    async def _text_completion(self, request: web.Request) -> web.StreamResponse:
        """A streamed /v1/completions reply continuing the prompt (legacy chunk shape)."""
        body: dict[str, Any] = await request.json()
        self.completion_requests.append(body)
        model = str(body.get("model"))
        if model not in self.known_models:
            message = f"The model `{model}` does not exist or you do not have access to it."
            return _error(404, message, "invalid_request_error", "model_not_found")
        limit = body.get("max_tokens")
        tokens = self.reply_tokens[: limit if isinstance(limit, int) else None]
        top_k = body.get("logprobs")
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for i, token in enumerate(tokens):
            logprobs = None
            if isinstance(top_k, int):
                top = {token: token_logprob(i), f"alt{i}": token_logprob(i) - 1.0}
                logprobs = {
                    "tokens": [token],
                    "token_logprobs": [token_logprob(i)],
                    "top_logprobs": [dict(list(top.items())[: max(top_k, 1)])],
                    "text_offset": [0],
                }
            choice = {"index": 0, "text": token, "logprobs": logprobs, "finish_reason": None}
            await _send(response, _text_chunk(model, choice))
        finish = "length" if len(tokens) < len(self.reply_tokens) else "stop"
        end = {"index": 0, "text": "", "logprobs": None, "finish_reason": finish}
        await _send(response, _text_chunk(model, end))
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    async def _stream(self, request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
        """Streams the reply as SSE chunks, the way OpenAI does, noting client disconnects."""
        model = str(body["model"])
        limit = None if self.ignore_max_tokens else body.get("max_tokens")
        tokens = self.reply_tokens[: limit if isinstance(limit, int) else None]
        top_k = int(body.get("top_logprobs") or 0) if self._sends_logprobs(body) else -1
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        finish = "length" if len(tokens) < len(self.reply_tokens) else "stop"
        if self.finish_reason is not None:
            finish = self.finish_reason or None

        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        try:
            await _send(response, _chunk(model, {"role": "assistant", "content": ""}))
            sent = 0
            while sent < len(tokens):
                if self.stall_after is not None and sent >= self.stall_after:
                    await asyncio.Event().wait()  # until the client disconnects
                if self.break_after is not None and sent >= self.break_after:
                    assert request.transport is not None
                    request.transport.close()  # flushes what was sent, then drops
                    return response
                if sent and self.token_delay > 0:
                    await asyncio.sleep(self.token_delay)
                if top_k >= 0 and self.logprob_token_delay > 0:
                    await asyncio.sleep(self.logprob_token_delay)
                group = tokens[sent : sent + self.tokens_per_chunk]
                entries = [self._entry(sent + i, t, top_k) for i, t in enumerate(group)]
                logprobs = {"content": entries} if top_k >= 0 else None
                await _send(response, _chunk(model, {"content": "".join(group)}, logprobs))
                sent += len(group)
            if self.finish_gate is not None:
                self.at_finish_gate.set()
                await self.finish_gate.wait()
            if finish is not None:
                await _send(response, _chunk(model, {}, finish=finish))
            if include_usage:
                prompt = sum(len(str(m.get("content", ""))) // 4 + 1 for m in body["messages"])
                completion = (
                    sent if self.usage_completion_tokens is None else self.usage_completion_tokens
                )
                usage = {
                    "prompt_tokens": prompt,
                    "completion_tokens": completion,
                    "total_tokens": prompt + completion,
                }
                await _send(response, {**_chunk(model, {}), "choices": [], "usage": usage})
            await response.write(b"data: [DONE]\n\n")
            await response.write_eof()
        except ConnectionResetError:  # a write found the client gone
            self._note_disconnect()
        except asyncio.CancelledError:  # the client went away while the handler waited
            self._note_disconnect()
            raise
        return response

    def _note_disconnect(self) -> None:
        """Records that a client closed its connection before the stream was complete."""
        self.disconnects += 1
        self.disconnected.set()

    def _sends_logprobs(self, body: dict[str, Any]) -> bool:
        """Whether the reply carries logprobs: asked for, and not ignored."""
        return bool(body.get("logprobs")) and not self.ignore_logprobs

    def _entry(self, index: int, token: str, top_k: int) -> dict[str, Any]:
        """One logprobs.content entry: the token, then invented, less likely alternatives."""
        logprob = token_logprob(index)
        name = token.upper() + "~" if self.logprob_tokens_differ else token
        top = [{"token": name, "logprob": logprob, "bytes": list(name.encode())}]
        top += [
            {"token": f"alt{j}", "logprob": logprob - j, "bytes": list(f"alt{j}".encode())}
            for j in range(1, top_k)
        ]
        return {
            "token": name,
            "logprob": logprob,
            "bytes": list(name.encode()),
            "top_logprobs": top[:top_k],
        }


def _chunk(
    model: str,
    delta: dict[str, Any],
    logprobs: dict[str, Any] | None = None,
    finish: str | None = None,
) -> dict[str, Any]:
    """A chat.completion.chunk with one choice."""
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish}],
    }


def _text_chunk(model: str, choice: dict[str, Any]) -> dict[str, Any]:
    """A text_completion chunk with one choice."""
    return {
        "id": "cmpl-fake",
        "object": "text_completion",
        "created": int(time.time()),
        "model": model,
        "choices": [choice],
    }


def _completion(model: str, content: str, finish: str = "stop") -> dict[str, Any]:
    """A non-streaming chat.completion whose message is `content`."""
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "logprobs": None,
                "finish_reason": finish,
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 4, "total_tokens": 14},
    }


async def _send(response: web.StreamResponse, payload: dict[str, Any]) -> None:
    """Writes one SSE event and yields, so a disconnect is noticed between chunks."""
    await response.write(f"data: {json.dumps(payload)}\n\n".encode())
    await asyncio.sleep(0)


def _error(
    status: int,
    message: str,
    kind: str,
    code: str | None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """An OpenAI-style error response."""
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return web.json_response(body, status=status, headers=headers)
