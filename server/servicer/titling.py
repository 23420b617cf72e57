"""GenerateTitle's title: the path's model asked for one, the offline heuristic otherwise."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from grove_explorer.server.sampler.base import PathMessage, Sampler, SamplerError
from grove_explorer.server.store import ResponseRecord
from grove_explorer.server.titles import derive_title

log = logging.getLogger(__name__)


async def title_for(
    path: Sequence[ResponseRecord],
    samplers: Mapping[str, Sampler],
    default_model: str,
    max_title_chars: int,
) -> str:
    """Asks the path's model for a title; the offline heuristic when it cannot.

    The model is the one that wrote the path's latest reply (the conversation's model as
    the user last chose it), else the server's default.
    """
    messages = [PathMessage(r.sender, r.message) for r in path]
    names = [r.model_name for r in reversed(path) if r.sender == "model" and r.model_name]
    sampler = samplers.get(names[0] if names else "") or samplers[default_model]
    if messages:
        try:
            title = await sampler.generate_title(messages)
        except SamplerError as error:
            log.warning("title from %s failed, using the heuristic: %s", sampler.model_name, error)
            title = None
        if title:
            return title[:max_title_chars]
    # The heuristic writes up to 60 characters; a server may allow fewer.
    return derive_title(messages)[:max_title_chars].rstrip()
