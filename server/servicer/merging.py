"""AddResponse with `merge` set: the checks of a fusion and how its reply is sampled.

A fusion is a resample of the sources' parent whose prompt ends with one more human
message, the labelled sources and the mode's task (server/merging/prompts.py); the reply
streams like any other (tokens, budget, stop and cancel keep a partial reply) and is
stored as a sibling of its sources with `merged_from`, the mode and the instruction
(reply_streaming.py takes a `MergePlan` and asks it for the events and the fields).
The offline model cannot synthesise; it streams its transparent demo fusion instead
(server/sampler/offline/fusion.py).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

import grpc

from grove_explorer.protos import chat_pb2
from grove_explorer.server.config import ServerConfig
from grove_explorer.server.convert import MERGE_FROM_WIRE
from grove_explorer.server.merging.prompts import (
    MAX_SOURCE_CHARS,
    MAX_SOURCES,
    MergeModeName,
    checklist_points,
    fusion_message,
)
from grove_explorer.server.sampler.base import (
    PathMessage,
    ResolvedParams,
    SampleEvent,
    Sampler,
    SamplingMode,
)
from grove_explorer.server.servicer.status import abort, check_id, quote
from grove_explorer.server.servicer.validation import check_text
from grove_explorer.server.store import Store


@dataclass(frozen=True, slots=True)
class MergePlan:
    """A checked fusion: its sources (ids and texts, in the order given), mode, instruction.

    `demo` is True for the offline model, which streams its demo fusion instead of
    sampling from the prompt; `token_delay_seconds` is then its pace.
    """

    source_ids: tuple[str, ...]
    sources: tuple[str, ...]
    mode: MergeModeName
    instruction: str
    demo: bool
    token_delay_seconds: float

    def prompt(self, path: Sequence[PathMessage]) -> tuple[PathMessage, ...]:
        """The model's prompt: the path root → parent, then the fusion's instruction.

        A tuple of its own: the instruction message is never part of a stored path, so it
        must not extend the path messages kept for the parent's next turns.
        """
        message = fusion_message(self.sources, self.mode, self.instruction)
        return (*path, PathMessage("human", message))

    def record_fields(self) -> dict[str, Any]:
        """The stored reply's merge fields (NewResponse keywords)."""
        return {
            "merged_from": self.source_ids,
            "merge_mode": self.mode,
            "merge_instruction": self.instruction,
        }

    def sample(
        self,
        sampler: Sampler,
        path: Sequence[PathMessage],
        params: ResolvedParams,
        *,
        top_logprobs: int,
        system_prompt_name: str,
        system_prompt: str | None,
    ) -> AsyncGenerator[SampleEvent, None]:
        """The fused reply's events: the model sampled from `prompt`, or the offline demo."""
        if self.demo:
            # Imported here: the offline model's code is loaded only when it is used.
            from grove_explorer.server.sampler.offline.fusion import stream_demo_fusion

            return stream_demo_fusion(
                self.sources,
                self.mode,
                self.instruction,
                params,
                top_logprobs=top_logprobs,
                token_delay_seconds=self.token_delay_seconds,
            )
        return sampler.sample(
            self.prompt(path),
            params,
            top_logprobs=top_logprobs,
            system_prompt_name=system_prompt_name,
            system_prompt=system_prompt,
            mode=SamplingMode.CHAT,
        )


