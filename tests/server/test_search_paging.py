"""Search never stops silently: every answer counts all hits, and the rest are pages away."""

from __future__ import annotations

import pytest

from grove_explorer.client import Client, InvalidArgumentError
from grove_explorer.protos import chat_pb2


async def seed_lanterns(client: Client, count: int, word: str = "lantern") -> None:
    """One imported conversation of `count` human messages that all contain `word`."""
    request = chat_pb2.ImportConversationRequest(title="Lanterns")
    for i in range(count):
        request.responses.append(
            chat_pb2.Response(
                response_id=f"r{i}",
                sender="human",
                message=f"{word} number {i}",
                parent_response_id=f"r{i - 1}" if i else "",
            )
        )
    await client.grok.import_conversation(request)


async def test_a_page_reports_the_total_and_pages_cover_every_hit_once(client: Client) -> None:
    await seed_lanterns(client, 130)
    first = await client.grok.search("lantern")
    assert (len(first), first.total, first.offset, first.remaining) == (50, 130, 0, 80)
    seen = [hit.response_id for hit in first]
    offset = first.next_offset
    while offset < first.total:
        page = await client.grok.search("lantern", limit=50, offset=offset)
        assert page.total == 130 and page.offset == offset
        seen += [hit.response_id for hit in page]
        offset = page.next_offset
    assert len(seen) == 130 and len(set(seen)) == 130  # stable order: no repeats, no gaps
    everything = await client.grok.search("lantern", limit=10_000)
    assert [hit.response_id for hit in everything] == seen
    assert everything.remaining == 0


async def test_filters_alone_count_and_page_newest_first(client: Client) -> None:
    await seed_lanterns(client, 30)
    page = await client.grok.search("sender:human", limit=10, offset=25)
    assert (len(page), page.total, page.remaining) == (5, 30, 0)
    assert [hit.message for hit in page][-1] == "lantern number 0"


async def test_an_offset_past_the_end_is_an_empty_page_with_the_total(client: Client) -> None:
    await seed_lanterns(client, 3)
    page = await client.grok.search("lantern", offset=99)
    assert (list(page), page.total) == ([], 3)
    none = await client.grok.search("nothingmatchesthis")
    assert (list(none), none.total) == ([], 0)


@pytest.mark.parametrize(
    ("limit", "offset", "pattern"),
    [
        (10_001, 0, r"^limit must be between 0 \(the default, 50\) and 10000, not 10001; "),
        (-5, 0, r"not -5; read more hits page by page with offset\.$"),
        (0, -1, r"^offset cannot be negative \(-1\)\.$"),
    ],
)
async def test_limits_beyond_the_maximum_are_refused_with_a_sentence(
    client: Client, limit: int, offset: int, pattern: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=pattern):
        await client.grok.search("lantern", limit=limit, offset=offset)
