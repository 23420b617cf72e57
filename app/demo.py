"""A seeded demo research session, for screenshots and snapshot tests.

Sampling seeds are fixed, so the offline model writes the same replies every time and the
pictures are reproducible.
"""

from __future__ import annotations

import asyncio

from grove_explorer.client.forest import Forest
from grove_explorer.client.sampler import SamplingParams
from grove_explorer.client.service import ConversationService


def _params(seed: int) -> SamplingParams:
    return SamplingParams(seed=seed, max_tokens=70, temperature=0.8)


async def seed_demo(service: ConversationService) -> Forest:
    """Creates three conversations; returns the forest of the main one (left open).

    The main conversation has a branched first reply (three samples, the second chosen),
    a follow-up, and an edited question beside the original.
    """
    side = await service.new_conversation()
    side_id = side.conversation.conversation_id
    await service.send(
        side_id, "Which terminal colour schemes are easiest to read?", None, sampling=_params(3)
    )
    await service.generate_title(side_id)
    await service.set_starred(side_id, True)

    other = await service.new_conversation()
    other_id = other.conversation.conversation_id
    await service.send(
        other_id, "How do you keep bread dough from sticking?", None, sampling=_params(5)
    )
    await service.generate_title(other_id)

    forest = await service.new_conversation()
    cid = forest.conversation.conversation_id
    first = await service.send(
        cid, "How do trees decide where to branch?", None, sampling=_params(11)
    )
    assert first is not None
    for seed in (12, 13):
        await service.resample(cid, first.response_id, sampling=_params(seed))
    forest = service.forest(cid)
    chosen = forest.siblings_of(first.response_id)[1]
    service.select(cid, chosen)
    await service.send(
        cid, "And what does pruning do to that pattern?", chosen, sampling=_params(21)
    )
    await service.generate_title(cid)
    await asyncio.sleep(0)  # let the last events reach subscribers
    return service.forest(cid)