async def check_merge_request(
    request: chat_pb2.AddResponseRequest, context: grpc.aio.ServicerContext
) -> None:
    """The checks of a fusion that need no store, before the other checks of AddResponse.

    Ahead of them so that a fusion's mistake gets its own sentence (a prefix is refused
    because fusions take none, not because a model lacks prefill).
    """
    merge = request.merge
    if request.message:
        await _bad(
            context,
            "A fusion samples a model reply alone: its message must be empty (the sources "
            "answer the parent's message).",
        )
    if request.prefix:
        await _bad(context, "A fusion cannot start from a given prefix (a branch from a token).")
    if request.mode == chat_pb2.SAMPLING_MODE_COMPLETION:
        await _bad(context, "A fusion is written in chat mode, not completion mode.")
    if not request.parent_response_id:
        await _bad(
            context,
            "A fusion needs parent_response_id: the parent of the replies it fuses (the "
            "fused reply becomes their sibling).",
        )
    if merge.mode not in MERGE_FROM_WIRE:
        await _bad(
            context,
            f"merge.mode {merge.mode} is not fuse, checklist or custom (MERGE_MODE_FUSE, "
            "MERGE_MODE_CHECKLIST, MERGE_MODE_CUSTOM).",
        )
    count = len(merge.source_ids)
    if count < 2:
        await _bad(context, f"A fusion needs at least 2 source replies, got {count}.")
    if count > MAX_SOURCES:
        await _bad(context, f"A fusion reads at most {MAX_SOURCES} source replies, got {count}.")
    seen: set[str] = set()
    for source in merge.source_ids:
        await check_id("merge source", source, context)
        if source in seen:
            await _bad(context, f"merge source {quote(source)} is given twice.")
        seen.add(source)
    mode = MERGE_FROM_WIRE[merge.mode]
    if mode == "checklist" and not checklist_points(merge.instruction):
        await _bad(
            context,
            "A checklist fusion needs at least one checked point in merge.instruction (one "
            "per line; ExtractPoints lists the replies' points).",
        )
    if mode == "custom" and not merge.instruction.strip():
        await _bad(context, "A custom fusion needs an instruction (merge.instruction).")
    if mode == "fuse" and merge.instruction.strip():
        await _bad(
            context,
            "A fuse fusion takes no instruction; use the custom mode to give one.",
        )


async def merge_plan_or_abort(
    store: Store,
    user: str,
    conversation_id: str,
    request: chat_pb2.AddResponseRequest,
    sampler: Sampler,
    config: ServerConfig,
    context: grpc.aio.ServicerContext,
) -> MergePlan:
    """The checked fusion of `request` (after `check_merge_request`), or the call ends.

    Each source must be a model reply of the conversation and a child of the request's
    parent; all of them together at most `MAX_SOURCE_CHARS` characters.
    """
    merge = request.merge
    await check_text("merge.instruction", merge.instruction, config.max_message_bytes, context)
    parent = request.parent_response_id
    texts: list[str] = []
    for source in merge.source_ids:
        record = await store.get_response(user, conversation_id, source)
        if record is None:
            await _bad(
                context,
                f"merge source {quote(source)} is not in conversation {quote(conversation_id)}.",
            )
        if record.sender != "model":
            await _bad(
                context, f"merge source {quote(source)} is a human message, not a model reply."
            )
        if record.parent_response_id != parent:
            await _bad(
                context,
                f"merge source {quote(source)} is not a child of {quote(parent)}: the replies "
                "of a fusion are siblings, children of parent_response_id.",
            )
        texts.append(record.message)
    total = sum(len(text) for text in texts)
    if total > MAX_SOURCE_CHARS:
        await _bad(
            context,
            f"The {len(texts)} source replies hold {total} characters; a fusion reads at "
            f"most {MAX_SOURCE_CHARS}.",
        )
    return MergePlan(
        source_ids=tuple(merge.source_ids),
        sources=tuple(texts),
        mode=_mode_name(merge.mode),
        instruction=merge.instruction,
        demo=sampler.describe().backend == "offline",
        token_delay_seconds=config.token_delay_ms / 1000.0,
    )


def _mode_name(number: int) -> MergeModeName:
    name = MERGE_FROM_WIRE[number]
    if name == "checklist":
        return "checklist"
    return "custom" if name == "custom" else "fuse"


async def _bad(context: grpc.aio.ServicerContext, details: str) -> NoReturn:
    await abort(context, grpc.StatusCode.INVALID_ARGUMENT, details)
