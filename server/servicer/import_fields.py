"""Checks of an imported response's fields that no live request lets through.

A fused reply's and a replayed turn's provenance (ids local to the import, like parents:
they come before the response), a reply's system prompt name, and what live requests
guarantee of every stored response (`import_field_problem`). Each returns the sentence of
the first problem, or None; `importing.py` runs them on the responses its plain reading
is not sure of.
"""

from __future__ import annotations

from grove_explorer.protos import chat_pb2
from grove_explorer.server.convert import FINISH_FROM_WIRE, MERGE_FROM_WIRE
from grove_explorer.server.servicer.status import quote


def merge_problem(where: object, wire: chat_pb2.Response, seen: set[str]) -> str | None:
    """What is wrong with an imported fused reply's provenance (None: nothing).

    Its sources are ids local to the import, like parents: each must come before it (the
    store maps them to the new ids). The mode says how it was fused, so one is needed.
    """
    if not wire.merged_from:
        return f"{where} has a merge mode or instruction but no merged_from sources."
    if wire.sender != "model":
        return f"{where}: only a model reply can be merged from others."
    if wire.merge_mode not in MERGE_FROM_WIRE:
        return f"{where}: merge_mode {wire.merge_mode} is not a mode this server knows."
    if "\x00" in wire.merge_instruction:
        return f"{where}: merge_instruction contains a NUL character."
    for source in wire.merged_from:
        if source not in seen:
            return (
                f"{where} is merged from {quote(source)}, which does not come before it "
                "in the import."
            )
    return None


def replay_problem(where: object, wire: chat_pb2.Response, seen: set[str]) -> str | None:
    """What is wrong with an imported response's replay provenance or prompt (None: nothing).

    `replay_of` is an id local to the import, like a parent: the original turn comes
    before its replay (the store maps it to the new id). A system prompt name belongs to a
    sampled model reply only.
    """
    if wire.replay_of and wire.replay_of not in seen:
        return (
            f"{where} replays {quote(wire.replay_of)}, which does not come before it in the import."
        )
    if wire.HasField("system_prompt_name"):
        if wire.sender != "model" or wire.manual:
            return f"{where}: only a sampled model reply has a system_prompt_name."
        if "\x00" in wire.system_prompt_name:
            return f"{where}: system_prompt_name contains a NUL character."
    return None


def import_field_problem(
    where: object,
    wire: chat_pb2.Response,
    request: chat_pb2.ImportConversationRequest,
    shared: set[str],
) -> str | None:
    """What live requests guarantee of a stored response, checked on an imported one.

    A human message or a manual reply is never blank and carries no sampling
    provenance; a human message is never manual or partial; sharing covers a whole path
    from the root. An import that breaks these would store what no live request can.
    Returns the sentence of the first problem (None: none); a plain function, as it runs
    once per imported response.
    """
    for name in ("model_name", "query", "query_type"):
        if "\x00" in getattr(wire, name):
            return f"{where}: {name} contains a NUL character."
    sender = wire.sender
    sampled = sender == "model" and not wire.manual
    if not sampled:
        kind = "a human message" if sender == "human" else "a manual reply"
        if not wire.message.strip():
            return f"{where}: {kind} cannot be blank; only a sampled reply may be empty."
        if (
            wire.model_name
            or wire.HasField("sampling_params")
            or wire.prefix_length
            or wire.finish_reason
            or wire.response_id in request.tokens
        ):
            return (
                f"{where}: {kind} has no model_name, sampling_params, prefix_length, "
                "finish_reason or tokens."
            )
    if wire.finish_reason not in FINISH_FROM_WIRE:
        return f"{where}: finish_reason {wire.finish_reason} is not a reason this server knows."
    if sender == "human" and (wire.manual or wire.partial):
        return f"{where}: a human message cannot be manual or partial."
    if wire.shared and wire.parent_response_id and wire.parent_response_id not in shared:
        return f"{where} is shared but its parent is not: sharing covers a path from the root."
    return None
