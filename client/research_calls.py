"""The research loop's calls on a conversation (extension): judge, extract points, fuse.

Part of the SDK's `Conversation` (a base class of it, as `LeafPlace` is). Judging and
point extraction are plain calls; a fusion is a sampling stream like `Conversation.sample`
whose reply is stored as a sibling of its sources, with `merged_from` and the mode.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Protocol, cast

from grove_explorer.client.judgements import (
    JUDGE_MODE_NUMBERS,
    JUDGE_MODES,
    MERGE_MODE_NUMBERS,
    MERGE_MODES,
    ExtractedPoints,
    Judgement,
    JudgeMode,
    MergeMode,
)
from grove_explorer.client.rpc import check_text, rpc
from grove_explorer.client.sampler import SamplingParams
from grove_explorer.client.sampling_call import CallOwner, SamplingCall
from grove_explorer.client.streams import SampleStream
from grove_explorer.protos import chat_pb2, chat_pb2_grpc

if TYPE_CHECKING:
    from grove_explorer.client.response import Response


class _Owner(CallOwner, Protocol):
    """What these calls need of the `Conversation` they are part of."""

    def check_usable(self) -> None: ...

    def get_response(self, response_id: str) -> Response: ...

    def stopper(self, request_id: str) -> Callable[[], Awaitable[bool]]: ...


class ResearchCalls:
    """The judge / points / fuse half of `Conversation` (whose state it reads)."""

    _stub: chat_pb2_grpc.ChatStub

    def _owner(self) -> _Owner:
        """The `Conversation` this is part of, checked to be usable."""
        owner = cast("_Owner", self)
        owner.check_usable()
        return owner

    async def judge(
        self,
        response_ids: Sequence[str],
        *,
        model_name: str = "",
        rubric_name: str = "",
        criteria: str = "",
        mode: JudgeMode = "each",
        sampling: SamplingParams | None = None,
    ) -> list[Judgement]:
        """Extension: has a judge model score replies 0-10 against a rubric; stores and returns it.

        `model_name` is the judge ("" for the server's default model); `rubric_name` a
        named rubric (ListModels) or "" for the default; `criteria` typed rubric text,
        which wins over the name. `mode="each"` makes one judge call per reply (in
        parallel on the server), `"table"` one call that sees every reply. The judgements
        come back in the order of `response_ids` and are added to the replies' nodes.
        Unusable judge output raises `FailedPreconditionError` and stores nothing.
        """
        owner = self._owner()
        if mode not in JUDGE_MODES:
            raise ValueError(f"mode must be one of {', '.join(JUDGE_MODES)}, not {mode!r}.")
        request = chat_pb2.JudgeResponsesRequest(
            conversation_id=owner.conversation_id,
            response_ids=list(response_ids),
            model_name=model_name,
            rubric_name=rubric_name,
            criteria=check_text(criteria),
            mode=cast("chat_pb2.JudgeMode", JUDGE_MODE_NUMBERS[mode]),
        )
        if sampling is not None:
            request.sampling_params.CopyFrom(sampling.to_proto())
        reply: chat_pb2.JudgeResponsesResponse = await rpc(self._stub.JudgeResponses(request))
        judgements = [Judgement.from_proto(wire) for wire in reply.judgements]
        self._add_judgements(judgements)
        return judgements

    def _add_judgements(self, judgements: Sequence[Judgement]) -> None:
        """Appends new judgements to their replies' nodes in the forest."""
        forest = cast("_Owner", self).forest
        for judgement in judgements:
            node = forest.responses.get(judgement.response_id)
            if node is None or node.streaming:
                continue
            updated = node.model_copy(update={"judgements": (*node.judgements, judgement)})
            updated._proto = node._proto
            forest.add(updated)

    async def extract_points(
        self, response_ids: Sequence[str], *, model_name: str = ""
    ) -> ExtractedPoints:
        """Extension: the points the replies make, merged across them (nothing is stored).

        The first step of a checklist fusion: show the points, let the user check some,
        then `fuse(..., mode="checklist", points=checked)`.
        """
        owner = self._owner()
        reply: chat_pb2.ExtractPointsResponse = await rpc(
            self._stub.ExtractPoints(
                chat_pb2.ExtractPointsRequest(
                    conversation_id=owner.conversation_id,
                    response_ids=list(response_ids),
                    model_name=model_name,
                )
            )
        )
        return ExtractedPoints.from_proto(reply)

    def fuse(
        self,
        source_ids: Sequence[str],
        *,
        mode: MergeMode = "fuse",
        instruction: str = "",
        points: Sequence[str] = (),
        model_name: str | None = None,
        sampling: SamplingParams | None = None,
        select: bool = False,
        placeholder_id: str | None = None,
        top_logprobs: int = 0,
    ) -> SampleStream:
        """Extension: streams a new reply merged from sibling replies, stored beside them.

        The sources must be model replies with one parent; the fused reply becomes their
        sibling with `merged_from` = `source_ids` and `merge_mode` = `mode`. `fuse`
        synthesises the best answer; `checklist` writes from `points` (the checked ones of
        `extract_points`, at least one); `custom` follows
        `instruction`. `model_name` writes the fused reply (None: the conversation's model).
        """
        owner = self._owner()
        if mode not in MERGE_MODES:
            raise ValueError(f"mode must be one of {', '.join(MERGE_MODES)}, not {mode!r}.")
        parents = {owner.get_response(source).parent_response_id for source in source_ids}
        if len(parents) > 1:
            raise ValueError("The replies to fuse must be siblings (one parent).")
        parent_id = parents.pop() if parents else None
        text = "\n".join(check_text(point) for point in points) if mode == "checklist" else ""
        merge = chat_pb2.Merge(
            source_ids=list(source_ids),
            mode=cast("chat_pb2.MergeMode", MERGE_MODE_NUMBERS[mode]),
            instruction=text or check_text(instruction),
        )
        call = SamplingCall(
            owner,
            self._stub,
            "",
            parent_id,
            sampling,
            top_logprobs,
            exclusive=False,
            select=select,
            model_name=model_name,
            placeholder_id=placeholder_id,
            mode="chat",  # a fusion is written in chat mode, whatever the conversation's
            merge=merge,
        )
        return SampleStream(
            call.events(), call.future, owner.stopper(call.request_id), call.request_id
        )
