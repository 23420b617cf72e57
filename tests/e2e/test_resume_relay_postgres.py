"""A reply still sampling on replica A is resumed through replica B, relayed from the feed.

Two `grove serve` processes on one PostgreSQL database (issue 17). The SDK's connection to
A runs through a real TCP proxy; mid-reply the proxy is turned towards B and its
connections cut, while A samples on (A itself stays reachable to nobody but the
database). The SDK resumes on B, which neither runs nor has stored the reply: B follows it
on the change feed (LISTEN/NOTIFY) and relays it (server/servicer/feed_replies.py).

A's resume grace (2 s) is shorter than what is left of the reply: B's relay holds it
(`reply_followed`), so A samples it to its end rather than keeping it partial.

Proof that A was still sampling when B relayed: the relayed tokens carry no logprob (the
feed carries text and token lengths only; A's own tokens and the stored ones have
logprobs), and B relays from the feed only when the reply is not stored yet.
"""

from __future__ import annotations

import asyncio

from grove_explorer.client import SamplingParams
from grove_explorer.client.streams import ModelResponseEvent, TokensEvent
from grove_explorer.client.watching import ReplyStarted
from grove_explorer.server.store.location import PostgresUrl
from tests.e2e.replica_pair import ReplicaPair, replica_pair

SLOW = ("--token-delay-ms", "20", "--offline-min-tokens", "300", "--checkpoint-ms", "100")
# A's resume grace is far shorter than the reply's time left after the cut (300 tokens at
# 20 ms): only B's `reply_followed` holds keep A sampling it to its end.
SHORT_GRACE = (*SLOW, "--resume-grace-seconds", "2")


async def until_b_heard_the_start(pair: ReplicaPair) -> None:
    """Waits until B's feed has A's reply start (its index of replies elsewhere has it)."""
    async with asyncio.timeout(60):  # a bound for failure, not a timing figure
        async for seen in pair.watch:
            if isinstance(seen, ReplyStarted):
                return


async def test_a_reply_sampling_on_a_is_relayed_whole_by_b(postgres_url: PostgresUrl) -> None:
    async with replica_pair(postgres_url, SHORT_GRACE) as pair:
        stream = pair.conversation.sample(
            "Tell me about oak trees.",
            parent_response_id=None,
            sampling=SamplingParams(max_tokens=300),
        )
        events = aiter(stream)
        before: list[TokensEvent] = []
        while len(before) < 5:
            event = await anext(events)
            if isinstance(event, TokensEvent):
                before.append(event)
        await until_b_heard_the_start(pair)
        had = sum(e.count for e in before)
        pair.turn_to_second()

        after: list[TokensEvent] = []
        final = None
        async for event in events:
            if isinstance(event, TokensEvent):
                after.append(event)
            elif isinstance(event, ModelResponseEvent):
                final = event
        reply = await stream.future
        cid = pair.conversation.conversation_id
        stored = (await pair.onlooker.grok.get_conversation(cid)).responses[-1]
        stored_tokens = await stored.tokens()
    assert final is not None
    texts = [t.text for e in before + after for t in e.tokens]
    assert "".join(texts) == reply.message == stored.message, "no token twice, none lost"
    assert reply.response_id == stored.response_id
    assert not reply.partial, "held past A's grace by B's relay: sampled to its end"
    assert sum(e.count for e in before + after) == len(stored_tokens)
    assert had < len(stored_tokens), "cut mid-reply"
    relayed = [t for e in after for t in e.tokens if t.logprob is None]
    assert relayed, "B relayed tokens from the feed (no logprob): A was still sampling"
    assert all(t.logprob is not None for e in before for t in e.tokens)
    # Relayed tokens are A's tokens, cut where A cut them.
    assert [t.text for t in relayed] == [t.text for t in stored_tokens[had : had + len(relayed)]]


async def test_a_relay_whose_sampling_replica_dies_ends_with_the_partial_reply(
    postgres_url: PostgresUrl,
) -> None:
    async with replica_pair(postgres_url, SLOW) as pair:
        stream = pair.conversation.sample(
            "Tell me about oak trees.",
            parent_response_id=None,
            sampling=SamplingParams(max_tokens=300),
        )
        events = aiter(stream)
        texts: list[str] = []
        while len(texts) < 5:
            event = await anext(events)
            if isinstance(event, TokensEvent):
                texts.extend(event.texts)
        await until_b_heard_the_start(pair)
        pair.turn_to_second()
        while True:  # up to B's first relayed token: B follows A's reply now
            event = await anext(events)
            assert isinstance(event, TokensEvent), "the relay streams before A dies"
            texts.extend(event.texts)
            if any(t.logprob is None for t in event.tokens):
                break
        pair.first.kill()  # SIGKILL mid-relay: A's reply ends with its last checkpoint
        await pair.first.wait()
        final = None
        async with asyncio.timeout(120):  # recovery runs on B's orphan sweep
            async for event in events:
                if isinstance(event, TokensEvent):
                    texts.extend(event.texts)
                elif isinstance(event, ModelResponseEvent):
                    final = event
        reply = await stream.future
        cid = pair.conversation.conversation_id
        stored = (await pair.onlooker.grok.get_conversation(cid)).responses[-1]
    assert final is not None, "the relay ended with a reply, not an error"
    assert reply.partial and stored.partial
    assert reply.response_id == stored.response_id and reply.message == stored.message
    relayed = "".join(texts)
    # Both are A's text at different moments (its last checkpoint, its last batch).
    assert relayed.startswith(reply.message) or reply.message.startswith(relayed)
