"""Small helpers shared by the tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

from grove_explorer.server.auth import hash_key

TEAM_KEYS = {hash_key(f"key-{name}"): name for name in ("alice", "bob", "carol")}
"""The keys of a team server's users: "key-alice" is alice's, and so on."""


async def collect(token_stream: AsyncIterator[str]) -> str:
    """Reads a token stream to its end and returns the text."""
    return "".join([token async for token in token_stream])
