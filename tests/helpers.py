"""Small helpers shared by the tests."""

from __future__ import annotations

from collections.abc import AsyncIterator


async def collect(token_stream: AsyncIterator[str]) -> str:
    """Reads a token stream to its end and returns the text."""
    return "".join([token async for token in token_stream])
