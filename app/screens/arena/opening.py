"""Opening the arena from the explorer (`A` on a message): the node, the form, the screen.

On a human message the pair is sampled under it; on a model reply, beside it (under its
parent), like a resample. The form starts with the conversation's model as the first
setup and another model of the server as the second (the same model hotter when the
server has one model only). Both start with the conversation's system prompt; the form
can give each its own.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from grove_explorer.app.screens.arena.screen import ArenaScreen
from grove_explorer.app.screens.arena.setup_form import ArenaSetupForm
from grove_explorer.app.workers import run_service_call
from grove_explorer.client.arena import Setup
from grove_explorer.client.catalog import ModelCatalog
from grove_explorer.client.models import ResponseNode
from grove_explorer.client.service import ConversationService

if TYPE_CHECKING:
    from textual.widget import Widget

ARENA_RNG: random.Random | None = None
"""The order-drawing RNG the arena gets (None: a fresh one); tests and screenshots seed it."""


def arena_parent(target: ResponseNode | None) -> str | None:
    """The node the pair answers: a human message itself, a model reply's parent."""
    if target is None or target.streaming:
        return None
    return target.response_id if target.is_human else target.parent_id


def default_setups(
    catalog: ModelCatalog, model_name: str, prompt: str | None
) -> tuple[Setup, Setup]:
    """The form's first guess: this model against another (or itself, hotter).

    Both get the conversation's system prompt (`prompt`; None: none).
    """
    first = model_name or catalog.default_model
    others = [m.name for m in catalog.models if m.name != first]
    if others:
        return (
            Setup(model_name=first, system_prompt_name=prompt),
            Setup(model_name=others[0], system_prompt_name=prompt),
        )
    return (
        Setup(model_name=first, temperature=0.3, system_prompt_name=prompt),
        Setup(model_name=first, temperature=1.2, system_prompt_name=prompt),
    )


def open_arena(
    owner: Widget,
    service: ConversationService,
    conversation_id: str,
    target: ResponseNode | None,
) -> None:
    """Asks for two setups, then opens the arena on the node (or says why it cannot)."""
    parent_id = arena_parent(target)
    if parent_id is None:
        owner.notify(
            "The arena needs a finished message with a prompt above it (not a root reply).",
            severity="warning",
        )
        return
    settings = service.settings(conversation_id)
    prompt = settings.system_prompt_name if settings.use_system_prompt else None

    def with_catalog(catalog: ModelCatalog) -> None:
        first, second = default_setups(catalog, settings.model_name, prompt)
        prompts = [p.name for p in catalog.system_prompts]
        form = ArenaSetupForm([m.name for m in catalog.models], first, second, prompts)

        def chosen(setups: tuple[Setup, Setup] | None) -> None:
            if setups is not None:
                owner.app.push_screen(
                    ArenaScreen(service, conversation_id, parent_id, setups, rng=ARENA_RNG)
                )

        owner.app.push_screen(form, chosen)

    run_service_call(owner, service.models(), done=with_catalog, name="arena models")
