"""Non-streamed structured completions of an OpenAI-compatible endpoint (judges).

Given a JSON schema, the request carries `response_format: {"type": "json_schema", ...}`
with `strict: true`, so an endpoint that supports structured output (OpenAI, vLLM,
llama.cpp's server, recent Ollama) constrains the answer. Many endpoints refuse the
parameter (HTTP 400/422 naming response_format): the request is sent again without it —
the prompt describes the format in words too — and the backend is remembered to refuse,
logged once, so later calls do not pay for the refusal.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, cast

import openai
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletionMessageParam

from grove_explorer.server.sampler.base import Completion, FinishReason, ResolvedParams
from grove_explorer.server.sampler.openai_compat.errors import backend_error
from grove_explorer.server.sampler.openai_compat.settings import OpenAIBackendSettings

log = logging.getLogger(__name__)

_FINISHES = {reason.value: reason for reason in FinishReason}


def mentions_response_format(exc: openai.APIStatusError) -> bool:
    """Whether a 400/422 is about `response_format` (so asking without it may work)."""
    text = f"{exc.message} {exc.body}".lower()
    return "response_format" in text or "json_schema" in text


class StructuredCompletions:
    """One backend's non-streamed completions, and whether it refuses `response_format`."""

    def __init__(self, client: AsyncOpenAI, settings: OpenAIBackendSettings) -> None:
        self._client = client
        self._settings = settings
        self.refuses_schema = False

    async def complete(
        self,
        system: str,
        prompt: str,
        params: ResolvedParams,
        json_schema: Mapping[str, Any] | None,
    ) -> Completion:
        """Asks once (with the schema unless refused before); raises SamplerError."""
        messages = [{"role": "system", "content": system}, {"role": "user", "content": prompt}]
        schema = None if self.refuses_schema else json_schema
        try:
            return await self._create(messages, params, schema)
        except (openai.BadRequestError, openai.UnprocessableEntityError) as exc:
            if schema is None or not mentions_response_format(exc):
                raise backend_error(self._settings, exc, started=False, yielded=0) from exc
            if not self.refuses_schema:
                log.info(
                    "backend %r refused response_format (%s); asking for JSON by "
                    "instructions only from now on",
                    self._settings.name,
                    exc.status_code,
                )
            self.refuses_schema = True
        except Exception as exc:
            raise backend_error(self._settings, exc, started=False, yielded=0) from exc
        try:
            return await self._create(messages, params, None)
        except Exception as exc:
            raise backend_error(self._settings, exc, started=False, yielded=0) from exc

    async def _create(
        self,
        messages: list[dict[str, str]],
        params: ResolvedParams,
        json_schema: Mapping[str, Any] | None,
    ) -> Completion:
        """Sends one non-streamed chat-completions request."""
        extra: dict[str, Any] = {}
        if self._settings.send_seed:
            extra["seed"] = params.seed
        if json_schema is not None:
            extra["response_format"] = {
                "type": "json_schema",
                "json_schema": {**json_schema, "strict": True},
            }
        completion = await self._client.chat.completions.create(
            model=self._settings.model,
            messages=cast("list[ChatCompletionMessageParam]", messages),
            temperature=params.temperature,
            top_p=params.top_p,
            max_tokens=params.max_tokens,
            stream=False,
            **extra,
        )
        if not completion.choices:
            return Completion("", None)
        choice = completion.choices[0]
        reason = _FINISHES.get(str(choice.finish_reason or ""))
        return Completion(choice.message.content or "", reason)
