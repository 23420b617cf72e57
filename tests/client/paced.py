"""A conversation service on a paced server: replies stream over several messages."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable

from grove_explorer.client import Client
from grove_explorer.client.service import ConversationService
from grove_explorer.server.runtime import GroveServer


@contextlib.asynccontextmanager
async def paced_service(
    make_server: Callable[..., GroveServer], token_delay_ms: float
) -> AsyncIterator[tuple[ConversationService, str]]:
    """A service on a started server whose offline model takes `token_delay_ms` a token.

    Yields the service (its own SDK client) and a new conversation's id; the server stops
    at the end. A paced reply reaches its caller in several messages however busy the
    machine, where one at full speed may arrive in one.
    """
    server = make_server(token_delay_ms=token_delay_ms)
    await server.start()
    try:
        async with Client(api_host=server.address) as sdk:
            service = ConversationService(sdk)
            forest = await service.new_conversation()
            yield service, forest.conversation.conversation_id
    finally:
        await server.stop()
