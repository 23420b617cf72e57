"""`grove fuse`: one reply fused from sibling replies, streamed to stdout and stored.

By default the sources are every model sibling of the path's last model reply (what a
`grove sample --n N` batch made); `--ids` names them (ids or unique prefixes). The fused
reply is stored as their sibling with `merged_from` and the mode. `--mode checklist`
without `--instruction` asks the server for the replies' points (ExtractPoints) and
writes from every one of them (stderr says how many).
"""

from __future__ import annotations

import argparse
import sys

from grove_explorer.app.headless.common import (
    CommandError,
    Outcome,
    UsageError,
    find_leaf,
    one_line,
    open_conversation,
    short_id,
)
from grove_explorer.app.headless.sampling import _model_for
from grove_explorer.app.safe_text import clean
from grove_explorer.client import AmbiguousIdError, AsyncGrok, Conversation, Response
from grove_explorer.client.export import dumps
from grove_explorer.client.judgements import MERGE_MARK, MergeMode
from grove_explorer.client.streams import ModelResponseEvent, TokensEvent


def check_fuse_usage(args: argparse.Namespace) -> None:
    """Flag combinations argparse accepts but a fusion cannot use (exit code 2)."""
    if args.mode == "custom" and not (args.instruction or "").strip():
        raise UsageError("--mode custom needs --instruction TEXT.")
    if args.mode == "fuse" and args.instruction is not None:
        raise UsageError("--instruction goes with --mode custom or checklist, not fuse.")


def _sources(conversation: Conversation, args: argparse.Namespace) -> list[Response]:
    """The replies `--ids` names, else every model sibling of the path's last model reply."""
    if args.ids:
        found = []
        for ref in (part.strip() for part in args.ids.split(",")):
            if not ref:
                continue
            try:
                found.append(conversation.get_response(ref))
            except AmbiguousIdError as error:
                raise CommandError(error.message) from None
            except KeyError:
                raise CommandError(
                    f"conversation {conversation.conversation_id} has no response "
                    f"{one_line(ref, 60)!r}."
                ) from None
        return found
    leaf = find_leaf(conversation, args.leaf)
    while leaf is not None and leaf.sender != "model":
        parent = leaf.parent_response_id
        leaf = conversation.get_response(parent) if parent else None
    if leaf is None:
        raise CommandError(
            f"conversation {conversation.conversation_id} has no model reply on its path to fuse."
        )
    parent_id = leaf.parent_response_id
    siblings = conversation.get_children(parent_id) if parent_id else conversation.root_responses
    return [r for r in siblings if r.sender == "model"]


async def cmd_fuse(grok: AsyncGrok, args: argparse.Namespace) -> Outcome:
    """`grove fuse CONV`: streams a fused reply of sibling replies; prints its id."""
    conversation = await open_conversation(grok, args.conv)
    sources = _sources(conversation, args)
    if len(sources) < 2:
        which = f" ({short_id(sources[0].response_id)})" if sources else ""
        raise CommandError(
            f"a fusion needs at least 2 sibling replies; found {len(sources)}{which}. "
            "`grove sample CONV --n 4` makes a batch."
        )
    ids = [r.response_id for r in sources]
    model = args.fuse_model or await _model_for(grok, conversation, sources[0])
    mode: MergeMode = args.mode
    outcome = Outcome()
    points: list[str] = []
    instruction = args.instruction or ""
    if mode == "checklist":
        points = [line.strip() for line in instruction.splitlines() if line.strip()]
        if not points:
            extracted = await conversation.extract_points(ids, model_name=model or "")
            points = [point.text for point in extracted.points]
            if not points:
                raise CommandError(f"no points were found in the {len(ids)} replies.")
            demo = " (the offline demo's shared sentences)" if extracted.heuristic else ""
            outcome.errors.append(
                f"checklist: {len(points)} points extracted{demo}, all {len(points)} used."
            )
        instruction = ""
    try:
        stream = conversation.fuse(
            ids, mode=mode, instruction=instruction, points=points, model_name=model
        )
    except ValueError as error:  # the SDK's checks (not siblings)
        raise CommandError(str(error)) from None
    reply: Response | None = None
    try:
        async for event in stream:
            if isinstance(event, TokensEvent) and not args.json:
                sys.stdout.write(clean(event.text))
                sys.stdout.flush()
            elif isinstance(event, ModelResponseEvent):
                reply = event.response
    finally:
        await stream.aclose()  # cancelled (Ctrl+C): the server keeps the partial reply
    if reply is None:
        reply = await stream.future
    if args.json:
        outcome.stdout = (
            dumps(
                {
                    "conversation_id": conversation.conversation_id,
                    "response_id": reply.response_id,
                    "parent_response_id": reply.parent_response_id,
                    "merged_from": list(reply.merged_from),
                    "mode": reply.merge_mode,
                    "instruction": reply.merge_instruction,
                    "model_name": reply.model_name,
                    "partial": reply.partial,
                    "finish_reason": reply.finish_reason,
                    "text": reply.message,
                }
            )
            + "\n"
        )
        return outcome
    sources_text = ", ".join(short_id(source) for source in reply.merged_from)
    ending = " (partial)" if reply.partial else ""
    outcome.stdout = (
        f"\n\n{reply.response_id}  {MERGE_MARK} fused ({reply.merge_mode}) from "
        f"{sources_text}{ending}\n"
    )
    return outcome
